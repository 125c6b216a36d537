//! The number of workers: the default, and changes at run time.

use std::num::NonZeroUsize;
use std::time::Duration;

use om_core::Priority::Normal;
use om_dispatch::{DEFAULT_WORKERS, Dispatcher};
use tokio_util::sync::CancellationToken;

use crate::support::{Probe, Work, dispatcher, settle, task};

fn n(workers: usize) -> NonZeroUsize {
    NonZeroUsize::new(workers).expect("workers > 0")
}

#[tokio::test(start_paused = true)]
async fn ten_workers_by_default() {
    assert_eq!(DEFAULT_WORKERS.get(), 10);
    let probe = Probe::default();
    let (dispatcher, runner) = Dispatcher::new(probe.clone());
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let handles = dispatcher
        .submit_batch((0..30).map(|i| task(&format!("t{i}"), Normal, Work::secs(1))))
        .unwrap();
    settle().await;
    assert_eq!(probe.running(), 10);
    assert_eq!(dispatcher.summary().workers, 10);
    for handle in handles {
        handle.await.unwrap();
    }
    assert_eq!(probe.max_running(), 10);
    drop(dispatcher);
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn raising_the_worker_count_raises_concurrency_at_once() {
    let (dispatcher, runner, probe, _) = dispatcher(2);
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let handles = dispatcher
        .submit_batch((0..40).map(|i| task(&format!("t{i}"), Normal, Work::secs(1))))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!((probe.running(), probe.max_running()), (2, 2));

    dispatcher.set_workers(n(5));
    settle().await;
    assert_eq!(probe.running(), 5, "new workers start without waiting for a task to end");
    assert_eq!(dispatcher.summary().workers, 5);
    for handle in handles {
        handle.await.unwrap();
    }
    assert_eq!(probe.max_running(), 5);
    drop(dispatcher);
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn lowering_the_worker_count_lets_running_tasks_finish() {
    let (dispatcher, runner, probe, _) = dispatcher(6);
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let handles = dispatcher
        .submit_batch((0..30).map(|i| task(&format!("t{i}"), Normal, Work::secs(1))))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(probe.running(), 6);

    dispatcher.set_workers(n(2));
    settle().await;
    // Nothing running is interrupted.
    assert_eq!(probe.running(), 6);
    tokio::time::sleep(Duration::from_millis(600)).await;
    // The first round ended at 1 s; only two workers took new tasks.
    assert_eq!(probe.running(), 2);
    assert_eq!(dispatcher.summary().workers, 2);
    probe.reset_max();
    for handle in handles {
        handle.await.unwrap();
    }
    assert_eq!(probe.max_running(), 2);
    let summary = dispatcher.summary();
    assert_eq!((summary.finished, summary.cancelled), (30, 0));
    drop(dispatcher);
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn idle_workers_retire_and_new_ones_reuse_their_numbers() {
    let (dispatcher, runner, _, recorder) = dispatcher(4);
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    settle().await;
    assert_eq!(dispatcher.summary().workers, 4);
    dispatcher.set_workers(n(1));
    settle().await;
    assert_eq!(dispatcher.summary().workers, 1, "idle workers retire at once");
    dispatcher.set_workers(n(3));
    settle().await;
    assert_eq!(dispatcher.summary().workers, 3);

    let handles = dispatcher
        .submit_batch((0..3).map(|i| task(&format!("t{i}"), Normal, Work::secs(1))))
        .unwrap();
    for handle in handles {
        handle.await.unwrap();
    }
    let mut numbers: Vec<usize> = recorder
        .all()
        .iter()
        .filter_map(|event| match event.kind {
            om_dispatch::EventKind::Started { worker, .. } => Some(worker),
            _ => None,
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [0, 1, 2], "worker numbers stay dense");
    drop(dispatcher);
    run.await.unwrap();
}
