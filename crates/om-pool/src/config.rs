//! The pool's settings and the [`Builder`] that validates them.

use std::num::NonZeroU64;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use om_core::{EndpointId, ModelName};
use tokio::time::Instant;

use crate::agent::AgentFactory;
use crate::error::BuildError;
use crate::event::Events;
use crate::placement::Placement;
use crate::pool::Pool;
use crate::quota::Quotas;
use crate::snapshot::Snapshot;

/// The default minimum number of agents.
pub const DEFAULT_MIN: usize = 1;
/// The default maximum number of agents.
pub const DEFAULT_MAX: usize = 10;
/// The default number of idle agents kept ready beyond those in use.
pub const DEFAULT_SPARES: usize = 1;
/// How long checkouts wait, by default, before the autoscaler adds agents.
pub const DEFAULT_SCALE_UP_AFTER: Duration = Duration::from_secs(1);
/// How many waiting checkouts make the autoscaler add agents at once, by default.
pub const DEFAULT_SCALE_UP_QUEUE_DEPTH: usize = 4;
/// How long an agent beyond the spares may stay idle, by default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_mins(1);
/// How many finished checkouts the state keeps, by default.
pub const DEFAULT_HISTORY: usize = 1024;
/// How often, at most, the state file is rewritten, by default.
pub const DEFAULT_SAVE_EVERY: Duration = Duration::from_secs(1);
/// The default capacity of the event channel.
pub const DEFAULT_EVENT_CAPACITY: usize = 1024;

/// The validated settings, read under the state lock.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) min: usize,
    pub(crate) max: usize,
    pub(crate) spares: usize,
    pub(crate) scale_up_after: Duration,
    pub(crate) scale_up_depth: usize,
    pub(crate) idle_timeout: Duration,
    pub(crate) recycle_after: Option<u64>,
    pub(crate) recycle_on_error: bool,
    pub(crate) quotas: Quotas,
    pub(crate) budget: Option<u64>,
    pub(crate) placements: Vec<Arc<Placement>>,
    pub(crate) history: usize,
    /// A state file is configured.
    pub(crate) persist: bool,
    pub(crate) save_every: Duration,
    pub(crate) spawn_backoff: Duration,
    pub(crate) spawn_backoff_max: Duration,
}

/// Builds a [`Pool`]: sizes, autoscaling, quotas, budget, lifecycle and the
/// state file. Start with [`Pool::builder`].
///
/// Every setting has a default (the `DEFAULT_*` constants): a pool of 1 to
/// 10 agents with one warm spare, no quotas, no budget, agents never
/// recycled for age but recycled after an error, and no state file.
#[derive(Debug)]
#[must_use = "a builder does nothing until built"]
pub struct Builder<F> {
    factory: F,
    config: Config,
    state_file: Option<PathBuf>,
    event_capacity: usize,
}

impl<F: AgentFactory> Builder<F> {
    pub(crate) fn new(factory: F) -> Self {
        Self {
            factory,
            config: Config {
                min: DEFAULT_MIN,
                max: DEFAULT_MAX,
                spares: DEFAULT_SPARES,
                scale_up_after: DEFAULT_SCALE_UP_AFTER,
                scale_up_depth: DEFAULT_SCALE_UP_QUEUE_DEPTH,
                idle_timeout: DEFAULT_IDLE_TIMEOUT,
                recycle_after: None,
                recycle_on_error: true,
                quotas: Quotas::default(),
                budget: None,
                placements: Vec::new(),
                history: DEFAULT_HISTORY,
                persist: false,
                save_every: DEFAULT_SAVE_EVERY,
                spawn_backoff: Duration::from_secs(1),
                spawn_backoff_max: Duration::from_secs(30),
            },
            state_file: None,
            event_capacity: DEFAULT_EVENT_CAPACITY,
        }
    }

    /// The fewest agents the pool keeps; the maintenance worker spawns up to
    /// it and idle agents are never killed below it.
    pub fn min(mut self, min: usize) -> Self {
        self.config.min = min;
        self
    }

    /// The most agents that may exist at once, counting those being made
    /// and those being ended.
    pub fn max(mut self, max: usize) -> Self {
        self.config.max = max;
        self
    }

    /// How many idle agents to keep ready beyond those checked out (warm
    /// spares), within the maximum.
    pub fn spares(mut self, spares: usize) -> Self {
        self.config.spares = spares;
        self
    }

    /// How long checkouts must have been waiting before the autoscaler adds
    /// agents for them. A short burst is served by agents coming back instead.
    pub fn scale_up_after(mut self, delay: Duration) -> Self {
        self.config.scale_up_after = delay;
        self
    }

