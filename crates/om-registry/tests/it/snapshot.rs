//! Snapshot indexes and publication.

use om_core::Capability;
use om_registry::{Config, Health, Registry};

use crate::support::{id, instance, loaded, model, name, spec, two_endpoints};

#[test]
fn indexes_by_model_family_endpoint_and_tag() {
    let registry = two_endpoints(Config::default());
    let mut tagged = spec("b");
    tagged.tags = vec!["gpu".into(), "fast".into()];
    registry.upsert_endpoint(tagged).unwrap();
    let snapshot = registry.snapshot();

    assert_eq!(snapshot.endpoints().len(), 2);
    assert_eq!(snapshot.instances().len(), 3);
    assert_eq!(snapshot.all_instances().len(), 3);
    let llama = snapshot.find_model(&name("Llama3.2:latest")).unwrap();
    assert_eq!(snapshot.model(llama).instances.len(), 2);
    assert_eq!(snapshot.family_instances("QWEN2").len(), 1);
    assert_eq!(snapshot.family_instances("llama").len(), 2);
    assert!(snapshot.family_instances("gemma").is_empty());

    let b = snapshot.find_endpoint(&id("b")).unwrap();
    let models: Vec<String> =
        snapshot.endpoint_instances(b).iter().map(|i| i.info.name.to_string()).collect();
    assert_eq!(models, ["llama3.2:latest", "qwen2.5-coder:7b"]);
    for instance in snapshot.endpoint_instances(b) {
        assert_eq!(instance.endpoint, b);
        assert_eq!(instance.id().endpoint, id("b"));
        assert!(instance.info.capabilities.has(Capability::Tools));
    }

    let gpu = snapshot.tag_set(["gpu"]).unwrap();
    assert!(snapshot.endpoint(b).has_tags(&gpu));
    let a = snapshot.find_endpoint(&id("a")).unwrap();
    assert!(!snapshot.endpoint(a).has_tags(&gpu));
    assert!(snapshot.tag_set(["tpu"]).is_none());
    assert_eq!(snapshot.endpoint(a).capacity(), 1);
}

#[test]
fn loaded_lists_and_weight_bounds_per_model_and_fleet() {
    let registry = two_endpoints(Config::default());
    let snapshot = registry.snapshot();
    assert!(snapshot.loaded_instances().is_empty());
    assert!((snapshot.max_weight() - 1.0).abs() < f64::EPSILON);

    let mut heavy = spec("b");
    heavy.weight = 3.0;
    registry.upsert_endpoint(heavy).unwrap();
    registry.set_loaded(&id("a"), vec![loaded("llama3.2")]).unwrap();
    registry.set_loaded(&id("b"), vec![loaded("qwen2.5-coder:7b"), loaded("llama3.2")]).unwrap();
    let snapshot = registry.snapshot();
    let all = [
        instance(&snapshot, "a", "llama3.2"),
        instance(&snapshot, "b", "llama3.2"),
        instance(&snapshot, "b", "qwen2.5-coder:7b"),
    ];
    assert_eq!(snapshot.loaded_instances(), all);
    let llama = snapshot.model(snapshot.find_model(&name("llama3.2")).unwrap());
    assert_eq!(llama.loaded, all[..2]);
    assert!((llama.max_weight - 3.0).abs() < f64::EPSILON);
    assert!((snapshot.max_weight() - 3.0).abs() < f64::EPSILON);

    registry.set_loaded(&id("b"), vec![]).unwrap();
    let snapshot = registry.snapshot();
    let llama = snapshot.model(snapshot.find_model(&name("llama3.2")).unwrap());
    assert_eq!(llama.loaded, [instance(&snapshot, "a", "llama3.2")]);
    assert_eq!(snapshot.loaded_instances(), llama.loaded);
}

#[tokio::test]
async fn subscribers_see_each_publication() {
    let registry = Registry::new(Config::default());
    let mut updates = registry.subscribe();
    registry.upsert_endpoint(spec("a")).unwrap();
    updates.changed().await.unwrap();
    let seen = std::sync::Arc::clone(&updates.borrow_and_update());
    assert_eq!(seen.generation(), 1);
    assert_eq!(seen.endpoints()[0].health, Health::Unknown);
    registry.replace_models(&id("a"), vec![model("x", "llama")]).unwrap();
    updates.changed().await.unwrap();
    assert_eq!(updates.borrow_and_update().instances().len(), 1);
}

#[test]
fn old_snapshots_stay_as_they_were() {
    let registry = two_endpoints(Config::default());
    let old = registry.snapshot();
    registry.remove_endpoint(&id("a"));
    assert_eq!(old.endpoints().len(), 2);
    assert_eq!(registry.snapshot().endpoints().len(), 1);
}
