//! `Fleet::from_config`: the composition root from a loaded configuration.

use std::time::Duration;

use om_core::ErrorKind;
use om_orchestrator::Fleet;
use tokio_util::sync::CancellationToken;

use crate::support::{PROMPT, VirtualClock, fast, task};

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
    config.routing.max_fallbacks = 7;
    config.routing.cooldown = Duration::from_millis(750);
    config.breaker.failure_threshold = 9;

    let (fleet, workers) = Fleet::from_config(&config).expect("valid");
    let snapshot = fleet.registry().snapshot();
    // Learned limits start at endpoint_concurrency, under each ceiling: the
    // endpoint's own max_concurrency, else max_endpoint_concurrency.
    let limits: Vec<(String, u32, Option<u32>, f64)> = snapshot
        .endpoints()
        .iter()
        .map(|e| {
            (
                e.id.to_string(),
                e.capacity(),
                e.max_concurrency.map(std::num::NonZero::get),
                e.weight,
            )
        })
        .collect();
    assert_eq!(
        limits,
        [
            ("127.0.0.1:11434".to_owned(), 2, Some(64), 1.0),
            ("gpu-box:11500".to_owned(), 2, Some(4), 2.0)
        ]
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
    assert_eq!(fleet.router().config().max_fallbacks, 7);
    let registry = fleet.registry().config();
    assert_eq!(
        (registry.cooldown, registry.breaker.failure_threshold),
        (Duration::from_millis(750), 9)
    );
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

/// A configuration over `sims`, with short time limits.
fn config_for(urls: &[String]) -> om_config::Config {
    let endpoints =
        urls.iter().map(|u| om_config::Endpoint::new(u.parse().expect("sim URL"))).collect();
    let mut config = om_config::Config { endpoints, ..om_config::Config::default() };
    config.timeouts.first_byte = Duration::from_secs(2);
    config.timeouts.idle = Duration::from_secs(1);
    config.retry.initial_backoff = Duration::from_millis(10);
    config.retry.max_backoff = Duration::from_millis(40);
    config
}

#[tokio::test(start_paused = true)]
async fn a_configured_fleet_discovers_its_endpoints_and_executes() {
    let _clock = VirtualClock::start(Duration::from_millis(5));
    let sim = om_sim::spawn(fast());
    let (fleet, workers) = Fleet::from_config(&config_for(&[sim.url()])).expect("valid");
    assert_eq!(workers.names(), ["discovery", "discovery_events"]);
    let mut events = fleet.metrics().subscribe();

    let report = workers.probe_all().await.expect("discovery is configured");
    assert!(report.is_any_up());
    let shutdown = CancellationToken::new();
    let background = tokio::spawn(workers.run(shutdown.clone()));

    let result = fleet.execute(&task("t")).await.expect("served");
    assert_eq!(result.output, PROMPT);
    assert_eq!(result.endpoint.as_str(), sim.addr().to_string());
    // Discovery's events (from the probe before the workers ran, too)
    // reach the metrics' stream beside the task's own.
    let (mut up, mut finished) = (false, false);
    while !(up && finished) {
        match events.recv().await.expect("an event") {
            om_metrics::Event::Fleet(om_core::FleetEvent::EndpointUp { .. }) => up = true,
            om_metrics::Event::TaskFinished(record) => finished = record.outcome.is_ok(),
            _ => {}
        }
    }

    shutdown.cancel();
    background.await.expect("workers stop");
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_task_submitted_before_the_first_probe_waits_for_it() {
    let _clock = VirtualClock::start(Duration::from_millis(5));
    let sim = om_sim::spawn(fast());
    let (fleet, workers) = Fleet::from_config(&config_for(&[sim.url()])).expect("valid");
    let shutdown = CancellationToken::new();
    let run = workers.run(shutdown.clone());
    let mut t = task("t");
    t.timeout = Some(Duration::from_secs(5));
    let work = async {
        let result = fleet.execute(&t).await;
        shutdown.cancel();
        result
    };
    let (result, ()) = tokio::join!(work, run);
    assert_eq!(result.expect("served once discovered").output, PROMPT);
    sim.stop().await;
}
