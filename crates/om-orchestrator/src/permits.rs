//! Per-endpoint concurrency: one count of requests in use per endpoint
//! (checked against a limit that may change with every request: a learned
//! one moves, and a count needs no rebuilding when it does), one `Notify`
//! the tasks waiting for capacity sleep on, and a count of those tasks (a
//! second, speculative attempt only takes capacity that nobody waits for).
//!
//! A released permit first wakes the request held for its endpoint with the
//! earliest ticket that is not woken already (the registry keeps the holds
//! in ticket order, each with its task's own `Notify`): the one the free
//! slot is for. The shared wake below is for everything else — a release
//! where nobody is held, tasks that wait without a hold. Before, every wake
//! went through it, and `Notify`'s order is not the queue's: with hundreds
//! held, a wake travelled through dozens of tasks ahead of the right one,
//! each routing again (46 routes per request at 256 clients).
//!
//! A released permit wakes one waiter, not all: with hundreds waiting, waking
//! every one of them to route again for the one permit costs a route per
//! waiter per release, which is what saturated a gateway under load. The
//! woken task takes the permit, or, when it cannot use it (another endpoint,
//! a held place further back), passes the wake on, at most once per task
//! that was waiting when the permit came back ([`Permits::pass_on`]); a
//! task that took a permit and left room behind (a limit just raised, two
//! permits back at once) wakes the next one too. `Notify` wakes in the order
//! the tasks started waiting, and a dropped wake is handed on by tokio, so
//! a wake is never lost to a task that left.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use om_core::EndpointId;
use om_registry::EndpointLive;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::sync::futures::Notified;

/// The counts, created on first use.
#[derive(Debug)]
pub(crate) struct Permits {
    in_use: Mutex<HashMap<EndpointId, Arc<AtomicU32>>>,
    wake: Arc<Wake>,
}

/// What waiting tasks sleep on, shared with every permit.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    /// Notified (one waiter) whenever a permit is released.
    released: Notify,
    /// Tasks looking for capacity now.
    waiting: AtomicUsize,
    /// How many more times the last wake may be passed on.
    hops: AtomicUsize,
}

impl Wake {
    /// Completes when this task is woken for capacity.
    pub(crate) fn notified(&self) -> Notified<'_> {
        self.released.notified()
    }

    /// Wakes the task a free slot of `live`'s endpoint is for: the first
    /// request held there, else one of the other waiters.
    fn next(&self, live: Option<&EndpointLive>) {
        if !live.is_some_and(EndpointLive::wake_held) {
            self.one();
        }
    }

    fn one(&self) {
        self.hops.fetch_max(self.waiting.load(Ordering::Relaxed), Ordering::Relaxed);
        self.released.notify_one();
    }
}

/// Counts a task as waiting for capacity until dropped.
#[derive(Debug)]
pub(crate) struct Waiter(Arc<Wake>);

impl Drop for Waiter {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Permits {
    pub(crate) fn new() -> Self {
        Self { in_use: Mutex::new(HashMap::new()), wake: Arc::new(Wake::default()) }
    }

    /// Counts the caller as waiting for capacity while the guard lives.
    pub(crate) fn waiter(&self) -> Waiter {
        self.wake.waiting.fetch_add(1, Ordering::Relaxed);
        Waiter(Arc::clone(&self.wake))
    }

    /// Whether some task is waiting for capacity.
    pub(crate) fn anyone_waiting(&self) -> bool {
        self.waiting() > 0
    }

    /// Tasks looking for capacity now.
    pub(crate) fn waiting(&self) -> usize {
        self.wake.waiting.load(Ordering::Relaxed)
    }

    /// What a released permit wakes (one waiter at a time).
    pub(crate) fn wake(&self) -> Arc<Wake> {
        Arc::clone(&self.wake)
    }

    /// A woken task that could not use the capacity it was woken for hands
    /// the wake to the next waiter, while the wake has hops left.
    pub(crate) fn pass_on(&self) {
        let left =
            self.wake.hops.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |h| h.checked_sub(1));
        if left.is_ok_and(|h| h > 1) {
            self.wake.released.notify_one();
        }
    }

    /// Wakes every waiter: the queue itself changed (a task moved from one
    /// endpoint's queue to another's), so every place in it may have.
    pub(crate) fn wake_all(&self) {
        self.wake.released.notify_waiters();
    }

    /// A permit for `endpoint` if fewer than `capacity` are in use now. A
    /// lower `capacity` than before takes effect as permits come back. When
    /// it leaves room for another and someone waits, the next waiter is
    /// woken for it.
    pub(crate) fn try_acquire(
        &self,
        endpoint: &EndpointId,
        capacity: NonZeroU32,
        live: Option<&Arc<EndpointLive>>,
    ) -> Option<Permit> {
        let count = Arc::clone(self.in_use.lock().entry(endpoint.clone()).or_default());
        let before = count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity.get()).then_some(n + 1)
            })
            .ok()?;
        let live = live.cloned();
        if before + 1 < capacity.get() && self.anyone_waiting() {
            self.wake.next(live.as_deref());
        }
        Some(Permit { count: Some(count), wake: Arc::clone(&self.wake), live })
    }

    /// Permits of `endpoint` in use now.
    #[cfg(test)]
    pub(crate) fn in_use(&self, endpoint: &EndpointId) -> Option<u32> {
        self.in_use.lock().get(endpoint).map(|n| n.load(Ordering::Acquire))
    }
}

