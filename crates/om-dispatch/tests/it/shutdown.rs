//! Graceful shutdown with a deadline, closing and dropping.

use std::time::Duration;

use om_core::Priority::Normal;
use om_dispatch::{DispatchError, Stage, Task};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::support::{Work, dispatcher, ids, settle, task, totals};

#[tokio::test(start_paused = true)]
async fn in_flight_work_finishes_within_the_deadline() {
    let (dispatcher, runner, _, recorder) = dispatcher(2);
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let start = Instant::now();
    let handles = dispatcher
        .submit_batch([
            task("a", Normal, Work::secs(1)),
            task("b", Normal, Work::secs(2)),
            task("c", Normal, Work::secs(2)),
        ])
        .unwrap();
    let report = dispatcher.shutdown(Duration::from_secs(10)).await;
    // Returned when the work was done (c ran 1–3 s), not at the deadline.
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert!(!report.timed_out);
    assert!(report.cancelled_queued.is_empty() && report.cancelled_running.is_empty());
    assert_eq!(report.summary.finished, 3);
    assert!(report.summary.is_all_finished());
    for handle in handles {
        assert!(handle.is_finished());
        handle.await.unwrap();
    }
    assert_eq!(recorder.names("c"), ["queued", "started", "finished"]);
    assert_eq!(totals(&run.await.unwrap()), totals(&report.summary));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cancels_running_and_queued_tasks_and_reports_them() {
    let (dispatcher, runner, probe, recorder) = dispatcher(1);
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let start = Instant::now();
    let a = dispatcher.submit(task("a", Normal, Work::secs(2))).unwrap();
    let b = dispatcher.submit(task("b", Normal, Work::secs(100))).unwrap();
    let c = dispatcher.submit(task("c", Normal, Work::secs(1))).unwrap();
    let d = dispatcher.submit(task("d", Normal, Work::secs(1))).unwrap();

    let report = dispatcher.shutdown(Duration::from_secs(5)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert!(report.timed_out);
    assert_eq!(ids(&report.cancelled_running), ["b"]);
    assert_eq!(ids(&report.cancelled_queued), ["c", "d"]);
    assert_eq!(report.summary.finished, 1);
    assert_eq!(report.summary.cancelled, 3);
    assert_eq!(report.summary.cancelled_queued, 2);
    assert_eq!(report.summary.outstanding(), 0);

    assert_eq!(a.await.unwrap(), "done a");
    assert!(matches!(b.await, Err(DispatchError::Cancelled { stage: Stage::Running })));
    assert!(matches!(c.await, Err(DispatchError::Cancelled { stage: Stage::Queued })));
    assert!(matches!(d.await, Err(DispatchError::Cancelled { stage: Stage::Queued })));
    // b's future was dropped; c and d never reached the executor.
    assert_eq!(probe.running(), 0);
    assert_eq!(probe.started(), ["a", "b"]);
    assert_eq!(recorder.names("b"), ["queued", "started", "cancelled"]);
    assert_eq!(recorder.names("c"), ["queued", "cancelled"]);
    assert_eq!(totals(&run.await.unwrap()), totals(&report.summary));
}

#[tokio::test(start_paused = true)]
async fn submitting_after_shutdown_is_refused_with_the_task() {
    let (dispatcher, runner, _, _) = dispatcher(2);
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let report = dispatcher.shutdown(Duration::ZERO).await;
    assert!(!report.timed_out);
    assert!(dispatcher.is_closed());

    let err = dispatcher.submit(task("late", Normal, Work::secs(1))).unwrap_err();
    assert!(err.is_closed());
    assert_eq!(err.to_string(), "dispatcher is closed");
    let refused: Task<Work> = err.into_inner();
    assert_eq!(refused.id.as_str(), "late");

    let err = dispatcher
        .submit_batch([task("x", Normal, Work::secs(1)), task("y", Normal, Work::secs(1))])
        .unwrap_err();
    let ids: Vec<String> = err.into_inner().into_iter().map(|t| t.id.to_string()).collect();
    assert_eq!(ids, ["x", "y"]);
    assert_eq!(dispatcher.summary().submitted, 0);
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_zero_grace_cancels_everything_at_once() {
    let (dispatcher, runner, _, _) = dispatcher(2);
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let handles = dispatcher
        .submit_batch((0..5).map(|i| task(&format!("t{i}"), Normal, Work::secs(10))))
        .unwrap();
    settle().await;
    let start = Instant::now();
    let report = dispatcher.shutdown(Duration::ZERO).await;
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert!(report.timed_out);
    let mut running = report.cancelled_running.clone();
    running.sort();
    assert_eq!(ids(&running), ["t0", "t1"]);
    assert_eq!(ids(&report.cancelled_queued), ["t2", "t3", "t4"]);
    for handle in handles {
        assert!(handle.await.unwrap_err().is_cancelled());
    }
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_closes_and_run_drains_the_queue() {
    let (dispatcher, runner, _, _) = dispatcher(2);
    let clone = dispatcher.clone();
    let handles = dispatcher
        .submit_batch((0..6).map(|i| task(&format!("t{i}"), Normal, Work::secs(1))))
        .unwrap();
    drop(dispatcher);
    drop(clone);
    let start = Instant::now();
    let summary = runner.run(CancellationToken::new()).await;
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(summary.finished, 6);
    assert_eq!(summary.workers, 0);
    for handle in handles {
        handle.await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_the_runner_cancels_pending_tasks() {
    let (dispatcher, runner, probe, _) = dispatcher(2);
    let handle = dispatcher.submit(task("t", Normal, Work::secs(1))).unwrap();
    drop(runner);
    assert!(matches!(handle.await, Err(DispatchError::Cancelled { stage: Stage::Queued })));
    assert!(dispatcher.is_closed());
    assert!(dispatcher.submit(task("u", Normal, Work::secs(1))).is_err());
    assert!(probe.started().is_empty());
}

#[tokio::test(start_paused = true)]
async fn dropping_the_run_future_cancels_running_tasks() {
    let (dispatcher, runner, probe, recorder) = dispatcher(1);
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let running = dispatcher.submit(task("running", Normal, Work::secs(10))).unwrap();
    let queued = dispatcher.submit(task("queued", Normal, Work::secs(10))).unwrap();
    settle().await;
    assert_eq!(probe.running(), 1);
    run.abort();
    assert!(matches!(running.await, Err(DispatchError::Cancelled { stage: Stage::Running })));
    assert!(matches!(queued.await, Err(DispatchError::Cancelled { stage: Stage::Queued })));
    assert_eq!(probe.running(), 0);
    assert_eq!(recorder.names("running"), ["queued", "started", "cancelled"]);
    assert_eq!(dispatcher.summary().cancelled, 2);
}