    /// How many waiting checkouts make the autoscaler add agents at once,
    /// without waiting for [`scale_up_after`](Self::scale_up_after). At least 1.
    pub fn scale_up_queue_depth(mut self, depth: usize) -> Self {
        self.config.scale_up_depth = depth;
        self
    }

    /// How long an idle agent beyond the spares and the minimum lives before
    /// the autoscaler kills it.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Recycles an agent once it has made this many runs (a chat session
    /// whose history grows too long, a process that leaks).
    pub fn recycle_after(mut self, runs: NonZeroU64) -> Self {
        self.config.recycle_after = Some(runs.get());
        self
    }

    /// Whether an agent whose run returned an error is recycled at check-in
    /// (default on).
    pub fn recycle_on_error(mut self, recycle: bool) -> Self {
        self.config.recycle_on_error = recycle;
        self
    }

    /// At most `limit` agents of `model`.
    pub fn model_quota(mut self, model: ModelName, limit: usize) -> Self {
        self.config.quotas.models.insert(model, limit);
        self
    }

    /// At most `limit` agents on `endpoint`.
    pub fn endpoint_quota(mut self, endpoint: impl Into<EndpointId>, limit: usize) -> Self {
        self.config.quotas.endpoints.insert(endpoint.into(), limit);
        self
    }

    /// At most `limit` agents of any one model without its own
    /// [`model_quota`](Self::model_quota).
    pub fn per_model_quota(mut self, limit: usize) -> Self {
        self.config.quotas.per_model = Some(limit);
        self
    }

    /// At most `limit` agents on any one endpoint without its own
    /// [`endpoint_quota`](Self::endpoint_quota).
    pub fn per_endpoint_quota(mut self, limit: usize) -> Self {
        self.config.quotas.per_endpoint = Some(limit);
        self
    }

    /// The tokens the pool's agents may use in all. Once spent, checkouts
    /// fail with [`CheckoutError::BudgetExhausted`](crate::CheckoutError::BudgetExhausted).
    /// The budget is checked at checkout, so tasks already running finish
    /// and may overshoot it.
    pub fn token_budget(mut self, tokens: u64) -> Self {
        self.config.budget = Some(tokens);
        self
    }

    /// A placement the pool may put new agents on (spares, and checkouts
    /// that do not name both model and endpoint). Duplicates are ignored.
    pub fn placement(mut self, placement: Placement) -> Self {
        if !self.config.placements.iter().any(|known| **known == placement) {
            self.config.placements.push(Arc::new(placement));
        }
        self
    }

    /// Several [`placement`](Self::placement)s.
    pub fn placements(self, placements: impl IntoIterator<Item = Placement>) -> Self {
        placements.into_iter().fold(self, Self::placement)
    }

    /// How many finished checkouts the saved state keeps (default 1024).
    pub fn history(mut self, entries: usize) -> Self {
        self.config.history = entries;
        self
    }

    /// Saves the pool's state to this JSON file, and restores it from there
    /// when the pool is built. The maintenance worker rewrites it (atomically)
    /// at most every [`save_every`](Self::save_every) while anything changes,
    /// and once more when it shuts down.
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// The least time between two writes of the state file (default 1 s).
    pub fn save_every(mut self, interval: Duration) -> Self {
        self.config.save_every = interval;
        self
    }

    /// How many events a subscriber may fall behind before it lags (default 1024).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity;
        self
    }

    /// The wait after a failed spare or restore spawn before the next one,
    /// doubling after each failure up to `max` (defaults 1 s and 30 s).
    pub fn spawn_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.spawn_backoff = initial;
        self.config.spawn_backoff_max = max.max(initial);
        self
    }

    /// Validates the settings, restores the state file if there is one, and
    /// builds the pool. No agent is made yet: the maintenance worker
    /// ([`Pool::run`]) and checkouts make them.
    ///
    /// # Errors
    ///
    /// [`BuildError::Config`] when `max` is 0, `min` exceeds `max` or the
    /// queue depth is 0; [`BuildError::Restore`] when the state file exists
    /// but cannot be read or is not a state document of this version.
    pub fn build(mut self) -> Result<Pool<F>, BuildError> {
        let config = &self.config;
        let reason = if config.max == 0 {
            Some("max must be at least 1")
        } else if config.min > config.max {
            Some("min must not exceed max")
        } else if config.scale_up_depth == 0 {
            Some("scale-up queue depth must be at least 1")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(BuildError::Config { reason });
        }
        let restored = match &self.state_file {
            Some(path) => Snapshot::load(path).map_err(BuildError::Restore)?,
            None => None,
        };
        self.config.persist = self.state_file.is_some();
        Ok(Pool::new(
            self.factory,
            self.config,
            Events::new(self.event_capacity),
            self.state_file,
            restored,
            Instant::now(),
        ))
    }
}
