//! The fewest requests in flight per unit of capacity.

use super::{Candidate, Context, Strategy};

/// The endpoint with the fewest requests in flight per unit of its
/// capacity, counting the one about to start: `(in_flight + 1) / capacity`,
/// divided by the weight. Under steady load each endpoint carries traffic
/// in proportion to `weight × capacity`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LeastLoaded;

impl Strategy for LeastLoaded {
    fn name(&self) -> &'static str {
        "least_loaded"
    }

    fn rank(&self, _ctx: &Context<'_>, candidates: &mut [Candidate]) {
        for c in candidates {
            c.cost = (c.load + 1.0 / f64::from(c.capacity)) / c.weight;
        }
    }
}
