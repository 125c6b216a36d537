//! Learned endpoint concurrency: the limit rises while answers keep their
//! speed with the limit in use, and settles where a box stops gaining.

use std::time::Duration;

use futures_util::future::join_all;
use om_core::EndpointId;
use om_sim::reply::ReplyMode;

use crate::support::{Harness, Node, settings, task};

/// A simulator with `slots` parallel slots whose throughput grows as
/// `n^exponent` up to `max_speedup` times a lone request's.
fn sim(slots: usize, exponent: f64, max_speedup: f64) -> Node {
    Node::Spec(Box::new(
        om_sim::EndpointSpec::default()
            .with_load_time(Duration::from_millis(5))
            .with_ttft(Duration::from_millis(5))
            .with_tokens_per_sec(100.0)
            .with_reply(ReplyMode::Echo)
            .with_num_parallel(slots)
            .with_max_queue(1_000)
            .with_batch_exponent(exponent)
            .with_max_speedup(max_speedup),
    ))
}

/// Runs `rounds` waves of 32 tasks at once and returns the endpoint's
/// learned limit after them.
async fn learned_after(h: &Harness, rounds: usize) -> u32 {
    for round in 0..rounds {
        let tasks: Vec<_> = (0..32).map(|i| task(&format!("t{round}-{i}"))).collect();
        for result in join_all(tasks.iter().map(|t| h.fleet.execute(t))).await {
            result.expect("every task succeeds");
        }
    }
    let snapshot = h.registry.snapshot();
    let a = snapshot.find_endpoint(&EndpointId::new("a")).expect("endpoint a");
    snapshot.endpoint(a).live.learned_limit().expect("the limit adapts").0
}

#[tokio::test(start_paused = true)]
async fn a_box_that_batches_well_gets_its_slots_used() {
    // Eight slots and perfect batching up to eight: the limit grows from
    // one to about the slots, past which requests wait inside the server
    // for a slot, which Ollama's metrics show.
    let from_one =
        om_orchestrator::Settings { max_concurrency: crate::support::limit(1), ..settings() };
    let h = Harness::start(vec![sim(8, 1.0, 8.0)], from_one);
    let limit = learned_after(&h, 4).await;
    assert!((6..=10).contains(&limit), "learned {limit}");
    // The limit is visible in /metrics and in the status document.
    let gauge = format!("ollama_meta_endpoint_concurrency_limit{{endpoint=\"a\"}} {limit}\n");
    assert!(h.fleet.metrics().to_prometheus().contains(&gauge), "{gauge}");
    let status = h.fleet.status();
    assert_eq!(status["endpoints"][0]["limit"]["learned"], limit);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_box_that_shares_its_compute_is_not_flooded() {
    // Sixteen slots, but throughput only grows as sqrt(n) up to 2x: past
    // four at once each answer is over twice as slow for no gain.
    let h = Harness::start(vec![sim(16, 0.5, 2.0)], settings());
    let limit = learned_after(&h, 4).await;
    assert!((3..=6).contains(&limit), "learned {limit}");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_fixed_limit_stays_fixed() {
    let fixed = om_orchestrator::Settings {
        adaptive_concurrency: false,
        max_concurrency: crate::support::limit(2),
        ..settings()
    };
    let h = Harness::start(vec![sim(8, 1.0, 8.0)], fixed);
    let tasks: Vec<_> = (0..8).map(|i| task(&format!("t{i}"))).collect();
    for result in join_all(tasks.iter().map(|t| h.fleet.execute(t))).await {
        result.expect("every task succeeds");
    }
    let snapshot = h.registry.snapshot();
    assert_eq!(snapshot.endpoints()[0].live.learned_limit(), None);
    assert_eq!(snapshot.endpoints()[0].capacity(), 2);
    h.stop().await;
}
