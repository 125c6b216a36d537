//! Per-endpoint concurrency: one count of requests in use per endpoint
//! (checked against a limit that may change with every request: a learned
//! one moves, and a count needs no rebuilding when it does), one `Notify` that
//! wakes every task waiting for capacity when any permit comes back, and a
//! count of the tasks waiting (a second, speculative attempt only takes
//! capacity that nobody waits for).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use om_core::EndpointId;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// The counts, created on first use.
#[derive(Debug)]
pub(crate) struct Permits {
    in_use: Mutex<HashMap<EndpointId, Arc<AtomicU32>>>,
    /// Notified (all waiters) whenever a permit is released.
    released: Arc<Notify>,
    /// Tasks looking for capacity now.
    waiting: Arc<AtomicUsize>,
}

/// Counts a task as waiting for capacity until dropped.
#[derive(Debug)]
pub(crate) struct Waiter(Arc<AtomicUsize>);

impl Drop for Waiter {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Permits {
    pub(crate) fn new() -> Self {
        Self {
            in_use: Mutex::new(HashMap::new()),
            released: Arc::new(Notify::new()),
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Counts the caller as waiting for capacity while the guard lives.
    pub(crate) fn waiter(&self) -> Waiter {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        Waiter(Arc::clone(&self.waiting))
    }

    /// Whether some task is waiting for capacity.
    pub(crate) fn anyone_waiting(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) > 0
    }

    /// What capacity changes wake.
    pub(crate) fn released(&self) -> &Arc<Notify> {
        &self.released
    }

    /// A permit for `endpoint` if fewer than `capacity` are in use now. A
    /// lower `capacity` than before takes effect as permits come back.
    pub(crate) fn try_acquire(
        &self,
        endpoint: &EndpointId,
        capacity: NonZeroU32,
    ) -> Option<Permit> {
        let count = Arc::clone(self.in_use.lock().entry(endpoint.clone()).or_default());
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity.get()).then_some(n + 1)
            })
            .ok()?;
        Some(Permit { count: Some(count), released: Arc::clone(&self.released) })
    }

    /// Permits of `endpoint` in use now.
    #[cfg(test)]
    pub(crate) fn in_use(&self, endpoint: &EndpointId) -> Option<u32> {
        self.in_use.lock().get(endpoint).map(|n| n.load(Ordering::Acquire))
    }
}

/// One request's right to use an endpoint; released on drop, which wakes
/// the tasks waiting for capacity.
#[derive(Debug)]
pub(crate) struct Permit {
    count: Option<Arc<AtomicU32>>,
    released: Arc<Notify>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        // Return the permit before waking anyone, so a woken task finds it.
        if let Some(count) = self.count.take() {
            count.fetch_sub(1, Ordering::AcqRel);
        }
        self.released.notify_waiters();
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
        let first = permits.try_acquire(&a, two).unwrap();
        let _second = permits.try_acquire(&a, two).unwrap();
        assert!(permits.try_acquire(&a, two).is_none());
        assert!(permits.try_acquire(&EndpointId::new("b"), NonZeroU32::MIN).is_some());
        drop(first);
        assert_eq!(permits.in_use(&a), Some(1));
        assert!(permits.try_acquire(&a, two).is_some());
    }

    #[test]
    fn a_changed_capacity_counts_the_permits_already_out() {
        let permits = Permits::new();
        let a = EndpointId::new("a");
        let four = NonZeroU32::new(4).unwrap();
        let held: Vec<Permit> = (0..3).map(|_| permits.try_acquire(&a, four).unwrap()).collect();
        // Cut to two: nothing more until two of the three are back.
        let two = NonZeroU32::new(2).unwrap();
        assert!(permits.try_acquire(&a, two).is_none());
        let mut held = held.into_iter();
        drop(held.next());
        assert!(permits.try_acquire(&a, two).is_none());
        drop(held.next());
        assert!(permits.try_acquire(&a, two).is_some());
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
        let held = permits.try_acquire(&a, NonZeroU32::MIN).unwrap();
        let notify = Arc::clone(permits.released());
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        drop(held);
        notified.await;
        assert!(permits.try_acquire(&a, NonZeroU32::MIN).is_some());
    }
}
