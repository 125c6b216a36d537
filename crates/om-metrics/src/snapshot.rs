//! The point-in-time view of everything recorded: what the JSON export
//! serializes and what the Prometheus exposition is rendered from, so the two
//! always agree.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use om_core::{EndpointId, ModelName, TaskCategory};
use serde::Serialize;

use crate::histogram::Distribution;
use crate::record::BreakerState;
use crate::state::{CATEGORY_SLOTS, CategoryStats, InstanceStats, State, slot_category};

/// Everything recorded, at one moment.
///
/// Lists are sorted (instances by endpoint then model, models by name,
/// categories in [`TaskCategory::ALL`] order with uncategorised work last) so
/// that the JSON document and the Prometheus text are stable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Tasks waiting in the dispatcher's queue.
    pub queue_depth: u64,
    /// One entry per endpoint × model that was ever recorded.
    pub instances: Vec<InstanceSnapshot>,
    /// One entry per model: the sum of its instances.
    pub models: Vec<ModelSnapshot>,
    /// One entry per task category with any activity; `category: null` holds
    /// requests and tasks recorded without one.
    pub categories: Vec<CategorySnapshot>,
    /// Each endpoint's concurrency limit (learned or configured), in name
    /// order, once the orchestrator has reported it.
    pub endpoint_limits: Vec<EndpointLimit>,
}

/// An endpoint's concurrency limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointLimit {
    /// The endpoint.
    pub endpoint: EndpointId,
    /// Requests it is sent at once.
    pub limit: u32,
}

/// Request statistics of an instance or a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestStats {
    /// Request attempts finished.
    pub requests: u64,
    /// Of which succeeded.
    pub successes: u64,
    /// Of which failed.
    pub failures: u64,
    /// Failures by error kind ([`om_core::ErrorKind::name`]).
    pub errors: BTreeMap<String, u64>,
    /// Requests running now.
    pub in_flight: u64,
    /// Output tokens generated.
    pub output_tokens: u64,
    /// Request latency, in seconds.
    pub latency_seconds: Distribution,
    /// Time to first token, in seconds.
    pub ttft_seconds: Distribution,
    /// Generation speed, in output tokens per second.
    pub tokens_per_second: Distribution,
}

impl RequestStats {
    /// Successes over finished requests; `None` before the first one.
    pub fn success_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.successes as f64 / self.requests as f64)
    }
}

/// The statistics of one endpoint × model instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceSnapshot {
    /// The endpoint.
    pub endpoint: EndpointId,
    /// The model, in its display form.
    pub model: ModelName,
    /// Requests, errors, latency, TTFT, tokens.
    #[serde(flatten)]
    pub stats: RequestStats,
    /// Requests by task category and outcome (categories with any).
    pub by_category: Vec<CategoryCounts>,
    /// The state the breaker entered last, if it ever changed.
    pub breaker: Option<BreakerState>,
    /// Breaker transitions by the state entered.
    pub breaker_transitions: BreakerCounts,
}

/// The statistics of one model, summed over its instances.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSnapshot {
    /// The model, in its display form.
    pub model: ModelName,
    /// How many endpoints recorded it.
    pub endpoints: usize,
    /// Requests, errors, latency, TTFT, tokens over all its instances.
    #[serde(flatten)]
    pub stats: RequestStats,
}

/// Successes and failures of one category on one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CategoryCounts {
    /// The category; `None` for requests recorded without one.
    pub category: Option<TaskCategory>,
    /// Requests that succeeded.
    pub successes: u64,
    /// Requests that failed.
    pub failures: u64,
}

/// Breaker transitions of one instance by the state entered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BreakerCounts {
    /// Transitions into closed.
    pub closed: u64,
    /// Transitions into open.
    pub open: u64,
    /// Transitions into half-open.
    pub half_open: u64,
}

impl BreakerCounts {
    /// The count of transitions into `state`.
    pub fn to(self, state: BreakerState) -> u64 {
        match state {
            BreakerState::Closed => self.closed,
            BreakerState::Open => self.open,
            BreakerState::HalfOpen => self.half_open,
        }
    }
}

/// The statistics of one task category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategorySnapshot {
    /// The category; `None` for work recorded without one.
    pub category: Option<TaskCategory>,
    /// Request attempts finished in this category.
    pub requests: u64,
    /// Of which succeeded.
    pub successes: u64,
    /// Of which failed.
    pub failures: u64,
    /// Request latency, in seconds.
    pub latency_seconds: Distribution,
    /// Whole tasks, all their attempts included.
    pub tasks: TaskStats,
}

/// Task counts and durations of one category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskStats {
    /// Tasks started.
    pub started: u64,
    /// Tasks finished successfully.
    pub succeeded: u64,
    /// Tasks finished with an error.
    pub failed: u64,
    /// Failed tasks by error kind ([`om_core::ErrorKind::name`]).
    pub errors: BTreeMap<String, u64>,
    /// Task duration, start to finish, in seconds.
    pub duration_seconds: Distribution,
}

impl TaskStats {
    /// Tasks started and not finished yet.
    pub fn in_progress(&self) -> u64 {
        self.started.saturating_sub(self.succeeded + self.failed)
    }

    /// Successful over finished tasks; `None` before the first one finishes.
    pub fn success_rate(&self) -> Option<f64> {
        let finished = self.succeeded + self.failed;
        (finished > 0).then(|| self.succeeded as f64 / finished as f64)
    }
}

// === impl Snapshot ===

