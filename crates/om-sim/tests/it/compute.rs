//! Shared compute: concurrent requests on one endpoint — in parallel slots
//! or on different models — slow each other down as `speedup(n) / n`, and
//! re-share whenever one starts or ends.
//!
//! Timers fire on tokio's millisecond ticks, so a measured duration is the
//! exact one rounded up to the next millisecond (plus one per pacing
//! wake-up that the rounding pushed later, never accumulating).

use std::time::Duration;

use http::{Method, StatusCode};
use om_sim::EndpointSpec;
use om_sim::reply::ReplyMode;
use serde_json::Value;
use tokio::time::Instant;

use crate::support::{metric, open, post};

/// Lone speed of the endpoints below.
const RATE: f64 = 100.0;

/// A warm-able endpoint with four slots, echo replies and no prompt time,
/// so that a request's `eval_duration` is its generation alone.
fn spec() -> EndpointSpec {
    EndpointSpec::default()
        .with_load_time(Duration::from_millis(300))
        .with_ttft(Duration::ZERO)
        .with_tokens_per_sec(RATE)
        .with_num_parallel(4)
        .with_reply(ReplyMode::Echo)
}

/// A non-streaming generate of exactly `tokens` tokens.
fn body(model: &str, tokens: u64) -> String {
    format!(
        r#"{{"model":"{model}","prompt":"{}","stream":false,"options":{{"num_predict":{tokens}}}}}"#,
        "w ".repeat(2000)
    )
}

