//! Affinity where the category has data, performance otherwise.

use super::affinity::ModelCosts;
use super::performance::fill_expected;
use super::{Candidate, Context, Performance, Strategy};

/// Affinity where the category has data, performance otherwise, least
/// loaded as the tie-break.
///
/// When some candidate model has at least `min_samples` trials in the
/// request's category, the cost is [`Affinity`](super::Affinity)'s (so
/// untried models are still explored) and the expected time of
/// [`Performance`] orders instances of equal quality. Otherwise the cost is
/// [`Performance`]'s. Either way the router breaks remaining ties by load.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hybrid;

impl Strategy for Hybrid {
    fn name(&self) -> &'static str {
        "hybrid"
    }

    fn rank(&self, ctx: &Context<'_>, candidates: &mut [Candidate]) {
        let min_samples = ctx.config.min_samples.max(1);
        let mut last = None;
        let has_data = candidates.iter().any(|c| {
            // Candidates of one model are often adjacent: ask once per run.
            if last == Some(c.model) {
                return false;
            }
            last = Some(c.model);
            ctx.snapshot.model(c.model).live.affinity(ctx.category).trials >= min_samples
        });
        if !has_data {
            Performance.rank(ctx, candidates);
            return;
        }
        let best = fill_expected(ctx, candidates);
        let mut costs = ModelCosts::new(ctx);
        for c in candidates {
            c.secondary = if c.cost.is_nan() { best } else { c.cost };
            c.cost = costs.cost(c.model) * (1.0 + c.load) / c.weight;
        }
    }
}
