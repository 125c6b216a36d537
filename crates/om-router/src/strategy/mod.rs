//! Strategies rank the eligible candidates; the router picks the cheapest.
//!
//! A [`Strategy`] sets each [`Candidate::cost`] (lower is better) and may set
//! [`Candidate::secondary`] to order candidates of equal cost. The router
//! then ranks by cost, secondary cost, endpoint load and a seeded random
//! key, so ties spread over the least loaded endpoints.
//!
//! Two rules every strategy keeps, through [`Candidate::weight`]:
//!
//! - **endpoint weights**: the weight is the endpoint's configured weight;
//! - **loaded-model preference**: for a cold instance (model not loaded) the
//!   weight is divided by `1 + cold_penalty`.
//!
//! Cost-based strategies divide their cost by the weight (a warm instance
//! wins unless a cold one is that much cheaper); share-based ones
//! (round-robin, random) give each candidate traffic in proportion to it.
//! A custom strategy should do one or the other.
//!
//! Above [`RouterConfig::exact_limit`] candidates a decision does not look
//! at every one: each strategy says how it copes ([`Strategy::sampling`],
//! [`Sampling`]).

mod affinity;
mod completion_time;
mod hybrid;
mod least_loaded;
mod performance;
mod random;
mod round_robin;
pub(crate) mod share;

use std::fmt;
use std::sync::Arc;

use om_core::TaskCategory;
use om_registry::{InstanceIdx, LiveView, ModelIdx, Snapshot, Ticks};

pub use affinity::Affinity;
pub(crate) use completion_time::expected_output;
pub use completion_time::{CompletionTime, expected_service};
pub use hybrid::Hybrid;
pub use least_loaded::LeastLoaded;
pub use performance::Performance;
pub use random::Random;
pub use round_robin::RoundRobin;

use crate::config::{RouterConfig, StrategyKind};
use crate::request::RouteRequest;
use crate::state::State;

/// Ranks eligible candidates by setting their costs.
///
/// `rank` runs once per routing decision with every eligible candidate —
/// or, when the request has more than [`RouterConfig::exact_limit`]
/// candidates, with the eligible ones of a random sample, as
/// [`sampling`](Self::sampling) asks —, so it may look at all it is given
/// (to normalise, to draw one position for all); it should not allocate
/// per candidate. Costs must not be NaN (a NaN ranks last).
///
/// ```
/// use om_router::{Candidate, Context, Strategy};
///
/// /// Prefers the smallest model (by parameter count), then the least loaded.
/// #[derive(Debug)]
/// struct Smallest;
///
/// impl Strategy for Smallest {
///     fn name(&self) -> &'static str {
///         "smallest"
///     }
///
///     fn rank(&self, ctx: &Context<'_>, candidates: &mut [Candidate]) {
///         for c in candidates {
///             let params = ctx.snapshot.instance(c.instance).info.parameters.unwrap_or(u64::MAX);
///             c.cost = params as f64 / c.weight;
///         }
///     }
/// }
/// ```
pub trait Strategy: fmt::Debug + Send + Sync {
    /// A short stable name for explanations and logs.
    fn name(&self) -> &'static str;

