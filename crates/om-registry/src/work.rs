//! Expected work on one endpoint, in seconds rather than counts: the
//! requests running there with how long each was expected to take, and the
//! requests *held* for it — waiting for one of its slots because it would
//! finish them sooner than any free instance elsewhere.
//!
//! A completion-time router reads this to answer "if I queue here, when do
//! I start?" ([`EndpointLive::expected_wait`]); the orchestrator writes it
//! through the in-flight guard ([`InFlight::expect`](crate::InFlight::expect))
//! and the [`Hold`] guard. Both guards remove their entry when dropped, so a
//! cancelled or finished request never leaves phantom work behind.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Duration;

use om_core::Priority;
use tokio::sync::Notify;
use tokio::sync::futures::Notified;

use crate::clock::Ticks;
use crate::endpoint::EndpointLive;

/// A request's place in the queue for capacity: higher priority first, then
/// earlier arrival. Tickets come from
/// [`Registry::ticket`](crate::Registry::ticket), which numbers them in
/// order, so a task that arrived first is served first among equals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket {
    /// The request's priority.
    pub priority: Priority,
    /// Arrival order.
    pub seq: u64,
}

impl Ticket {
    /// True when `self` is served before `other`.
    #[inline]
    pub fn is_ahead_of(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Less
    }
}

impl Ord for Ticket {
    /// Served first is smaller: `High` before `Low`, then by `seq`.
    fn cmp(&self, other: &Self) -> Ordering {
        other.priority.cmp(&self.priority).then(self.seq.cmp(&other.seq))
    }
}

impl PartialOrd for Ticket {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A running request: started at `start` (ticks), expected to take
/// `expected` nanoseconds.
#[derive(Debug, Clone, Copy)]
struct Running {
    id: u64,
    start: u64,
    expected: u64,
}

impl Running {
    /// Nanoseconds it is expected to run for still, at `now`.
    fn left(&self, now: Ticks) -> u64 {
        let elapsed = now.0.saturating_sub(self.start) as f64;
        let expected = self.expected as f64;
        (expected - elapsed).max(expected * OVERDUE_SHARE) as u64
    }
}

/// A request held for this endpoint.
#[derive(Debug)]
struct Held {
    ticket: Ticket,
    expected: u64,
    /// What the held request sleeps on.
    wake: Arc<Notify>,
    /// Woken for a free slot and not yet back: the next wake goes to the
    /// next held request.
    woken: bool,
}

/// The endpoint's expected work, behind the endpoint's lock.
#[derive(Debug, Default)]
pub(crate) struct Work {
    running: Vec<Running>,
    held: Vec<Held>,
    next_id: u64,
}

/// When a running request has taken longer than expected, its remaining
/// time is taken as this share of its expected duration: it is late, so it
/// is not about to end for sure, but it is more likely near its end than
/// not (and the estimate must stay positive so waiters keep a reason to
/// look elsewhere as it drags on).
const OVERDUE_SHARE: f64 = 0.25;

impl Work {
    pub(crate) fn start(&mut self, start: Ticks, expected: Duration) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.running.push(Running { id, start: start.0, expected: nanos(expected) });
        id
    }

    pub(crate) fn end(&mut self, id: u64) {
        if let Some(i) = self.running.iter().position(|r| r.id == id) {
            self.running.swap_remove(i);
        }
    }

    // `held` stays sorted by ticket, the order the queue is served in, so
    // a wait reads the requests ahead of a ticket as a prefix.
    fn hold(&mut self, ticket: Ticket, expected: Duration, wake: &Arc<Notify>) {
        let expected = nanos(expected);
        match self.held.binary_search_by(|h| h.ticket.cmp(&ticket)) {
            // Holding again means it looked again: it may be woken again.
            Ok(i) => {
                self.held[i].expected = expected;
                self.held[i].woken = false;
            }
            Err(i) => {
                let held = Held { ticket, expected, wake: Arc::clone(wake), woken: false };
                self.held.insert(i, held);
            }
        }
    }

