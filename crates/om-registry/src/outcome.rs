//! What happened to one request, as the orchestrator reports it.

use std::time::Duration;

use om_core::wire::Metrics;
use om_core::{Error, ErrorKind, TaskCategory};

use crate::config::Config;

/// How a request ended, from the instance's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The instance answered.
    Success,
    /// Backpressure: 503 "server busy" or 429. Sets a cooldown; never trips
    /// the breaker.
    Busy {
        /// The upstream `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// A fault of the instance (connect error, timeout, 5xx, broken stream,
    /// garbage, missing model): counts against the success rate and the
    /// breaker.
    Fault(ErrorKind),
    /// Ended for a reason that says nothing about the instance
    /// (cancelled by the caller, invalid request, configuration).
    Neutral(ErrorKind),
}

impl Verdict {
    /// Classifies an error by its predicates.
    pub fn from_error(error: &Error) -> Self {
        if error.is_busy() {
            return Self::Busy { retry_after: error.retry_after() };
        }
        match error.kind() {
            kind @ (ErrorKind::Canceled | ErrorKind::InvalidRequest | ErrorKind::Config) => {
                Self::Neutral(kind)
            }
            kind => Self::Fault(kind),
        }
    }

    /// True for [`Verdict::Success`].
    pub fn is_success(self) -> bool {
        self == Self::Success
    }

    /// True for [`Verdict::Fault`].
    pub fn is_fault(self) -> bool {
        matches!(self, Self::Fault(_))
    }

    /// True for [`Verdict::Busy`].
    pub fn is_busy(self) -> bool {
        matches!(self, Self::Busy { .. })
    }
}

/// The outcome of one request on one instance.
///
/// ```
/// use std::time::Duration;
/// use om_core::TaskCategory;
/// use om_registry::Outcome;
///
/// let outcome = Outcome::success()
///     .with_latency(Duration::from_millis(900))
///     .with_ttft(Duration::from_millis(120))
///     .with_category(TaskCategory::Coding);
/// assert!(outcome.verdict.is_success());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// How it ended.
    pub verdict: Verdict,
    /// The task category, for affinity learning.
    pub category: Option<TaskCategory>,
    /// Request start to done.
    pub latency: Option<Duration>,
    /// Request start to the first token.
    pub ttft: Option<Duration>,
    /// Ollama's `load_duration`: queueing plus model load. Large when the
    /// request loaded the model (see [`Outcome::is_cold_load`]).
    pub load_duration: Option<Duration>,
    /// Tokens generated (`eval_count`).
    pub tokens: Option<u64>,
    /// Generation speed (`eval_count / eval_duration`).
    pub tokens_per_sec: Option<f64>,
    /// What Ollama's metrics leave out of `total_duration`: the time the
    /// request waited for a parallel slot (plus a little bookkeeping).
    pub slot_wait: Option<Duration>,
    /// Prompt evaluation plus generation, as Ollama measured them.
    pub work: Option<Duration>,
    /// How good the answer was, in `[0, 1]`, when the caller can tell (tests
    /// passed, a review verdict). Without it a success scores 1.
    pub quality: Option<f64>,
}

impl Outcome {
    /// An outcome with `verdict` and nothing measured.
    pub fn new(verdict: Verdict) -> Self {
        Self {
            verdict,
            category: None,
            latency: None,
            ttft: None,
            load_duration: None,
            tokens: None,
            tokens_per_sec: None,
            slot_wait: None,
            work: None,
            quality: None,
        }
    }

    /// A success with nothing measured yet.
    pub fn success() -> Self {
        Self::new(Verdict::Success)
    }

    /// A failure, classified by [`Verdict::from_error`].
    pub fn failure(error: &Error) -> Self {
        Self::new(Verdict::from_error(error))
    }

    /// Sets the category.
    #[must_use]
    pub fn with_category(mut self, category: TaskCategory) -> Self {
        self.category = Some(category);
        self
    }

