//! Admission control: the connection limit, the body and answer-start
//! deadlines, the bounded wait queue, and what a client is told when the
//! fleet cannot serve it (503 with `Retry-After`, in the face's shape,
//! naming no backend unless the caller is authenticated).

use std::net::SocketAddr;
use std::time::Duration;

use http::StatusCode;
use om_sim::EndpointSpec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Harness, chat, fast};

/// A loopback address nothing listens on.
async fn dead_address() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address")
}

/// A gateway whose only endpoint has been down since it started.
async fn down_since_start(token: Option<&str>) -> (Harness, SocketAddr) {
    let dead = dead_address().await;
    let harness = Harness::start_with(Vec::new(), |config, settings| {
        let mut endpoint =
            om_config::Endpoint::new(format!("http://{dead}").parse().expect("a URL"));
        endpoint.name = om_core::EndpointId::new(format!("box-{}", dead.port()));
        config.endpoints = vec![endpoint];
        settings.auth_token = token.map(str::to_owned);
    })
    .await;
    (harness, dead)
}

/// One raw HTTP/1.1 exchange on a connection the server closes.
async fn raw(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("the server closes the connection")
        .expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_fleet_that_is_down_is_503_with_retry_after_and_no_address() {
    let (harness, dead) = down_since_start(None).await;
    let http = harness.client();
    let native = http.post("/api/chat", &chat("llama3.2", false, 2)).await;
    assert_eq!(native.status, StatusCode::SERVICE_UNAVAILABLE, "{}", native.text());
    assert!(native.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n >= 1)));
    let message = native.json()["error"].as_str().expect("Ollama's error shape").to_owned();
    assert!(message.contains("llama3.2"), "{message}");
    let port = dead.port().to_string();
    assert!(!message.contains(&port) && !message.contains("127.0.0.1"), "{message}");

    let body =
        serde_json::json!({"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]});
    let openai = http.post("/v1/chat/completions", &body).await;
    assert_eq!(openai.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(openai.header("retry-after").is_some());
    let message = openai.json()["error"]["message"].as_str().expect("OpenAI's shape").to_owned();
    assert!(!message.contains(&port), "{message}");
    harness.stop().await;
}

#[tokio::test]
async fn an_authenticated_caller_is_told_which_endpoint_is_down() {
    let (harness, dead) = down_since_start(Some("s3cret")).await;
    let answer = harness
        .client()
        .call(
            http::Method::POST,
            "/api/chat",
            &[("authorization", "Bearer s3cret")],
            chat("llama3.2", false, 2).to_string(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    let message = answer.json()["error"].as_str().expect("an error").to_owned();
    assert!(message.contains(&format!("box-{}", dead.port())), "{message}");
    harness.stop().await;
}

#[tokio::test]
async fn a_connection_past_the_limit_is_told_to_come_back() {
    let harness = Harness::start_with(vec![fast()], |_, settings| {
        settings.max_connections = 1;
    })
    .await;
    // The first connection stays open (keep-alive) after its answer.
    let mut first = TcpStream::connect(harness.addr).await.expect("connect");
    first.write_all(b"GET /api/version HTTP/1.1\r\nhost: gw\r\n\r\n").await.expect("send");
    let mut head = [0_u8; 12];
    first.read_exact(&mut head).await.expect("an answer");
    assert_eq!(&head, b"HTTP/1.1 200");

    let second = raw(harness.addr, "GET /api/tags HTTP/1.1\r\nhost: gw\r\n\r\n").await;
    assert!(second.starts_with("HTTP/1.1 503"), "{second}");
    let lower = second.to_ascii_lowercase();
    assert!(lower.contains("retry-after: 1") && lower.contains("connection: close"), "{second}");
    assert!(second.contains("\"error\"") && second.contains("limit of 1 connections"), "{second}");
    let openai = raw(harness.addr, "GET /v1/models HTTP/1.1\r\nhost: gw\r\n\r\n").await;
    assert!(openai.contains("\"message\""), "the OpenAI shape on /v1: {openai}");

    drop(first);
    // Once the first is gone, connections are served again.
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let reply = raw(
                harness.addr,
                "GET /api/version HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n",
            )
            .await;
            if reply.starts_with("HTTP/1.1 200") {
                return reply;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(answer.is_ok(), "the freed connection slot is reused");
    harness.stop().await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_408() {
    let harness = Harness::start_with(vec![fast()], |_, settings| {
        settings.body_read_timeout = Duration::from_millis(200);
    })
    .await;
    let mut stream = TcpStream::connect(harness.addr).await.expect("connect");
    stream
        .write_all(b"POST /api/chat HTTP/1.1\r\nhost: gw\r\ncontent-length: 100\r\n\r\n{\"model\":")
        .await
        .expect("send");
    let mut out = vec![0_u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut out))
        .await
        .expect("an answer before the test's own limit")
        .expect("read");
    let reply = String::from_utf8_lossy(&out[..n]);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("did not arrive within"), "{reply}");
    harness.stop().await;
}

#[tokio::test]
async fn an_answer_that_does_not_begin_in_time_is_504_but_a_begun_stream_is_not_cut() {
    let slow_start = EndpointSpec::default()
        .with_ttft(Duration::from_secs(3))
        .with_tokens_per_sec(2_000.0)
        .with_load_time(Duration::from_millis(5));
    let harness = Harness::start_with(vec![slow_start], |config, settings| {
        settings.request_timeout = Duration::from_millis(300);
        config.retry.max_attempts = 1;
    })
    .await;
    let http = harness.client();
    let late = http.post("/api/chat", &chat("llama3.2", false, 2)).await;
    assert_eq!(late.status, StatusCode::GATEWAY_TIMEOUT, "{}", late.text());
    harness.stop().await;

    // Quick to start, longer than the limit to finish: it streams to its end.
    let long_stream = EndpointSpec::default()
        .with_ttft(Duration::from_millis(5))
        .with_tokens_per_sec(40.0)
        .with_load_time(Duration::from_millis(5));
    let harness = Harness::start_with(vec![long_stream], |_, settings| {
        settings.request_timeout = Duration::from_millis(300);
    })
    .await;
    let answer = harness.client().post("/api/chat", &chat("llama3.2", true, 30)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let lines = answer.lines();
    assert_eq!(lines.last().expect("lines")["done"], true, "{}", answer.text());
    assert!(lines.iter().all(|l| l.get("error").is_none()), "{}", answer.text());
    harness.stop().await;
}

#[tokio::test]
async fn the_wait_queue_is_bounded_in_length_and_in_time() {
    let one_slot = EndpointSpec::default()
        .with_ttft(Duration::from_millis(5))
        .with_tokens_per_sec(20.0)
        .with_load_time(Duration::from_millis(5));
    let harness = Harness::start_with(vec![one_slot], |config, settings| {
        config.orchestrator.adaptive_concurrency = false;
        config.orchestrator.endpoint_concurrency = std::num::NonZeroUsize::MIN;
        settings.max_queue = 1;
        settings.queue_timeout = Duration::from_millis(300);
    })
    .await;
    let http = harness.client();
    // One request holds the only permit for about a second and a half.
    let busy = tokio::spawn({
        let http = http.clone();
        async move { http.post("/api/chat", &chat("llama3.2", false, 30)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The next one waits, then gives up when its patience runs out.
    let waiting = tokio::spawn({
        let http = http.clone();
        async move { http.post("/api/chat", &chat("llama3.2", false, 1)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // With the queue full, one more is refused at once.
    let refused = http.post("/api/chat", &chat("llama3.2", false, 1)).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE, "{}", refused.text());
    assert!(refused.header("retry-after").is_some());
    assert!(refused.text().contains("already waiting"), "{}", refused.text());

    let waited = waiting.await.expect("the waiting request ends");
    assert_eq!(waited.status, StatusCode::SERVICE_UNAVAILABLE, "{}", waited.text());
    assert!(waited.header("retry-after").is_some());
    assert!(waited.text().contains("no capacity came free"), "{}", waited.text());
    assert_eq!(busy.await.expect("the first request ends").status, StatusCode::OK);
    harness.stop().await;
}