    /// Drops the hold; a hold that was woken and leaves without having
    /// looked again hands its wake to the next.
    fn release(&mut self, ticket: Ticket) {
        if let Ok(i) = self.held.binary_search_by(|h| h.ticket.cmp(&ticket))
            && self.held.remove(i).woken
        {
            self.wake_first();
        }
    }

    /// Wakes the first held request not woken already: the one a free slot
    /// is for. False when none is left to wake.
    fn wake_first(&mut self) -> bool {
        let Some(first) = self.held.iter_mut().find(|h| !h.woken) else { return false };
        first.woken = true;
        first.wake.notify_one();
        true
    }

    /// A list schedule of what is ahead of `ticket` on `capacity` slots:
    /// each slot frees when its running request is expected to end (the
    /// latest `capacity` of them when more run than the capacity, since
    /// then the earliest ends only bring the endpoint back under its
    /// limit), each held request ahead takes the slot that frees first, and
    /// the answer is when the next slot frees after that.
    ///
    /// It runs on every routing decision, with as many holds as requests
    /// queued, so the slots are a min-heap: `O((running + held) log
    /// capacity)`.
    pub(crate) fn wait(&self, capacity: u32, ticket: Option<Ticket>, now: Ticks) -> Duration {
        let capacity = capacity.max(1) as usize;
        let is_ahead = |h: &Held| ticket.is_none_or(|mine| h.ticket.is_ahead_of(&mine));
        // The common case, on every routing decision: a slot is free and
        // nobody held is ahead of it (the holds are in ticket order).
        if self.running.len() < capacity && !self.held.first().is_some_and(is_ahead) {
            return Duration::ZERO;
        }
        let mut left: Vec<u64> = self.running.iter().map(|r| r.left(now)).collect();
        if left.len() > capacity {
            // Only the latest `capacity` ends free a slot.
            let cut = left.len() - capacity;
            left.select_nth_unstable(cut);
            left.drain(..cut);
        }
        let idle = capacity - left.len();
        let mut slots: BinaryHeap<Reverse<u64>> =
            left.into_iter().chain(std::iter::repeat_n(0, idle)).map(Reverse).collect();
        let ahead = self.held.iter().take_while(|h| is_ahead(h));
        for held in ahead {
            if let Some(mut first) = slots.peek_mut() {
                first.0 = first.0.saturating_add(held.expected);
            }
        }
        Duration::from_nanos(slots.peek().map_or(0, |first| first.0))
    }

    pub(crate) fn held(&self) -> usize {
        self.held.len()
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A request held for one endpoint: it counts as work ahead of every later
/// ticket there until dropped. Made by [`EndpointLive::hold`].
#[derive(Debug)]
#[must_use = "the hold counts only while the guard lives"]
pub struct Hold {
    endpoint: Arc<EndpointLive>,
    ticket: Ticket,
    /// What the held request sleeps on; the registry's entry has it too.
    wake: Arc<Notify>,
}

impl Hold {
    /// The held request's ticket.
    pub fn ticket(&self) -> Ticket {
        self.ticket
    }

    /// True when this hold is on `endpoint`.
    pub fn is_on(&self, endpoint: &Arc<EndpointLive>) -> bool {
        Arc::ptr_eq(&self.endpoint, endpoint)
    }

    /// Updates the held request's expected duration (after it looked
    /// again, so a later free slot may wake it again).
    pub fn update(&self, expected: Duration) {
        self.endpoint.work.lock().hold(self.ticket, expected, &self.wake);
    }

    /// Completes when a slot of the endpoint frees for this request: it is
    /// the first held there not woken yet ([`EndpointLive::wake_held`]), or
    /// one woken ahead of it left without taking the slot.
    pub fn woken(&self) -> Notified<'_> {
        self.wake.notified()
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.endpoint.work.lock().release(self.ticket);
    }
}

impl EndpointLive {
    /// Holds a request for this endpoint: until the guard drops, later
    /// tickets see `expected` more work ahead of them here. Holding again
    /// with the same ticket updates the entry.
    ///
    /// A slot of this endpoint freeing wakes the first held request not
    /// woken yet ([`wake_held`](Self::wake_held), [`Hold::woken`]): the
    /// request it is for, in ticket order, not every waiter.
    pub fn hold(self: &Arc<Self>, ticket: Ticket, expected: Duration) -> Hold {
        let wake = Arc::new(Notify::new());
        self.work.lock().hold(ticket, expected, &wake);
        Hold { endpoint: Arc::clone(self), ticket, wake }
    }