/// One request's right to use an endpoint; released on drop, which wakes
/// a task waiting for capacity.
#[derive(Debug)]
pub(crate) struct Permit {
    count: Option<Arc<AtomicU32>>,
    wake: Arc<Wake>,
    /// The endpoint's live state, whose held requests a release wakes
    /// first.
    live: Option<Arc<EndpointLive>>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        // Return the permit before waking anyone, so a woken task finds it.
        if let Some(count) = self.count.take() {
            count.fetch_sub(1, Ordering::AcqRel);
        }
        self.wake.next(self.live.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_per_endpoint_and_released_on_drop() {
        let permits = Permits::new();
        let a = EndpointId::new("a");
        let two = NonZeroU32::new(2).unwrap();
        let first = permits.try_acquire(&a, two, None).unwrap();
        let _second = permits.try_acquire(&a, two, None).unwrap();
        assert!(permits.try_acquire(&a, two, None).is_none());
        assert!(permits.try_acquire(&EndpointId::new("b"), NonZeroU32::MIN, None).is_some());
        drop(first);
        assert_eq!(permits.in_use(&a), Some(1));
        assert!(permits.try_acquire(&a, two, None).is_some());
    }

    #[test]
    fn a_changed_capacity_counts_the_permits_already_out() {
        let permits = Permits::new();
        let a = EndpointId::new("a");
        let four = NonZeroU32::new(4).unwrap();
        let held: Vec<Permit> =
            (0..3).map(|_| permits.try_acquire(&a, four, None).unwrap()).collect();
        // Cut to two: nothing more until two of the three are back.
        let two = NonZeroU32::new(2).unwrap();
        assert!(permits.try_acquire(&a, two, None).is_none());
        let mut held = held.into_iter();
        drop(held.next());
        assert!(permits.try_acquire(&a, two, None).is_none());
        drop(held.next());
        assert!(permits.try_acquire(&a, two, None).is_some());
    }

    #[test]
    fn waiters_count_while_their_guards_live() {
        let permits = Permits::new();
        assert!(!permits.anyone_waiting());
        let first = permits.waiter();
        let second = permits.waiter();
        drop(first);
        assert!(permits.anyone_waiting());
        drop(second);
        assert!(!permits.anyone_waiting());
    }

    #[tokio::test]
    async fn release_wakes_an_enabled_waiter() {
        let permits = Permits::new();
        let a = EndpointId::new("a");
        let held = permits.try_acquire(&a, NonZeroU32::MIN, None).unwrap();
        let wake = permits.wake();
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        drop(held);
        notified.await;
        assert!(permits.try_acquire(&a, NonZeroU32::MIN, None).is_some());
    }

    #[test]
    fn a_release_wakes_one_waiter_and_a_wake_is_passed_on_once_per_waiter() {
        use futures_util::FutureExt;

        let permits = Permits::new();
        let a = EndpointId::new("a");
        let held = permits.try_acquire(&a, NonZeroU32::MIN, None).unwrap();
        let _waiters: Vec<Waiter> = (0..3).map(|_| permits.waiter()).collect();
        let wake = permits.wake();
        let mut sleeping: Vec<_> = (0..3).map(|_| Box::pin(wake.notified())).collect();
        for notified in &mut sleeping {
            notified.as_mut().enable();
        }
        let woken = |sleeping: &mut Vec<_>| {
            let before = sleeping.len();
            sleeping.retain_mut(|n: &mut std::pin::Pin<Box<Notified<'_>>>| {
                n.as_mut().now_or_never().is_none()
            });
            before - sleeping.len()
        };
        drop(held);
        assert_eq!(woken(&mut sleeping), 1, "one waiter per release");
        // The woken one could not use it: the next, then the last.
        permits.pass_on();
        assert_eq!(woken(&mut sleeping), 1);
        permits.pass_on();
        assert_eq!(woken(&mut sleeping), 1);
        // Every waiter of that release has had it: no more.
        let mut late = Box::pin(wake.notified());
        late.as_mut().enable();
        permits.pass_on();
        assert!(late.as_mut().now_or_never().is_none());
    }

    #[test]
    fn taking_a_permit_that_leaves_room_wakes_the_next_waiter() {
        use futures_util::FutureExt;

        let permits = Permits::new();
        let a = EndpointId::new("a");
        let _waiter = permits.waiter();
        let wake = permits.wake();
        let mut notified = Box::pin(wake.notified());
        notified.as_mut().enable();
        let four = NonZeroU32::new(4).unwrap();
        let _one = permits.try_acquire(&a, four, None).unwrap();
        assert!(notified.as_mut().now_or_never().is_some(), "three left and someone waits");
        let mut notified = Box::pin(wake.notified());
        notified.as_mut().enable();
        let _full = permits.try_acquire(&a, NonZeroU32::new(2).unwrap(), None).unwrap();
        assert!(notified.as_mut().now_or_never().is_none(), "no room left: nobody woken");
    }
}
