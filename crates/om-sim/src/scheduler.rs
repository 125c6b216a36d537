//! Per-model load state, parallel slots, the pending-load queue, keep-alive
//! and eviction — the simulator's version of Ollama's `server/sched.go`
//! (`OLLAMA_API.md` §8 and §11.9–11.16).
//!
//! One [`Scheduler`] per endpoint holds a map of runners (one per model) under
//! a short `parking_lot` lock, a [`Notify`] that wakes waiters whenever a
//! runner changes, and a one-permit semaphore that serialises loads. A request
//! gets a [`Lease`]: while it lives the runner counts the request as in
//! flight; dropping it (request done or client gone) releases the slot and
//! starts the idle timer. Idle expiry is evaluated lazily — every operation
//! first drops runners whose keep-alive ran out — so no background task is
//! needed and paused-time tests see exact expiry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use om_core::Capability;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::spec::ModelSpec;

/// The load-time options a runner was loaded with; a request with a
/// different signature forces a reload.
pub(crate) type Signature = Vec<(&'static str, Value)>;

/// Fixed scheduling settings of one endpoint.
#[derive(Debug, Clone)]
pub(crate) struct SchedulerConfig {
    pub(crate) num_parallel: usize,
    pub(crate) max_queue: usize,
    /// 0 means no limit.
    pub(crate) max_loaded_models: usize,
    pub(crate) load_time: Duration,
}

/// What one request needs from the scheduler.
#[derive(Debug, Clone)]
pub(crate) struct LoadRequest {
    pub(crate) model: ModelSpec,
    pub(crate) signature: Signature,
    /// The context the runner is loaded with (for `/api/ps`).
    pub(crate) num_ctx: u64,
    /// Idle time after the request; `None` is forever.
    pub(crate) keep_alive: Option<Duration>,
    /// Load time on top of the configured one (the `slow_load` fault).
    pub(crate) extra_load: Duration,
}

/// The pending-load queue is full: Ollama's 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("server busy, please try again.  maximum pending requests exceeded")]
pub(crate) struct Busy;

/// A loaded (or loading) model, as `/api/ps` shows it.
#[derive(Debug, Clone)]
pub(crate) struct Running {
    pub(crate) model: ModelSpec,
    pub(crate) num_ctx: u64,
    pub(crate) num_parallel: usize,
    /// When it unloads if left idle; `None` is never.
    pub(crate) expires_at: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Loading,
    Loaded,
}

#[derive(Debug)]
struct Runner {
    id: u64,
    model: ModelSpec,
    signature: Signature,
    num_ctx: u64,
    phase: Phase,
    /// Marked for unloading once its in-flight requests finish (reload or
    /// eviction); takes no new requests.
    expiring: bool,
    in_flight: usize,
    /// Parallel slots of this runner.
    parallel: usize,
    keep_alive: Option<Duration>,
    /// When the last in-flight request ended; `None` while busy or loading.
    idle_since: Option<Instant>,
    slots: Arc<Semaphore>,
}

impl Runner {
    fn can_serve(&self, signature: &Signature) -> bool {
        self.phase == Phase::Loaded && !self.expiring && self.signature == *signature
    }

    fn join(&mut self, keep_alive: Option<Duration>) {
        self.in_flight += 1;
        self.idle_since = None;
        // Ollama: the last request's keep_alive wins.
        self.keep_alive = keep_alive;
    }

    fn expires_at(&self, now: Instant) -> Option<Instant> {
        let keep = self.keep_alive?;
        let from = match self.idle_since {
            Some(idle) if self.in_flight == 0 && self.phase == Phase::Loaded => idle,
            // Busy or loading: Ollama estimates now + keep_alive.
            _ => now,
        };
        from.checked_add(keep)
    }
}

#[derive(Debug, Default)]
struct State {
    runners: HashMap<String, Runner>,
    /// Requests waiting for the loader (Ollama's pending channel).
    pending: usize,
    next_id: u64,
}

/// What the loader should do next for one request.
enum Plan {
    /// The model is loaded as asked; the request joined runner `id`.
    Joined(u64),
    /// A runner `id` was inserted in the loading phase; load it.
    Load(u64),
    /// Something was unloaded; look again.
    Retry,
    /// Wait for a runner to change.
    Wait,
}

impl State {
    /// Unloads runners whose idle time ran out.
    fn purge(&mut self, now: Instant) {
        self.runners.retain(|_, r| {
            r.in_flight > 0
                || r.phase == Phase::Loading
                || r.expires_at(now).is_none_or(|at| at > now)
        });
    }

    fn plan(&mut self, key: &str, request: &LoadRequest, config: &SchedulerConfig) -> Plan {
        if let Some(runner) = self.runners.get_mut(key) {
            if runner.can_serve(&request.signature) {
                runner.join(request.keep_alive);
                return Plan::Joined(runner.id);
            }
            // A reload: the old runner finishes its requests, then goes.
            runner.expiring = true;
            if runner.in_flight == 0 && runner.phase == Phase::Loaded {
                self.runners.remove(key);
                return Plan::Retry;
            }
            return Plan::Wait;
        }
        if config.max_loaded_models > 0 && self.runners.len() >= config.max_loaded_models {
            return self.evict();
        }
        self.next_id += 1;
        let id = self.next_id;
        // Ollama forces embedding-only models to one slot.
        let embedding_only =
            request.model.has(Capability::Embedding) && !request.model.has(Capability::Completion);
        let parallel = if embedding_only { 1 } else { config.num_parallel.max(1) };
        self.runners.insert(
            key.to_owned(),
            Runner {
                id,
                model: request.model.clone(),
                signature: request.signature.clone(),
                num_ctx: request.num_ctx,
                phase: Phase::Loading,
                expiring: false,
                // The loading request itself.
                in_flight: 1,
                parallel,
                keep_alive: request.keep_alive,
                idle_since: None,
                slots: Arc::new(Semaphore::new(parallel)),
            },
        );
        Plan::Load(id)
    }

    /// Makes room for one more model: unloads the idle runner with the
    /// shortest keep-alive, or, when all are busy, marks the one that would
    /// go first to unload as soon as it is done.
    fn evict(&mut self) -> Plan {
        let order = |r: &Runner| (r.keep_alive.unwrap_or(Duration::MAX), r.model.name.clone());
        let idle = self
            .runners
            .iter()
            .filter(|(_, r)| r.in_flight == 0 && r.phase == Phase::Loaded)
            .min_by_key(|(_, r)| order(r))
            .map(|(k, _)| k.clone());
        if let Some(victim) = idle {
            self.runners.remove(&victim);
            return Plan::Retry;
        }
        if let Some(busy) = self
            .runners
            .values_mut()
            .filter(|r| !r.expiring && r.phase == Phase::Loaded)
            .min_by_key(|r| order(r))
        {
            busy.expiring = true;
        }
        Plan::Wait
    }
}

/// The scheduler of one endpoint.
#[derive(Debug)]
pub(crate) struct Scheduler {
    config: SchedulerConfig,
    state: Mutex<State>,
    changed: Notify,
    /// One permit: loads happen one at a time.
    loader: Arc<Semaphore>,
}

impl Scheduler {
    pub(crate) fn new(config: SchedulerConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            loader: Arc::new(Semaphore::new(1)),
        }
    }

    /// Gets a runner for `request`'s model, loading (or reloading) it when
    /// needed. `load_duration` on the lease covers queueing and loading; a
    /// warm request reports a small non-zero value.
    ///
    /// # Errors
    ///
    /// [`Busy`] when the model needs a load and the pending queue is full.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future leaves the queue, abandons a load in progress (the
    /// half-loaded runner is removed) and releases anything taken.
    pub(crate) async fn acquire(self: &Arc<Self>, request: &LoadRequest) -> Result<Lease, Busy> {
        let start = Instant::now();
        let key = request.model.name.as_key().to_owned();
        {
            let mut state = self.state.lock();
            state.purge(start);
            if let Some(runner) = state.runners.get_mut(&key)
                && runner.can_serve(&request.signature)
            {
                runner.join(request.keep_alive);
                let (id, slots) = (runner.id, Arc::clone(&runner.slots));
                drop(state);
                return Ok(self.lease(key, id, slots, start));
            }
            if state.pending >= self.config.max_queue {
                return Err(Busy);
            }
            state.pending += 1;
        }
        let pending = PendingGuard { scheduler: self };
        // The semaphore is never closed, so acquiring only fails if it were.
        let loader = Arc::clone(&self.loader).acquire_owned().await.map_err(|_| Busy)?;
        // Taken out of the pending queue, as Ollama's scheduler loop does.
        drop(pending);
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let plan = {
                let mut state = self.state.lock();
                state.purge(Instant::now());
                let plan = state.plan(&key, request, &self.config);
                match plan {
                    Plan::Joined(id) | Plan::Load(id) => {
                        let slots = Arc::clone(&state.runners[&key].slots);
                        Some((plan, id, slots))
                    }
                    Plan::Retry => continue,
                    Plan::Wait => None,
                }
            };
            match plan {
                Some((Plan::Joined(_), id, slots)) => {
                    drop(loader);
                    return Ok(self.lease(key, id, slots, start));
                }
                Some((_, id, slots)) => {
                    // The lease exists before the load so that a cancelled
                    // load removes its half-loaded runner on drop.
                    let mut lease = self.lease(key, id, slots, start);
                    tokio::time::sleep(self.config.load_time + request.extra_load).await;
                    {
                        let mut state = self.state.lock();
                        if let Some(runner) = state.runners.get_mut(&lease.key)
                            && runner.id == id
                        {
                            runner.phase = Phase::Loaded;
                        }
                    }
                    self.changed.notify_waiters();
                    drop(loader);
                    lease.load_duration = start.elapsed().max(WARM_LOAD);
                    return Ok(lease);
                }
                None => notified.await,
            }
        }
    }

    fn lease(
        self: &Arc<Self>,
        key: String,
        id: u64,
        slots: Arc<Semaphore>,
        start: Instant,
    ) -> Lease {
        Lease {
            scheduler: Arc::clone(self),
            key,
            id,
            slots,
            slot: None,
            load_duration: start.elapsed().max(WARM_LOAD),
        }
    }

    /// Ollama's unload shortcut: the model's runner unloads as soon as it has
    /// no requests (at once when idle). Nothing happens when it is not loaded.
    pub(crate) fn expire(&self, model: &ModelSpec) {
        {
            let mut state = self.state.lock();
            let key = model.name.as_key();
            let remove = match state.runners.get_mut(key) {
                Some(runner) => {
                    runner.keep_alive = Some(Duration::ZERO);
                    runner.expiring = true;
                    runner.in_flight == 0 && runner.phase == Phase::Loaded
                }
                None => false,
            };
            if remove {
                state.runners.remove(key);
            }
        }
        self.changed.notify_waiters();
    }

    /// The loaded and loading models, soonest to expire last (as `/api/ps`
    /// sorts them).
    pub(crate) fn running(&self) -> Vec<Running> {
        let now = Instant::now();
        let mut state = self.state.lock();
        state.purge(now);
        let mut list: Vec<Running> = state
            .runners
            .values()
            .map(|r| Running {
                model: r.model.clone(),
                num_ctx: r.num_ctx,
                num_parallel: r.parallel,
                expires_at: r.expires_at(now),
            })
            .collect();
        // `None` (forever) sorts last in `Option`'s order, so reverse it.
        list.sort_by(|a, b| match (a.expires_at, b.expires_at) {
            (None, None) => a.model.name.cmp(&b.model.name),
            (None, Some(_)) => std::cmp::Ordering::Less,
            (Some(_), None) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => y.cmp(&x).then(a.model.name.cmp(&b.model.name)),
        });
        list
    }

    fn release(&self, key: &str, id: u64) {
        {
            let mut state = self.state.lock();
            let now = Instant::now();
            let remove = match state.runners.get_mut(key) {
                Some(runner) if runner.id == id => {
                    runner.in_flight = runner.in_flight.saturating_sub(1);
                    if runner.in_flight > 0 {
                        false
                    } else if runner.phase == Phase::Loading
                        || runner.expiring
                        || runner.keep_alive == Some(Duration::ZERO)
                    {
                        // An abandoned load, a reload or eviction waiting for
                        // this runner, or keep_alive 0: unload now.
                        true
                    } else {
                        runner.idle_since = Some(now);
                        false
                    }
                }
                _ => false,
            };
            if remove {
                state.runners.remove(key);
            }
        }
        self.changed.notify_waiters();
    }
}