    /// Wakes the first request held here that is not woken already; false
    /// when there is none (then the caller wakes whoever else waits).
    pub fn wake_held(&self) -> bool {
        self.work.lock().wake_first()
    }

    /// When a request with `ticket` would start here, from `now`, if it
    /// queued for this endpoint's `capacity` slots: zero when a slot is
    /// free and no held request ahead of it wants one. `None` as the ticket
    /// means behind every held request.
    pub fn expected_wait(&self, capacity: u32, ticket: Option<Ticket>, now: Ticks) -> Duration {
        self.work.lock().wait(capacity, ticket, now)
    }

    /// Requests held for this endpoint now.
    pub fn held(&self) -> usize {
        self.work.lock().held()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn ticket(priority: Priority, seq: u64) -> Ticket {
        Ticket { priority, seq }
    }

    #[test]
    fn tickets_order_by_priority_then_arrival() {
        let high_late = ticket(Priority::High, 9);
        let normal_early = ticket(Priority::Normal, 1);
        let normal_late = ticket(Priority::Normal, 2);
        assert!(high_late.is_ahead_of(&normal_early));
        assert!(normal_early.is_ahead_of(&normal_late));
        assert!(!normal_late.is_ahead_of(&normal_late));
        assert!(normal_late.is_ahead_of(&ticket(Priority::Low, 0)));
    }

    #[test]
    fn a_free_slot_means_no_wait() {
        let mut work = Work::default();
        work.start(Ticks(0), secs(4.0));
        assert_eq!(work.wait(2, None, Ticks(0)), Duration::ZERO);
        assert_eq!(work.wait(1, None, Ticks(0)), secs(4.0));
    }

    #[tokio::test]
    async fn a_free_slot_wakes_the_first_held_request_not_woken_yet() {
        let mut work = Work::default();
        let wakes: Vec<Arc<Notify>> = (0..3).map(|_| Arc::new(Notify::new())).collect();
        // Held out of order; woken in ticket order.
        for seq in [2, 0, 1] {
            work.hold(ticket(Priority::Normal, seq), secs(1.0), &wakes[seq as usize]);
        }
        let woken = |i: usize| {
            let notified = wakes[i].notified();
            tokio::pin!(notified);
            // A stored wake completes at once.
            futures_ready(notified)
        };
        assert!(work.wake_first());
        assert!(woken(0));
        assert!(!woken(1), "one free slot wakes one request");
        // A second slot goes to the next, not again to the first.
        assert!(work.wake_first());
        assert!(woken(1));
        // The first looked again and holds on: it can be woken again, and
        // it is first again.
        work.hold(ticket(Priority::Normal, 0), secs(1.0), &wakes[0]);
        assert!(work.wake_first());
        assert!(woken(0));
        // A woken request that leaves hands its wake on to the next.
        work.release(ticket(Priority::Normal, 0));
        assert!(woken(2));
        // Everyone left is woken: nothing more to wake.
        assert!(!work.wake_first());
    }

    /// Whether a pinned future completes when polled once.
    fn futures_ready<F: std::future::Future>(future: std::pin::Pin<&mut F>) -> bool {
        let waker = std::task::Waker::noop();
        future.poll(&mut std::task::Context::from_waker(waker)).is_ready()
    }

    #[test]
    fn the_wait_is_when_the_first_slot_frees_after_the_holds_ahead() {
        let mut work = Work::default();
        let one = work.start(Ticks(0), secs(1.0));
        work.start(Ticks(0), secs(3.0));
        // Two slots: free at 1 s and 3 s.
        let now = Ticks(0);
        assert_eq!(work.wait(2, None, now), secs(1.0));
        // A hold ahead takes the slot freeing at 1 s for 5 s: next is 3 s.
        work.hold(ticket(Priority::Normal, 1), secs(5.0), &Arc::new(Notify::new()));
        assert_eq!(work.wait(2, Some(ticket(Priority::Normal, 2)), now), secs(3.0));
        // The holder itself does not wait for itself.
        assert_eq!(work.wait(2, Some(ticket(Priority::Normal, 1)), now), secs(1.0));
        // A high-priority newcomer is ahead of the held normal one.
        assert_eq!(work.wait(2, Some(ticket(Priority::High, 3)), now), secs(1.0));
        work.release(ticket(Priority::Normal, 1));
        work.end(one);
        assert_eq!(work.wait(2, None, now), Duration::ZERO);
    }

    #[test]
    fn time_passes_and_late_requests_still_count() {
        let mut work = Work::default();
        work.start(Ticks(0), secs(2.0));
        let half = Ticks(1_000_000_000);
        assert_eq!(work.wait(1, None, half), secs(1.0));
        // 10 s in, 8 s late: a quarter of the expected 2 s.
        assert_eq!(work.wait(1, None, Ticks(10_000_000_000)), secs(0.5));
    }

    #[test]
    fn more_running_than_capacity_waits_for_the_excess_to_end() {
        let mut work = Work::default();
        for s in [1.0, 2.0, 3.0] {
            work.start(Ticks(0), secs(s));
        }
        // Capacity 2 with three running: below the limit once the 1 s and
        // then a slot frees at 2 s.
        assert_eq!(work.wait(2, None, Ticks(0)), secs(2.0));
    }

    /// The list schedule written out plainly: slots sorted, the held ahead
    /// in ticket order each onto the earliest slot.
    fn plain_wait(work: &Work, capacity: u32, ticket: Option<Ticket>, now: Ticks) -> u64 {
        let mut slots: Vec<u64> = work.running.iter().map(|r| r.left(now)).collect();
        slots.sort_unstable();
        let capacity = capacity.max(1) as usize;
        if slots.len() > capacity {
            slots.drain(..slots.len() - capacity);
        }
        slots.resize(capacity, 0);
        let mut ahead: Vec<&Held> = work
            .held
            .iter()
            .filter(|h| ticket.is_none_or(|mine| h.ticket.is_ahead_of(&mine)))
            .collect();
        ahead.sort_unstable_by_key(|h| h.ticket);
        for held in ahead {
            let first = (0..slots.len()).min_by_key(|&i| slots[i]).unwrap();
            slots[first] += held.expected;
        }
        slots.into_iter().min().unwrap()
    }

    proptest::proptest! {
        #[test]
        fn the_wait_is_the_plain_list_schedule(
            running in proptest::collection::vec((0_u64..5_000, 1_u64..10_000), 0..12),
            held in proptest::collection::vec((0_u8..3, 0_u64..40, 1_u64..10_000), 0..20),
            released in proptest::collection::vec(0_u64..40, 0..5),
            capacity in 1_u32..8,
            mine in proptest::option::of((0_u8..3, 0_u64..40)),
            now in 0_u64..6_000,
        ) {
            let priority = |p: u8| [Priority::Low, Priority::Normal, Priority::High][p as usize];
            let mut work = Work::default();
            let wake = Arc::new(Notify::new());
            for (start, expected) in running {
                work.start(Ticks(start), Duration::from_millis(expected));
            }
            for (p, seq, expected) in held {
                work.hold(ticket(priority(p), seq), Duration::from_millis(expected), &wake);
            }
            for seq in released {
                work.release(ticket(Priority::Normal, seq));
            }
            proptest::prop_assert!(work.held.is_sorted_by_key(|h| h.ticket));
            let mine = mine.map(|(p, seq)| ticket(priority(p), seq));
            proptest::prop_assert_eq!(
                work.wait(capacity, mine, Ticks(now)),
                Duration::from_nanos(plain_wait(&work, capacity, mine, Ticks(now)))
            );
        }
    }
}
