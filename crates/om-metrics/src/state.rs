//! The recorded state behind the one lock of [`Metrics`](crate::Metrics):
//! per-instance and per-category statistics.
//!
//! Per-model figures are not kept here: they are the sum of the model's
//! instances and are merged when a snapshot is taken, so recording touches
//! each sample once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use om_core::{EndpointId, ModelName, TaskCategory};

use crate::buckets;
use crate::histogram::Histogram;
use crate::record::{BreakerState, Outcome, RequestRecord, TaskRecord};

/// Slots for "no category" plus the seven [`TaskCategory`] values.
pub(crate) const CATEGORY_SLOTS: usize = TaskCategory::ALL.len() + 1;

/// Microseconds per second: durations are kept at 1 µs resolution.
const MICROS: f64 = 1e6;
/// Thousandths per token/s: rates are kept at 0.001 token/s resolution.
const MILLIS: f64 = 1e3;

/// The array slot of a category: 0 for none, then declaration order.
pub(crate) fn category_slot(category: Option<TaskCategory>) -> usize {
    category.map_or(0, |c| c as usize + 1)
}

/// The category of an array slot; the inverse of [`category_slot`].
pub(crate) fn slot_category(slot: usize) -> Option<TaskCategory> {
    slot.checked_sub(1).map(|index| TaskCategory::ALL[index])
}

/// Success and failure counts: `[ok, error]`.
pub(crate) type OutcomeCounts = [u64; 2];

fn outcome_index(outcome: Outcome) -> usize {
    usize::from(!outcome.is_ok())
}

/// Everything recorded so far.
#[derive(Debug, Clone)]
pub(crate) struct State {
    /// Nested by endpoint then model so that a lookup borrows both names and
    /// allocates nothing; a `(EndpointId, ModelName)` key would need owned
    /// clones for every lookup.
    pub(crate) instances: HashMap<EndpointId, HashMap<ModelName, InstanceStats>>,
    pub(crate) categories: [CategoryStats; CATEGORY_SLOTS],
    /// Each endpoint's concurrency limit, as last reported.
    pub(crate) endpoint_limits: BTreeMap<EndpointId, u32>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            instances: HashMap::new(),
            categories: std::array::from_fn(|_| CategoryStats::new()),
            endpoint_limits: BTreeMap::new(),
        }
    }
}

impl State {
    /// Runs `f` on the stats of one instance, created on first sight.
    ///
    /// A closure rather than a returned `&mut` because the
    /// look-up-or-insert below, which hashes each name once on the hot path,
    /// only borrow-checks when the borrow stays inside this function.
    pub(crate) fn with_instance<R>(
        &mut self,
        endpoint: &EndpointId,
        model: &ModelName,
        f: impl FnOnce(&mut InstanceStats) -> R,
    ) -> R {
        let models = match self.instances.get_mut(endpoint) {
            Some(models) => models,
            None => self.instances.entry(endpoint.clone()).or_default(),
        };
        let stats = match models.get_mut(model) {
            Some(stats) => stats,
            None => models.entry(model.clone()).or_insert_with(|| InstanceStats::new(model)),
        };
        f(stats)
    }

    /// Records one request attempt.
    pub(crate) fn record_request(&mut self, record: &RequestRecord<'_>) {
        let slot = category_slot(record.category);
        self.with_instance(record.endpoint, record.model, |stats| stats.record(record, slot));
        self.categories[slot].record_request(record);
    }

    /// Records one finished task.
    pub(crate) fn record_task(&mut self, record: &TaskRecord) {
        self.categories[category_slot(record.category)].record_task(record);
    }
}

/// The statistics of one endpoint × model instance.
#[derive(Debug, Clone)]
pub(crate) struct InstanceStats {
    /// The model name in its display form (`llama3.2:latest`), parsed again
    /// so that its serialized text is that form whichever spelling the first
    /// caller used.
    pub(crate) model: ModelName,
    /// Requests by category slot and outcome.
    pub(crate) requests: [OutcomeCounts; CATEGORY_SLOTS],
    /// Failures by [`om_core::ErrorKind::name`].
    pub(crate) errors: BTreeMap<&'static str, u64>,
    pub(crate) latency: Histogram,
    pub(crate) ttft: Histogram,
    pub(crate) tokens_per_second: Histogram,
    pub(crate) output_tokens: u64,
    /// Shared with every [`InFlight`](crate::InFlight) guard of this
    /// instance, which decrements it without taking the lock.
    pub(crate) in_flight: Arc<AtomicU64>,
    /// Transitions by the state entered, indexed by [`BreakerState::index`].
    pub(crate) breaker_transitions: [u64; 3],
    /// The state entered by the last transition.
    pub(crate) breaker: Option<BreakerState>,
}

