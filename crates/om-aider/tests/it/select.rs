//! Model selection from the registry: fastest, most capable, round-robin,
//! and eligibility.

use std::time::Duration;

use om_aider::{Route, Select, SelectRequest, Selector};
use om_core::{Capabilities, Capability, EndpointId, ModelChoice, TaskCategory};
use om_registry::{
    Config, EndpointSpec, Health, InstanceIdx, ModelInfo, Outcome, Registry, Snapshot,
};
use tokio::time::Instant;

/// A registry with one endpoint per `(endpoint, model, parameters, context)`.
pub(crate) fn fleet(entries: &[(&str, &str, &str, u64)]) -> Registry {
    let registry = Registry::new(Config::default());
    let mut edit = registry.edit();
    for (endpoint, model, params, context) in entries {
        let id = EndpointId::new(*endpoint);
        edit.upsert_endpoint(EndpointSpec::new(
            id.clone(),
            format!("{endpoint}.lan").parse().expect("a valid host"),
        ))
        .expect("endpoint added");
        edit.set_health(&id, Health::Healthy).expect("endpoint known");
        let mut info = ModelInfo::new(model.parse().expect("a valid model name"));
        info.parameters = om_registry::parse_parameter_count(params);
        info.context_length = Some(*context);
        info.capabilities = Capabilities::of(&[Capability::Completion]);
        edit.replace_models(&id, vec![info]).expect("endpoint known");
    }
    edit.publish();
    registry
}

fn endpoint_of(snapshot: &Snapshot, index: InstanceIdx) -> String {
    snapshot.endpoint(snapshot.instance(index).endpoint).id.to_string()
}

fn ranked(
    selector: &Selector,
    registry: &Registry,
    models: &ModelChoice,
    category: TaskCategory,
) -> Vec<String> {
    let snapshot = registry.snapshot();
    let request = SelectRequest { models, category };
    selector
        .route(&snapshot, &request, Instant::now())
        .expect("an eligible instance")
        .into_iter()
        .map(|i| endpoint_of(&snapshot, i))
        .collect()
}

/// Records `n` warm successes with these measurements on the instance of
/// `endpoint`.
fn measure(registry: &Registry, endpoint: &str, ttft_ms: u64, tokens_per_sec: f64) {
    let snapshot = registry.snapshot();
    let index = snapshot
        .all_instances()
        .iter()
        .copied()
        .find(|&i| endpoint_of(&snapshot, i) == endpoint)
        .expect("the endpoint has an instance");
    for _ in 0..5 {
        let mut outcome = Outcome::success()
            .with_latency(Duration::from_secs(2))
            .with_ttft(Duration::from_millis(ttft_ms));
        outcome.tokens_per_sec = Some(tokens_per_sec);
        let now = Instant::now();
        snapshot.instance(index).begin(now).expect("the breaker admits").finish(&outcome, now);
    }
}

#[tokio::test(start_paused = true)]
async fn fastest_follows_measured_speed_and_ttft() {
    let registry = fleet(&[
        ("slow", "m:7b", "7B", 8192),
        ("quick", "m:7b", "7B", 8192),
        ("new", "m:7b", "7B", 8192),
    ]);
    measure(&registry, "slow", 400, 15.0);
    measure(&registry, "quick", 100, 120.0);
    let order =
        ranked(&Selector::new(Select::Fastest), &registry, &ModelChoice::Any, TaskCategory::Coding);
    // quick: 0.1 + 500/120 ≈ 4.3 s; unmeasured: priors 1 + 25 = 26 s + cold; slow: 0.4 + 33 s.
    assert_eq!(order, ["quick", "new", "slow"]);
}