    /// Sets [`Candidate::cost`] (and optionally [`Candidate::secondary`]) of
    /// every candidate.
    fn rank(&self, ctx: &Context<'_>, candidates: &mut [Candidate]);

    /// How a decision over more than [`RouterConfig::exact_limit`]
    /// candidates works with this strategy. The default,
    /// [`Sampling::Sample`], suits a strategy whose costs compare
    /// candidates one against another.
    fn sampling(&self) -> Sampling {
        Sampling::Sample
    }
}

/// How the router decides among more candidates than
/// [`RouterConfig::exact_limit`] (the instances of the selected models,
/// before filtering), where looking at every one would cost too much per
/// decision.
///
/// Whatever the mode, a decision never chooses or ranks an ineligible
/// instance, and when the sample finds fewer eligible instances than the
/// decision ranks (the chosen one and its fallbacks), the router falls back
/// to filtering every candidate: an eligible instance is never missed, and a
/// refusal ([`NoRoute`](crate::NoRoute)) always counts exactly.
/// [`Why::sampled`](crate::Why::sampled) says which way a decision went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Sampling {
    /// Rank a random sample of the eligible candidates — the power of k
    /// choices (Mitzenmacher, *The Power of Two Choices in Randomized Load
    /// Balancing*, 2001): the best of a few random candidates is almost as
    /// good as the best of all, and spreads load better than always the
    /// single best. The sample holds the loaded instances of the requested
    /// model when there are at most 4 of them; for a request any model may
    /// serve, in a fleet of at most 16 models, one random instance of each
    /// model, so that a model-level cost (learned quality, speed) sees every
    /// model; then uniform draws until at least 8 of its candidates (or as
    /// many as the decision ranks, if more) are eligible. For cost-based
    /// strategies.
    #[default]
    Sample,
    /// Rank every eligible candidate, however many: exact, and linear in
    /// the candidates.
    Exhaustive,
    /// Draw candidates in proportion to weight (rejection sampling over
    /// uniform draws: exact proportions over the eligible instances); the
    /// fallbacks are further draws. [`Strategy::rank`] runs only when too
    /// few draws were eligible and every candidate is filtered. What
    /// [`Random`] does.
    WeightedDraw,
    /// Walk a weighted rotation over the selection's candidates, counted
    /// per model selection: over a whole rotation each instance gets turns
    /// in proportion to its weight (endpoint weight, divided by
    /// `1 + cold_penalty` while `/api/ps` does not list it loaded); a turn
    /// that lands on an ineligible instance passes to the next one due (when
    /// the next few turns are all ineligible, every candidate is filtered to
    /// find it). The fallbacks are the next eligible candidates in snapshot
    /// order. [`Strategy::rank`] is not called. What [`RoundRobin`] does.
    Rotation,
}

/// One eligible instance, as a strategy sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// The instance in [`Context::snapshot`].
    pub instance: InstanceIdx,
    /// Its model, fleet-wide (for [`FleetModel::live`](om_registry::FleetModel::live)).
    pub model: ModelIdx,
    /// Endpoint weight, divided by `1 + cold_penalty` when cold.
    pub weight: f64,
    /// The model is loaded there (`/api/ps`) or served a request within the
    /// warm window.
    pub warm: bool,
    /// Requests in flight on the endpoint per unit of its capacity.
    pub load: f64,
    /// The endpoint's capacity (its concurrency limit, 1 when unset).
    pub capacity: u32,
    /// The instance's live state at decision time.
    pub live: LiveView,
    /// Set by the strategy: lower is better.
    pub cost: f64,
    /// Set by the strategy if it likes: orders candidates of equal cost.
    pub secondary: f64,
    /// Set by a strategy that models queueing: seconds until a slot of the
    /// endpoint frees for this request. A chosen candidate with a wait is
    /// one to queue for rather than to pass over for a free lower-ranked
    /// one (see [`CompletionTime`]). 0 otherwise.
    pub wait: f64,
    /// Set by a strategy that estimates it: seconds the request is
    /// expected to run there once sent. NaN otherwise.
    pub service: f64,
}

/// What a strategy may consult besides the candidates.
#[derive(Debug)]
pub struct Context<'a> {
    /// The fleet.
    pub snapshot: &'a Snapshot,
    /// The request.
    pub request: &'a RouteRequest,
    /// The request's category, or general.
    pub category: TaskCategory,
    /// The router's settings.
    pub config: &'a RouterConfig,
    /// The decision's time.
    pub now: Ticks,
    pub(crate) state: &'a State,
}

impl Context<'_> {
    /// A number from the router's seeded generator.
    pub fn random(&self) -> u64 {
        self.state.random()
    }

    /// The next turn of round-robin for this request's model selection:
    /// 0, 1, 2, … counted separately per selection (a pinned model, an
    /// allow-list, any model), so interleaved requests for different models
    /// each rotate fairly.
    pub fn next_turn(&self) -> u64 {
        self.state.next_turn(&self.request.models)
    }
}

/// The built-in strategy of `kind`.
pub fn builtin(kind: StrategyKind) -> Arc<dyn Strategy> {
    match kind {
        StrategyKind::RoundRobin => Arc::new(RoundRobin),
        StrategyKind::LeastLoaded => Arc::new(LeastLoaded),
        StrategyKind::Random => Arc::new(Random),
        StrategyKind::Performance => Arc::new(Performance),
        StrategyKind::Affinity => Arc::new(Affinity),
        StrategyKind::Hybrid => Arc::new(Hybrid),
        StrategyKind::CompletionTime => Arc::new(CompletionTime),
    }
}
