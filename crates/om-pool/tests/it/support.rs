//! A scripted agent and factory that count, from inside, how many agents
//! exist per model and per endpoint, and remember the most ever seen.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use om_core::{EndpointId, ModelName};
use om_pool::{Agent, AgentFactory, AgentId, Event, EventKind, Placement};
use parking_lot::Mutex;
use tokio::sync::broadcast;

/// What one run does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Job {
    pub(crate) duration: Duration,
    pub(crate) tokens: u64,
    pub(crate) fail: bool,
}

impl Job {
    pub(crate) fn ms(ms: u64) -> Self {
        Self { duration: Duration::from_millis(ms), tokens: 0, fail: false }
    }

    pub(crate) fn secs(secs: u64) -> Self {
        Self::ms(secs * 1000)
    }

    pub(crate) fn tokens(mut self, tokens: u64) -> Self {
        self.tokens = tokens;
        self
    }

    pub(crate) fn failing(mut self) -> Self {
        self.fail = true;
        self
    }
}

/// The error a scripted run or spawn fails with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scripted failure")]
pub(crate) struct Scripted;

/// Live agents, counted by the agents themselves.
#[derive(Debug, Default)]
struct Counts {
    total: usize,
    models: HashMap<ModelName, usize>,
    endpoints: HashMap<EndpointId, usize>,
    max_total: usize,
    max_models: HashMap<ModelName, usize>,
    max_endpoints: HashMap<EndpointId, usize>,
}

/// Shared between the test, the factory and every agent.
#[derive(Debug, Default)]
pub(crate) struct Fleet {
    counts: Mutex<Counts>,
    spawned: AtomicUsize,
    /// How many of the next spawns fail.
    fail_spawns: AtomicUsize,
    /// How long dropping an agent blocks its thread, in milliseconds, as
    /// stopping a real one does.
    linger_ms: AtomicU64,
    /// Health switches of the agents made, by id.
    health: Mutex<HashMap<AgentId, Arc<AtomicBool>>>,
    /// Placements asked of the factory, in order, with the id.
    made: Mutex<Vec<(AgentId, Placement)>>,
}

impl Fleet {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Agents alive now (being made, working or idle).
    pub(crate) fn live(&self) -> usize {
        self.counts.lock().total
    }

    pub(crate) fn max_total(&self) -> usize {
        self.counts.lock().max_total
    }

    pub(crate) fn max_for_model(&self, model: &ModelName) -> usize {
        self.counts.lock().max_models.get(model).copied().unwrap_or(0)
    }

    pub(crate) fn max_for_endpoint(&self, endpoint: &EndpointId) -> usize {
        self.counts.lock().max_endpoints.get(endpoint).copied().unwrap_or(0)
    }

    /// Spawns started (successful or not).
    pub(crate) fn spawned(&self) -> usize {
        self.spawned.load(Ordering::SeqCst)
    }

    pub(crate) fn fail_next_spawns(&self, count: usize) {
        self.fail_spawns.store(count, Ordering::SeqCst);
    }

    /// Dropping an agent from now on blocks for `linger` before it is gone.
    pub(crate) fn linger_drops(&self, linger: Duration) {
        let ms = u64::try_from(linger.as_millis()).expect("a short linger");
        self.linger_ms.store(ms, Ordering::SeqCst);
    }

    pub(crate) fn set_healthy(&self, agent: AgentId, healthy: bool) {
        self.health.lock()[&agent].store(healthy, Ordering::SeqCst);
    }

    pub(crate) fn made(&self) -> Vec<(AgentId, Placement)> {
        self.made.lock().clone()
    }

    fn enter(self: &Arc<Self>, placement: &Placement) -> Presence {
        let mut counts = self.counts.lock();
        counts.total += 1;
        counts.max_total = counts.max_total.max(counts.total);
        let model = counts.models.entry(placement.model.clone()).or_default();
        *model += 1;
        let model = *model;
        let max = counts.max_models.entry(placement.model.clone()).or_default();
        *max = (*max).max(model);
        let endpoint = counts.endpoints.entry(placement.endpoint.clone()).or_default();
        *endpoint += 1;
        let endpoint = *endpoint;
        let max = counts.max_endpoints.entry(placement.endpoint.clone()).or_default();
        *max = (*max).max(endpoint);
        Presence { fleet: Arc::clone(self), placement: placement.clone() }
    }
}

/// Counts one agent as alive from the start of its spawn until it is dropped.
#[derive(Debug)]
struct Presence {
    fleet: Arc<Fleet>,
    placement: Placement,
}

impl Drop for Presence {
    fn drop(&mut self) {
        let linger = self.fleet.linger_ms.load(Ordering::SeqCst);
        if linger > 0 {
            #[allow(
                clippy::disallowed_methods,
                reason = "a drop that blocks its thread is the point: stopping a real agent does"
            )]
            std::thread::sleep(Duration::from_millis(linger));
        }
        let mut counts = self.fleet.counts.lock();
        counts.total -= 1;
        *counts.models.get_mut(&self.placement.model).expect("counted") -= 1;
        *counts.endpoints.get_mut(&self.placement.endpoint).expect("counted") -= 1;
    }
}

/// A scripted agent.
#[derive(Debug)]
pub(crate) struct Fake {
    pub(crate) id: AgentId,
    pub(crate) placement: Placement,
    pub(crate) runs: u64,
    tokens: u64,
    healthy: Arc<AtomicBool>,
    _presence: Presence,
}

impl Agent for Fake {
    type Task = Job;
    type Output = AgentId;
    type Error = Scripted;

    async fn run(&mut self, job: Job) -> Result<AgentId, Scripted> {
        tokio::time::sleep(job.duration).await;
        self.runs += 1;
        self.tokens += job.tokens;
        if job.fail { Err(Scripted) } else { Ok(self.id) }
    }

    fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }

    fn tokens_used(&self) -> u64 {
        self.tokens
    }
}

/// Makes [`Fake`] agents after `delay`.
#[derive(Debug)]
pub(crate) struct Factory {
    pub(crate) fleet: Arc<Fleet>,
    pub(crate) delay: Duration,
}

impl Factory {
    pub(crate) fn new(fleet: &Arc<Fleet>) -> Self {
        Self { fleet: Arc::clone(fleet), delay: Duration::ZERO }
    }

    pub(crate) fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

impl AgentFactory for Factory {
    type Agent = Fake;
    type Error = Scripted;

    async fn spawn(&self, id: AgentId, placement: &Placement) -> Result<Fake, Scripted> {
        self.fleet.spawned.fetch_add(1, Ordering::SeqCst);
        self.fleet.made.lock().push((id, placement.clone()));
        let presence = self.fleet.enter(placement);
        if self.delay.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(self.delay).await;
        }
        let fail = self
            .fleet
            .fail_spawns
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fail {
            return Err(Scripted);
        }
        let healthy = Arc::new(AtomicBool::new(true));
        self.fleet.health.lock().insert(id, Arc::clone(&healthy));
        Ok(Fake {
            id,
            placement: placement.clone(),
            runs: 0,
            tokens: 0,
            healthy,
            _presence: presence,
        })
    }
}

pub(crate) fn model(name: &str) -> ModelName {
    name.parse().expect("a valid model name")
}

pub(crate) fn placement(model_name: &str, endpoint: &str) -> Placement {
    Placement::new(model(model_name), endpoint)
}

/// Every event received so far, without waiting.
pub(crate) fn drain(events: &mut broadcast::Receiver<Event>) -> Vec<EventKind> {
    let mut kinds = Vec::new();
    while let Ok(event) = events.try_recv() {
        kinds.push(event.kind);
    }
    kinds
}
