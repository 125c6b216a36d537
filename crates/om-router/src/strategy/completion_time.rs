//! The earliest expected completion: where would this request *finish*
//! first, counting the queue ahead of it there, not only where it could
//! start first.

use std::time::Duration;

use om_core::TaskCategory;
use om_registry::{InstanceIdx, LiveView, Snapshot, Ticks};

use super::{Candidate, Context, Strategy};
use crate::config::RouterConfig;
use crate::request::RouteRequest;

/// A success rate below this is treated as this, so that one unlucky
/// window does not make the cost infinite.
const MIN_SUCCESS_RATE: f64 = 0.05;

/// Generation speed assumed while no instance among the candidates has
/// been measured. Only the ratio between candidates matters for ranking,
/// and with nothing measured every candidate gets the same speed, so the
/// value only sets how much a queue of unknown work weighs against load
/// time; 50 tokens/s is a small local model on a GPU.
const ASSUMED_TOKENS_PER_SEC: f64 = 50.0;

/// Added to the cost of a cold candidate while no candidate's speed is
/// measured and a warm one exists: ranks it after every warm candidate.
const DEFERRED_COLD_COST: f64 = 1.0e6;

/// Load time assumed for a cold instance that has never been seen loading:
/// a few-GB model read from an SSD.
const ASSUMED_LOAD_SECS: f64 = 3.0;

/// Earliest expected completion time:
///
/// `(wait + ttft + load + output_tokens / tokens_per_sec) / success_rate / weight`
///
/// - `wait`: when a slot of the endpoint frees for this request — a list
///   schedule of the requests running there (each with the time it was
///   expected to take, minus what it has run) and of the requests *held*
///   for it ahead of this one (higher priority, or same priority and
///   earlier), over the endpoint's capacity
///   ([`EndpointLive::expected_wait`](om_registry::EndpointLive::expected_wait));
/// - `ttft`, `tokens_per_sec`: the instance's moving averages, which were
///   measured under the load it really carries (a box shares its compute
///   between the requests it runs); an instance not measured yet is assumed
///   as fast as the fastest measured candidate, so that it gets tried, but
///   only one request at a time until its first answer says how fast it
///   is (when another candidate exists): the rest wait for a measured one;
///   and while no candidate is measured, cold ones rank after warm ones;
/// - `load`: the learned load time when the model is not loaded there;
/// - `output_tokens`: the request's `num_predict`, else the mean output of
///   the model in the request's category, else of the fleet in that
///   category, else [`RouterConfig::default_output_tokens`].
///
/// The wait is the point: a fast box with a queue beats an idle slow one
/// when it would still finish first, and then the request should be *held*
/// for it rather than sent to the idle one. The strategy says so through
/// [`Candidate::wait`] (and [`Choice::wait`](crate::Choice::wait)): a
/// chosen instance with a wait is one to queue for, and the orchestrator
/// holds the request (registering it as work ahead of later ones) instead
/// of taking a lower-ranked free instance.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompletionTime;

impl Strategy for CompletionTime {
    fn name(&self) -> &'static str {
        "completion_time"
    }

    fn rank(&self, ctx: &Context<'_>, candidates: &mut [Candidate]) {
        let known = Known::of(candidates.iter().map(|c| c.live));
        let alternatives = candidates.len() > 1;
        // With no speed measured, a queue's length in seconds is a guess
        // and a load is a sure cost that cannot be taken back (and may
        // evict another model): warm candidates go first until the first
        // answer calibrates the guess.
        let defer_cold = !known.measured && candidates.iter().any(|c| c.warm);
        for c in candidates.iter_mut() {
            let facts = ctx.snapshot.facts(c.instance);
            let tokens = expected_output(ctx.request, ctx.snapshot, c.instance, ctx.config);
            let service = service_secs(&c.live, c.warm, tokens, known);
            // An instance whose speed is not known yet runs one request at
            // a time while there is another candidate: its first answer
            // says how fast it is, and until then a slow box must not take
            // a queue of work on the optimistic guess: a new request there
            // waits for the running one to end.
            let exploring = alternatives && c.live.tokens_per_sec.is_none() && c.live.in_flight > 0;
            let capacity = if exploring { 1 } else { c.capacity };
            let wait = facts
                .endpoint_live
                .expected_wait(capacity, ctx.request.ticket, ctx.now)
                .as_secs_f64();
            let success = c.live.success_rate.unwrap_or(1.0).max(MIN_SUCCESS_RATE);
            c.wait = wait;
            c.service = service;
            c.cost = (wait + service) / success / facts.weight;
            if defer_cold && !c.warm {
                c.cost += DEFERRED_COLD_COST;
            }
            c.secondary = service;
        }
    }
}

