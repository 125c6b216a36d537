//! Choosing the model instance an Aider session talks to, from the fleet as
//! the registry sees it.
//!
//! A [`Route`] ranks the instances that may serve a session. The built-in
//! [`Selector`] applies basic eligibility (the allowed models, a model that
//! can chat, a healthy endpoint, a breaker that admits, no 503 cooldown)
//! and then a [`Select`] strategy. A composition crate that has the router
//! passes its own `Route` (a closure) that asks `om-router` with its full
//! eligibility filters and ranks with [`cost`], so configured allow/deny
//! lists, tags and context windows apply to Aider sessions too.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use om_core::{Capabilities, Capability, ModelChoice, ModelName, TaskCategory};
use om_registry::{InstanceIdx, Snapshot, Ticks};
use tokio::time::Instant;

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

/// What a session asks of the selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectRequest<'a> {
    /// Which models may serve it: any, a pinned one, or an allow-list whose
    /// entries name a model (`qwen2.5-coder:7b`) or, without a tag, also a
    /// family (`qwen2`), as for `ollama-meta run`.
    pub models: &'a ModelChoice,
    /// The task's category, for affinity.
    pub category: TaskCategory,
}

/// No instance can serve a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no model instance can serve the session: {reason}")]
pub struct NoInstance {
    /// Why, in words.
    pub reason: String,
    /// True when instances exist but are unhealthy, tripped or cooling
    /// down: waiting may help.
    pub temporary: bool,
}

/// Ranks the model instances that may serve a session, best first.
///
/// Implemented by [`Selector`], and by any
/// `Fn(&Snapshot, &SelectRequest, Instant) -> Result<Vec<InstanceIdx>, NoInstance>`
/// closure, so a caller can route with `om-router` instead.
pub trait Route: Send + Sync + 'static {
    /// The eligible instances of `snapshot` for `request` at `now`, best
    /// first.
    ///
    /// # Errors
    ///
    /// [`NoInstance`] when none is eligible.
    fn route(
        &self,
        snapshot: &Snapshot,
        request: &SelectRequest<'_>,
        now: Instant,
    ) -> Result<Vec<InstanceIdx>, NoInstance>;
}

impl<F> Route for F
where
    F: Fn(&Snapshot, &SelectRequest<'_>, Instant) -> Result<Vec<InstanceIdx>, NoInstance>
        + Send
        + Sync
        + 'static,
{
    fn route(
        &self,
        snapshot: &Snapshot,
        request: &SelectRequest<'_>,
        now: Instant,
    ) -> Result<Vec<InstanceIdx>, NoInstance> {
        self(snapshot, request, now)
    }
}

/// The built-in [`Route`]: basic eligibility, then a [`Select`] strategy.
///
/// ```
/// use om_aider::{Route, Select, SelectRequest, Selector};
/// use om_core::{EndpointId, TaskCategory};
/// use om_registry::{Config, EndpointSpec, ModelInfo, Registry};
/// use tokio::time::Instant;
///
/// let registry = Registry::new(Config::default());
/// let mut edit = registry.edit();
/// for (name, params) in [("small", "1B"), ("big", "14B")] {
///     let id = EndpointId::new(name);
///     edit.upsert_endpoint(EndpointSpec::new(id.clone(), format!("{name}.lan").parse()?))?;
///     let mut model = ModelInfo::new(format!("coder-{name}").parse()?);
///     model.parameters = om_registry::parse_parameter_count(params);
///     edit.replace_models(&id, vec![model])?;
/// }
/// edit.publish();
///
/// let selector = Selector::new(Select::Capable);
/// let request = SelectRequest { models: &om_core::ModelChoice::Any, category: TaskCategory::Coding };
/// let snapshot = registry.snapshot();
/// let ranked = selector.route(&snapshot, &request, Instant::now())?;
/// assert_eq!(snapshot.instance(ranked[0]).info.name.to_string(), "coder-big:latest");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct Selector {
    select: Select,
    turn: AtomicU64,
}

impl Selector {
    /// A selector with the strategy `select`.
    pub fn new(select: Select) -> Self {
        Self { select, turn: AtomicU64::new(0) }
    }

    /// The strategy.
    pub fn select(&self) -> Select {
        self.select
    }
}

