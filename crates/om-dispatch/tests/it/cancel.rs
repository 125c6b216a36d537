//! Cancellation of one queued task, one running task, and of everything.

use std::time::Duration;

use om_core::Priority::{High, Normal};
use om_dispatch::{DispatchError, Stage};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::support::{Work, dispatcher, ids, settle, task};

#[tokio::test(start_paused = true)]
async fn cancelling_a_queued_task_removes_it_at_once() {
    let (dispatcher, runner, probe, recorder) = dispatcher(1);
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let blocker = dispatcher.submit(task("blocker", High, Work::secs(10))).unwrap();
    let victim = dispatcher.submit(task("victim", High, Work::secs(1))).unwrap();
    let after = dispatcher.submit(task("after", Normal, Work::secs(1))).unwrap();
    settle().await;

    let start = Instant::now();
    victim.cancel();
    assert!(victim.is_finished(), "a queued task ends at once");
    assert!(matches!(victim.await, Err(DispatchError::Cancelled { stage: Stage::Queued })));
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(recorder.names("victim"), ["queued", "cancelled"]);
    let summary = dispatcher.summary();
    assert_eq!((summary.queued, summary.running, summary.cancelled_queued), (1, 1, 1));

    blocker.await.unwrap();
    after.await.unwrap();
    assert_eq!(probe.started(), ["blocker", "after"]);
    drop(dispatcher);
    let summary = run.await.unwrap();
    assert_eq!((summary.finished, summary.cancelled), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_running_task_drops_its_future_and_frees_the_worker() {
    let (dispatcher, runner, probe, recorder) = dispatcher(1);
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let long = dispatcher.submit(task("long", Normal, Work::secs(3600))).unwrap();
    let next = dispatcher.submit(task("next", Normal, Work::secs(1))).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(probe.running(), 1);

    let start = Instant::now();
    let canceller = long.cancel_handle();
    assert_eq!(canceller.id().as_str(), "long");
    canceller.cancel();
    assert!(matches!(long.await, Err(DispatchError::Cancelled { stage: Stage::Running })));
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(recorder.names("long"), ["queued", "started", "cancelled"]);

    next.await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(probe.started(), ["long", "next"]);
    assert_eq!(probe.running(), 0);
    let summary = dispatcher.summary();
    assert_eq!((summary.cancelled, summary.cancelled_queued, summary.finished), (1, 0, 1));
    drop(dispatcher);
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_finished_task_changes_nothing() {
    let (dispatcher, runner, _, recorder) = dispatcher(1);
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let handle = dispatcher.submit(task("t", Normal, Work::secs(1))).unwrap();
    let canceller = handle.cancel_handle();
    assert_eq!(handle.await.unwrap(), "done t");
    canceller.cancel();
    canceller.clone().cancel();
    assert_eq!(recorder.names("t"), ["queued", "started", "finished"]);
    assert_eq!(dispatcher.summary().cancelled, 0);
    drop(dispatcher);
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_executor_sees_its_token_cancelled() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use om_dispatch::{Context, Dispatcher, Executor, Task};

    /// Waits for its token, then records that it saw it.
    struct Watcher(Arc<AtomicBool>);

    impl Executor for Watcher {
        type Payload = ();
        type Output = ();
        type Error = std::convert::Infallible;
        type Progress = ();

        async fn execute(&self, (): (), cx: &Context<'_, ()>) -> Result<(), Self::Error> {
            let token = cx.token().clone();
            let seen = Arc::clone(&self.0);
            // A guard outliving nothing: it runs when the future is dropped.
            let _guard = scopeguard(move || seen.store(token.is_cancelled(), Ordering::SeqCst));
            std::future::pending::<()>().await;
            Ok(())
        }
    }

    struct Guard<F: FnMut()>(F);
    impl<F: FnMut()> Drop for Guard<F> {
        fn drop(&mut self) {
            (self.0)();
        }
    }
    fn scopeguard<F: FnMut()>(f: F) -> Guard<F> {
        Guard(f)
    }

    let seen = Arc::new(AtomicBool::new(false));
    let (dispatcher, runner) = Dispatcher::new(Watcher(Arc::clone(&seen)));
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let handle = dispatcher.submit(Task::new("w", ())).unwrap();
    settle().await;
    handle.cancel();
    assert!(handle.await.unwrap_err().is_cancelled());
    assert!(seen.load(Ordering::SeqCst), "the token is cancelled before the future is dropped");
    drop(dispatcher);
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn cancelling_the_run_token_cancels_everything() {
    let (dispatcher, runner, probe, _) = dispatcher(2);
    let token = CancellationToken::new();
    let run = tokio::spawn(runner.run(token.clone()));
    let handles = dispatcher
        .submit_batch((0..5).map(|i| task(&format!("t{i}"), Normal, Work::secs(60))))
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    token.cancel();
    let summary = run.await.unwrap();
    assert_eq!((summary.cancelled, summary.cancelled_queued), (5, 3));
    assert_eq!(summary.outstanding(), 0);
    for handle in handles {
        assert!(handle.await.unwrap_err().is_cancelled());
    }
    assert_eq!(probe.running(), 0);
    assert!(dispatcher.is_closed());
}

#[tokio::test(start_paused = true)]
async fn cancel_all_then_shutdown_reports_what_was_cancelled() {
    let (dispatcher, runner, _, _) = dispatcher(1);
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let handles = dispatcher
        .submit_batch((0..3).map(|i| task(&format!("t{i}"), Normal, Work::secs(60))))
        .unwrap();
    settle().await;
    dispatcher.cancel_all();
    let report = dispatcher.shutdown(Duration::from_secs(30)).await;
    assert!(!report.timed_out);
    assert_eq!(ids(&report.cancelled_running), ["t0"]);
    assert_eq!(ids(&report.cancelled_queued), ["t1", "t2"]);
    for handle in handles {
        assert!(handle.await.unwrap_err().is_cancelled());
    }
    run.await.unwrap();
}
