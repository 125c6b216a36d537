//! The run queue: three FIFO levels with optional aging, O(1) per operation.
//!
//! Each [`Priority`] has its own `VecDeque`, so FIFO order inside a level is
//! the deque's order. Aging raises a waiting entry's *effective* priority by one
//! level per `aging` interval it has waited (Low → Normal → High), and ties
//! between levels go to the entry enqueued first. Because every level is FIFO,
//! its head has waited longest and therefore has the highest effective
//! priority of that level, so [`PriorityQueue::pop`] only compares the three
//! heads: the choice is the same as a scan of every entry, at O(1) cost.

use std::collections::VecDeque;
use std::time::Duration;

use om_core::Priority;
use tokio::time::Instant;

/// One queued item with the bookkeeping aging needs.
#[derive(Debug)]
struct Entry<T> {
    /// Global enqueue order, to break ties between levels.
    seq: u64,
    enqueued: Instant,
    item: T,
}

/// A three-level priority queue with FIFO levels and optional aging.
#[derive(Debug)]
pub(crate) struct PriorityQueue<T> {
    /// Indexed by [`rank`]: Low, Normal, High.
    levels: [VecDeque<Entry<T>>; 3],
    aging: Option<Duration>,
    next_seq: u64,
}

/// What [`PriorityQueue::pop`] hands back.
#[derive(Debug)]
pub(crate) struct Popped<T> {
    pub(crate) item: T,
    pub(crate) enqueued: Instant,
}

/// The numeric level of a priority: Low 0, Normal 1, High 2.
fn rank(priority: Priority) -> usize {
    match priority {
        Priority::Low => 0,
        Priority::Normal => 1,
        Priority::High => 2,
    }
}

impl<T> PriorityQueue<T> {
    /// An empty queue; `aging` is the wait after which an entry is treated as
    /// one level more urgent (`None`: never).
    pub(crate) fn new(aging: Option<Duration>) -> Self {
        // A zero interval would make every entry High at once; treat it as off.
        let aging = aging.filter(|interval| !interval.is_zero());
        Self { levels: Default::default(), aging, next_seq: 0 }
    }

