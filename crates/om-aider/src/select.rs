//! How an Aider session's model is chosen: the [`Select`] strategies and
//! their [`cost`], from the registry's measurements and learned affinity.
//! Eligibility (allowed models, health, breakers, cooldowns) is the
//! router's; a composition crate ranks what the router found eligible with
//! [`cost`] (the binary's `--select`).

use std::fmt;
use std::str::FromStr;

use om_core::TaskCategory;
use om_registry::{InstanceIdx, Snapshot, Ticks};

/// How sessions pick their model instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Select {
    /// The shortest expected reply: measured time to first token plus
    /// [`REFERENCE_TOKENS`] at the measured generation speed, plus a load
    /// penalty for a model that is not loaded, scaled by the endpoint's
    /// load. Unmeasured instances get modest priors, so they are tried.
    #[default]
    Fastest,
    /// The most capable model: parameter count (log scale) weighted by the
    /// learned affinity for the task's category, plus a bonus for a long
    /// context window.
    Capable,
    /// Each eligible instance in turn.
    RoundRobin,
}

impl Select {
    /// `fastest`, `capable` or `round-robin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fastest => "fastest",
            Self::Capable => "capable",
            Self::RoundRobin => "round-robin",
        }
    }
}

impl fmt::Display for Select {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Select {
    type Err = UnknownSelect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fastest" => Ok(Self::Fastest),
            "capable" => Ok(Self::Capable),
            "round-robin" | "round_robin" => Ok(Self::RoundRobin),
            _ => Err(UnknownSelect { name: s.to_owned() }),
        }
    }
}

/// The name is not a [`Select`] strategy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown selection `{name}` (expected fastest, capable or round-robin)")]
pub struct UnknownSelect {
    /// The name given.
    pub name: String,
}

/// The reply length [`Select::Fastest`] estimates for, in tokens.
pub const REFERENCE_TOKENS: f64 = 500.0;
/// Time to first token assumed before one is measured, in seconds.
pub const PRIOR_TTFT: f64 = 1.0;
/// Generation speed assumed before one is measured, in tokens per second.
pub const PRIOR_TOKENS_PER_SEC: f64 = 20.0;
/// What loading a model that is not loaded is assumed to add, in seconds.
pub const COLD_LOAD: f64 = 5.0;

/// The cost of `index` for `select` (lower is better), for a router
/// strategy that ranks Aider sessions: [`Select::Fastest`] gives expected
/// seconds for a reference reply, [`Select::Capable`] `1 / (1 + score)`.
/// [`Select::RoundRobin`] is not a cost and gives 0 (rotate instead).
pub fn cost(
    select: Select,
    snapshot: &Snapshot,
    index: InstanceIdx,
    category: TaskCategory,
    now: Ticks,
) -> f64 {
    match select {
        Select::Fastest => {
            let facts = snapshot.facts(index);
            let live = facts.live.view(now);
            let ttft = live.ttft.unwrap_or(PRIOR_TTFT);
            let speed = live.tokens_per_sec.unwrap_or(PRIOR_TOKENS_PER_SEC).max(0.1);
            let cold = if facts.loaded || live.recently_used { 0.0 } else { COLD_LOAD };
            (ttft + REFERENCE_TOKENS / speed + cold) * (1.0 + endpoint_load(snapshot, index))
        }
        Select::Capable => 1.0 / (1.0 + capability(snapshot, index, category)),
        Select::RoundRobin => 0.0,
    }
}

/// How capable an instance's model is for `category`:
/// `ln(1 + billions of parameters) × (0.5 + affinity) + context bonus`, where
/// the affinity is the learned mean reward smoothed with two trials at 0.5,
/// and the context bonus is 0.1 per doubling of the context window beyond
/// 4096 tokens (at most 0.5).
pub fn capability(snapshot: &Snapshot, index: InstanceIdx, category: TaskCategory) -> f64 {
    let instance = snapshot.instance(index);
    let billions = instance.info.parameters.map_or(0.0, |p| p as f64 / 1e9);
    let size = billions.ln_1p();
    let record = snapshot.model(instance.model).live.affinity(category);
    let affinity = (record.reward_sum + 1.0) / (record.trials as f64 + 2.0);
    let context = instance.info.context_length.unwrap_or(4096) as f64;
    let bonus = ((context / 4096.0).log2() * 0.1).clamp(0.0, 0.5);
    size * (0.5 + affinity) + bonus
}

/// Requests in flight on the instance's endpoint per unit of capacity.
fn endpoint_load(snapshot: &Snapshot, index: InstanceIdx) -> f64 {
    let facts = snapshot.facts(index);
    f64::from(facts.endpoint_live.in_flight()) / f64::from(facts.capacity_now().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse() {
        for select in [Select::Fastest, Select::Capable, Select::RoundRobin] {
            assert_eq!(select.as_str().parse::<Select>(), Ok(select));
        }
        assert_eq!("round_robin".parse::<Select>(), Ok(Select::RoundRobin));
        assert!("best".parse::<Select>().unwrap_err().to_string().contains("round-robin"));
    }
}
