//! What callers hand to [`Metrics`](crate::Metrics): one record per finished
//! request attempt, per task start and finish, and per breaker transition.
//!
//! A *request* is one attempt against one instance (endpoint × model); a
//! *task* is one unit of work from the caller's point of view, which may take
//! several attempts when the orchestrator fails over. Both are plain data.

use std::time::Duration;

use om_core::{EndpointId, ErrorKind, ModelName, TaskCategory, TaskId};
use serde::{Serialize, Serializer};

/// How a request or a task ended.
///
/// A failure carries its [`ErrorKind`], never a free-form string, so the
/// `kind` label of `ollama_meta_errors_total` stays a closed set
/// ([`ErrorKind::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It succeeded.
    Ok,
    /// It failed with this kind of error.
    Err(ErrorKind),
}

impl Outcome {
    /// The outcome of a finished call.
    pub fn of<T>(result: &Result<T, om_core::Error>) -> Self {
        match result {
            Ok(_) => Self::Ok,
            Err(err) => Self::Err(err.kind()),
        }
    }

    /// True for [`Outcome::Ok`].
    pub fn is_ok(self) -> bool {
        matches!(self, Self::Ok)
    }

    /// The error kind of a failure.
    pub fn error_kind(self) -> Option<ErrorKind> {
        match self {
            Self::Ok => None,
            Self::Err(kind) => Some(kind),
        }
    }

    /// The value of the `outcome` label: `ok` or `error`.
    pub fn as_label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Err(_) => "error",
        }
    }
}

impl From<&om_core::Error> for Outcome {
    fn from(err: &om_core::Error) -> Self {
        Self::Err(err.kind())
    }
}

impl From<ErrorKind> for Outcome {
    fn from(kind: ErrorKind) -> Self {
        Self::Err(kind)
    }
}

impl Serialize for Outcome {
    /// `"ok"`, or the error kind's name (`"timeout"`, `"busy"`, …).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Ok => serializer.serialize_str("ok"),
            Self::Err(kind) => serializer.serialize_str(kind.name()),
        }
    }
}

/// One finished request attempt against one instance.
///
/// The names are borrowed so that recording allocates nothing on the hot
/// path; [`Metrics`](crate::Metrics) copies them once, the first time it sees
/// an instance. Record only instances the registry knows (the model name as
/// the endpoint lists it, not whatever a client typed): every distinct
/// endpoint × model pair becomes a set of Prometheus series.
///
/// ```
/// use std::time::Duration;
/// use om_core::{EndpointId, ModelName, TaskCategory};
/// use om_metrics::{Outcome, RequestRecord};
///
/// let endpoint = EndpointId::new("gpu-box");
/// let model: ModelName = "qwen2.5-coder:7b".parse()?;
/// let record = RequestRecord::new(&endpoint, &model, Outcome::Ok, Duration::from_millis(840))
///     .with_category(TaskCategory::Coding)
///     .with_ttft(Duration::from_millis(95))
///     .with_tokens(120, 151.5);
/// assert_eq!(record.tokens, Some(120));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestRecord<'a> {
    /// The endpoint that served (or failed) the request.
    pub endpoint: &'a EndpointId,
    /// The model it ran on.
    pub model: &'a ModelName,
    /// The task category, when the request belongs to a categorised task.
    pub category: Option<TaskCategory>,
    /// How it ended.
    pub outcome: Outcome,
    /// Wall time from sending the request to its last byte (or the failure).
    pub latency: Duration,
    /// Time to the first generated token, for generating calls that got one.
    pub ttft: Option<Duration>,
    /// Output tokens generated (Ollama's `eval_count`).
    pub tokens: Option<u64>,
    /// Generation speed in output tokens per second (`eval_count` ÷
    /// `eval_duration`, as [`om_core::wire::Metrics::tokens_per_second`]
    /// computes it). Not derived from `latency`, which includes prompt
    /// evaluation and model loads. Ignored unless finite and non-negative.
    pub tokens_per_sec: Option<f64>,
}

impl<'a> RequestRecord<'a> {
    /// A record with the required fields; the optional ones start empty.
    pub fn new(
        endpoint: &'a EndpointId,
        model: &'a ModelName,
        outcome: Outcome,
        latency: Duration,
    ) -> Self {
        Self {
            endpoint,
            model,
            category: None,
            outcome,
            latency,
            ttft: None,
            tokens: None,
            tokens_per_sec: None,
        }
    }