impl InstanceStats {
    fn new(model: &ModelName) -> Self {
        Self {
            model: ModelName::parse(&model.to_string()).unwrap_or_else(|_| model.clone()),
            requests: [[0; 2]; CATEGORY_SLOTS],
            errors: BTreeMap::new(),
            latency: Histogram::new(buckets::REQUEST_DURATION_SECONDS, MICROS),
            ttft: Histogram::new(buckets::TIME_TO_FIRST_TOKEN_SECONDS, MICROS),
            tokens_per_second: Histogram::new(buckets::TOKENS_PER_SECOND, MILLIS),
            output_tokens: 0,
            in_flight: Arc::new(AtomicU64::new(0)),
            breaker_transitions: [0; 3],
            breaker: None,
        }
    }

    fn record(&mut self, record: &RequestRecord<'_>, slot: usize) {
        self.requests[slot][outcome_index(record.outcome)] += 1;
        if let Some(kind) = record.outcome.error_kind() {
            *self.errors.entry(kind.name()).or_insert(0) += 1;
        }
        self.latency.record(record.latency.as_secs_f64());
        if let Some(ttft) = record.ttft {
            self.ttft.record(ttft.as_secs_f64());
        }
        if let Some(rate) = record.tokens_per_sec {
            self.tokens_per_second.record(rate);
        }
        self.output_tokens += record.tokens.unwrap_or(0);
    }

    pub(crate) fn record_breaker(&mut self, to: BreakerState) {
        self.breaker_transitions[to.index()] += 1;
        self.breaker = Some(to);
    }
}

/// The statistics of one task category (or of uncategorised work).
#[derive(Debug, Clone)]
pub(crate) struct CategoryStats {
    pub(crate) requests: OutcomeCounts,
    pub(crate) request_latency: Histogram,
    pub(crate) tasks_started: u64,
    pub(crate) tasks: OutcomeCounts,
    pub(crate) task_errors: BTreeMap<&'static str, u64>,
    pub(crate) task_duration: Histogram,
}

impl CategoryStats {
    fn new() -> Self {
        Self {
            requests: [0; 2],
            request_latency: Histogram::new(buckets::REQUEST_DURATION_SECONDS, MICROS),
            tasks_started: 0,
            tasks: [0; 2],
            task_errors: BTreeMap::new(),
            task_duration: Histogram::new(buckets::TASK_DURATION_SECONDS, MICROS),
        }
    }

    fn record_request(&mut self, record: &RequestRecord<'_>) {
        self.requests[outcome_index(record.outcome)] += 1;
        self.request_latency.record(record.latency.as_secs_f64());
    }

    fn record_task(&mut self, record: &TaskRecord) {
        self.tasks[outcome_index(record.outcome)] += 1;
        if let Some(kind) = record.outcome.error_kind() {
            *self.task_errors.entry(kind.name()).or_insert(0) += 1;
        }
        self.task_duration.record(record.duration.as_secs_f64());
    }

    /// True when nothing was recorded for this category.
    pub(crate) fn is_empty(&self) -> bool {
        self.requests == [0; 2] && self.tasks_started == 0 && self.tasks == [0; 2]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_slots_round_trip() {
        assert_eq!(category_slot(None), 0);
        assert_eq!(slot_category(0), None);
        for (index, category) in TaskCategory::ALL.into_iter().enumerate() {
            assert_eq!(category_slot(Some(category)), index + 1);
            assert_eq!(slot_category(index + 1), Some(category));
        }
    }

    #[test]
    fn instance_keeps_display_form_of_first_spelling() {
        let mut state = State::default();
        let endpoint = EndpointId::new("a");
        let first: ModelName = "registry.ollama.ai/library/Llama3.2".parse().unwrap();
        let second: ModelName = "llama3.2:latest".parse().unwrap();
        state.with_instance(&endpoint, &first, |_| ());
        state.with_instance(&endpoint, &second, |_| ());
        let models = &state.instances[&endpoint];
        assert_eq!(models.len(), 1);
        assert_eq!(models[&second].model.as_requested(), "Llama3.2:latest");
    }
}
