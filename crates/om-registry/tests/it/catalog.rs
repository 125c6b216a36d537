//! Catalog writes: what each reports as changed, and what it publishes.

use std::time::Duration;

use om_core::TaskCategory;
use om_registry::{Change, Config, Error, Health, InstanceId, Outcome, Registry};
use tokio::time::Instant;

use crate::support::{id, instance, loaded, model, name, spec, two_endpoints};

#[test]
fn adding_an_endpoint_with_models_reports_each_change() {
    let registry = Registry::new(Config::default());
    let mut edit = registry.edit();
    edit.upsert_endpoint(spec("a")).unwrap();
    edit.set_health(&id("a"), Health::Healthy).unwrap();
    edit.set_version(&id("a"), "0.12.3").unwrap();
    edit.replace_models(&id("a"), vec![model("llama3.2", "llama")]).unwrap();
    edit.set_loaded(&id("a"), vec![loaded("llama3.2")]).unwrap();
    let changes = edit.publish();
    let instance = InstanceId::new(id("a"), name("llama3.2"));
    assert_eq!(
        changes,
        [
            Change::EndpointAdded { endpoint: id("a") },
            Change::EndpointUp { endpoint: id("a") },
            Change::EndpointUpdated { endpoint: id("a") },
            Change::ModelAdded { instance: instance.clone() },
            Change::ModelLoaded { instance },
        ]
    );
    let snapshot = registry.snapshot();
    assert_eq!(snapshot.generation(), 1, "one edit, one publication");
    let endpoint = &snapshot.endpoints()[0];
    assert_eq!(endpoint.version.as_deref(), Some("0.12.3"));
    assert!(snapshot.instances()[0].loaded.is_some());
}

#[test]
fn writes_that_change_nothing_publish_nothing() {
    let registry = two_endpoints(Config::default());
    let before = registry.snapshot().generation();
    assert_eq!(registry.upsert_endpoint(spec("a")).unwrap(), []);
    assert_eq!(registry.set_health(&id("a"), Health::Healthy).unwrap(), []);
    assert_eq!(registry.replace_models(&id("a"), vec![model("llama3.2", "llama")]).unwrap(), []);
    assert_eq!(registry.set_loaded(&id("a"), vec![]).unwrap(), []);
    assert_eq!(registry.snapshot().generation(), before);
}

#[test]
fn replacing_models_diffs_and_keeps_live_state_of_survivors() {
    let registry = two_endpoints(Config::default());
    let snapshot = registry.snapshot();
    let llama = snapshot.instance(instance(&snapshot, "b", "llama3.2"));
    llama.live.record(&Outcome::success().with_latency(Duration::from_secs(1)), Instant::now());

    let mut updated = model("llama3.2", "llama");
    updated.digest = "f".repeat(64);
    let changes =
        registry.replace_models(&id("b"), vec![updated, model("mistral", "llama")]).unwrap();
    let on_b = |m: &str| InstanceId::new(id("b"), name(m));
    assert_eq!(
        changes,
        [
            Change::ModelRemoved { instance: on_b("qwen2.5-coder:7b") },
            Change::ModelUpdated { instance: on_b("llama3.2") },
            Change::ModelAdded { instance: on_b("mistral") },
        ]
    );
    let after = registry.snapshot();
    let llama_after = after.instance(instance(&after, "b", "llama3.2"));
    assert_eq!(llama_after.info.digest, "f".repeat(64));
    assert_eq!(llama_after.live.stats().outcomes, 1, "live state survives an update");
    assert!(after.find_instance(&id("b"), &name("qwen2.5-coder:7b")).is_none());
}