/// The best measured speed and first-token time among some instances,
/// standing in for instances not measured yet.
#[derive(Debug, Clone, Copy)]
struct Known {
    tokens_per_sec: f64,
    ttft: f64,
    /// Some instance's speed is measured (else `tokens_per_sec` is
    /// [`ASSUMED_TOKENS_PER_SEC`]).
    measured: bool,
}

impl Known {
    fn of(views: impl Iterator<Item = LiveView>) -> Self {
        let (mut rate, mut ttft) = (f64::NAN, f64::NAN);
        for view in views {
            if let Some(r) = view.tokens_per_sec.filter(|r| *r > 0.0) {
                rate = rate.max(r);
            }
            if let Some(t) = view.ttft {
                ttft = ttft.min(t);
            }
        }
        Self {
            tokens_per_sec: if rate.is_nan() { ASSUMED_TOKENS_PER_SEC } else { rate },
            measured: !rate.is_nan(),
            ttft: if ttft.is_nan() { 0.0 } else { ttft },
        }
    }
}

/// Expected seconds from sending the request to its last token.
fn service_secs(live: &LiveView, warm: bool, tokens: f64, known: Known) -> f64 {
    let rate = live.tokens_per_sec.filter(|r| *r > 0.0).unwrap_or(known.tokens_per_sec);
    let ttft = live.ttft.unwrap_or(known.ttft);
    let load = if warm { 0.0 } else { live.load_time.unwrap_or(ASSUMED_LOAD_SECS) };
    ttft + load + tokens / rate
}

/// The output length to expect for `request` on `instance`'s model.
pub(crate) fn expected_output(
    request: &RouteRequest,
    snapshot: &Snapshot,
    instance: InstanceIdx,
    config: &RouterConfig,
) -> f64 {
    if let Some(n) = request.num_predict.filter(|n| *n > 0) {
        return n as f64;
    }
    let category = request.category.unwrap_or(TaskCategory::General);
    let model = snapshot.model(snapshot.instance(instance).model);
    model
        .live
        .mean_output(category)
        .or_else(|| snapshot.mean_output(category))
        .unwrap_or(config.default_output_tokens as f64)
}

/// How long `request` is expected to run on `instance` once sent: first
/// token, load when cold, output over speed — the service time of
/// [`CompletionTime`], for callers that record it as work on the endpoint
/// ([`InFlight::expect`](om_registry::InFlight::expect)) whatever strategy
/// chose the instance.
pub fn expected_service(
    request: &RouteRequest,
    snapshot: &Snapshot,
    instance: InstanceIdx,
    config: &RouterConfig,
    now: Ticks,
) -> Duration {
    let chosen = snapshot.instance(instance);
    let model = snapshot.model(chosen.model);
    let known = Known::of(model.instances.iter().map(|&i| snapshot.instance(i).live.view(now)));
    let live = chosen.live.view(now);
    let warm = chosen.loaded.is_some() || live.recently_used;
    let tokens = expected_output(request, snapshot, instance, config);
    Duration::from_secs_f64(service_secs(&live, warm, tokens, known).max(0.0))
}