impl Route for Selector {
    fn route(
        &self,
        snapshot: &Snapshot,
        request: &SelectRequest<'_>,
        now: Instant,
    ) -> Result<Vec<InstanceIdx>, NoInstance> {
        let ticks = snapshot.ticks(now);
        let considered = candidates(snapshot, request.models);
        let mut eligible: Vec<(InstanceIdx, f64, f64)> = Vec::with_capacity(considered.len());
        let mut blocked = 0usize;
        for index in considered.iter().copied() {
            let instance = snapshot.instance(index);
            let caps = instance.info.capabilities;
            if !can_chat(caps) {
                continue;
            }
            let facts = snapshot.facts(index);
            let live = facts.live.view(ticks);
            if !facts.routable || !live.admits || live.cooling_down {
                blocked += 1;
                continue;
            }
            let cost = match self.select {
                Select::RoundRobin => 0.0,
                select => cost(select, snapshot, index, request.category, ticks),
            };
            eligible.push((index, cost, endpoint_load(snapshot, index)));
        }
        if eligible.is_empty() {
            let reason = if considered.is_empty() {
                match request.models {
                    ModelChoice::Any => "the fleet has no models".to_owned(),
                    ModelChoice::Pinned(model) => format!("no endpoint has {model}"),
                    ModelChoice::AllowList(names) => {
                        format!("no endpoint has any of {}", names.join(", "))
                    }
                }
            } else if blocked > 0 {
                format!("{blocked} instance(s) unhealthy, with an open breaker or cooling down")
            } else {
                "no model that can chat".to_owned()
            };
            return Err(NoInstance { reason, temporary: blocked > 0 });
        }
        if self.select == Select::RoundRobin {
            let turn = self.turn.fetch_add(1, Ordering::Relaxed);
            let start = usize::try_from(turn % eligible.len() as u64).unwrap_or(0);
            eligible.rotate_left(start);
        } else {
            eligible
                .sort_by(|a, b| a.1.total_cmp(&b.1).then(a.2.total_cmp(&b.2)).then(a.0.cmp(&b.0)));
        }
        Ok(eligible.into_iter().map(|(index, ..)| index).collect())
    }
}

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

/// True for a model that can chat: it says it completes, or says nothing.
fn can_chat(caps: Capabilities) -> bool {
    caps.is_empty() || caps.has(Capability::Completion)
}

fn candidates(snapshot: &Snapshot, models: &ModelChoice) -> Vec<InstanceIdx> {
    match models {
        ModelChoice::Any => snapshot.all_instances().to_vec(),
        ModelChoice::Pinned(model) => snapshot
            .find_model(model)
            .map(|m| snapshot.model(m).instances.clone())
            .unwrap_or_default(),
        ModelChoice::AllowList(names) => snapshot
            .all_instances()
            .iter()
            .copied()
            .filter(|&i| names.iter().any(|name| allows(name, &snapshot.instance(i).info)))
            .collect(),
    }
}

/// An allow-list entry with a tag names one model; one without names the
/// model with the `latest` tag or any model of that family.
fn allows(entry: &str, info: &om_registry::ModelInfo) -> bool {
    let entry = entry.trim();
    let tagged = entry.rsplit('/').next().is_some_and(|last| last.contains(':'));
    entry.parse::<ModelName>().is_ok_and(|name| name == info.name)
        || (!tagged && info.is_family(entry))
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

    #[test]
    fn allow_list_entries_name_models_or_families() {
        let mut info = om_registry::ModelInfo::new("qwen2.5-coder:7b".parse().unwrap());
        info.family = "qwen2".to_owned();
        assert!(allows("qwen2.5-coder:7b", &info));
        assert!(allows("qwen2", &info));
        assert!(allows("QWEN2", &info));
        assert!(!allows("qwen2.5-coder", &info), "untagged means :latest or a family");
        assert!(!allows("qwen2:7b", &info), "a tag names one model");
    }

    #[test]
    fn chat_capability() {
        assert!(can_chat(Capabilities::NONE));
        assert!(can_chat(Capabilities::of(&[Capability::Completion, Capability::Tools])));
        assert!(!can_chat(Capabilities::of(&[Capability::Embedding])));
    }
}