#[test]
fn loaded_set_reports_loads_and_unloads() {
    let registry = two_endpoints(Config::default());
    registry.set_loaded(&id("b"), vec![loaded("llama3.2")]).unwrap();
    let changes = registry.set_loaded(&id("b"), vec![loaded("qwen2.5-coder:7b")]).unwrap();
    let on_b = |m: &str| InstanceId::new(id("b"), name(m));
    assert_eq!(
        changes,
        [
            Change::ModelUnloaded { instance: on_b("llama3.2") },
            Change::ModelLoaded { instance: on_b("qwen2.5-coder:7b") },
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn an_endpoint_that_stays_down_keeps_its_first_since() {
    let registry = two_endpoints(Config::default());
    let first = Instant::now();
    let changes =
        registry.set_health(&id("a"), Health::unhealthy("connection refused", first)).unwrap();
    assert_eq!(
        changes,
        [Change::EndpointDown { endpoint: id("a"), reason: "connection refused".into() }]
    );
    tokio::time::advance(Duration::from_secs(10)).await;
    let changes = registry
        .set_health(&id("a"), Health::unhealthy("not an Ollama server", Instant::now()))
        .unwrap();
    assert_eq!(changes, [], "still down: no new event");
    let snapshot = registry.snapshot();
    assert_eq!(
        snapshot.endpoints()[0].health,
        Health::Unhealthy { reason: "not an Ollama server".into(), since: first }
    );
    assert_eq!(
        registry.set_health(&id("a"), Health::Healthy).unwrap(),
        [Change::EndpointUp { endpoint: id("a") }]
    );
}

#[test]
fn removing_an_endpoint_drops_its_instances() {
    let registry = two_endpoints(Config::default());
    assert_eq!(registry.remove_endpoint(&id("b")), [Change::EndpointRemoved { endpoint: id("b") }]);
    assert_eq!(registry.remove_endpoint(&id("b")), []);
    let snapshot = registry.snapshot();
    assert_eq!(snapshot.instances().len(), 1);
    assert!(snapshot.find_model(&name("qwen2.5-coder:7b")).is_none());
}

#[test]
fn refused_writes() {
    let registry = Registry::new(Config::default());
    let err = registry.set_health(&id("ghost"), Health::Healthy).unwrap_err();
    assert_eq!(err, Error::UnknownEndpoint(id("ghost")));
    assert!(err.is_unknown());
    let mut bad = spec("a");
    bad.weight = 0.0;
    assert!(matches!(registry.upsert_endpoint(bad), Err(Error::InvalidWeight { .. })));
    let outcome = Outcome::success();
    let err = registry
        .record_outcome(&InstanceId::new(id("a"), name("x")), &outcome, Instant::now())
        .unwrap_err();
    assert!(err.is_unknown());
    let err = registry.record_reward(&name("x"), TaskCategory::Coding, 1.0).unwrap_err();
    assert!(err.is_unknown() && err.to_string().contains("x:latest"), "{err}");
}

#[test]
fn a_reward_teaches_the_model_without_counting_a_request() {
    let registry = two_endpoints(Config::default());
    let model = name("qwen2.5-coder:7b");
    registry.record_reward(&model, TaskCategory::Coding, 1.0).unwrap();
    registry.record_reward(&model, TaskCategory::Coding, 0.0).unwrap();
    registry.record_reward(&model, TaskCategory::Coding, f64::NAN).unwrap();
    let snapshot = registry.snapshot();
    let fleet_model = snapshot.model(snapshot.find_model(&model).unwrap());
    let affinity = fleet_model.live.affinity(TaskCategory::Coding);
    assert_eq!(affinity.trials, 2, "NaN is no verdict");
    assert!((affinity.reward_sum - 1.0).abs() < 1e-9);
    assert_eq!(fleet_model.live.affinity(TaskCategory::Documentation).trials, 0);
    assert_eq!(snapshot.category_trials(TaskCategory::Coding), 2);
    let outcomes: u64 = snapshot.instances().iter().map(|i| i.live.stats().outcomes).sum();
    assert_eq!(outcomes, 0);
}

#[test]
fn settings_updates_keep_models() {
    let registry = two_endpoints(Config::default());
    let mut heavier = spec("a");
    heavier.weight = 3.0;
    heavier.tags = vec!["gpu".into()];
    assert_eq!(
        registry.upsert_endpoint(heavier).unwrap(),
        [Change::EndpointUpdated { endpoint: id("a") }]
    );
    let snapshot = registry.snapshot();
    let a = &snapshot.endpoints()[0];
    assert!((a.weight - 3.0).abs() < f64::EPSILON);
    assert_eq!(snapshot.endpoint_instances(snapshot.find_endpoint(&id("a")).unwrap()).len(), 1);
}
