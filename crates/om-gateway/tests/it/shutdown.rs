//! Graceful shutdown: stop accepting, let a stream under way finish, and
//! return once it has.

use std::time::Duration;

use http::{Method, StatusCode};

use crate::support::{Harness, chat, fast, next_frame};

#[tokio::test]
async fn a_stream_under_way_finishes_after_shutdown_is_asked() {
    // 40 tokens at 40 per second: about a second of streaming.
    let slow = fast().with_tokens_per_sec(40.0);
    let mut h = Harness::start(vec![slow]).await;
    let http = h.client();
    let body = chat("llama3.2", true, 40).to_string();
    let response = http.send(Method::POST, "/api/chat", &[], body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.into_body();
    next_frame(&mut stream).await.expect("a first line");
    h.begin_shutdown();
    // New connections are refused once the listener is gone (the accept
    // loop notices the token at its next turn).
    let refused = tokio::time::timeout(Duration::from_secs(2), async {
        while tokio::net::TcpStream::connect(h.addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(refused.is_ok(), "still accepting");
    let mut rest = Vec::new();
    while let Some(frame) = next_frame(&mut stream).await {
        rest.extend_from_slice(&frame);
    }
    let last = rest.split(|&b| b == b'\n').rfind(|l| !l.is_empty()).expect("lines");
    let last: serde_json::Value = serde_json::from_slice(last).unwrap();
    assert_eq!(last["done"], true, "the stream finished: {last}");
    tokio::time::timeout(Duration::from_secs(5), h.gateway_stopped())
        .await
        .expect("the gateway stops once the stream is done");
    h.stop().await;
}

#[tokio::test]
async fn streams_past_the_grace_period_are_closed() {
    // At least 40 tokens at 5 per second: far longer than the grace.
    let slow = fast().with_tokens_per_sec(5.0);
    let mut h = Harness::start_with(vec![slow], |_, settings| {
        settings.shutdown_grace = Duration::from_millis(300);
    })
    .await;
    let http = h.client();
    let body = chat("llama3.2", true, 1000).to_string();
    let response = http.send(Method::POST, "/api/chat", &[], body).await;
    let mut stream = response.into_body();
    next_frame(&mut stream).await.expect("a first line");
    h.begin_shutdown();
    tokio::time::timeout(Duration::from_secs(5), h.gateway_stopped())
        .await
        .expect("the gateway stops after its grace period");
    h.stop().await;
}
