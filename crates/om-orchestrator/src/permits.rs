//! Per-endpoint concurrency: one semaphore per endpoint, one `Notify` that
//! wakes every task waiting for capacity when any permit comes back, and a
//! count of the tasks waiting (a second, speculative attempt only takes
//! capacity that nobody waits for).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use om_core::EndpointId;
use parking_lot::Mutex;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// The semaphores, created on first use with the endpoint's capacity.
#[derive(Debug)]
pub(crate) struct Permits {
    semaphores: Mutex<HashMap<EndpointId, Gate>>,
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

#[derive(Debug)]
struct Gate {
    capacity: u32,
    semaphore: Arc<Semaphore>,
}

impl Permits {
    pub(crate) fn new() -> Self {
        Self {
            semaphores: Mutex::new(HashMap::new()),
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

    /// A permit for `endpoint` if one is free now. A changed `capacity`
    /// (discovery or a new configuration) replaces the semaphore; permits of
    /// the old one still count until they are released, so the endpoint may
    /// briefly see up to the old plus the new limit.
    pub(crate) fn try_acquire(
        &self,
        endpoint: &EndpointId,
        capacity: NonZeroU32,
    ) -> Option<Permit> {
        let semaphore = {
            let mut semaphores = self.semaphores.lock();
            let gate = semaphores.entry(endpoint.clone()).or_insert_with(|| Gate::new(capacity));
            if gate.capacity != capacity.get() {
                *gate = Gate::new(capacity);
            }
            Arc::clone(&gate.semaphore)
        };
        let permit = semaphore.try_acquire_owned().ok()?;
        Some(Permit { permit: Some(permit), released: Arc::clone(&self.released) })
    }

    /// Permits of `endpoint` free now.
    #[cfg(test)]
    pub(crate) fn available(&self, endpoint: &EndpointId) -> Option<usize> {
        self.semaphores.lock().get(endpoint).map(|g| g.semaphore.available_permits())
    }
}

impl Gate {
    fn new(capacity: NonZeroU32) -> Self {
        Self {
            capacity: capacity.get(),
            semaphore: Arc::new(Semaphore::new(capacity.get() as usize)),
        }
    }
}

/// One request's right to use an endpoint; released on drop, which wakes
/// the tasks waiting for capacity.
#[derive(Debug)]
pub(crate) struct Permit {
    permit: Option<OwnedSemaphorePermit>,
    released: Arc<Notify>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        // Return the permit before waking anyone, so a woken task finds it.
        drop(self.permit.take());
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
        assert_eq!(permits.available(&a), Some(1));
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
