//! Aging: a low-priority task is not starved by a stream of later high ones.

use std::num::NonZeroUsize;
use std::time::Duration;

use om_core::Priority::{High, Low};
use om_dispatch::Dispatcher;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::support::{Probe, Work, task};

/// One worker busy for 5 s, then `low` (submitted first) and 40 one-second
/// `high` tasks submitted after it; returns the start order.
async fn low_behind_a_stream_of_high(aging: Option<Duration>) -> (Probe, Vec<String>, Instant) {
    let probe = Probe::default();
    let mut builder = Dispatcher::builder(probe.clone()).workers(NonZeroUsize::MIN);
    if let Some(interval) = aging {
        builder = builder.aging(interval);
    }
    let (dispatcher, runner) = builder.build();
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let start = Instant::now();
    let blocker = dispatcher.submit(task("blocker", High, Work::secs(5))).expect("open");
    let low = dispatcher.submit(task("low", Low, Work::secs(1))).expect("open");
    let highs = dispatcher
        .submit_batch((0..40).map(|i| task(&format!("h{i:02}"), High, Work::secs(1))))
        .expect("open");
    blocker.await.expect("blocker succeeds");
    low.await.expect("low succeeds");
    for handle in highs {
        handle.await.expect("high succeeds");
    }
    drop(dispatcher);
    run.await.expect("run");
    let order = probe.started();
    (probe, order, start)
}

#[tokio::test(start_paused = true)]
async fn without_aging_low_runs_last() {
    let (_, order, _) = low_behind_a_stream_of_high(None).await;
    assert_eq!(order.len(), 42);
    assert_eq!(order.last().map(String::as_str), Some("low"));
}

#[tokio::test(start_paused = true)]
async fn aging_lets_low_overtake_later_high_tasks() {
    // Aging 10 s: after 20 s of waiting `low` counts as High and, being older
    // than every queued high task, runs at the first pick at or after 20 s.
    let (probe, order, start) = low_behind_a_stream_of_high(Some(Duration::from_secs(10))).await;
    let position = order.iter().position(|id| id == "low").unwrap();
    // blocker (0–5 s), h00..h14 (5–20 s), then low.
    assert_eq!(position, 16, "{order:?}");
    assert_eq!(&order[1..16], (0..15).map(|i| format!("h{i:02}")).collect::<Vec<_>>());
    let started = probe.started_at("low").unwrap() - start;
    assert_eq!(started, Duration::from_secs(20));
    // The rest of the high tasks keep their FIFO order after it.
    assert_eq!(order[17], "h15");
    assert_eq!(order.last().map(String::as_str), Some("h39"));
}

#[tokio::test(start_paused = true)]
async fn aging_promotes_low_past_normal_after_one_interval() {
    let probe = Probe::default();
    let (dispatcher, runner) = Dispatcher::builder(probe.clone())
        .workers(NonZeroUsize::MIN)
        .aging(Duration::from_secs(3))
        .build();
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let blocker = dispatcher.submit(task("blocker", High, Work::secs(4))).unwrap();
    let low = dispatcher.submit(task("low", Low, Work::secs(1))).unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let normal =
        dispatcher.submit(task("normal", om_core::Priority::Normal, Work::secs(1))).unwrap();
    blocker.await.unwrap();
    low.await.unwrap();
    normal.await.unwrap();
    // At 4 s `low` has waited one interval (Normal now) and is older than
    // `normal`, which has not aged yet.
    assert_eq!(probe.started(), ["blocker", "low", "normal"]);
    drop(dispatcher);
    run.await.unwrap();
}