impl Snapshot {
    /// Builds the snapshot from a copy of the state, outside the lock.
    pub(crate) fn from_state(state: &State, queue_depth: u64) -> Self {
        let mut instances = Vec::new();
        // Per-model sums, keyed by the model name (normalised equality).
        let mut models: BTreeMap<&ModelName, (usize, Aggregate)> = BTreeMap::new();
        for (endpoint, by_model) in &state.instances {
            for stats in by_model.values() {
                let in_flight = stats.in_flight.load(Ordering::Relaxed);
                instances.push(InstanceSnapshot::new(endpoint, stats, in_flight));
                let (endpoints, sum) =
                    models.entry(&stats.model).or_insert_with(|| (0, Aggregate::new(stats)));
                if *endpoints > 0 {
                    sum.add(stats);
                }
                sum.in_flight += in_flight;
                *endpoints += 1;
            }
        }
        instances.sort_by(|a, b| {
            a.endpoint.cmp(&b.endpoint).then_with(|| a.model.to_string().cmp(&b.model.to_string()))
        });
        let mut models: Vec<ModelSnapshot> = models
            .into_iter()
            .map(|(model, (endpoints, sum))| ModelSnapshot {
                model: model.clone(),
                endpoints,
                stats: sum.into_stats(),
            })
            .collect();
        models.sort_by_cached_key(|m| m.model.to_string());
        // Categories in declaration order, the uncategorised slot (0) last.
        let categories = (1..CATEGORY_SLOTS)
            .chain([0])
            .filter(|&slot| !state.categories[slot].is_empty())
            .map(|slot| CategorySnapshot::new(slot_category(slot), &state.categories[slot]))
            .collect();
        let endpoint_limits = state
            .endpoint_limits
            .iter()
            .map(|(endpoint, &limit)| EndpointLimit { endpoint: endpoint.clone(), limit })
            .collect();
        Self { queue_depth, instances, models, categories, endpoint_limits }
    }

    /// The instance of `model` on `endpoint`, if it was recorded.
    pub fn instance(&self, endpoint: &EndpointId, model: &ModelName) -> Option<&InstanceSnapshot> {
        self.instances.iter().find(|i| &i.endpoint == endpoint && &i.model == model)
    }

    /// The sums for `model`, if it was recorded.
    pub fn model(&self, model: &ModelName) -> Option<&ModelSnapshot> {
        self.models.iter().find(|m| &m.model == model)
    }

    /// The statistics of `category` (`None`: uncategorised work), if any.
    pub fn category(&self, category: Option<TaskCategory>) -> Option<&CategorySnapshot> {
        self.categories.iter().find(|c| c.category == category)
    }
}

impl InstanceSnapshot {
    fn new(endpoint: &EndpointId, stats: &InstanceStats, in_flight: u64) -> Self {
        let by_category = (1..CATEGORY_SLOTS)
            .chain([0])
            .filter(|&slot| stats.requests[slot] != [0; 2])
            .map(|slot| CategoryCounts {
                category: slot_category(slot),
                successes: stats.requests[slot][0],
                failures: stats.requests[slot][1],
            })
            .collect();
        let [closed, open, half_open] = stats.breaker_transitions;
        Self {
            endpoint: endpoint.clone(),
            model: stats.model.clone(),
            stats: request_stats(stats, in_flight),
            by_category,
            breaker: stats.breaker,
            breaker_transitions: BreakerCounts { closed, open, half_open },
        }
    }
}

impl CategorySnapshot {
    fn new(category: Option<TaskCategory>, stats: &CategoryStats) -> Self {
        let [successes, failures] = stats.requests;
        let [succeeded, failed] = stats.tasks;
        Self {
            category,
            requests: successes + failures,
            successes,
            failures,
            latency_seconds: stats.request_latency.distribution(),
            tasks: TaskStats {
                started: stats.tasks_started,
                succeeded,
                failed,
                errors: error_map(&stats.task_errors),
                duration_seconds: stats.task_duration.distribution(),
            },
        }
    }
}

/// The running sum of one model's instances.
struct Aggregate {
    stats: InstanceStats,
    in_flight: u64,
}

impl Aggregate {
    fn new(first: &InstanceStats) -> Self {
        Self { stats: first.clone(), in_flight: 0 }
    }

    fn add(&mut self, other: &InstanceStats) {
        let sum = &mut self.stats;
        for (mine, theirs) in sum.requests.iter_mut().zip(other.requests.iter()) {
            mine[0] += theirs[0];
            mine[1] += theirs[1];
        }
        for (&kind, &count) in &other.errors {
            *sum.errors.entry(kind).or_insert(0) += count;
        }
        sum.latency.merge(&other.latency);
        sum.ttft.merge(&other.ttft);
        sum.tokens_per_second.merge(&other.tokens_per_second);
        sum.output_tokens += other.output_tokens;
    }

    fn into_stats(self) -> RequestStats {
        request_stats(&self.stats, self.in_flight)
    }
}

fn request_stats(stats: &InstanceStats, in_flight: u64) -> RequestStats {
    let successes: u64 = stats.requests.iter().map(|counts| counts[0]).sum();
    let failures: u64 = stats.requests.iter().map(|counts| counts[1]).sum();
    RequestStats {
        requests: successes + failures,
        successes,
        failures,
        errors: error_map(&stats.errors),
        in_flight,
        output_tokens: stats.output_tokens,
        latency_seconds: stats.latency.distribution(),
        ttft_seconds: stats.ttft.distribution(),
        tokens_per_second: stats.tokens_per_second.distribution(),
    }
}

fn error_map(errors: &BTreeMap<&'static str, u64>) -> BTreeMap<String, u64> {
    errors.iter().map(|(&kind, &count)| (kind.to_owned(), count)).collect()
}
