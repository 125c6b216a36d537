//! Streams through the gateway: line by line as they come, failover before
//! the first byte, an `{"error"}` line after it, backends dying between
//! requests and in the middle of a stream, and a client that goes away.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use om_sim::Faults;

use crate::support::{Harness, chat, fast, instance, next_frame};

/// Every frame of a streamed answer, each checked to be whole NDJSON lines.
async fn frames(mut body: hyper::body::Incoming) -> Vec<Bytes> {
    let mut frames = Vec::new();
    while let Some(frame) = next_frame(&mut body).await {
        assert!(frame.ends_with(b"\n"), "a frame cuts a line: {frame:?}");
        frames.push(frame);
    }
    frames
}

fn lines(frames: &[Bytes]) -> Vec<serde_json::Value> {
    frames
        .iter()
        .flat_map(|f| f.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec))
        .map(|l| serde_json::from_slice(&l).expect("a JSON line"))
        .collect()
}

#[tokio::test]
async fn a_stream_comes_line_by_line() {
    let slow = fast().with_tokens_per_sec(200.0);
    let h = Harness::start(vec![slow]).await;
    let http = h.client();
    let body = chat("llama3.2", true, 8).to_string();
    let response = http.send(Method::POST, "/api/chat", &[], body).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let frames = frames(response.into_body()).await;
    // One line per frame: each was flushed as it came.
    assert_eq!(frames.len(), 9, "{frames:?}");
    let lines = lines(&frames);
    assert!(lines[..8].iter().all(|l| l["done"] == false && l["model"] == "llama3.2"));
    assert_eq!(lines[8]["done"], true);
    assert!(lines[8]["eval_count"].as_u64().is_some());
    h.stop().await;
}

#[tokio::test]
async fn failover_before_the_first_byte_is_invisible() {
    let faults = [
        ("500", Faults::default().with_error_rate(1.0)),
        ("503", Faults::default().with_busy_rate(1.0)),
        ("error line first", Faults::default().with_error_line_after_tokens(0)),
        ("disconnect first", Faults::default().with_disconnect_after_tokens(0)),
    ];
    for (case, faults) in faults {
        let h = Harness::start(vec![fast().with_faults(faults), fast()]).await;
        let http = h.client();
        // Round robin: among a few requests, some go to `a` first.
        for i in 0..4 {
            let answer = http.post("/api/chat", &chat("llama3.2", i % 2 == 0, 4)).await;
            assert_eq!(answer.status, StatusCode::OK, "{case}: {}", answer.text());
            let last = if i % 2 == 0 { answer.lines().pop().unwrap() } else { answer.json() };
            assert_eq!(last["done"], true, "{case}");
        }
        let status = http.get("/api/meta/status").await.json();
        let a = instance(&status, "a", "llama3.2:latest");
        let b = instance(&status, "b", "llama3.2:latest");
        assert_eq!(b["success_rate"], 1.0, "{case}: {b}");
        if case == "503" {
            assert!(a["cooldown_ms"].is_number() || a["success_rate"].is_null(), "{case}: {a}");
        } else {
            assert_eq!(a["success_rate"], 0.0, "{case}: a was tried and failed: {a}");
        }
        h.stop().await;
    }
}

#[tokio::test]
async fn a_backend_killed_between_requests() {
    let mut h = Harness::start(vec![fast(), fast()]).await;
    let http = h.client();
    for _ in 0..2 {
        assert_eq!(
            http.post("/api/chat", &chat("llama3.2", false, 4)).await.status,
            StatusCode::OK
        );
    }
    h.kill(0).await;
    for i in 0..6 {
        let answer = http.post("/api/chat", &chat("llama3.2", i % 2 == 0, 4)).await;
        assert_eq!(answer.status, StatusCode::OK, "request {i}: {}", answer.text());
    }
    h.stop().await;
}

#[tokio::test]
async fn a_backend_killed_mid_stream_ends_the_stream_with_an_error_line() {
    // A long answer: at least 40 tokens at 10 per second, longer than the
    // simulator's one-second grace when it stops.
    let slow = fast().with_tokens_per_sec(10.0);
    // One request at a time per endpoint: of two streams at once, one runs
    // on each.
    let mut h = Harness::start_with(vec![slow, fast()], |config, _| {
        config.orchestrator.endpoint_concurrency = std::num::NonZeroUsize::MIN;
    })
    .await;
    let http = h.client();
    let mut streams = Vec::new();
    for _ in 0..2 {
        let body = chat("llama3.2", true, 200).to_string();
        let response = http.send(Method::POST, "/api/chat", &[], body).await;
        assert_eq!(response.status(), StatusCode::OK);
        streams.push(response.into_body());
    }
    for body in &mut streams {
        let first = next_frame(body).await.expect("a first line");
        assert!(first.ends_with(b"\n"));
    }
    h.kill(0).await;
    let mut broken = 0;
    for body in streams {
        let rest = frames(body).await;
        let rest = lines(&rest);
        let last = rest.last().expect("more lines");
        if last.get("error").is_some() {
            broken += 1;
            assert!(
                rest[..rest.len() - 1].iter().all(|l| l["done"] == false),
                "no done before the error"
            );
        } else {
            assert_eq!(last["done"], true);
        }
    }
    assert_eq!(broken, 1, "the stream on the killed backend, and only it, ends with an error line");
    // Later requests go to the backend that is left.
    let answer = http.post("/api/chat", &chat("llama3.2", true, 4)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.lines().last().unwrap()["done"], true);
    h.stop().await;
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_upstream() {
    // One slot per endpoint and a long answer: a second request can only
    // start once the first one's upstream request is gone.
    // At least 40 tokens at 5 per second: eight seconds unless cancelled.
    let slow = fast().with_tokens_per_sec(5.0);
    let h = Harness::start_with(vec![slow], |config, _| {
        config.orchestrator.endpoint_concurrency = std::num::NonZeroUsize::MIN;
    })
    .await;
    let http = h.client();
    let body = chat("llama3.2", true, 1000).to_string();
    let response = http.send(Method::POST, "/api/chat", &[], body).await;
    let mut stream = response.into_body();
    next_frame(&mut stream).await.expect("a first line");
    drop(stream);
    let started = tokio::time::Instant::now();
    let answer = tokio::time::timeout(
        Duration::from_secs(4),
        http.post("/api/chat", &chat("llama3.2", false, 2)),
    )
    .await
    .expect("the permit came back before the first answer could have ended");
    assert_eq!(answer.status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(4));
    let status = h.client().get("/api/meta/status").await.json();
    assert_eq!(status["in_flight"], 0);
    h.stop().await;
}
