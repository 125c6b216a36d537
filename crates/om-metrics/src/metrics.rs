//! The [`Metrics`] handle: the recording API, snapshots and the event stream.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use om_core::{EndpointId, ModelName};
use parking_lot::Mutex;
use tokio::sync::broadcast;

use crate::event::{DEFAULT_EVENT_CAPACITY, Event};
use crate::record::{BreakerTransition, RequestRecord, TaskRecord, TaskStart};
use crate::snapshot::Snapshot;
use crate::state::{State, category_slot};

/// The metrics of one ollama-meta process: a cheap, cloneable handle.
///
/// Create one in `main` (or per test) and pass clones to whatever records;
/// there is no global registry. All clones share one state behind one
/// [`parking_lot::Mutex`], held only for the few counter and histogram updates
/// of a record (never across an `.await`), so recording is safe from any
/// thread or task and costs a lock and two hash look-ups (see the `record`
/// bench).
///
/// What callers record, and who does:
///
/// | call | when | by |
/// |---|---|---|
/// | [`start_request`](Self::start_request) | an attempt is sent to an instance; hold the [`InFlight`] guard until it ends | orchestrator |
/// | [`record_request`](Self::record_request) | an attempt ended, well or not | orchestrator |
/// | [`task_started`](Self::task_started), [`record_task`](Self::record_task) | a task starts and finishes (after failover) | orchestrator |
/// | [`set_queue_depth`](Self::set_queue_depth) | the number of tasks waiting is known | the gateway, before each `/metrics` (tasks in progress minus those on an instance) |
/// | [`set_endpoint_limit`](Self::set_endpoint_limit) | an endpoint's concurrency limit is known or changed | orchestrator |
/// | [`record_breaker_transition`](Self::record_breaker_transition) | an instance's breaker changed state | orchestrator |
/// | [`publish`](Self::publish) | anything else worth an [`Event`] (discovery changes) | orchestrator |
///
/// Reading: [`snapshot`](Self::snapshot) for JSON and reports,
/// [`to_prometheus`](Self::to_prometheus) for a `/metrics` endpoint,
/// [`subscribe`](Self::subscribe) for the event stream.
#[derive(Clone)]
pub struct Metrics {
    shared: Arc<Shared>,
}

/// What every clone of a [`Metrics`] shares.
struct Shared {
    state: Mutex<State>,
    /// A gauge written by one owner and read by scrapes: no lock needed.
    queue_depth: AtomicU64,
    events: broadcast::Sender<Event>,
}

impl Metrics {
    /// Empty metrics with an event buffer of [`DEFAULT_EVENT_CAPACITY`].
    pub fn new() -> Self {
        Self::with_event_capacity(DEFAULT_EVENT_CAPACITY)
    }

    /// Empty metrics whose event buffer holds `capacity` events (at least 1)
    /// for each subscriber; see [the event stream](crate::event) for what a
    /// subscriber that falls further behind sees.
    pub fn with_event_capacity(capacity: usize) -> Self {
        let (events, _) = broadcast::channel(capacity.max(1));
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                queue_depth: AtomicU64::new(0),
                events,
            }),
        }
    }

    /// Records one finished request attempt: counts by category and outcome,
    /// the error kind of a failure, latency, TTFT, tokens and tokens per
    /// second, for its instance, its model and its category.
    pub fn record_request(&self, record: RequestRecord<'_>) {
        self.shared.state.lock().record_request(&record);
    }

    /// Marks a request attempt on an instance as in flight until the returned
    /// guard is dropped (`ollama_meta_in_flight`).
    ///
    /// Dropping the guard is the only way to end it, so a cancelled request
    /// future cannot leak a count. The guard decrements without taking the
    /// lock.
    pub fn start_request(&self, endpoint: &EndpointId, model: &ModelName) -> InFlight {
        let gauge = self
            .shared
            .state
            .lock()
            .with_instance(endpoint, model, |stats| Arc::clone(&stats.in_flight));
        gauge.fetch_add(1, Ordering::Relaxed);
        InFlight { gauge }
    }

    /// Sets the number of tasks waiting in the dispatcher's queue.
    pub fn set_queue_depth(&self, depth: usize) {
        self.shared.queue_depth.store(depth as u64, Ordering::Relaxed);
    }

    /// Sets the concurrency limit of `endpoint`
    /// (`ollama_meta_endpoint_concurrency_limit`).
    pub fn set_endpoint_limit(&self, endpoint: &EndpointId, limit: u32) {
        let mut state = self.shared.state.lock();
        match state.endpoint_limits.get_mut(endpoint) {
            Some(current) => *current = limit,
            None => {
                state.endpoint_limits.insert(endpoint.clone(), limit);
            }
        }
    }

    /// Counts a started task and publishes [`Event::TaskStarted`].
    pub fn task_started(&self, start: TaskStart) {
        self.shared.state.lock().categories[category_slot(start.category)].tasks_started += 1;
        self.publish(Event::TaskStarted(start));
    }

    /// Counts a finished task (outcome, error kind, duration) in its
    /// category and publishes [`Event::TaskFinished`].
    pub fn record_task(&self, record: TaskRecord) {
        self.shared.state.lock().record_task(&record);
        self.publish(Event::TaskFinished(record));
    }

    /// Counts a breaker transition for its instance and publishes
    /// [`Event::BreakerChanged`].
    pub fn record_breaker_transition(&self, transition: BreakerTransition) {
        self.shared.state.lock().with_instance(&transition.endpoint, &transition.model, |stats| {
            stats.record_breaker(transition.to);
        });
        self.publish(Event::BreakerChanged(transition));
    }

    /// Sends an event to every current subscriber and returns how many there
    /// were. Never blocks; with no subscriber the event is dropped and 0
    /// returned.
    pub fn publish(&self, event: Event) -> usize {
        self.shared.events.send(event).unwrap_or(0)
    }

    /// A receiver of every event published from now on; see
    /// [the event stream](crate::event) for ordering and lagging.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// Everything recorded so far.
    ///
    /// The lock is held only to copy the state; quantiles and per-model sums
    /// are computed after it is released, so a snapshot does not stall
    /// recording.
    pub fn snapshot(&self) -> Snapshot {
        let state = self.shared.state.lock().clone();
        Snapshot::from_state(&state, self.shared.queue_depth.load(Ordering::Relaxed))
    }

    /// Everything recorded so far in the Prometheus text exposition format
    /// 0.0.4 (see [`prometheus`](crate::prometheus)); the same as
    /// `self.snapshot().to_prometheus()`.
    pub fn to_prometheus(&self) -> String {
        self.snapshot().to_prometheus()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("queue_depth", &self.shared.queue_depth.load(Ordering::Relaxed))
            .field("subscribers", &self.shared.events.receiver_count())
            .finish_non_exhaustive()
    }
}

/// A request attempt in flight; dropping it ends it.
///
/// Returned by [`Metrics::start_request`]. Hold it for as long as the request
/// runs, typically across the `.await`s of the call: it holds no lock, only a
/// shared counter.
#[must_use = "the request counts as in flight only while the guard lives"]
#[derive(Debug)]
pub struct InFlight {
    gauge: Arc<AtomicU64>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauge.fetch_sub(1, Ordering::Relaxed);
    }
}
