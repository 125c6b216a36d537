//! The router: eligibility filters (over every candidate, or a sample of
//! many), then the strategy, then the ranking.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;

use om_core::rng::SplitMix64;
use om_core::{ModelName, TaskCategory};
use om_registry::{InstanceIdx, Snapshot};
use tokio::time::Instant;

use crate::config::RouterConfig;
use crate::decision::{Choice, Decision, NoRoute, Why};
use crate::eligibility::{Eligibility, Filtered};
use crate::request::{ModelMatch, ModelSelector, RouteRequest};
use crate::sampling;
use crate::state::State;
use crate::strategy::{Candidate, Context, Sampling, Strategy, builtin};

/// Picks an instance for each request from a registry snapshot. Pure: no
/// I/O, no runtime; share one behind an `Arc` (its only mutable state, the
/// seeded generator and round-robin turns, is internally synchronised).
///
/// ```
/// use om_core::{EndpointId, TaskCategory};
/// use om_registry::{Config, EndpointSpec, Health, ModelInfo, Registry};
/// use om_router::{RouteRequest, Router, RouterConfig};
/// use tokio::time::Instant;
///
/// let registry = Registry::new(Config::default());
/// let mut edit = registry.edit();
/// for name in ["gpu", "laptop"] {
///     let id = EndpointId::new(name);
///     edit.upsert_endpoint(EndpointSpec::new(id.clone(), name.parse()?))?;
///     edit.set_health(&id, Health::Healthy)?;
///     edit.replace_models(&id, vec![ModelInfo::new("llama3.2".parse()?)])?;
/// }
/// edit.publish();
///
/// let router = Router::new(RouterConfig::default());
/// let request = RouteRequest::for_model("llama3.2".parse()?).with_category(TaskCategory::Coding);
/// let snapshot = registry.snapshot();
/// let decision = router.route(&request, &snapshot, Instant::now())?;
/// assert_eq!(decision.fallbacks.len(), 1);
/// assert_eq!(decision.why.eligible, 2);
/// let chosen = snapshot.instance(decision.chosen.instance);
/// assert_eq!(chosen.info.name.to_string(), "llama3.2:latest");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Router {
    config: RouterConfig,
    strategy: Arc<dyn Strategy>,
    per_category: [Option<Arc<dyn Strategy>>; 7],
    state: State,
}

impl Router {
    /// A router with the built-in strategies the settings name.
    pub fn new(config: RouterConfig) -> Self {
        let strategy = builtin(config.strategy);
        let per_category =
            TaskCategory::ALL.map(|c| config.categories.get(&c).map(|k| builtin(*k)));
        let state = State::new(config.seed);
        Self { config, strategy, per_category, state }
    }

    /// Uses `strategy` for every category without its own.
    #[must_use]
    pub fn with_strategy(mut self, strategy: Arc<dyn Strategy>) -> Self {
        self.strategy = strategy;
        self
    }

    /// Uses `strategy` for `category`.
    #[must_use]
    pub fn with_category_strategy(
        mut self,
        category: TaskCategory,
        strategy: Arc<dyn Strategy>,
    ) -> Self {
        self.per_category[category as usize] = Some(strategy);
        self
    }

    /// The settings.
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// The strategy a request of `category` gets.
    pub fn strategy_for(&self, category: Option<TaskCategory>) -> &dyn Strategy {
        category.and_then(|c| self.per_category[c as usize].as_deref()).unwrap_or(&*self.strategy)
    }

