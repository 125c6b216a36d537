//! Outcomes land in the registry (the routing truth) and the metrics
//! (observability), and the breaker opens on repeated faults.

use std::time::Duration;

use om_core::{EndpointId, ErrorKind, TaskCategory};
use om_metrics::BreakerState;
use om_orchestrator::Settings;
use om_registry::BreakerConfig;
use om_sim::Faults;

use crate::support::{Harness, Node, PROMPT, model, registry_config, settings, task};

#[tokio::test(start_paused = true)]
async fn outcomes_land_in_the_registry_and_the_metrics() {
    let h = Harness::start(
        vec![Node::Sim(Faults::default().with_error_rate(1.0)), Node::Sim(Faults::default())],
        settings(),
    );
    let mut t = task("t");
    t.category = Some(TaskCategory::Coding);
    for _ in 0..3 {
        let result = h.fleet.execute(&t).await.expect("served by b");
        assert_eq!(result.output, PROMPT);
        assert_eq!(result.category, TaskCategory::Coding);
        assert!(result.tokens_per_sec.is_some_and(|r| r > 0.0));
    }

    let snapshot = h.registry.snapshot();
    let (a, b) = (EndpointId::new("a"), EndpointId::new("b"));
    let stats = |endpoint: &EndpointId| {
        let index = snapshot.find_instance(endpoint, &model()).expect("instance");
        snapshot.instance(index).live.stats()
    };
    let (sa, sb) = (stats(&a), stats(&b));
    assert_eq!((sa.outcomes, sa.success_rate), (3, Some(0.0)));
    assert_eq!((sb.outcomes, sb.success_rate), (3, Some(1.0)));
    assert!(sb.latency.is_some() && sb.ttft.is_some() && sb.tokens_per_sec.is_some(), "{sb:?}");
    assert_eq!(sa.latency, None, "failures do not move the latency estimate");
    assert_eq!((sa.in_flight, sb.in_flight), (0, 0));
    let model_index = snapshot.find_model(&model()).expect("model");
    let affinity = snapshot.model(model_index).live.affinity(TaskCategory::Coding);
    assert_eq!(affinity.trials, 6, "three successes and three upstream faults");

    let metrics = h.fleet.metrics().snapshot();
    let ma = &metrics.instance(&a, &model()).expect("a recorded").stats;
    let mb = &metrics.instance(&b, &model()).expect("b recorded").stats;
    assert_eq!((ma.requests, ma.failures, ma.errors["upstream"]), (3, 3, 3));
    assert_eq!((mb.requests, mb.successes, mb.output_tokens), (3, 3, 36));
    assert_eq!((ma.in_flight, mb.in_flight), (0, 0));
    let coding = metrics.category(Some(TaskCategory::Coding)).expect("coding");
    assert_eq!((coding.tasks.started, coding.tasks.succeeded), (3, 3));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn failed_tasks_are_recorded_with_their_kind() {
    let h = Harness::start(vec![Node::Refused], Settings { max_attempts: 2, ..settings() });
    let failure = h.fleet.execute(&task("t")).await.expect_err("nothing listens");
    assert_eq!(failure.kind(), ErrorKind::Connect);
    assert_eq!(failure.attempts.len(), 2);
    let metrics = h.fleet.metrics().snapshot();
    let category = metrics.category(Some(failure.category)).expect("category");
    assert_eq!((category.tasks.failed, category.tasks.errors["connect"]), (1, 1));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn repeated_faults_open_the_breaker_and_routing_avoids_the_instance() {
    let h = Harness::start_with(
        vec![Node::Sim(Faults::default().with_error_rate(1.0)), Node::Sim(Faults::default())],
        settings(),
        om_registry::Config {
            breaker: BreakerConfig {
                failure_threshold: 2,
                open_timeout: Duration::from_secs(30),
                ..BreakerConfig::default()
            },
            ..registry_config()
        },
    );
    let registry = h.fleet.registry().clone();
    for id in ["t1", "t2", "t3"] {
        h.fleet.execute(&task(id)).await.expect("served by b");
    }
    let snapshot = registry.snapshot();
    let index = snapshot.find_instance(&"a".into(), &model()).expect("instance");
    let stats = snapshot.instance(index).live.stats();
    assert!(matches!(stats.breaker, om_registry::BreakerState::Open { .. }), "{:?}", stats.breaker);
    assert_eq!(stats.outcomes, 2, "the open breaker keeps the third task away");
    let metrics = h.fleet.metrics().snapshot();
    let a = metrics.instance(&"a".into(), &model()).expect("a");
    assert_eq!(a.breaker, Some(BreakerState::Open));
    assert_eq!(a.breaker_transitions.open, 1);
    h.stop().await;
}
