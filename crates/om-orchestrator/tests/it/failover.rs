//! The failover matrix: each fault on the preferred endpoint `a`, with a
//! healthy endpoint `b` behind it, through `execute` (batch) and
//! `execute_stream`. Output is always the echo of the prompt by one model,
//! never lost, never doubled or spliced.

use futures_util::StreamExt;
use om_core::{ErrorKind, TimeoutPhase};
use om_orchestrator::{Settings, TaskResult};
use om_sim::Faults;

use crate::support::{Harness, MODEL, Node, PROMPT, settings, task};

/// The faults that strike before the first chunk, with the kind the first
/// attempt must fail with.
fn before_first_chunk() -> Vec<(&'static str, Node, ErrorKind)> {
    vec![
        ("refused connection", Node::Refused, ErrorKind::Connect),
        (
            "500",
            Node::Sim(Faults::default().with_error_rate(1.0)),
            ErrorKind::Upstream { status: 500 },
        ),
        ("503 busy", Node::Sim(Faults::default().with_busy_rate(1.0)), ErrorKind::Busy),
        (
            "hang before first byte",
            Node::Sim(Faults::default().with_hang_before_first_byte(true)),
            ErrorKind::Timeout(TimeoutPhase::FirstByte),
        ),
        (
            "disconnect before the first token",
            Node::Sim(Faults::default().with_disconnect_after_tokens(0)),
            ErrorKind::Disconnected,
        ),
        (
            "error line before the first token",
            Node::Sim(Faults::default().with_error_line_after_tokens(0)),
            ErrorKind::Upstream { status: 500 },
        ),
        ("model missing on one endpoint", Node::SimWithout(MODEL), ErrorKind::ModelNotFound),
    ]
}

/// The faults that strike after some chunks: how many arrive first, and the
/// kind of the failure.
fn after_first_chunk() -> Vec<(&'static str, Faults, usize, ErrorKind)> {
    vec![
        (
            "disconnect after the first token",
            Faults::default().with_disconnect_after_tokens(3),
            3,
            ErrorKind::Disconnected,
        ),
        (
            "error line mid-stream",
            Faults::default().with_error_line_after_tokens(2),
            2,
            ErrorKind::Stream,
        ),
        (
            "malformed line mid-stream",
            Faults::default().with_malformed_line_after_tokens(4),
            4,
            ErrorKind::Protocol,
        ),
    ]
}

fn assert_served_by_b(case: &str, result: &TaskResult, first: ErrorKind) {
    assert_eq!(result.output, PROMPT, "{case}: output");
    assert_eq!(result.endpoint.as_str(), "b", "{case}: endpoint");
    assert_eq!(result.model.to_string(), MODEL, "{case}: model");
    assert_eq!(result.attempts.len(), 2, "{case}: {:?}", result.attempts);
    let failed = &result.attempts[0];
    assert_eq!(failed.endpoint.as_str(), "a", "{case}");
    assert_eq!(failed.error.as_ref().map(|e| e.kind), Some(first), "{case}: {:?}", failed.error);
    assert!(result.attempts[1].is_ok(), "{case}");
    assert!(
        result.attempts[1].offset >= failed.offset + failed.latency,
        "{case}: attempts overlap"
    );
    assert_eq!(result.completion_tokens, Some(12), "{case}");
    assert!(result.ttft.is_some_and(|t| t <= result.latency), "{case}");
}

#[tokio::test(start_paused = true)]
async fn batch_fails_over_before_the_first_chunk() {
    for (case, node, kind) in before_first_chunk() {
        let h = Harness::start(vec![node, Node::Sim(Faults::default())], settings());
        let result = h.fleet.execute(&task("t")).await.unwrap_or_else(|e| panic!("{case}: {e:?}"));
        assert_served_by_b(case, &result, kind);
        h.stop().await;
    }
}

#[tokio::test(start_paused = true)]
async fn stream_fails_over_before_the_first_chunk() {
    for (case, node, kind) in before_first_chunk() {
        let h = Harness::start(vec![node, Node::Sim(Faults::default())], settings());
        let mut stream =
            h.fleet.execute_stream(&task("t")).await.unwrap_or_else(|e| panic!("{case}: {e:?}"));
        assert_eq!(stream.endpoint().as_str(), "b", "{case}");
        let failed = stream.failed_attempts();
        assert_eq!(failed.len(), 1, "{case}");
        assert_eq!(failed[0].error.as_ref().map(|e| e.kind), Some(kind), "{case}");
        let mut text = String::new();
        let mut done = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.unwrap_or_else(|e| panic!("{case}: {e:?}"));
            text.push_str(&chunk.message.content);
            done += usize::from(chunk.done);
        }
        assert_eq!((text.as_str(), done), (PROMPT, 1), "{case}");
        let result = stream.finish().await.unwrap_or_else(|e| panic!("{case}: {e:?}"));
        assert_served_by_b(case, &result, kind);
        h.stop().await;
    }
}

