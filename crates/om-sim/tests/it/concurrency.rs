//! Parallel slots, the pending-load queue and client disconnects.

use std::time::Duration;

use http::{Method, StatusCode};
use om_sim::reply::ReplyMode;
use tokio::time::Instant;

use crate::support::{fast_spec, metric, open, post};

/// A prompt long enough that echoing it at 10 tokens/s takes 40 s.
fn long_prompt() -> String {
    "word ".repeat(200)
}

#[tokio::test(start_paused = true)]
async fn the_request_beyond_the_slots_waits() {
    let sim = om_sim::spawn(fast_spec().with_tokens_per_sec(100.0).with_reply(ReplyMode::Echo));
    // Warm the model so that only the slot matters.
    post(&sim, "/api/generate", r#"{"model":"llama3.2"}"#).await;
    let first_body = format!(r#"{{"model":"llama3.2","prompt":"{}"}}"#, "w ".repeat(50));
    let mut first =
        open(sim.addr(), Method::POST, "/api/generate", Some(&first_body)).await.unwrap();
    first.next().await.unwrap().unwrap();
    let second = tokio::spawn({
        let addr = sim.addr();
        async move {
            let reply = crate::support::send(
                addr,
                Method::POST,
                "/api/generate",
                Some(r#"{"model":"llama3.2","prompt":"b","stream":false}"#),
            )
            .await;
            (Instant::now(), reply)
        }
    });
    // The first request streams for about a second; the second must not be
    // answered meanwhile.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "the second request got a slot while the first held it");
    let rest = first.rest().await;
    let first_done = Instant::now();
    assert!(String::from_utf8_lossy(rest.last().unwrap()).contains("\"done\":true"));
    let (second_done, reply) = second.await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert!(second_done >= first_done);
    // Waiting for the slot counts in total_duration only, not load_duration.
    let json = reply.json();
    assert!(metric(&json, "total_duration") >= 500_000_000, "{json}");
    assert!(metric(&json, "load_duration") < 1_000_000, "{json}");
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn two_slots_serve_two_at_once() {
    // About slots, not sharing: the two must not slow each other down.
    let sim = om_sim::spawn(
        fast_spec()
            .with_tokens_per_sec(100.0)
            .with_num_parallel(2)
            .with_reply(ReplyMode::Echo)
            .with_unshared_compute(),
    );
    post(&sim, "/api/generate", r#"{"model":"llama3.2"}"#).await;
    let body = format!(r#"{{"model":"llama3.2","prompt":"{}","stream":false}}"#, "w ".repeat(50));
    let start = Instant::now();
    let (a, b) =
        tokio::join!(post(&sim, "/api/generate", &body), post(&sim, "/api/generate", &body));
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    // 100 tokens at 100/s each, side by side: about one second, not two.
    assert!(start.elapsed() < Duration::from_millis(1500), "{:?}", start.elapsed());
    sim.stop().await;
}

fn cold_request(model: &str) -> String {
    format!(r#"{{"model":"{model}","prompt":"x","stream":false}}"#)
}

#[tokio::test(start_paused = true)]
async fn full_pending_queue_answers_503_at_once() {
    let sim = om_sim::spawn(fast_spec().with_load_time(Duration::from_secs(5)).with_max_queue(1));
    let addr = sim.addr();
    let background = |model: &'static str| {
        tokio::spawn(async move {
            crate::support::send(addr, Method::POST, "/api/generate", Some(&cold_request(model)))
                .await
        })
    };
    // The first load is under way, the second waits in the queue...
    let first = background("llama3.2");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = background("qwen3:8b");
    tokio::time::sleep(Duration::from_millis(50)).await;
    // ...so the third finds the queue full.
    let start = Instant::now();
    let third = post(&sim, "/api/generate", &cold_request("qwen2.5-coder:7b")).await;
    assert_eq!(third.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        third.text(),
        r#"{"error":"server busy, please try again.  maximum pending requests exceeded"}"#
    );
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(first.await.unwrap().status, StatusCode::OK);
    assert_eq!(second.await.unwrap().status, StatusCode::OK);
    // Requests for a loaded model skip the queue: no 503 however many.
    let warm = cold_request("llama3.2");
    let replies =
        futures_util::future::join_all((0..4).map(|_| post(&sim, "/api/generate", &warm))).await;
    assert!(replies.iter().all(|r| r.status == StatusCode::OK));
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn client_disconnect_frees_the_slot() {
    let sim = om_sim::spawn(fast_spec().with_tokens_per_sec(10.0).with_reply(ReplyMode::Echo));
    let body = format!(r#"{{"model":"llama3.2","prompt":"{}"}}"#, long_prompt());
    let mut first = open(sim.addr(), Method::POST, "/api/generate", Some(&body)).await.unwrap();
    first.next().await.unwrap().unwrap();
    first.disconnect();
    let start = Instant::now();
    let second =
        post(&sim, "/api/generate", r#"{"model":"llama3.2","prompt":"b","stream":false}"#).await;
    assert_eq!(second.status, StatusCode::OK);
    // Had the first request kept its slot this would take about 40 s.
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn client_gone_while_waiting_for_a_slot_leaves_no_trace() {
    let sim = om_sim::spawn(fast_spec().with_tokens_per_sec(100.0).with_reply(ReplyMode::Echo));
    post(&sim, "/api/generate", r#"{"model":"llama3.2"}"#).await;
    let body = format!(r#"{{"model":"llama3.2","prompt":"{}"}}"#, "w ".repeat(50));
    let mut holder = open(sim.addr(), Method::POST, "/api/generate", Some(&body)).await.unwrap();
    holder.next().await.unwrap().unwrap();
    // A waiter that gives up before it got the slot.
    let waiter = tokio::spawn({
        let addr = sim.addr();
        async move {
            open(addr, Method::POST, "/api/generate", Some(r#"{"model":"llama3.2","prompt":"w"}"#))
                .await
                .map(|_| ())
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    waiter.abort();
    holder.rest().await;
    let start = Instant::now();
    let after =
        post(&sim, "/api/generate", r#"{"model":"llama3.2","prompt":"c","stream":false}"#).await;
    assert_eq!(after.status, StatusCode::OK);
    assert!(start.elapsed() < Duration::from_secs(1));
    sim.stop().await;
}
