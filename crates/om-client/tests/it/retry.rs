//! The retry policy: what is retried, how often, how long it waits, and that
//! nothing is retried once a body byte was consumed. Paused time, so the
//! waits are measured exactly.

use std::time::Duration;

use om_client::RetryPolicy;
use om_core::ErrorKind;
use om_core::wire::ChatRequest;
use om_core::{BackoffPolicy, Jitter};
use tokio::time::Instant;

use crate::support::{
    ScriptServer, Step, VirtualClock, chat_line, chat_stream, chunk, client, collect, error, json,
    ndjson_head, refused_url, response, retries,
};

const STEP: Duration = Duration::from_millis(1);
const BUSY: &str = "server busy, please try again.  maximum pending requests exceeded";

fn chat() -> ChatRequest {
    ChatRequest::new("llama3.2", vec![])
}

fn busy_with_retry_after(seconds: &str) -> Vec<Step> {
    let body = serde_json::json!({ "error": BUSY }).to_string();
    let header = format!("Retry-After: {seconds}\r\n");
    vec![Step::Write(response(503, "application/json; charset=utf-8", &header, &body))]
}

/// Asserts `elapsed` is `want` within the clock's step granularity.
fn assert_near(elapsed: Duration, want: Duration) {
    assert!(
        elapsed >= want && elapsed <= want + Duration::from_millis(20),
        "elapsed {elapsed:?}, wanted about {want:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn busy_then_success_is_retried_with_growing_backoff() {
    let _clock = VirtualClock::start(STEP);
    let server =
        ScriptServer::start(|n, _| if n < 2 { error(503, BUSY) } else { chat_stream(&["ok"]) })
            .await;
    let client = client(server.url()).with_retry(retries(5, Duration::from_secs(10)));
    let start = Instant::now();
    let items = collect(client.chat(chat()).await.unwrap()).await;
    assert!(items.iter().all(Result::is_ok));
    assert_eq!(server.served(), 3);
    assert_near(start.elapsed(), Duration::from_millis(100 + 200));
}

#[tokio::test(start_paused = true)]
async fn max_attempts_is_respected() {
    let _clock = VirtualClock::start(STEP);
    let server = ScriptServer::start(|_, _| error(503, BUSY)).await;
    let client = client(server.url()).with_retry(retries(4, Duration::from_secs(10)));
    let start = Instant::now();
    let err = client.chat_once(chat()).await.unwrap_err();
    assert_eq!((err.kind(), err.message()), (ErrorKind::Busy, BUSY));
    assert!(err.is_busy());
    assert_eq!(err.http_status(), 503);
    assert_eq!(server.served(), 4);
    assert_near(start.elapsed(), Duration::from_millis(100 + 200 + 400));
}

#[tokio::test(start_paused = true)]
async fn rate_limits_are_retried() {
    let _clock = VirtualClock::start(STEP);
    let server = ScriptServer::start(|n, _| {
        if n == 0 { error(429, "slow down") } else { json(200, r#"{"version":"0.33.0"}"#) }
    })
    .await;
    let client = client(server.url()).with_retry(retries(2, Duration::from_secs(1)));
    assert_eq!(client.version().await.unwrap().version, "0.33.0");
    assert_eq!(server.served(), 2);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_and_capped() {
    let _clock = VirtualClock::start(STEP);
    let server = ScriptServer::start(|n, _| match n {
        0 => busy_with_retry_after("1"),
        2 => busy_with_retry_after("60"),
        _ => json(200, r#"{"version":"0.33.0"}"#),
    })
    .await;
    let client = client(server.url()).with_retry(retries(3, Duration::from_secs(3)));
    let start = Instant::now();
    client.version().await.unwrap();
    assert_near(start.elapsed(), Duration::from_secs(1));
    let start = Instant::now();
    client.version().await.unwrap();
    assert_near(start.elapsed(), Duration::from_secs(3));
    assert_eq!(server.served(), 4);
}

#[tokio::test(start_paused = true)]
async fn connect_errors_are_retried_with_growing_backoff() {
    let _clock = VirtualClock::start(STEP);
    let client = client(refused_url().await).with_retry(retries(4, Duration::from_secs(10)));
    let start = Instant::now();
    let err = client.version().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect);
    assert_near(start.elapsed(), Duration::from_millis(100 + 200 + 400));
}

#[tokio::test(start_paused = true)]
async fn other_failures_are_not_retried() {
    let _clock = VirtualClock::start(STEP);
    let server = ScriptServer::start(|n, _| match n {
        0 => error(500, "boom"),
        1 => error(404, "model 'x' not found"),
        _ => error(400, "model is required"),
    })
    .await;
    let client = client(server.url()).with_retry(retries(5, Duration::from_secs(1)));
    for _ in 0..3 {
        assert!(client.chat_once(chat()).await.is_err());
    }
    assert_eq!(server.served(), 3, "one attempt each");
}

#[tokio::test(start_paused = true)]
async fn never_retried_after_the_first_byte() {
    let _clock = VirtualClock::start(STEP);
    let server = ScriptServer::start(|_, _| {
        vec![ndjson_head(), chunk(format!("{}\n", chat_line("a")).as_bytes()), Step::Close]
    })
    .await;
    let client = client(server.url()).with_retry(retries(5, Duration::from_secs(1)));
    let items = collect(client.chat(chat()).await.unwrap()).await;
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected);
    assert!(err.is_partial());
    assert_eq!(server.served(), 1);
}

#[tokio::test(start_paused = true)]
async fn seeded_jitter_is_deterministic_and_bounded() {
    let _clock = VirtualClock::start(STEP);
    let policy = RetryPolicy {
        max_attempts: 4,
        backoff: BackoffPolicy {
            initial: Duration::from_millis(400),
            max: Duration::from_secs(10),
            jitter: Jitter::Seeded(42),
        },
    };
    let mut waits = Vec::new();
    for _ in 0..2 {
        let server = ScriptServer::start(|_, _| error(503, BUSY)).await;
        let client = client(server.url()).with_retry(policy);
        let start = Instant::now();
        assert!(client.version().await.is_err());
        waits.push(start.elapsed());
    }
    assert!(waits[0].abs_diff(waits[1]) <= Duration::from_millis(10), "{waits:?}");
    // Equal jitter: each wait lies in [base/2, base] for bases 400, 800, 1600 ms.
    assert!(waits[0] >= Duration::from_millis(1400), "{waits:?}");
    assert!(waits[0] <= Duration::from_millis(2800 + 20), "{waits:?}");
}