    /// Appends `item` at the back of its level.
    pub(crate) fn push(&mut self, priority: Priority, enqueued: Instant, item: T) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.levels[rank(priority)].push_back(Entry { seq, enqueued, item });
    }

    /// Removes the entry to run next at time `now`: highest effective
    /// priority, then earliest enqueued.
    pub(crate) fn pop(&mut self, now: Instant) -> Option<Popped<T>> {
        let mut best: Option<(usize, u64, usize)> = None;
        for (level, queue) in self.levels.iter().enumerate() {
            let Some(head) = queue.front() else { continue };
            let effective = self.effective_rank(level, head.enqueued, now);
            let better = match best {
                None => true,
                Some((rank, seq, _)) => effective > rank || (effective == rank && head.seq < seq),
            };
            if better {
                best = Some((effective, head.seq, level));
            }
        }
        let (_, _, level) = best?;
        let entry = self.levels[level].pop_front()?;
        Some(Popped { item: entry.item, enqueued: entry.enqueued })
    }

    /// Removes every entry, in the order [`pop`](Self::pop) would have taken
    /// them without aging.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.levels.iter_mut().rev().flat_map(|queue| queue.drain(..).map(|entry| entry.item))
    }

    /// How many entries are queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.levels.iter().map(VecDeque::len).sum()
    }

    fn effective_rank(&self, level: usize, enqueued: Instant, now: Instant) -> usize {
        let Some(interval) = self.aging else { return level };
        let waited = now.saturating_duration_since(enqueued);
        let steps = waited.as_nanos() / interval.as_nanos();
        level.saturating_add(usize::try_from(steps).unwrap_or(usize::MAX)).min(rank(Priority::High))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn drain_order<T>(queue: &mut PriorityQueue<T>, now: Instant) -> Vec<T> {
        std::iter::from_fn(|| queue.pop(now).map(|popped| popped.item)).collect()
    }

    #[test]
    fn higher_priority_first_and_fifo_within_a_level() {
        let now = Instant::now();
        let mut queue = PriorityQueue::new(None);
        for (priority, name) in [
            (Priority::Low, "l1"),
            (Priority::Normal, "n1"),
            (Priority::High, "h1"),
            (Priority::Low, "l2"),
            (Priority::High, "h2"),
            (Priority::Normal, "n2"),
        ] {
            queue.push(priority, now, name);
        }
        assert_eq!(queue.len(), 6);
        assert_eq!(drain_order(&mut queue, now), ["h1", "h2", "n1", "n2", "l1", "l2"]);
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn aging_promotes_one_level_per_interval() {
        let start = Instant::now();
        let interval = Duration::from_secs(10);
        let mut queue = PriorityQueue::new(Some(interval));
        queue.push(Priority::Low, start, "low");
        queue.push(Priority::Normal, start + Duration::from_secs(5), "normal");
        queue.push(Priority::High, start + Duration::from_secs(19), "high");

        // After one interval the low entry is Normal and older than "normal".
        let mut at_11 = PriorityQueue::new(Some(interval));
        at_11.push(Priority::Low, start, "low");
        at_11.push(Priority::Normal, start + Duration::from_secs(5), "normal");
        assert_eq!(drain_order(&mut at_11, start + Duration::from_secs(11)), ["low", "normal"]);

        // At 20 s the low entry has aged twice (High) and beats a younger High.
        assert_eq!(
            drain_order(&mut queue, start + Duration::from_secs(20)),
            ["low", "normal", "high"]
        );
    }

    #[test]
    fn without_aging_low_waits_forever() {
        let start = Instant::now();
        let mut queue = PriorityQueue::new(Some(Duration::ZERO));
        queue.push(Priority::Low, start, "low");
        queue.push(Priority::High, start + Duration::from_hours(1), "high");
        assert_eq!(drain_order(&mut queue, start + Duration::from_hours(2)), ["high", "low"]);
    }

    #[test]
    fn drain_takes_everything_highest_first() {
        let now = Instant::now();
        let mut queue = PriorityQueue::new(None);
        queue.push(Priority::Low, now, 1);
        queue.push(Priority::High, now, 2);
        queue.push(Priority::Normal, now, 3);
        assert_eq!(queue.drain().collect::<Vec<_>>(), [2, 3, 1]);
        assert_eq!(queue.len(), 0);
    }

    /// An operation of the model test: push at an offset, or pop after a delay.
    #[derive(Debug, Clone)]
    enum Op {
        Push(Priority),
        Pop,
        Wait(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => prop::sample::select(Priority::ALL.to_vec()).prop_map(Op::Push),
            2 => Just(Op::Pop),
            1 => (0_u64..50).prop_map(Op::Wait),
        ]
    }

    proptest! {
        /// Comparing only the heads picks what a scan of every entry would.
        #[test]
        fn heads_only_matches_a_full_scan(
            ops in prop::collection::vec(op(), 0..200),
            aging in prop::option::of(1_u64..40),
        ) {
            let start = Instant::now();
            let aging = aging.map(Duration::from_secs);
            let mut queue = PriorityQueue::new(aging);
            // The model: (seq, priority, enqueued second), scanned in full.
            let mut model: Vec<(u64, Priority, u64)> = Vec::new();
            let mut clock = 0_u64;
            let mut seq = 0_u64;
            for op in ops {
                match op {
                    Op::Wait(secs) => clock += secs,
                    Op::Push(priority) => {
                        queue.push(priority, start + Duration::from_secs(clock), seq);
                        model.push((seq, priority, clock));
                        seq += 1;
                    }
                    Op::Pop => {
                        let effective = |priority: Priority, at: u64| {
                            let steps = aging.map_or(0, |a| (clock - at) / a.as_secs());
                            (rank(priority) + steps as usize).min(2)
                        };
                        let expected = model
                            .iter()
                            .enumerate()
                            .max_by(|(_, a), (_, b)| {
                                effective(a.1, a.2).cmp(&effective(b.1, b.2)).then(b.0.cmp(&a.0))
                            })
                            .map(|(index, _)| index);
                        let expected = expected.map(|index| model.remove(index).0);
                        let got = queue.pop(start + Duration::from_secs(clock)).map(|p| p.item);
                        prop_assert_eq!(got, expected);
                    }
                }
                prop_assert_eq!(queue.len(), model.len());
            }
        }
    }
}
