//! Waiting for capacity, deadlines, cancellation and refusals.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use om_core::{Capabilities, Capability, ErrorKind, ModelChoice, TimeoutPhase};
use om_orchestrator::{Options, Progress, Settings};
use om_sim::Faults;
use parking_lot::Mutex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::support::{Harness, Node, PROMPT, limit, model, refused_addr, settings, task};

#[tokio::test(start_paused = true)]
async fn busy_everywhere_waits_then_succeeds_when_capacity_frees() {
    let busy = || Node::Sim(Faults::default().with_busy_rate(1.0));
    // One attempt of budget: busy answers must not spend it.
    let h = Harness::start(vec![busy(), busy()], Settings { max_attempts: 1, ..settings() });
    let controls = [h.sim(0).control().clone(), h.sim(1).control().clone()];
    let progress = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&progress);
    let options = Options::default().with_progress(move |p| seen.lock().push(p.clone()));
    let start = Instant::now();
    let free = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        controls[1].clear_faults();
    };
    let (result, ()) = tokio::join!(h.fleet.execute_with(&task("t"), options), free);
    let result = result.expect("waits for capacity instead of failing");
    assert_eq!(result.output, PROMPT);
    assert_eq!(result.endpoint.as_str(), "b");
    assert!(start.elapsed() >= Duration::from_millis(700));
    let busy_attempts = result.attempts.iter().filter(|a| !a.is_ok()).count();
    assert!(busy_attempts >= 4, "{:?}", result.attempts);
    assert!(
        result.attempts.iter().filter_map(|a| a.error.as_ref()).all(|e| e.kind == ErrorKind::Busy)
    );
    // Cooldowns pace the retries: one try per endpoint per 200 ms cooldown
    // (rounds at 0, 200, 400, 600 and 800 ms, when `b` serves).
    assert!(busy_attempts <= 2 * 5, "{busy_attempts} busy attempts");
    assert!(progress.lock().contains(&Progress::Waiting));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn busy_without_waiting_fails_with_busy() {
    let busy = || Node::Sim(Faults::default().with_busy_rate(1.0));
    let h = Harness::start(vec![busy(), busy()], Settings { retry_on_busy: false, ..settings() });
    let failure = h.fleet.execute(&task("t")).await.expect_err("busy");
    assert_eq!(failure.kind(), ErrorKind::Busy);
    assert_eq!(failure.attempts.len(), 1);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn tasks_queue_for_an_endpoint_permit() {
    let fixed = Settings { adaptive_concurrency: false, max_concurrency: limit(1), ..settings() };
    let h = Harness::start(vec![Node::Sim(Faults::default())], fixed);
    let a = task("a");
    let b = task("b");
    let c = task("c");
    let (ra, rb, rc) = tokio::join!(h.fleet.execute(&a), h.fleet.execute(&b), h.fleet.execute(&c));
    let mut results = [ra.unwrap(), rb.unwrap(), rc.unwrap()];
    for r in &results {
        assert_eq!(r.output, PROMPT);
        assert_eq!(r.attempts.len(), 1, "waiting for a permit is not an attempt");
    }
    // One permit: the requests ran one after another, never overlapping.
    results.sort_by_key(|r| r.attempts[0].offset);
    for pair in results.windows(2) {
        let first = &pair[0].attempts[0];
        assert!(pair[1].attempts[0].offset >= first.offset + first.latency, "{pair:?}");
    }
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn endpoint_concurrency_admits_that_many_at_once() {
    let h = Harness::start(
        vec![Node::Sim(Faults::default())],
        Settings { max_concurrency: limit(2), adaptive_concurrency: false, ..settings() },
    );
    // The builder gave the endpoint the fleet's default limit.
    let snapshot = h.registry.snapshot();
    assert_eq!(snapshot.endpoints()[0].max_concurrency, Some(limit(2)));
    let (x, y) = tokio::join!(h.fleet.execute(&task("x")), h.fleet.execute(&task("y")));
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x.attempts[0].offset, y.attempts[0].offset, "both start at once");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_deadline_ends_a_hanging_task_with_a_total_timeout() {
    let h = Harness::start(
        vec![Node::Sim(Faults::default().with_hang_before_first_byte(true))],
        settings(),
    );
    let mut t = task("t");
    t.timeout = Some(Duration::from_millis(500));
    let start = Instant::now();
    let failure = h.fleet.execute(&t).await.expect_err("out of time");
    assert_eq!(failure.kind(), ErrorKind::Timeout(TimeoutPhase::Total));
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(500) && elapsed < Duration::from_millis(600),
        "{elapsed:?}"
    );
    assert_eq!(failure.attempts.len(), 1);
    // Running out of the task's own time says nothing about the instance.
    let snapshot = h.registry.snapshot();
    let index = snapshot.find_instance(&"a".into(), &model()).unwrap();
    let stats = snapshot.instance(index).live.stats();
    assert_eq!((stats.success_rate, stats.in_flight), (None, 0));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_overall_deadline_bounds_the_wait_for_capacity() {
    let h = Harness::start(vec![Node::Sim(Faults::default().with_busy_rate(1.0))], settings());
    let options = Options::default().with_deadline(Instant::now() + Duration::from_millis(450));
    let failure = h.fleet.execute_with(&task("t"), options).await.expect_err("never free");
    assert_eq!(failure.kind(), ErrorKind::Timeout(TimeoutPhase::Total));
    assert!(failure.error.message().contains("waiting for capacity"), "{}", failure.error);
    assert!(failure.attempts.len() >= 2);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_default_task_timeout_applies_to_tasks_without_one() {
    let h = Harness::start(
        vec![Node::Sim(Faults::default().with_hang_before_first_byte(true))],
        Settings { task_timeout: Some(Duration::from_millis(300)), ..settings() },
    );
    let failure = h.fleet.execute(&task("t")).await.expect_err("out of time");
    assert_eq!(failure.kind(), ErrorKind::Timeout(TimeoutPhase::Total));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_token_cancels_a_running_task_and_frees_its_permit() {
    let h = Harness::start(
        vec![Node::Sim(Faults::default().with_hang_before_first_byte(true))],
        settings(),
    );
    let token = CancellationToken::new();
    let cancel = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        token.cancel();
    };
    let options = Options::default().with_cancel(token.clone());
    let (result, ()) = tokio::join!(h.fleet.execute_with(&task("t"), options), cancel);
    let failure = result.expect_err("cancelled");
    assert_eq!(failure.kind(), ErrorKind::Canceled);
    // The permit is back: another task gets the endpoint (and is served
    // once the fault is gone).
    h.sim(0).control().clear_faults();
    let result = h.fleet.execute(&task("u")).await.expect("the endpoint is free");
    assert_eq!(result.output, PROMPT);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn dropping_a_task_or_its_stream_releases_the_endpoint() {
    let h = Harness::start(vec![Node::Sim(Faults::default())], settings());
    let dropped =
        tokio::time::timeout(Duration::from_millis(30), h.fleet.execute(&task("t"))).await;
    assert!(dropped.is_err(), "the task was still running");

    let mut stream = h.fleet.execute_stream(&task("s")).await.expect("stream");
    let first = stream.next().await.expect("a chunk").expect("ok");
    assert!(!first.done);
    drop(stream);

    let snapshot = h.registry.snapshot();
    let index = snapshot.find_instance(&"a".into(), &model()).unwrap();
    assert_eq!(snapshot.instance(index).live.in_flight(), 0);
    let result = h.fleet.execute(&task("u")).await.expect("the permit is back");
    assert_eq!(result.attempts.len(), 1);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_stream_past_its_deadline_ends_with_a_partial_timeout() {
    let h = Harness::start(vec![Node::Sim(Faults::default())], settings());
    let mut t = task("t");
    // The echo takes 120 ms of virtual time; the deadline cuts it.
    t.timeout = Some(Duration::from_millis(60));
    let mut stream = h.fleet.execute_stream(&t).await.expect("first chunk in time");
    let mut last = None;
    while let Some(item) = stream.next().await {
        last = Some(item);
    }
    let error = last.expect("items").expect_err("cut off");
    assert_eq!(error.kind(), ErrorKind::Timeout(TimeoutPhase::Total));
    assert!(error.is_partial());
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn no_route_fails_at_once_naming_what_was_asked() {
    let h = Harness::start(vec![Node::Sim(Faults::default())], settings());
    let mut missing = task("m");
    missing.model = ModelChoice::Pinned("nonexistent:1b".parse().unwrap());
    let start = Instant::now();
    let failure = h.fleet.execute(&missing).await.expect_err("no such model");
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(failure.kind(), ErrorKind::NoBackend);
    assert!(failure.attempts.is_empty());
    assert_eq!(failure.error.message(), "no endpoint has model nonexistent:1b for task m");
    assert_eq!(failure.error.model(), Some("nonexistent:1b"));

    let mut vision = task("v");
    vision.requires = Capabilities::of(&[Capability::Vision]);
    let failure = h.fleet.execute_stream(&vision).await.expect_err("no vision model");
    assert_eq!(failure.kind(), ErrorKind::NoBackend);
    let message = failure.error.message();
    assert!(
        message.starts_with("no instance can serve model llama3.2:latest with vision for task v"),
        "{message}"
    );
    assert!(message.contains("missing capability: 1"), "{message}");

    // An endpoint that is down fails at once too, and says why.
    let down = om_registry::Health::unhealthy("connection refused", Instant::now());
    h.registry.set_health(&"a".into(), down).unwrap();
    let failure = h.fleet.execute(&task("u")).await.expect_err("the only endpoint is down");
    assert_eq!(failure.kind(), ErrorKind::NoBackend);
    let message = failure.error.message();
    assert!(message.contains("(unhealthy: 1)"), "{message}");
    assert!(message.ends_with("; unreachable: a (connection refused)"), "{message}");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_unprobed_endpoint_is_waited_for() {
    let h = Harness::start(vec![Node::Sim(Faults::default())], settings());
    // A second endpoint discovery has not probed yet: the task waits for it
    // rather than failing, until its deadline.
    h.registry
        .upsert_endpoint(om_registry::EndpointSpec::new(
            "late".into(),
            refused_addr().to_string().parse().unwrap(),
        ))
        .unwrap();
    let mut missing = task("m");
    missing.model = ModelChoice::Pinned("qwen2.5-coder:14b".parse().unwrap());
    missing.timeout = Some(Duration::from_millis(200));
    let registry = h.registry.clone();
    let probe = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut info = om_registry::ModelInfo::new("qwen2.5-coder:14b".parse().unwrap());
        info.context_length = Some(32_768);
        registry.replace_models(&"late".into(), vec![info]).unwrap();
        registry.set_health(&"late".into(), om_registry::Health::Healthy).unwrap();
    };
    let (result, ()) = tokio::join!(h.fleet.execute(&missing), probe);
    // Found at 50 ms; nothing listens there, so the attempts fail to connect.
    let failure = result.expect_err("nothing listens at the late endpoint");
    assert_eq!(failure.kind(), ErrorKind::Connect);
    assert_eq!(failure.attempts[0].endpoint.as_str(), "late");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_stream_ends_it_with_a_partial_cancellation() {
    let h = Harness::start(vec![Node::Sim(Faults::default())], settings());
    let token = CancellationToken::new();
    let options = Options::default().with_cancel(token.clone());
    let mut stream = h.fleet.execute_stream_with(&task("t"), options).await.expect("stream");
    assert!(stream.next().await.expect("a chunk").is_ok());
    token.cancel();
    let error = stream.next().await.expect("the end").expect_err("cancelled");
    assert_eq!(error.kind(), ErrorKind::Canceled);
    assert!(error.is_partial());
    assert!(stream.next().await.is_none());
    let failure = stream.finish().await.expect_err("cancelled");
    assert!(!failure.output.is_empty() && PROMPT.starts_with(&failure.output));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_batch_over_a_faulty_fleet_finishes_every_task_exactly_once() {
    let h = Harness::start(
        vec![
            Node::Sim(Faults::default().with_error_rate(0.5)),
            Node::Sim(Faults::default().with_disconnect_after_tokens(5)),
            Node::Sim(Faults::default()),
        ],
        Settings { max_concurrency: limit(2), max_attempts: 5, ..settings() },
    );
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let mut t = task(&format!("t{i}"));
            t.prompt = om_core::Prompt::Text(format!("{PROMPT} number {i}"));
            t
        })
        .collect();
    let results = futures_util::future::join_all(tasks.iter().map(|t| h.fleet.execute(t))).await;
    for (t, result) in tasks.iter().zip(results) {
        let result = result.unwrap_or_else(|e| panic!("{}: {e:?}", t.id));
        assert_eq!(result.task, t.id);
        assert_eq!(result.output, t.prompt.text(), "{}: its own answer, whole", t.id);
        assert!(result.attempts.last().is_some_and(om_orchestrator::Attempt::is_ok));
        assert!(result.attempts.iter().rev().skip(1).all(|a| !a.is_ok()));
    }
    let metrics = h.fleet.metrics().snapshot();
    let tasks_stats =
        &metrics.category(Some(om_core::TaskCategory::General)).expect("general").tasks;
    assert_eq!((tasks_stats.started, tasks_stats.succeeded, tasks_stats.failed), (30, 30, 0));
    h.stop().await;
}
