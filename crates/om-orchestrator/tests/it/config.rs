//! `Fleet::from_config`: the composition root from a loaded configuration.

use std::time::Duration;

use om_core::ErrorKind;
use om_orchestrator::Fleet;

#[test]
fn builds_the_configured_fleet() {
    let mut config = om_config::Config::default();
    let mut gpu = om_config::Endpoint::new("gpu-box:11500".parse().unwrap());
    gpu.max_concurrency = std::num::NonZeroUsize::new(4);
    gpu.tags = vec!["gpu".to_owned()];
    gpu.weight = 2.0;
    config.endpoints.push(gpu);
    config.routing.strategy = "least-loaded".to_owned();
    config.routing.categories.insert(om_core::TaskCategory::CodeReview, "affinity".to_owned());
    config.orchestrator.endpoint_concurrency = std::num::NonZeroUsize::new(2).unwrap();
    config.orchestrator.task_timeout = Some(Duration::from_secs(90));
    config.retry.max_attempts = 5;

    let (fleet, workers) = Fleet::from_config(&config).expect("valid");
    let snapshot = fleet.registry().snapshot();
    let limits: Vec<(String, u32, f64)> =
        snapshot.endpoints().iter().map(|e| (e.id.to_string(), e.capacity(), e.weight)).collect();
    assert_eq!(
        limits,
        [("127.0.0.1:11434".to_owned(), 2, 1.0), ("gpu-box:11500".to_owned(), 4, 2.0)]
    );
    assert_eq!(snapshot.endpoints()[1].tags, ["gpu"]);
    assert_eq!(fleet.router().strategy_for(None).name(), "least_loaded");
    assert_eq!(
        fleet.router().strategy_for(Some(om_core::TaskCategory::CodeReview)).name(),
        "affinity"
    );
    let settings = fleet.settings();
    assert_eq!((settings.max_attempts, settings.task_timeout), (5, Some(Duration::from_secs(90))));
    assert_eq!(settings.max_concurrency.get(), 2);
    drop(workers);
}

#[test]
fn an_unknown_strategy_is_a_configuration_error() {
    let mut config = om_config::Config::default();
    config.routing.strategy = "fastest".to_owned();
    let error = Fleet::from_config(&config).map(|_| ()).expect_err("unknown strategy");
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(
        error.message().starts_with("routing: unknown routing strategy \"fastest\""),
        "{}",
        error.message()
    );
}