/// The smallest `load_duration` reported: a warm model still takes a moment
/// to hand over (Ollama reports µs–ms), and clients need it non-zero.
const WARM_LOAD: Duration = Duration::from_micros(250);

/// Leaves the pending count when dropped.
struct PendingGuard<'a> {
    scheduler: &'a Scheduler,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.scheduler.state.lock();
        state.pending = state.pending.saturating_sub(1);
    }
}

/// One request's hold on a runner: counts as in flight until dropped, and
/// holds a parallel slot once [`Lease::take_slot`] returned.
#[derive(Debug)]
pub(crate) struct Lease {
    scheduler: Arc<Scheduler>,
    key: String,
    id: u64,
    slots: Arc<Semaphore>,
    slot: Option<OwnedSemaphorePermit>,
    load_duration: Duration,
}

impl Lease {
    /// Scheduler queue plus load time (small but non-zero when warm).
    pub(crate) fn load_duration(&self) -> Duration {
        self.load_duration
    }

    /// Waits, without bound, for one of the runner's parallel slots.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future gives up the place in line.
    pub(crate) async fn take_slot(&mut self) {
        if self.slot.is_none() {
            // The semaphore belongs to the lease's runner and is never closed.
            self.slot = Arc::clone(&self.slots).acquire_owned().await.ok();
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Free the slot before the runner sees the request end.
        self.slot.take();
        self.scheduler.release(&self.key, self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::default_models;

    fn scheduler(num_parallel: usize, max_queue: usize, max_loaded: usize) -> Arc<Scheduler> {
        Arc::new(Scheduler::new(SchedulerConfig {
            num_parallel,
            max_queue,
            max_loaded_models: max_loaded,
            load_time: Duration::from_millis(100),
        }))
    }

    fn request(model: usize, keep: Option<Duration>) -> LoadRequest {
        LoadRequest {
            model: default_models()[model].clone(),
            signature: Vec::new(),
            num_ctx: 4096,
            keep_alive: keep,
            extra_load: Duration::ZERO,
        }
    }

    const FIVE_MIN: Option<Duration> = Some(Duration::from_mins(5));

    #[tokio::test(start_paused = true)]
    async fn cold_then_warm() {
        let s = scheduler(1, 8, 3);
        let cold = s.acquire(&request(0, FIVE_MIN)).await.unwrap();
        assert_eq!(cold.load_duration(), Duration::from_millis(100));
        drop(cold);
        let warm = s.acquire(&request(0, FIVE_MIN)).await.unwrap();
        assert_eq!(warm.load_duration(), WARM_LOAD);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_expiry_and_keep_alive_zero() {
        let s = scheduler(1, 8, 3);
        drop(s.acquire(&request(0, Some(Duration::from_secs(10)))).await.unwrap());
        assert_eq!(s.running().len(), 1);
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(s.running().is_empty());
        drop(s.acquire(&request(0, Some(Duration::ZERO))).await.unwrap());
        assert!(s.running().is_empty());
        drop(s.acquire(&request(0, None)).await.unwrap());
        tokio::time::advance(Duration::from_secs(1_000_000)).await;
        assert_eq!(s.running()[0].expires_at, None);
    }

    #[tokio::test(start_paused = true)]
    async fn signature_change_reloads() {
        let s = scheduler(1, 8, 3);
        drop(s.acquire(&request(0, FIVE_MIN)).await.unwrap());
        let mut other = request(0, FIVE_MIN);
        other.signature = vec![("num_ctx", Value::from(8192))];
        let lease = s.acquire(&other).await.unwrap();
        assert_eq!(lease.load_duration(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn eviction_picks_the_shortest_keep_alive() {
        let s = scheduler(1, 8, 2);
        drop(s.acquire(&request(0, Some(Duration::from_secs(100)))).await.unwrap());
        drop(s.acquire(&request(1, Some(Duration::from_secs(50)))).await.unwrap());
        drop(s.acquire(&request(2, FIVE_MIN)).await.unwrap());
        let names: Vec<String> = s.running().iter().map(|r| r.model.name.to_string()).collect();
        assert_eq!(names, ["qwen3:8b", "llama3.2:latest"]);
    }

    #[tokio::test(start_paused = true)]
    async fn full_queue_is_busy() {
        let s = scheduler(1, 1, 3);
        let a = tokio::spawn({
            let s = Arc::clone(&s);
            async move { s.acquire(&request(0, FIVE_MIN)).await.map(drop) }
        });
        tokio::task::yield_now().await;
        // `a` holds the loader; `b` waits in the queue; `c` finds it full.
        let b = tokio::spawn({
            let s = Arc::clone(&s);
            async move { s.acquire(&request(1, FIVE_MIN)).await.map(drop) }
        });
        tokio::task::yield_now().await;
        assert_eq!(s.acquire(&request(2, FIVE_MIN)).await.unwrap_err(), Busy);
        assert!(a.await.unwrap().is_ok());
        assert!(b.await.unwrap().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn slots_limit_parallel_requests() {
        let s = scheduler(1, 8, 3);
        let mut first = s.acquire(&request(0, FIVE_MIN)).await.unwrap();
        first.take_slot().await;
        let mut second = s.acquire(&request(0, FIVE_MIN)).await.unwrap();
        let waited = tokio::time::timeout(Duration::from_secs(1), second.take_slot()).await;
        assert!(waited.is_err(), "the second request must wait for the slot");
        drop(first);
        tokio::time::timeout(Duration::from_secs(1), second.take_slot()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn embedding_models_get_one_slot() {
        let s = scheduler(4, 8, 3);
        let mut first = s.acquire(&request(3, FIVE_MIN)).await.unwrap();
        first.take_slot().await;
        let mut second = s.acquire(&request(3, FIVE_MIN)).await.unwrap();
        let waited = tokio::time::timeout(Duration::from_secs(1), second.take_slot()).await;
        assert!(waited.is_err(), "an embedding-only model has a single slot");
        assert_eq!(s.running()[0].num_parallel, 1);
        let mut chat = s.acquire(&request(0, FIVE_MIN)).await.unwrap();
        chat.take_slot().await;
        let mut chat2 = s.acquire(&request(0, FIVE_MIN)).await.unwrap();
        tokio::time::timeout(Duration::from_secs(1), chat2.take_slot()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn abandoned_load_leaves_nothing_behind() {
        let s = scheduler(1, 8, 3);
        let cold = request(0, FIVE_MIN);
        let attempt = tokio::time::timeout(Duration::from_millis(10), s.acquire(&cold));
        assert!(attempt.await.is_err());
        assert!(s.running().is_empty());
        let lease = s.acquire(&request(0, FIVE_MIN)).await.unwrap();
        assert_eq!(lease.load_duration(), Duration::from_millis(100));
    }
}
