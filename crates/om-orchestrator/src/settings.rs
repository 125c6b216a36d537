//! The orchestrator's settings: failover budget, backoff, per-endpoint
//! concurrency and task deadlines, as plain data.

use std::num::NonZeroU32;
use std::time::Duration;

use om_core::{BackoffPolicy, Jitter};

/// How the orchestrator spends attempts and time. Plain data; built from
/// `om-config`'s `[retry]` and `[orchestrator]` sections by
/// [`Settings::from_config`].
///
/// Defaults: 3 attempts, backoff from 200 ms doubling to 5 s with jitter,
/// wait when the fleet is busy, a limit per endpoint learned from 4 (the
/// `OLLAMA_NUM_PARALLEL` Ollama picks on a GPU box) up to 64 requests at a
/// time, no task deadline, jitter seeded by the operating
/// system, hedging on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "plain settings mirroring independent configuration switches"
)]
pub struct Settings {
    /// Attempts a task may spend on failures, the first included (at least
    /// 1). A 503 "server busy" or a 429 is backpressure and spends none.
    pub max_attempts: u32,
    /// The wait before the first retry after a failure; it doubles with
    /// each further failure.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// Randomise each wait ("equal jitter": uniformly in the upper half).
    pub jitter: bool,
    /// When every eligible instance is busy or cooling down, wait for one
    /// (bounded by the task's deadline) instead of failing with
    /// [`ErrorKind::Busy`](om_core::ErrorKind::Busy).
    pub retry_on_busy: bool,
    /// Requests sent to one endpoint at once when the endpoint has no limit
    /// of its own; with `adaptive_concurrency`, where its learned limit
    /// starts.
    pub max_concurrency: NonZeroU32,
    /// Learn each endpoint's limit from how its answers slow down
    /// ([`om_registry::Limiter`]), starting from `max_concurrency`, up to
    /// the endpoint's own `max_concurrency` or `concurrency_ceiling`.
    pub adaptive_concurrency: bool,
    /// The highest learned limit of an endpoint that sets none.
    pub concurrency_ceiling: NonZeroU32,
    /// The deadline of a task that sets no timeout, all attempts and waits
    /// included.
    pub task_timeout: Option<Duration>,
    /// Seeds the backoff jitter; `None` draws a seed from the operating
    /// system.
    pub seed: Option<u64>,
    /// Lets [`Fleet::execute`](crate::Fleet::execute) start a second attempt
    /// of a running task on an idle endpoint that would finish it well before
    /// the running attempt, when no task waits for capacity; the first to
    /// finish is the answer, the other is stopped.
    pub hedge: bool,
}

impl Default for Settings {
    /// om-config's `[retry]` and `[orchestrator]` defaults.
    fn default() -> Self {
        Self::from_config(&om_config::Config::default())
    }
}

impl Settings {
    /// The shape of the wait between two attempts.
    pub fn backoff(&self) -> BackoffPolicy {
        let jitter = match (self.jitter, self.seed) {
            (false, _) => Jitter::None,
            (true, Some(seed)) => Jitter::Seeded(seed),
            (true, None) => Jitter::Random,
        };
        BackoffPolicy { initial: self.initial_backoff, max: self.max_backoff, jitter }
    }

    /// The settings a configuration asks for.
    pub fn from_config(config: &om_config::Config) -> Self {
        let retry = &config.retry;
        let orchestrator = &config.orchestrator;
        Self {
            max_attempts: retry.max_attempts.max(1),
            initial_backoff: retry.initial_backoff,
            max_backoff: retry.max_backoff,
            jitter: retry.jitter,
            retry_on_busy: retry.retry_on_busy,
            max_concurrency: to_u32(orchestrator.endpoint_concurrency),
            adaptive_concurrency: orchestrator.adaptive_concurrency,
            concurrency_ceiling: to_u32(orchestrator.max_endpoint_concurrency),
            task_timeout: orchestrator.task_timeout,
            seed: orchestrator.seed,
            hedge: orchestrator.hedge,
        }
    }
}

/// A configured concurrency as the registry counts it (saturating: no
/// endpoint runs four billion requests at once).
fn to_u32(n: std::num::NonZeroUsize) -> NonZeroU32 {
    NonZeroU32::new(u32::try_from(n.get()).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN)
}