    /// Sets the end-to-end latency.
    #[must_use]
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = Some(latency);
        self
    }

    /// Sets the time to first token.
    #[must_use]
    pub fn with_ttft(mut self, ttft: Duration) -> Self {
        self.ttft = Some(ttft);
        self
    }

    /// Sets the load duration.
    #[must_use]
    pub fn with_load_duration(mut self, load: Duration) -> Self {
        self.load_duration = Some(load);
        self
    }

    /// Sets the generation speed measured while the request ran, for a
    /// request that ended before Ollama's final chunk reported one (a
    /// stopped attempt whose stream was flowing).
    #[must_use]
    pub fn with_tokens_per_sec(mut self, rate: f64) -> Self {
        self.tokens_per_sec = Some(rate);
        self
    }

    /// Sets the quality score (clamped to `[0, 1]` when recorded).
    #[must_use]
    pub fn with_quality(mut self, quality: f64) -> Self {
        self.quality = Some(quality);
        self
    }

    /// Takes the load duration, token count and speed from Ollama's final
    /// chunk, and its `total_duration` as the latency when none is set yet.
    #[must_use]
    pub fn with_metrics(mut self, metrics: &Metrics) -> Self {
        self.load_duration = metrics.load().or(self.load_duration);
        self.tokens = metrics.eval_count.or(self.tokens);
        self.tokens_per_sec = metrics.tokens_per_second().or(self.tokens_per_sec);
        self.latency = self.latency.or_else(|| metrics.total());
        // Ollama omits a duration that is zero, so with the total known an
        // absent part took no time.
        if let Some(total) = metrics.total_duration {
            let part = |d: Option<u64>| d.unwrap_or(0);
            let work =
                part(metrics.prompt_eval_duration).saturating_add(part(metrics.eval_duration));
            self.work = Some(Duration::from_nanos(work));
            self.slot_wait = Some(Duration::from_nanos(
                total.saturating_sub(part(metrics.load_duration)).saturating_sub(work),
            ));
        }
        self
    }

    /// True when the request waited inside the server for a parallel slot
    /// for a real share of its work: more than a quarter of it, and more
    /// than 10 ms (below that it is bookkeeping).
    pub fn waited_for_a_slot(&self) -> bool {
        match (self.slot_wait, self.work) {
            (Some(wait), Some(work)) => wait > Duration::from_millis(10) && wait * 4 > work,
            _ => false,
        }
    }

    /// True when `load_duration` shows that the request loaded the model:
    /// above `cold_load_threshold`, or above `cold_load_fraction` of the
    /// latency. Such an outcome says nothing about the warm latency, so it
    /// does not move the latency and time-to-first-token estimates.
    pub fn is_cold_load(&self, config: &Config) -> bool {
        let Some(load) = self.load_duration else { return false };
        load > config.cold_load_threshold
            || self
                .latency
                .is_some_and(|l| load.as_secs_f64() > config.cold_load_fraction * l.as_secs_f64())
    }

    /// The affinity reward of this outcome, when it says something about the
    /// model's quality: the explicit quality, 1 for a success, 0 for a
    /// model-side fault (an error inside the stream, an upstream 5xx).
    /// Connection trouble, timeouts, backpressure and caller-side endings
    /// are not the model's quality and give `None`.
    pub fn reward(&self) -> Option<f64> {
        if let Some(q) = self.quality.filter(|q| !q.is_nan()) {
            return Some(q.clamp(0.0, 1.0));
        }
        match self.verdict {
            Verdict::Success => Some(1.0),
            Verdict::Fault(ErrorKind::Stream | ErrorKind::Upstream { .. }) => Some(0.0),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use om_core::TimeoutPhase;

    use super::*;

    #[test]
    fn classification_uses_predicates() {
        let busy = Error::from_status(503, "server busy").with_retry_after(Duration::from_secs(3));
        assert_eq!(
            Verdict::from_error(&busy),
            Verdict::Busy { retry_after: Some(Duration::from_secs(3)) }
        );
        assert!(Verdict::from_error(&Error::from_status(429, "slow down")).is_busy());
        assert!(Verdict::from_error(&Error::from_status(500, "boom")).is_fault());
        assert!(Verdict::from_error(&Error::from_status(404, "model 'x' not found")).is_fault());
        assert_eq!(
            Verdict::from_error(&Error::new(ErrorKind::Canceled, "canceled")),
            Verdict::Neutral(ErrorKind::Canceled)
        );
        assert_eq!(
            Verdict::from_error(&Error::from_status(400, "bad")),
            Verdict::Neutral(ErrorKind::InvalidRequest)
        );
        let timeout = Error::new(ErrorKind::Timeout(TimeoutPhase::FirstByte), "slow");
        assert!(Verdict::from_error(&timeout).is_fault());
    }

    #[test]
    fn cold_load_detection() {
        let config = Config::default();
        let warm = Outcome::success()
            .with_latency(Duration::from_secs(2))
            .with_load_duration(Duration::from_millis(3));
        assert!(!warm.is_cold_load(&config));
        let cold = Outcome::success()
            .with_latency(Duration::from_secs(6))
            .with_load_duration(Duration::from_secs(5));
        assert!(cold.is_cold_load(&config));
        // Below the threshold but most of a short request.
        let mostly_load = Outcome::success()
            .with_latency(Duration::from_millis(400))
            .with_load_duration(Duration::from_millis(300));
        assert!(mostly_load.is_cold_load(&config));
        assert!(!Outcome::success().is_cold_load(&config));
    }

    #[test]
    fn metrics_fill_in() {
        let metrics = Metrics {
            total_duration: Some(2_000_000_000),
            load_duration: Some(1_000_000),
            eval_count: Some(100),
            eval_duration: Some(1_000_000_000),
            ..Metrics::default()
        };
        let o = Outcome::success().with_metrics(&metrics);
        assert_eq!(o.latency, Some(Duration::from_secs(2)));
        assert_eq!(o.load_duration, Some(Duration::from_millis(1)));
        assert_eq!(o.tokens, Some(100));
        assert_eq!(o.tokens_per_sec, Some(100.0));
        // The prompt's duration is absent (zero, as Ollama omits it).
        assert_eq!(o.work, Some(Duration::from_secs(1)));
        assert_eq!(o.slot_wait, Some(Duration::from_millis(999)));
        assert!(o.waited_for_a_slot());
        // Generation too fast to measure still tells the work apart.
        let instant =
            Metrics { total_duration: Some(300_000), eval_count: Some(1), ..Metrics::default() };
        let o = Outcome::success().with_metrics(&instant);
        assert_eq!((o.work, o.tokens_per_sec), (Some(Duration::ZERO), None));
        assert!(!o.waited_for_a_slot());
    }

    #[test]
    fn rewards() {
        assert_eq!(Outcome::success().reward(), Some(1.0));
        assert_eq!(Outcome::success().with_quality(0.4).reward(), Some(0.4));
        assert_eq!(Outcome::success().with_quality(7.0).reward(), Some(1.0));
        assert_eq!(Outcome::failure(&Error::from_status(500, "x")).reward(), Some(0.0));
        assert_eq!(Outcome::failure(&Error::from_status(503, "busy")).reward(), None);
        assert_eq!(Outcome::failure(&Error::new(ErrorKind::Connect, "refused")).reward(), None);
    }
}