/// Loads `model` so that only generation takes time.
async fn warm(sim: &om_sim::SimHandle, model: &str) {
    let load = post(sim, "/api/generate", &format!(r#"{{"model":"{model}"}}"#)).await;
    assert_eq!(load.status, StatusCode::OK);
}

/// Runs one generate and returns its final object.
async fn generate(sim: &om_sim::SimHandle, model: &str, tokens: u64) -> Value {
    let reply = post(sim, "/api/generate", &body(model, tokens)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let json = reply.json();
    assert_eq!(metric(&json, "eval_count"), tokens, "{json}");
    json
}

/// `eval_duration` in seconds.
fn eval_secs(chunk: &Value) -> f64 {
    metric(chunk, "eval_duration") as f64 / 1e9
}

/// `actual` is `expected`, late by at most `slack` seconds of timer
/// rounding.
fn about(actual: f64, expected: f64, slack: f64) {
    assert!(
        actual >= expected - 1e-6 && actual <= expected + slack,
        "{actual} s, expected {expected} s (+{slack})"
    );
}

const TICK: f64 = 0.002;

#[tokio::test(start_paused = true)]
async fn a_lone_request_runs_at_the_full_rate() {
    let sim = om_sim::spawn(spec());
    warm(&sim, "llama3.2").await;
    let alone = generate(&sim, "llama3.2", 100).await;
    about(eval_secs(&alone), 100.0 / RATE, TICK);
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn two_slots_share_the_box() {
    let sim = om_sim::spawn(spec());
    warm(&sim, "llama3.2").await;
    let (a, b) = tokio::join!(generate(&sim, "llama3.2", 100), generate(&sim, "llama3.2", 100));
    let each = RATE * spec().speedup(2) / 2.0;
    assert!((each - RATE * std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-9);
    for chunk in [&a, &b] {
        about(eval_secs(chunk), 100.0 / each, TICK);
    }
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn two_models_share_the_box_too() {
    let sim = om_sim::spawn(spec().with_num_parallel(1));
    warm(&sim, "llama3.2").await;
    warm(&sim, "qwen2.5-coder:7b").await;
    let (a, b) =
        tokio::join!(generate(&sim, "llama3.2", 100), generate(&sim, "qwen2.5-coder:7b", 100));
    let each = RATE * spec().speedup(2) / 2.0;
    for chunk in [&a, &b] {
        about(eval_secs(chunk), 100.0 / each, TICK);
    }
    sim.stop().await;
}

/// Starts `n` requests of `tokens` at once; returns the aggregate
/// throughput in tokens per second of wall time.
async fn aggregate(sim: &om_sim::SimHandle, n: usize, tokens: u64) -> f64 {
    let start = Instant::now();
    let replies =
        futures_util::future::join_all((0..n).map(|_| generate(sim, "llama3.2", tokens))).await;
    let wall = start.elapsed().as_secs_f64();
    for chunk in &replies {
        // All finish together, each at a quarter of the aggregate.
        about(eval_secs(chunk), wall, TICK);
    }
    (n as u64 * tokens) as f64 / wall
}

#[tokio::test(start_paused = true)]
async fn aggregate_throughput_grows_sub_linearly_to_the_cap() {
    let sim = om_sim::spawn(spec());
    warm(&sim, "llama3.2").await;
    // min(4^0.5, 2) = 2× a lone request, not 4×.
    let four = aggregate(&sim, 4, 100).await;
    let expected = RATE * 4f64.powf(0.5).min(2.0);
    assert!((four - expected).abs() / expected < 0.002, "{four} tokens/s, expected {expected}");
    sim.stop().await;

    let capped = om_sim::spawn(spec().with_batch_exponent(0.8).with_max_speedup(1.5));
    warm(&capped, "llama3.2").await;
    let two = aggregate(&capped, 2, 100).await;
    let expected = RATE * 2f64.powf(0.8).min(1.5);
    assert!((two - expected).abs() / expected < 0.002, "{two} tokens/s, expected {expected}");
    let four = aggregate(&capped, 4, 100).await;
    let expected = RATE * 1.5;
    assert!((four - expected).abs() / expected < 0.002, "{four} tokens/s, expected {expected}");
    capped.stop().await;
}

#[tokio::test(start_paused = true)]
async fn company_mid_way_slows_a_request_from_that_point() {
    let sim = om_sim::spawn(spec());
    warm(&sim, "llama3.2").await;
    let first = tokio::spawn({
        let addr = sim.addr();
        async move {
            crate::support::send(addr, Method::POST, "/api/generate", Some(&body("llama3.2", 100)))
                .await
                .json()
        }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let second = tokio::spawn({
        let addr = sim.addr();
        async move {
            crate::support::send(addr, Method::POST, "/api/generate", Some(&body("llama3.2", 300)))
                .await
                .json()
        }
    });
    let first = first.await.unwrap();
    // 0.4 s alone (40 tokens), then the other 60 at 0.707 of the rate.
    let share = spec().speedup(2) / 2.0;
    let expected = 0.4 + 0.6 / share;
    let (lone, shared) = (1.0, 1.0 / share);
    let took = eval_secs(&first);
    assert!(lone < took && took < shared, "{took} s is not between {lone} s and {shared} s");
    about(took, expected, TICK);
    second.await.unwrap();
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_request_speeds_up_when_its_companion_goes_away() {
    let sim = om_sim::spawn(spec());
    warm(&sim, "llama3.2").await;
    let streaming = body("llama3.2", 1000).replace(r#""stream":false"#, r#""stream":true"#);
    let mut companion =
        open(sim.addr(), Method::POST, "/api/generate", Some(&streaming)).await.unwrap();
    let lone = tokio::spawn({
        let addr = sim.addr();
        async move {
            crate::support::send(addr, Method::POST, "/api/generate", Some(&body("llama3.2", 100)))
                .await
                .json()
        }
    });
    // Read the companion for half a second, then hang up.
    let start = Instant::now();
    let until = start + Duration::from_millis(500);
    while Instant::now() < until {
        companion.next().await.unwrap().unwrap();
    }
    let gone = Instant::now();
    companion.disconnect();
    let chunk = lone.await.unwrap();
    let share = spec().speedup(2) / 2.0;
    // Shared until the hang-up, then alone: work done by then, at the
    // shared speed, plus the rest at full speed.
    let shared_for = gone.duration_since(start).as_secs_f64();
    let expected = shared_for + (1.0 - shared_for * share);
    let took = eval_secs(&chunk);
    assert!(took < 1.0 / share - 0.2, "{took} s: no faster than sharing all the way");
    // The server notices the hang-up at its next write, a token later at
    // most: that much longer shared.
    about(took, expected, TICK + 1.0 / (RATE * share));
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn prompt_evaluation_is_shared_but_loading_is_not() {
    let sim = om_sim::spawn(spec().with_ttft(Duration::from_millis(100)));
    let (a, b) = tokio::join!(generate(&sim, "llama3.2", 10), generate(&sim, "llama3.2", 10));
    // Both paid the 300 ms load (one loading, the other waiting for it)
    // alone; then they evaluated their prompts side by side.
    for chunk in [&a, &b] {
        assert!(metric(chunk, "load_duration") >= 300_000_000, "{chunk}");
        let prompt = metric(chunk, "prompt_eval_duration") as f64 / 1e9;
        about(prompt, 0.1 / (spec().speedup(2) / 2.0), TICK);
    }
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn unpaced_endpoints_stay_instant() {
    let sim = om_sim::spawn(spec().with_tokens_per_sec(f64::INFINITY));
    warm(&sim, "llama3.2").await;
    let start = Instant::now();
    let replies =
        futures_util::future::join_all((0..4).map(|_| generate(&sim, "llama3.2", 50))).await;
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(replies.len(), 4);
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn unshared_compute_is_the_old_independent_pacing() {
    let sim = om_sim::spawn(spec().with_unshared_compute());
    warm(&sim, "llama3.2").await;
    let replies =
        futures_util::future::join_all((0..4).map(|_| generate(&sim, "llama3.2", 100))).await;
    for chunk in &replies {
        about(eval_secs(chunk), 1.0, TICK);
    }
    sim.stop().await;
}
