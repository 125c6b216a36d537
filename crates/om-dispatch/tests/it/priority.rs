//! With one worker and a full queue: High before Normal before Low, FIFO
//! within a level.

use om_core::Priority::{High, Low, Normal};
use tokio_util::sync::CancellationToken;

use crate::support::{Work, dispatcher, settle, task};

#[tokio::test(start_paused = true)]
async fn high_runs_before_normal_before_low_fifo_within_a_level() {
    let (dispatcher, runner, probe, _) = dispatcher(1);
    // Fill the queue before the only worker exists.
    let submitted = [
        ("l1", Low),
        ("n1", Normal),
        ("h1", High),
        ("l2", Low),
        ("h2", High),
        ("n2", Normal),
        ("n3", Normal),
        ("h3", High),
        ("l3", Low),
    ];
    let handles = dispatcher
        .submit_batch(submitted.iter().map(|(id, p)| task(id, *p, Work::secs(1))))
        .unwrap();
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    for handle in handles {
        handle.await.unwrap();
    }
    assert_eq!(probe.started(), ["h1", "h2", "h3", "n1", "n2", "n3", "l1", "l2", "l3"]);
    drop(dispatcher);
    let summary = run.await.unwrap();
    assert_eq!(summary.finished, 9);
    assert_eq!(probe.max_running(), 1);
}

#[tokio::test(start_paused = true)]
async fn tasks_submitted_while_the_worker_is_busy_are_ordered_too() {
    let (dispatcher, runner, probe, _) = dispatcher(1);
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let blocker = dispatcher.submit(task("blocker", Low, Work::secs(5))).unwrap();
    settle().await;
    assert_eq!(probe.started(), ["blocker"]);

    // One by one, interleaved, while the worker is busy.
    let mut handles = Vec::new();
    for (id, priority) in
        [("l1", Low), ("n1", Normal), ("l2", Low), ("h1", High), ("n2", Normal), ("h2", High)]
    {
        handles.push(dispatcher.submit(task(id, priority, Work::secs(1))).unwrap());
    }
    assert_eq!(dispatcher.summary().queued, 6);
    blocker.await.unwrap();
    for handle in handles {
        handle.await.unwrap();
    }
    assert_eq!(probe.started(), ["blocker", "h1", "h2", "n1", "n2", "l1", "l2"]);
    drop(dispatcher);
    run.await.unwrap();
}