#[tokio::test(start_paused = true)]
async fn batch_restarts_a_broken_stream_elsewhere_and_discards_its_output() {
    for (case, faults, _, kind) in after_first_chunk() {
        let h = Harness::start(vec![Node::Sim(faults), Node::Sim(Faults::default())], settings());
        let result = h.fleet.execute(&task("t")).await.unwrap_or_else(|e| panic!("{case}: {e:?}"));
        assert_served_by_b(case, &result, kind);
        let failed = result.attempts[0].error.as_ref().expect("failed attempt");
        assert!(failed.partial, "{case}: the broken attempt had streamed output");
        h.stop().await;
    }
}

#[tokio::test(start_paused = true)]
async fn stream_ends_with_a_partial_error_after_the_first_chunk() {
    for (case, faults, pieces, kind) in after_first_chunk() {
        let h = Harness::start(vec![Node::Sim(faults), Node::Sim(Faults::default())], settings());
        let mut stream =
            h.fleet.execute_stream(&task("t")).await.unwrap_or_else(|e| panic!("{case}: {e:?}"));
        assert_eq!(stream.endpoint().as_str(), "a", "{case}");
        let mut text = String::new();
        let mut chunks = 0;
        let mut errors = Vec::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(chunk) => {
                    assert!(errors.is_empty(), "{case}: a chunk after the error");
                    chunks += 1;
                    text.push_str(&chunk.message.content);
                }
                Err(error) => errors.push(error),
            }
        }
        assert_eq!(chunks, pieces, "{case}");
        assert_eq!(errors.len(), 1, "{case}");
        assert_eq!(errors[0].kind(), kind, "{case}");
        assert!(errors[0].is_partial(), "{case}");
        assert_eq!(errors[0].endpoint(), Some("a"), "{case}");
        assert!(PROMPT.starts_with(&text) && text.len() < PROMPT.len(), "{case}: {text:?}");

        let failure = stream.finish().await.expect_err(case);
        assert_eq!(failure.kind(), kind, "{case}");
        assert!(failure.error.is_partial(), "{case}");
        assert_eq!(failure.output, text, "{case}: the partial output is kept");
        assert_eq!(failure.attempts.len(), 1, "{case}: no failover after output");
        h.stop().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_spent_budget_ends_with_the_last_error() {
    let failing = || Node::Sim(Faults::default().with_error_rate(1.0));
    let h = Harness::start(vec![failing(), failing()], settings());
    let failure = h.fleet.execute(&task("t")).await.expect_err("every attempt fails");
    assert_eq!(failure.kind(), ErrorKind::Upstream { status: 500 });
    assert_eq!(failure.error.message(), "simulated failure");
    let visited: Vec<&str> = failure.attempts.iter().map(|a| a.endpoint.as_str()).collect();
    // The failed endpoints are avoided while another is left, then retried.
    assert_eq!(visited, ["a", "b", "a"]);
    assert!(failure.output.is_empty());
    assert_eq!(failure.to_string(), "task t failed after 3 attempts");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_single_endpoint_is_retried_after_a_backoff() {
    let settings = Settings { max_attempts: 10, ..settings() };
    let h = Harness::start(vec![Node::Sim(Faults::default().with_error_rate(1.0))], settings);
    let control = h.sim(0).control().clone();
    let clear = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        control.clear_faults();
    };
    let (result, ()) = tokio::join!(h.fleet.execute(&task("t")), clear);
    let result = result.expect("succeeds once the faults clear");
    assert_eq!(result.output, PROMPT);
    assert!(result.attempts.len() >= 3, "{:?}", result.attempts);
    assert!(result.attempts.iter().all(|a| a.endpoint.as_str() == "a"));
    // Backoff between attempts: 10 ms, then doubling, with jitter in the
    // upper half.
    let first_end = result.attempts[0].offset + result.attempts[0].latency;
    let gap = result.attempts[1].offset.checked_sub(first_end).expect("attempts in order");
    assert!(gap >= std::time::Duration::from_millis(5), "{gap:?}");
    h.stop().await;
}