    /// Sets the task category.
    #[must_use]
    pub fn with_category(mut self, category: TaskCategory) -> Self {
        self.category = Some(category);
        self
    }

    /// Sets the time to first token.
    #[must_use]
    pub fn with_ttft(mut self, ttft: Duration) -> Self {
        self.ttft = Some(ttft);
        self
    }

    /// Sets the output token count and the generation speed.
    #[must_use]
    pub fn with_tokens(mut self, tokens: u64, tokens_per_sec: f64) -> Self {
        self.tokens = Some(tokens);
        self.tokens_per_sec = Some(tokens_per_sec);
        self
    }
}

/// A task has started; published as [`Event::TaskStarted`](crate::Event::TaskStarted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskStart {
    /// The task's id.
    pub task: TaskId,
    /// Its category, when known.
    pub category: Option<TaskCategory>,
}

/// A task has finished, after however many attempts it took; published as
/// [`Event::TaskFinished`](crate::Event::TaskFinished).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRecord {
    /// The task's id.
    pub task: TaskId,
    /// Its category, when known.
    pub category: Option<TaskCategory>,
    /// The endpoint of the last attempt, if any attempt was made.
    pub endpoint: Option<EndpointId>,
    /// The model of the last attempt, if any attempt was made.
    pub model: Option<ModelName>,
    /// How the task ended.
    pub outcome: Outcome,
    /// Wall time from start to finish, all attempts included.
    #[serde(rename = "duration_seconds", serialize_with = "serialize_seconds")]
    pub duration: Duration,
    /// Attempts made (0 when no instance was eligible).
    pub attempts: u32,
}

/// The state of one instance's circuit breaker, as metrics and events name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Requests flow.
    Closed,
    /// Requests are refused until the open timeout passes.
    Open,
    /// A few probe requests are admitted.
    HalfOpen,
}

impl BreakerState {
    /// Every state, in label order.
    pub const ALL: [Self; 3] = [Self::Closed, Self::Open, Self::HalfOpen];

    /// The `snake_case` name used in the `to` label and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Self::Closed => 0,
            Self::Open => 1,
            Self::HalfOpen => 2,
        }
    }
}

/// One instance's breaker changed state; counted in
/// `ollama_meta_breaker_transitions_total` and published as
/// [`Event::BreakerChanged`](crate::Event::BreakerChanged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakerTransition {
    /// The instance's endpoint.
    pub endpoint: EndpointId,
    /// The instance's model.
    pub model: ModelName,
    /// The state it left.
    pub from: BreakerState,
    /// The state it entered.
    pub to: BreakerState,
}

/// Serializes a duration as fractional seconds.
pub(crate) fn serialize_seconds<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use om_core::{Error, TimeoutPhase};

    use super::*;

    #[test]
    fn outcome_of_results() {
        let ok: Result<(), Error> = Ok(());
        assert_eq!(Outcome::of(&ok), Outcome::Ok);
        let err: Result<(), Error> = Err(Error::from_status(503, "server busy"));
        let outcome = Outcome::of(&err);
        assert_eq!(outcome, Outcome::Err(ErrorKind::Busy));
        assert_eq!(outcome.as_label(), "error");
        assert_eq!(outcome.error_kind().map(ErrorKind::name), Some("busy"));
        assert!(!outcome.is_ok());
        assert_eq!(Outcome::Ok.as_label(), "ok");
    }

    #[test]
    fn outcome_serializes_as_kind_name() {
        let timeout = Outcome::Err(ErrorKind::Timeout(TimeoutPhase::Idle));
        assert_eq!(serde_json::to_string(&timeout).unwrap(), "\"timeout\"");
        assert_eq!(serde_json::to_string(&Outcome::Ok).unwrap(), "\"ok\"");
    }

    #[test]
    fn breaker_state_indexes_match_all() {
        for (index, state) in BreakerState::ALL.into_iter().enumerate() {
            assert_eq!(state.index(), index);
            assert_eq!(serde_json::to_string(&state).unwrap(), format!("\"{}\"", state.as_str()));
        }
    }
}
