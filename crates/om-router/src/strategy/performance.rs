//! The lowest expected time for the request.

use super::{Candidate, Context, Strategy};

/// A success rate below this is treated as this, so that one unlucky
/// window does not make the cost infinite.
const MIN_SUCCESS_RATE: f64 = 0.05;

/// The lowest expected time, from the instance's moving averages:
///
/// `(ttft + output_tokens / tokens_per_sec) / success_rate × (1 + load) / weight`
///
/// where `output_tokens` is the request's `num_predict` (or the configured
/// default) and the whole latency average stands in when TTFT or speed is
/// unknown. Dividing by the success rate counts the expected retries;
/// multiplying by `1 + load` (tower's `PeakEwma` does the same with pending
/// requests) keeps the fastest instance from taking everything. An instance
/// with no measurements yet is assumed as fast as the fastest known one, so
/// new instances get tried.
#[derive(Debug, Clone, Copy, Default)]
pub struct Performance;

impl Strategy for Performance {
    fn name(&self) -> &'static str {
        "performance"
    }

    fn rank(&self, ctx: &Context<'_>, candidates: &mut [Candidate]) {
        let best = fill_expected(ctx, candidates);
        for c in candidates {
            let expected = if c.cost.is_nan() { best } else { c.cost };
            c.cost = expected * (1.0 + c.load) / c.weight;
        }
    }
}

/// Writes each candidate's expected seconds into `cost` (NaN when unknown)
/// and returns the smallest known one (1 when none is known).
pub(super) fn fill_expected(ctx: &Context<'_>, candidates: &mut [Candidate]) -> f64 {
    let tokens =
        ctx.request.num_predict.filter(|n| *n > 0).unwrap_or(ctx.config.default_output_tokens)
            as f64;
    let mut best = f64::INFINITY;
    for c in candidates.iter_mut() {
        c.cost = expected_seconds(&c.live, tokens).unwrap_or(f64::NAN);
        if c.cost < best {
            best = c.cost;
        }
    }
    if best.is_finite() { best } else { 1.0 }
}

fn expected_seconds(live: &om_registry::LiveView, tokens: f64) -> Option<f64> {
    let time = match (live.ttft, live.tokens_per_sec) {
        (Some(ttft), Some(rate)) if rate > 0.0 => Some(ttft + tokens / rate),
        _ => live.latency,
    }?;
    Some(time / live.success_rate.unwrap_or(1.0).max(MIN_SUCCESS_RATE))
}
