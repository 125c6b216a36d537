//! Every injected fault, and changing faults while the server runs.

use std::time::Duration;

use http::{Method, StatusCode};
use om_sim::Faults;
use om_sim::reply::ReplyMode;
use serde_json::Value;
use tokio::time::Instant;

use crate::support::{fast_spec, metric, open, post};

const STREAM: &str = r#"{"model":"llama3.2","prompt":"one two three four five six seven eight"}"#;

fn echo_spec(faults: Faults) -> om_sim::EndpointSpec {
    fast_spec().with_reply(ReplyMode::Echo).with_faults(faults)
}

#[tokio::test(start_paused = true)]
async fn error_rate_one_is_a_500_before_the_first_byte() {
    let sim = om_sim::spawn(fast_spec().with_faults(Faults::default().with_error_rate(1.0)));
    for path in ["/api/generate", "/api/chat", "/api/embed"] {
        let body = r#"{"model":"llama3.2","prompt":"x","messages":[{"role":"user","content":"x"}],"input":"x"}"#;
        let reply = post(&sim, path, body).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(reply.text(), r#"{"error":"simulated failure"}"#);
    }
    // Listing is not an inference route: unaffected.
    assert_eq!(crate::support::get(&sim, "/api/tags").await.status, StatusCode::OK);
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn busy_rate_one_is_the_exact_503() {
    let sim = om_sim::spawn(fast_spec().with_faults(Faults::default().with_busy_rate(1.0)));
    let reply = post(&sim, "/api/generate", STREAM).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        reply.text(),
        r#"{"error":"server busy, please try again.  maximum pending requests exceeded"}"#
    );
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn hang_never_answers_and_shutdown_still_completes() {
    let sim =
        om_sim::spawn(fast_spec().with_faults(Faults::default().with_hang_before_first_byte(true)));
    let addr = sim.addr();
    let waited = tokio::time::timeout(
        Duration::from_hours(1),
        crate::support::send(addr, Method::POST, "/api/generate", Some(STREAM)),
    )
    .await;
    assert!(waited.is_err(), "a hanging server answered");
    let pending = tokio::spawn(crate::support::open(addr, Method::POST, "/api/chat", Some(STREAM)));
    tokio::time::sleep(Duration::from_millis(10)).await;
    let start = Instant::now();
    sim.stop().await;
    assert!(start.elapsed() <= om_sim::SHUTDOWN_GRACE + Duration::from_millis(10));
    // The hung request's connection was closed by the shutdown.
    assert!(pending.await.unwrap().is_err());
}

#[tokio::test(start_paused = true)]
async fn stall_pauses_once_after_n_tokens() {
    let sim = om_sim::spawn(echo_spec(
        Faults::default().with_stall_after_tokens(2, Duration::from_secs(30)),
    ));
    let mut stream = open(sim.addr(), Method::POST, "/api/generate", Some(STREAM)).await.unwrap();
    let mut arrivals = Vec::new();
    while let Some(frame) = stream.next().await {
        frame.unwrap();
        arrivals.push(Instant::now());
    }
    let gaps: Vec<Duration> = arrivals.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[1] >= Duration::from_secs(30), "gaps {gaps:?}");
    assert!(
        gaps.iter().enumerate().all(|(i, g)| i == 1 || *g < Duration::from_secs(1)),
        "{gaps:?}"
    );
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn disconnect_drops_the_connection_mid_stream() {
    let sim = om_sim::spawn(echo_spec(Faults::default().with_disconnect_after_tokens(3)));
    let mut stream = open(sim.addr(), Method::POST, "/api/generate", Some(STREAM)).await.unwrap();
    assert_eq!(stream.status, StatusCode::OK);
    let mut lines = 0;
    let broke = loop {
        match stream.next().await {
            Some(Ok(_)) => lines += 1,
            Some(Err(_)) => break true,
            None => break false,
        }
    };
    assert!(broke, "the body ended cleanly");
    assert_eq!(lines, 3);
    // Before any token the connection closes without a response at all.
    sim.control().replace_faults(Faults::default().with_disconnect_after_tokens(0));
    assert!(open(sim.addr(), Method::POST, "/api/generate", Some(STREAM)).await.is_err());
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn malformed_line_then_the_stream_goes_on() {
    let sim = om_sim::spawn(echo_spec(Faults::default().with_malformed_line_after_tokens(2)));
    let reply = post(&sim, "/api/generate", STREAM).await;
    let text = reply.text();
    let lines: Vec<&str> = text.lines().collect();
    assert!(serde_json::from_str::<Value>(lines[2]).is_err(), "line 3 is JSON: {}", lines[2]);
    for (i, line) in lines.iter().enumerate().filter(|(i, _)| *i != 2) {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("line {i}: {e}"));
    }
    let last: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(last["done"], true);
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn error_line_ends_the_stream_with_status_200() {
    let sim = om_sim::spawn(echo_spec(Faults::default().with_error_line_after_tokens(2)));
    let reply = post(
        &sim,
        "/api/chat",
        r#"{"model":"llama3.2","messages":[{"role":"user","content":"a b c d e f"}]}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let lines = reply.lines();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2], serde_json::json!({"error": "simulated failure"}));
    assert!(lines.iter().all(|l| l["done"] != true));
    // Before the first line the same fault is a plain 500.
    sim.control().replace_faults(Faults::default().with_error_line_after_tokens(0));
    let early = post(&sim, "/api/generate", STREAM).await;
    assert_eq!(early.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(early.text(), r#"{"error":"simulated failure"}"#);
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn slow_load_adds_to_the_load() {
    let sim = om_sim::spawn(
        fast_spec().with_faults(Faults::default().with_slow_load(Duration::from_secs(2))),
    );
    let reply = post(&sim, "/api/generate", r#"{"model":"llama3.2","prompt":"x","stream":false}"#)
        .await
        .json();
    assert!(metric(&reply, "load_duration") >= 2_300_000_000, "{reply}");
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn flapping_refuses_while_down() {
    let faults = Faults::default().with_flapping(Duration::from_secs(1), Duration::from_secs(10));
    let sim = om_sim::spawn(fast_spec().with_faults(faults));
    // Start-up is the beginning of a down phase.
    assert!(open(sim.addr(), Method::GET, "/api/version", None).await.is_err());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(crate::support::get(&sim, "/api/version").await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert!(open(sim.addr(), Method::GET, "/api/version", None).await.is_err());
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn faults_change_while_running() {
    let sim = om_sim::spawn(fast_spec());
    let body = r#"{"model":"llama3.2","prompt":"x","stream":false}"#;
    assert_eq!(post(&sim, "/api/generate", body).await.status, StatusCode::OK);
    let previous = sim.control().replace_faults(Faults::default().with_error_rate(1.0));
    assert!(previous.is_none());
    assert_eq!(post(&sim, "/api/generate", body).await.status, StatusCode::INTERNAL_SERVER_ERROR);
    sim.control().clear_faults();
    assert_eq!(post(&sim, "/api/generate", body).await.status, StatusCode::OK);
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn rates_are_reproducible_with_a_seed() {
    let outcomes = |seed| async move {
        let sim = om_sim::spawn(
            fast_spec().with_seed(seed).with_faults(Faults::default().with_error_rate(0.5)),
        );
        let mut statuses = Vec::new();
        for _ in 0..16 {
            statuses.push(
                post(&sim, "/api/generate", r#"{"model":"llama3.2","prompt":"x","stream":false}"#)
                    .await
                    .status,
            );
        }
        sim.stop().await;
        statuses
    };
    let a = outcomes(7).await;
    assert_eq!(a, outcomes(7).await);
    assert!(a.contains(&StatusCode::OK) && a.contains(&StatusCode::INTERNAL_SERVER_ERROR), "{a:?}");
}