#[tokio::test(start_paused = true)]
async fn capable_prefers_size_then_context_then_affinity() {
    let registry = fleet(&[
        ("tiny", "tiny:1b", "1B", 131_072),
        ("big", "big:32b", "32B", 8192),
        ("mid-long", "mid:14b", "14B", 131_072),
        ("mid-short", "mid2:14b", "14B", 4096),
    ]);
    let order =
        ranked(&Selector::new(Select::Capable), &registry, &ModelChoice::Any, TaskCategory::Coding);
    assert_eq!(order, ["big", "mid-long", "mid-short", "tiny"]);

    // A mid model that keeps failing its coding tasks falls behind its twin.
    let snapshot = registry.snapshot();
    let long = snapshot
        .all_instances()
        .iter()
        .copied()
        .find(|&i| endpoint_of(&snapshot, i) == "mid-long")
        .unwrap();
    for _ in 0..20 {
        let mut outcome = Outcome::success().with_category(TaskCategory::Coding);
        outcome.quality = Some(0.0);
        let now = Instant::now();
        snapshot.instance(long).begin(now).unwrap().finish(&outcome, now);
    }
    let order =
        ranked(&Selector::new(Select::Capable), &registry, &ModelChoice::Any, TaskCategory::Coding);
    assert_eq!(order[..2], ["big", "mid-short"]);
    // Other categories are unaffected.
    let order = ranked(
        &Selector::new(Select::Capable),
        &registry,
        &ModelChoice::Any,
        TaskCategory::Documentation,
    );
    assert_eq!(order[..2], ["big", "mid-long"]);
}

#[tokio::test(start_paused = true)]
async fn round_robin_rotates_over_the_eligible() {
    let registry = fleet(&[("a", "m", "7B", 8192), ("b", "m", "7B", 8192), ("c", "m", "7B", 8192)]);
    let selector = Selector::new(Select::RoundRobin);
    let firsts: Vec<String> = (0..6)
        .map(|_| ranked(&selector, &registry, &ModelChoice::Any, TaskCategory::Coding)[0].clone())
        .collect();
    assert_eq!(firsts, ["a", "b", "c", "a", "b", "c"]);
}

#[tokio::test(start_paused = true)]
async fn eligibility_filters_models_health_and_embeddings() {
    let registry = fleet(&[
        ("a", "coder:7b", "7B", 8192),
        ("b", "chat:3b", "3B", 8192),
        ("down", "coder:7b", "7B", 8192),
    ]);
    registry
        .set_health(
            &EndpointId::new("down"),
            Health::unhealthy("connection refused", Instant::now()),
        )
        .unwrap();
    let mut edit = registry.edit();
    let embed_id = EndpointId::new("embed");
    edit.upsert_endpoint(EndpointSpec::new(embed_id.clone(), "embed.lan".parse().unwrap()))
        .unwrap();
    let mut embed = ModelInfo::new("nomic-embed-text".parse().unwrap());
    embed.capabilities = Capabilities::of(&[Capability::Embedding]);
    edit.replace_models(&embed_id, vec![embed]).unwrap();
    edit.publish();

    let selector = Selector::new(Select::Capable);
    assert_eq!(ranked(&selector, &registry, &ModelChoice::Any, TaskCategory::Coding), ["a", "b"]);
    let coder = ModelChoice::Pinned("coder:7b".parse().unwrap());
    assert_eq!(ranked(&selector, &registry, &coder, TaskCategory::Coding), ["a"]);
    let listed = ModelChoice::AllowList(vec!["chat:3b".to_owned(), "nomic-embed-text".to_owned()]);
    assert_eq!(ranked(&selector, &registry, &listed, TaskCategory::Coding), ["b"]);

    let snapshot = registry.snapshot();
    let missing = ModelChoice::AllowList(vec!["nope".to_owned()]);
    let err = selector
        .route(
            &snapshot,
            &SelectRequest { models: &missing, category: TaskCategory::Coding },
            Instant::now(),
        )
        .unwrap_err();
    assert!(!err.temporary);
    assert!(err.reason.contains("nope"), "{err}");

    registry
        .set_health(&EndpointId::new("a"), Health::unhealthy("refused", Instant::now()))
        .unwrap();
    let err = selector
        .route(
            &registry.snapshot(),
            &SelectRequest { models: &coder, category: TaskCategory::Coding },
            Instant::now(),
        )
        .unwrap_err();
    assert!(err.temporary, "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_closure_is_a_route() {
    let registry = fleet(&[("a", "m", "7B", 8192), ("b", "m", "7B", 8192)]);
    let last_first = |snapshot: &Snapshot, _: &SelectRequest<'_>, _: Instant| {
        let mut all = snapshot.all_instances().to_vec();
        all.reverse();
        Ok(all)
    };
    let snapshot = registry.snapshot();
    let request = SelectRequest { models: &ModelChoice::Any, category: TaskCategory::General };
    let order = last_first.route(&snapshot, &request, Instant::now()).unwrap();
    assert_eq!(endpoint_of(&snapshot, order[0]), "b");
}
