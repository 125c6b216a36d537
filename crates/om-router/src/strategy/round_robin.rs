//! Round-robin in proportion to weight.

use super::{Candidate, Context, Sampling, Strategy, share};

/// Each eligible instance in turn, in proportion to its weight.
///
/// Every candidate owns a stretch of a ring, its length proportional to its
/// weight (to 1/64); turn `t` lands on slot `t × step mod total`, with a
/// step coprime with the ring, so every `total` consecutive turns visit
/// every slot exactly once. With equal weights the ring has one slot per
/// candidate and the step is 1: plain A, B, C, A, B, C. Turns are counted per
/// model selection ([`Context::next_turn`]). The fallbacks are the next
/// candidates around the ring.
///
/// Above [`exact_limit`](crate::RouterConfig::exact_limit) candidates the
/// router instead walks a weighted rotation over all candidates, computed
/// as it goes ([`Sampling::Rotation`]): a cursor per model selection moves to
/// the next instance due and skips ineligible ones, in constant time per
/// decision on average.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundRobin;

impl Strategy for RoundRobin {
    fn name(&self) -> &'static str {
        "round_robin"
    }

    fn rank(&self, ctx: &Context<'_>, candidates: &mut [Candidate]) {
        let ring = share::ring(candidates);
        let step = share::stride(ring);
        let turn = ctx.next_turn();
        let position = ((u128::from(turn) * u128::from(step)) % u128::from(ring.total)) as u64;
        share::rank_from(candidates, ring, position);
    }

    fn sampling(&self) -> Sampling {
        Sampling::Rotation
    }
}
