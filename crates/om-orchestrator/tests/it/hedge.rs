//! Hedging a straggler: a task streaming slowly on `a` while the much
//! faster `b` is free gets a second attempt on `b`; the first whole answer
//! wins and the other attempt is stopped, its pace recorded.

use std::time::Duration;

use om_core::ErrorKind;
use om_core::wire::Options;
use om_orchestrator::Settings;
use om_sim::Faults;
use om_sim::reply::ReplyMode;

use crate::support::{Harness, Node, model, settings, task};

/// Tokens each test task asks for.
const TOKENS: i64 = 100;

/// A simulator generating filler at `rate` tokens per second.
fn at(rate: f64, faults: Faults) -> Node {
    Node::Spec(Box::new(
        om_sim::EndpointSpec::default()
            .with_load_time(Duration::from_millis(5))
            .with_ttft(Duration::from_millis(5))
            .with_tokens_per_sec(rate)
            .with_reply(ReplyMode::Lorem)
            .with_faults(faults),
    ))
}

/// A task asking for [`TOKENS`] tokens.
fn long_task(id: &str) -> om_core::Task {
    let mut task = task(id);
    task.options = Some(Options::default().with("num_predict", TOKENS));
    task
}

#[tokio::test(start_paused = true)]
async fn a_straggler_is_hedged_on_a_free_fast_instance() {
    // `a` is preferred and takes the task; at 10 tokens/s its answer (up
    // to 100 tokens) takes seconds. `b` does it in a fraction of one.
    let h =
        Harness::start(vec![at(10.0, Faults::default()), at(200.0, Faults::default())], settings());
    let result = h.fleet.execute(&long_task("t")).await.expect("the task succeeds");
    assert_eq!(result.endpoint.as_str(), "b", "the hedge on b finished first");
    assert!(result.metrics.eval_count.is_some_and(|n| n > 20), "b's whole answer");
    assert_eq!(result.attempts.len(), 2, "{:?}", result.attempts);
    let stopped = &result.attempts[0];
    assert_eq!((stopped.endpoint.as_str(), stopped.number), ("a", 1));
    assert_eq!(stopped.error.as_ref().map(|e| e.kind), Some(ErrorKind::Canceled));
    assert_eq!(result.attempts[1].number, 2);
    assert!(result.elapsed < Duration::from_secs(3), "took {:?}", result.elapsed);
    // The stopped attempt measured a's pace: routing now knows it is slow.
    let snapshot = h.registry.snapshot();
    let a = snapshot.find_instance(&"a".into(), &model()).expect("instance a");
    let rate = snapshot.instance(a).live.stats().tokens_per_sec.expect("a's pace recorded");
    assert!((5.0..20.0).contains(&rate), "a streamed at about 10 tokens/s, recorded {rate}");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn without_hedging_the_straggler_runs_to_its_end() {
    let settings = Settings { hedge: false, ..settings() };
    let h =
        Harness::start(vec![at(10.0, Faults::default()), at(200.0, Faults::default())], settings);
    let result = h.fleet.execute(&long_task("t")).await.expect("the task succeeds");
    assert_eq!(result.endpoint.as_str(), "a");
    assert_eq!(result.attempts.len(), 1);
    assert!(result.elapsed >= Duration::from_secs(4), "took {:?}", result.elapsed);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn instances_of_about_the_same_speed_are_not_hedged() {
    let h =
        Harness::start(vec![at(80.0, Faults::default()), at(100.0, Faults::default())], settings());
    let result = h.fleet.execute(&long_task("t")).await.expect("the task succeeds");
    assert_eq!((result.endpoint.as_str(), result.attempts.len()), ("a", 1));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_hedge_leaves_the_first_attempt_running() {
    // b breaks mid-stream: its partial answer is dropped and a's whole
    // answer is the result; the budget is untouched.
    let broken = Faults::default().with_error_line_after_tokens(20);
    let h = Harness::start(vec![at(10.0, Faults::default()), at(200.0, broken)], settings());
    let result = h.fleet.execute(&long_task("t")).await.expect("the task succeeds");
    assert_eq!(result.endpoint.as_str(), "a");
    assert!(result.output.split_whitespace().count() > 20, "a's whole answer");
    let ends: Vec<(&str, u32, bool)> = result
        .attempts
        .iter()
        .map(|a| (a.endpoint.as_str(), a.number, a.error.is_some()))
        .collect();
    assert_eq!(ends, [("b", 2, true), ("a", 1, false)], "the hedge failed, then a finished");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_first_attempt_that_fails_hands_over_to_its_hedge() {
    // a streams slowly, gets hedged on b, then breaks: b's answer is the
    // result without a new attempt.
    let breaks = Faults::default().with_error_line_after_tokens(40);
    let h = Harness::start(vec![at(10.0, breaks), at(40.0, Faults::default())], settings());
    let result = h.fleet.execute(&long_task("t")).await.expect("the task succeeds");
    assert_eq!(result.endpoint.as_str(), "b");
    let ends: Vec<(&str, bool)> =
        result.attempts.iter().map(|a| (a.endpoint.as_str(), a.error.is_some())).collect();
    assert_eq!(ends, [("a", true), ("b", false)]);
    h.stop().await;
}
