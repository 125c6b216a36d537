//! A weighted random draw.

use super::{Candidate, Context, Sampling, Strategy, share};

/// A random draw in proportion to weight, from the router's seeded
/// generator (the same seed and calls give the same draws). The fallbacks
/// follow the chosen one around the weight ring. Above
/// [`exact_limit`](crate::RouterConfig::exact_limit) candidates the draw is
/// made by rejection sampling without looking at every candidate
/// ([`Sampling::WeightedDraw`]), and the fallbacks are further draws.
#[derive(Debug, Clone, Copy, Default)]
pub struct Random;

impl Strategy for Random {
    fn name(&self) -> &'static str {
        "random"
    }

    fn rank(&self, ctx: &Context<'_>, candidates: &mut [Candidate]) {
        let ring = share::ring(candidates);
        // Lemire's multiply-shift: a uniform position in 0..total.
        let position = ((u128::from(ctx.random()) * u128::from(ring.total)) >> 64) as u64;
        share::rank_from(candidates, ring, position);
    }

    fn sampling(&self) -> Sampling {
        Sampling::WeightedDraw
    }
}
