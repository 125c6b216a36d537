//! Choosing an Aider session's model through `om-router`, so the
//! configured allow lists, endpoint health, breakers and cooldowns apply to
//! it as to every other request, with om-aider's `--select` strategy
//! ranking what is eligible. Which endpoint serves each of the session's
//! requests is the fleet's choice, request by request (see `place`).

use std::sync::Arc;

use om_aider::{NoInstance, Select};
use om_core::{Capability, ModelChoice, ModelName, TaskCategory};
use om_registry::{InstanceIdx, Snapshot};
use om_router::{
    Candidate, Context, ModelMatch, RouteRequest, Router, RouterConfig, Strategy, StrategyKind,
    builtin,
};
use tokio::time::Instant;

/// Ranks candidates by om-aider's session cost (fastest or most capable).
#[derive(Debug)]
struct SessionCost(Select);

impl Strategy for SessionCost {
    fn name(&self) -> &'static str {
        match self.0 {
            Select::Fastest => "aider_fastest",
            Select::Capable => "aider_capable",
            Select::RoundRobin => "round_robin",
        }
    }

    fn rank(&self, ctx: &Context<'_>, candidates: &mut [Candidate]) {
        for c in candidates {
            let cost = om_aider::cost(self.0, ctx.snapshot, c.instance, ctx.category, ctx.now);
            // Endpoint weights and the loaded-model preference, as every
            // cost-based strategy applies them.
            c.cost = cost / c.weight.max(f64::MIN_POSITIVE);
        }
    }
}

/// Ranks the instances that may serve a session: a router with the
/// configured settings (but the one strategy, for every category), whose
/// chosen instance and fallbacks are the ranking. Models that only embed
/// are never chosen.
#[derive(Debug)]
pub(crate) struct Ranking {
    router: Router,
}

impl Ranking {
    /// The ranking for `select` under `config`.
    pub(crate) fn new(config: &RouterConfig, select: Select) -> Self {
        let mut config = config.clone();
        config.categories.clear();
        let strategy: Arc<dyn Strategy> = match select {
            Select::RoundRobin => builtin(StrategyKind::RoundRobin),
            other => Arc::new(SessionCost(other)),
        };
        Self { router: Router::new(config).with_strategy(strategy) }
    }

    /// The eligible instances of `snapshot` for a session, best first.
    pub(crate) fn ranked(
        &self,
        snapshot: &Snapshot,
        models: &ModelChoice,
        category: TaskCategory,
        now: Instant,
    ) -> Result<Vec<InstanceIdx>, NoInstance> {
        let mut route = match models {
            ModelChoice::Any => RouteRequest::any(),
            ModelChoice::Pinned(model) => RouteRequest::for_model(model.clone()),
            ModelChoice::AllowList(names) => RouteRequest::one_of(allow_list(names)),
        }
        .with_category(category);
        for &index in snapshot.all_instances() {
            if embeds_only(snapshot, index) {
                route = route.excluding(snapshot.instance(index).id().clone());
            }
        }
        let decision = self.router.route(&route, snapshot, now).map_err(|no| NoInstance {
            reason: no.why.to_string(),
            temporary: no.is_temporary(),
        })?;
        Ok(decision.ranked().map(|choice| choice.instance).collect())
    }

    /// The model a session talks to: the best-ranked instance's.
    pub(crate) fn model(
        &self,
        snapshot: &Snapshot,
        models: &ModelChoice,
        category: TaskCategory,
        now: Instant,
    ) -> Result<ModelName, NoInstance> {
        let ranked = self.ranked(snapshot, models, category, now)?;
        let best = ranked.first().ok_or_else(|| NoInstance {
            reason: "the router ranked no instance".to_owned(),
            temporary: true,
        })?;
        Ok(snapshot.instance(*best).info.name.clone())
    }
}

/// A model that embeds and cannot chat.
fn embeds_only(snapshot: &Snapshot, index: InstanceIdx) -> bool {
    let caps = snapshot.instance(index).info.capabilities;
    caps.has(Capability::Embedding) && !caps.has(Capability::Completion)
}