    /// Chooses an instance for `request` in `snapshot` at `now`.
    ///
    /// The instances of the selected models go through the eligibility
    /// filters — exclusions, capabilities, context window (prompt plus
    /// `num_predict`; a model of unknown context length passes), endpoint
    /// tags, endpoint health, breaker (open refuses; half-open admits while
    /// a probe slot is free), cooldown — and the strategy for the request's
    /// category ranks the rest. The decision holds the cheapest instance and
    /// up to `max_fallbacks` next ones, with the counts of what each filter
    /// removed. Indexes refer to `snapshot`.
    ///
    /// With more than [`exact_limit`](RouterConfig::exact_limit)
    /// candidates the decision filters and ranks only a sample, as the
    /// strategy's [`Sampling`](crate::Sampling) says, and
    /// [`Why::sampled`] is set; it never chooses or ranks an ineligible
    /// instance, and it filters every candidate rather than miss an eligible
    /// one the sample did not find.
    ///
    /// Routing does not start anything: start the request with
    /// [`Instance::begin`](om_registry::Instance::begin), which may still
    /// refuse a half-open breaker whose probe slots filled meanwhile; then
    /// try the next fallback.
    ///
    /// # Errors
    ///
    /// [`NoRoute`] when no instance is eligible, with the exact counts.
    pub fn route(
        &self,
        request: &RouteRequest,
        snapshot: &Snapshot,
        now: Instant,
    ) -> Result<Decision, NoRoute> {
        let category = request.category.unwrap_or(TaskCategory::General);
        let strategy = self.strategy_for(request.category);
        let candidates = candidates(request, snapshot);
        let ticks = snapshot.ticks(now);
        let eligibility = Eligibility::new(request, snapshot, ticks, self.config.cold_penalty);
        let seed = self.state.random();
        let keep = self.config.max_fallbacks.saturating_add(1).min(MAX_RANKED);

        let sampled = if candidates.len() > self.config.exact_limit {
            self.sample(strategy.sampling(), &eligibility, request, &candidates, keep, seed)
        } else {
            None
        };
        let Filtered { candidates: mut eligible, removed, ordered } =
            sampled.unwrap_or_else(|| eligibility.every(&candidates));
        let considered = candidates.len() as u32;
        let filtered = removed.total() + eligible.len() as u32;
        let why = Why {
            strategy: strategy.name(),
            category,
            considered,
            removed,
            eligible: eligible.len() as u32,
            sampled: filtered < considered,
            generation: snapshot.generation(),
        };
        if eligible.is_empty() {
            return Err(NoRoute { why });
        }

        if !ordered {
            let ctx = Context {
                snapshot,
                request,
                category,
                config: &self.config,
                now: ticks,
                state: &self.state,
            };
            strategy.rank(&ctx, &mut eligible);
        }

        // NaN would break the order; it ranks last.
        for c in &mut eligible {
            if c.cost.is_nan() {
                c.cost = f64::INFINITY;
            }
            if c.secondary.is_nan() {
                c.secondary = f64::INFINITY;
            }
        }
        let (best, len) = top(&eligible, keep, seed);
        let choice = |i: usize| {
            let c = &eligible[i];
            Choice {
                instance: c.instance,
                cost: c.cost,
                warm: c.warm,
                wait: if c.wait.is_finite() { c.wait.max(0.0) } else { 0.0 },
                service: c.service.is_finite().then_some(c.service),
            }
        };
        Ok(Decision {
            chosen: choice(best[0]),
            fallbacks: best[1..len].iter().map(|&i| choice(i)).collect(),
            why,
        })
    }

    /// How long `request` is expected to run on `instance` once sent, by
    /// [`CompletionTime`](crate::CompletionTime)'s estimate, with this
    /// router's settings: what the orchestrator records as the request's
    /// work on the endpoint, whichever strategy chose it.
    pub fn expected_service(
        &self,
        request: &RouteRequest,
        snapshot: &Snapshot,
        instance: InstanceIdx,
        now: Instant,
    ) -> std::time::Duration {
        crate::strategy::expected_service(
            request,
            snapshot,
            instance,
            &self.config,
            snapshot.ticks(now),
        )
    }

    /// The output tokens to expect of `request` on `instance`'s model: its
    /// `num_predict`, else what that model (then the fleet) produced on
    /// average in the request's category, else the configured default.
    pub fn expected_output(
        &self,
        request: &RouteRequest,
        snapshot: &Snapshot,
        instance: InstanceIdx,
    ) -> f64 {
        crate::strategy::expected_output(request, snapshot, instance, &self.config)
    }

