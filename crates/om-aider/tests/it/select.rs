//! The session costs from the registry: fastest and most capable. (The
//! router applies eligibility and round-robin; the binary's tests cover
//! that path.)

use std::time::Duration;

use om_aider::{Select, cost};
use om_core::{Capabilities, Capability, EndpointId, TaskCategory};
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

/// Every instance's endpoint, cheapest first.
fn ranked(select: Select, registry: &Registry, category: TaskCategory) -> Vec<String> {
    let snapshot = registry.snapshot();
    let now = snapshot.ticks(Instant::now());
    let mut costed: Vec<(f64, String)> = snapshot
        .all_instances()
        .iter()
        .map(|&i| (cost(select, &snapshot, i, category, now), endpoint_of(&snapshot, i)))
        .collect();
    costed.sort_by(|a, b| a.0.total_cmp(&b.0));
    costed.into_iter().map(|(_, endpoint)| endpoint).collect()
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
    let order = ranked(Select::Fastest, &registry, TaskCategory::Coding);
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
    let order = ranked(Select::Capable, &registry, TaskCategory::Coding);
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
    let order = ranked(Select::Capable, &registry, TaskCategory::Coding);
    assert_eq!(order[..2], ["big", "mid-short"]);
    // Other categories are unaffected.
    let order = ranked(Select::Capable, &registry, TaskCategory::Documentation);
    assert_eq!(order[..2], ["big", "mid-long"]);
}
