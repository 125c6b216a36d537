//! The lower bound on any schedule's makespan: total work over total
//! capacity.

use std::time::Duration;

use crate::fleet::Machine;
use crate::workload::Workload;

/// The fluid lower bound
///
/// `(Σ num_predict + tasks × min_e(ttft_e × rate_e)) / Σ_e(rate_e × slots_e)`
///
/// Every slot of endpoint `e` generates at most `rate_e` tokens per
/// second, and a task placed there also holds the slot for its time to
/// first token, which costs `ttft_e × rate_e` tokens' worth of that slot —
/// at least the smallest such cost over the fleet. However tasks are
/// placed, the fleet therefore needs at least this long to do the work.
/// Model loads, failures, retries and queueing are ignored (they only add
/// time), so no schedule beats it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bound {
    /// Tokens to generate: the sum of `num_predict`.
    pub(crate) tokens: u64,
    /// Token-equivalents of the tasks' time to first token.
    pub(crate) ttft_tokens: f64,
    /// Tokens per second of the whole fleet, every slot busy.
    pub(crate) capacity: f64,
}

impl Bound {
    pub(crate) fn new(workload: &Workload, machines: &[Machine]) -> Self {
        let cheapest_ttft = machines
            .iter()
            .map(|m| m.ttft.as_secs_f64() * m.tokens_per_sec)
            .fold(f64::INFINITY, f64::min);
        Self {
            tokens: workload.tokens,
            ttft_tokens: workload.tasks.len() as f64 * cheapest_ttft,
            capacity: machines.iter().map(|m| m.tokens_per_sec * m.slots as f64).sum(),
        }
    }

    /// The bound.
    pub(crate) fn makespan(&self) -> Duration {
        Duration::from_secs_f64((self.tokens as f64 + self.ttft_tokens) / self.capacity)
    }
}