    /// A decision over a sample of `candidates`, or `None` to filter every
    /// one.
    fn sample(
        &self,
        sampling: Sampling,
        eligibility: &Eligibility<'_>,
        request: &RouteRequest,
        candidates: &[InstanceIdx],
        keep: usize,
        seed: u64,
    ) -> Option<Filtered> {
        let snapshot = eligibility.snapshot();
        let mut rng = SplitMix64::new(seed);
        let model = sampling::selected_model(&request.models, snapshot);
        // Every weight of the selection is at most this.
        let bound = model.map_or(snapshot.max_weight(), |m| m.max_weight);
        match sampling {
            Sampling::Sample => {
                let any = request.models == ModelSelector::Any;
                sampling::power_of_k(eligibility, any, model, candidates, keep, &mut rng)
            }
            Sampling::WeightedDraw => {
                sampling::weighted_draw(eligibility, candidates, bound, keep, &mut rng)
            }
            Sampling::Rotation => Some(sampling::rotation(
                eligibility,
                &self.state,
                &request.models,
                candidates,
                bound,
                keep,
            )),
            Sampling::Exhaustive => None,
        }
    }
}

/// The most instances a decision ranks (the chosen one and its fallbacks).
pub(crate) const MAX_RANKED: usize = 16;

/// The positions of the `keep` best candidates, best first: one pass with
/// an insertion into a short sorted list on the stack, which moves indexes
/// rather than candidates and rejects most candidates with one comparison.
fn top(candidates: &[Candidate], keep: usize, seed: u64) -> ([usize; MAX_RANKED], usize) {
    let keep = keep.clamp(1, candidates.len().min(MAX_RANKED));
    let mut best = [0_usize; MAX_RANKED];
    let mut len = 0;
    for (i, c) in candidates.iter().enumerate() {
        if len == keep {
            let worst = &candidates[best[keep - 1]];
            if c.cost > worst.cost || order(c, worst, seed) != Ordering::Less {
                continue;
            }
            len -= 1;
        }
        let at =
            best[..len].partition_point(|&b| order(&candidates[b], c, seed) != Ordering::Greater);
        best.copy_within(at..len, at + 1);
        best[at] = i;
        len += 1;
    }
    (best, len)
}

/// Cost, then secondary cost, then load, then a random key seeded per
/// decision (costs are never NaN here). The key is the instance index
/// through a seeded bijection: one multiplication, a different order of
/// tied instances for each decision.
#[inline]
fn order(a: &Candidate, b: &Candidate, seed: u64) -> Ordering {
    match a.cost.total_cmp(&b.cost) {
        Ordering::Equal => {}
        unequal => return unequal,
    }
    let key = |c: &Candidate| (c.instance.index() as u64 ^ seed).wrapping_mul(seed | 1);
    a.secondary
        .total_cmp(&b.secondary)
        .then_with(|| a.load.total_cmp(&b.load))
        .then_with(|| key(a).cmp(&key(b)))
}

/// The instances of the selected models, in snapshot order.
fn candidates<'s>(request: &RouteRequest, snapshot: &'s Snapshot) -> Cow<'s, [InstanceIdx]> {
    let of_name = |name: &ModelName| -> &'s [InstanceIdx] {
        snapshot.find_model(name).map_or(&[], |i| &snapshot.model(i).instances)
    };
    let of_match = |m: &ModelMatch| -> &'s [InstanceIdx] {
        match m {
            ModelMatch::Name(name) => of_name(name),
            ModelMatch::Family(family) => snapshot.family_instances(family),
        }
    };
    match &request.models {
        ModelSelector::Any => Cow::Borrowed(snapshot.all_instances()),
        ModelSelector::Model(name) => Cow::Borrowed(of_name(name)),
        ModelSelector::OneOf(list) if list.len() == 1 => Cow::Borrowed(of_match(&list[0])),
        ModelSelector::OneOf(list) => {
            let mut all: Vec<InstanceIdx> = list.iter().flat_map(of_match).copied().collect();
            all.sort_unstable();
            all.dedup();
            Cow::Owned(all)
        }
    }
}