/// An allow-list entry with a tag (`qwen2.5-coder:7b`) names one model; one
/// without (`llama3.2`, `qwen2`) names the model with the `latest` tag or
/// any model of that family — as `ollama-meta run` reads it.
fn allow_list(names: &[String]) -> Vec<ModelMatch> {
    let mut matches = Vec::with_capacity(names.len() * 2);
    for name in names {
        let name = name.trim();
        let tagged = name.rsplit('/').next().is_some_and(|last| last.contains(':'));
        if let Ok(model) = name.parse::<ModelName>() {
            matches.push(ModelMatch::Name(model));
        }
        if !tagged {
            matches.push(ModelMatch::Family(name.to_ascii_lowercase()));
        }
    }
    matches
}

#[cfg(test)]
mod tests {
    use om_core::{Capabilities, EndpointId};
    use om_registry::{Config, EndpointSpec, Health, ModelInfo, Registry};

    use super::*;

    fn fleet() -> Registry {
        let registry = Registry::new(Config::default());
        let mut edit = registry.edit();
        for (endpoint, model, params, caps) in [
            ("small", "coder:1b", "1B", vec![Capability::Completion]),
            ("big", "coder:32b", "32B", vec![Capability::Completion]),
            ("embed", "nomic-embed-text", "137M", vec![Capability::Embedding]),
        ] {
            let id = EndpointId::new(endpoint);
            edit.upsert_endpoint(EndpointSpec::new(
                id.clone(),
                format!("{endpoint}.lan").parse().unwrap(),
            ))
            .unwrap();
            edit.set_health(&id, Health::Healthy).unwrap();
            let mut info = ModelInfo::new(model.parse().unwrap());
            info.parameters = om_registry::parse_parameter_count(params);
            info.capabilities = Capabilities::of(&caps);
            edit.replace_models(&id, vec![info]).unwrap();
        }
        edit.publish();
        registry
    }

    fn first(
        ranking: &Ranking,
        registry: &Registry,
        models: &ModelChoice,
    ) -> Result<String, NoInstance> {
        let snapshot = registry.snapshot();
        let ranked = ranking.ranked(&snapshot, models, TaskCategory::Coding, Instant::now())?;
        assert!(ranked.iter().all(|&i| !embeds_only(&snapshot, i)));
        Ok(snapshot.endpoint(snapshot.instance(ranked[0]).endpoint).id.to_string())
    }

    #[test]
    fn capable_through_the_router() {
        let registry = fleet();
        let route = Ranking::new(&RouterConfig::default(), Select::Capable);
        assert_eq!(first(&route, &registry, &ModelChoice::Any).unwrap(), "big");
        let small = ModelChoice::AllowList(vec!["coder:1b".to_owned()]);
        assert_eq!(first(&route, &registry, &small).unwrap(), "small");
    }

    #[test]
    fn breakers_and_health_apply() {
        let registry = fleet();
        registry
            .set_health(&EndpointId::new("big"), Health::unhealthy("down", Instant::now()))
            .unwrap();
        let route = Ranking::new(&RouterConfig::default(), Select::Capable);
        assert_eq!(first(&route, &registry, &ModelChoice::Any).unwrap(), "small");
        registry
            .set_health(&EndpointId::new("small"), Health::unhealthy("down", Instant::now()))
            .unwrap();
        let err = first(&route, &registry, &ModelChoice::Any).unwrap_err();
        assert!(err.temporary, "{err}");
    }

    #[test]
    fn round_robin_alternates() {
        let registry = fleet();
        let route = Ranking::new(&RouterConfig::default(), Select::RoundRobin);
        let picks: Vec<String> =
            (0..4).map(|_| first(&route, &registry, &ModelChoice::Any).unwrap()).collect();
        assert!(
            picks.contains(&"big".to_owned()) && picks.contains(&"small".to_owned()),
            "{picks:?}"
        );
    }
}
