//! Events to callbacks and the channel, progress, failures and panics.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use om_core::Priority::{High, Low, Normal};
use om_dispatch::{DispatchError, Dispatcher, EventKind, Failure};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::support::{Probe, Recorder, Work, dispatcher, kind_name, task};

#[tokio::test(start_paused = true)]
async fn callbacks_and_the_channel_see_the_same_ordered_events() {
    let (dispatcher, runner, _, recorder) = dispatcher(2);
    let mut channel = dispatcher.subscribe();
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let handles = dispatcher
        .submit_batch([
            task("ok", High, Work::secs(1).reporting(3)),
            task("fails", Normal, Work::secs(2).failing("timeout", "took too long")),
            task("panics", Low, Work::secs(1).panicking()),
        ])
        .unwrap();
    for handle in handles {
        let _ = handle.await;
    }
    drop(dispatcher);
    run.await.unwrap();

    let mut from_channel = Vec::new();
    loop {
        match channel.recv().await {
            Ok(event) => from_channel.push(event),
            Err(RecvError::Closed) => break,
            Err(RecvError::Lagged(n)) => panic!("lagged by {n}"),
        }
    }
    assert_eq!(from_channel, recorder.all());

    assert_eq!(
        recorder.names("ok"),
        ["queued", "started", "progress", "progress", "progress", "finished"]
    );
    let progress: Vec<u32> = recorder
        .of("ok")
        .into_iter()
        .filter_map(|kind| match kind {
            EventKind::Progress(step) => Some(step),
            _ => None,
        })
        .collect();
    assert_eq!(progress, [0, 1, 2]);
    assert_eq!(recorder.names("fails"), ["queued", "started", "failed"]);
    assert_eq!(recorder.names("panics"), ["queued", "started", "failed"]);

    let failed = recorder.of("fails").pop().unwrap();
    let EventKind::Failed { ran, failure } = failed else { panic!("{failed:?}") };
    assert_eq!(ran, Duration::from_secs(2));
    assert_eq!(failure, Failure { kind: "timeout", message: "took too long".to_owned() });
    let EventKind::Finished { ran } = recorder.of("ok").pop().unwrap() else { panic!() };
    assert_eq!(ran, Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn the_terminal_event_is_delivered_before_the_handle_resolves() {
    let (dispatcher, runner, _, recorder) = dispatcher(3);
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let handles = dispatcher
        .submit_batch((0..9).map(|i| {
            let work = Work::ms(100 * i);
            let work = if i % 3 == 0 { work.failing("busy", "server busy") } else { work };
            task(&format!("t{i}"), Normal, work)
        }))
        .unwrap();
    for handle in handles {
        let id = handle.id().clone();
        let _ = handle.await;
        let last = recorder.of(id.as_str()).pop().unwrap();
        assert!(last.is_terminal(), "{id}: {last:?}");
        // The summary counts it already, too.
        let summary = dispatcher.summary();
        assert!(summary.completed() >= 1);
    }
    drop(dispatcher);
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn failures_are_grouped_in_the_summary() {
    let (dispatcher, runner, _, _) = dispatcher(4);
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let handles = dispatcher
        .submit_batch([
            task("a", Normal, Work::secs(1).failing("timeout", "took too long")),
            task("b", Normal, Work::secs(3).failing("timeout", "took too long")),
            task("c", Normal, Work::secs(2).failing("busy", "server busy")),
            task("d", Normal, Work::secs(1).panicking()),
            task("e", Normal, Work::secs(1)),
        ])
        .unwrap();
    let mut errors = Vec::new();
    for handle in handles {
        if let Err(err) = handle.await {
            errors.push(err);
        }
    }
    assert_eq!(errors.len(), 4);
    assert!(errors.iter().any(DispatchError::is_panic));
    let failed = errors.iter().filter(|e| e.is_failed()).count();
    assert_eq!(failed, 3);
    let err = errors.into_iter().find(DispatchError::is_failed).unwrap();
    assert_eq!(err.to_string(), "task failed");
    assert_eq!(std::error::Error::source(&err).unwrap().to_string(), "took too long");
    assert_eq!(err.into_failure().unwrap().kind, "timeout");

    drop(dispatcher);
    let summary = run.await.unwrap();
    assert_eq!((summary.finished, summary.failed, summary.cancelled), (1, 4, 0));
    let groups: Vec<(&str, &str, Vec<&str>)> = summary
        .failures
        .iter()
        .map(|g| {
            (
                g.failure.kind,
                g.failure.message.as_str(),
                g.tasks.iter().map(om_core::TaskId::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(groups[0], ("timeout", "took too long", vec!["a", "b"]));
    assert_eq!(groups[1], ("busy", "server busy", vec!["c"]));
    assert_eq!(groups[2], ("panic", "scripted panic in d", vec!["d"]));
    assert_eq!(summary.run_failed.count, 4);
    assert_eq!(summary.run_failed.max, Duration::from_secs(3));
    assert_eq!(summary.run_finished.total, Duration::from_secs(1));
    assert_eq!(summary.wait.count, 5);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_executor_leaves_its_worker_running() {
    let (dispatcher, runner, probe, _) = dispatcher(1);
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let boom = dispatcher.submit(task("boom", High, Work::secs(1).panicking())).unwrap();
    let fine = dispatcher.submit(task("fine", Normal, Work::secs(1))).unwrap();
    let err = boom.await.unwrap_err();
    assert_eq!(err.to_string(), "task panicked: scripted panic in boom");
    assert_eq!(fine.await.unwrap(), "done fine");
    assert_eq!(probe.running(), 0);
    assert_eq!(dispatcher.summary().workers, 1);
    drop(dispatcher);
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_panicking_callback_loses_no_task_and_reentrant_callbacks_work() {
    let probe = Probe::default();
    let recorder = Recorder::default();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let slot: Arc<parking_lot::Mutex<Option<Dispatcher<Probe>>>> = Arc::default();
    let inner = Arc::clone(&slot);
    let (dispatcher, runner) = Dispatcher::builder(probe.clone())
        .workers(NonZeroUsize::new(2).unwrap())
        .on_event(|event| {
            assert!(!matches!(event.kind, EventKind::Started { .. }), "callback panics on start");
        })
        .on_event(move |event| {
            counter.fetch_add(1, Ordering::SeqCst);
            // Calling back into the dispatcher from a callback is allowed.
            if let Some(dispatcher) = inner.lock().as_ref() {
                let _ = dispatcher.summary();
            }
            let _ = kind_name(&event.kind);
        })
        .on_event(recorder.callback())
        .build();
    *slot.lock() = Some(dispatcher.clone());
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let handles = dispatcher
        .submit_batch((0..4).map(|i| task(&format!("t{i}"), Normal, Work::secs(1))))
        .unwrap();
    for handle in handles {
        handle.await.unwrap();
    }
    assert_eq!(seen.load(Ordering::SeqCst), 12, "queued, started, finished for 4 tasks");
    assert_eq!(recorder.names("t3"), ["queued", "started", "finished"]);
    slot.lock().take();
    drop(dispatcher);
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_slow_receiver_lags_and_the_dispatcher_does_not_wait() {
    let (dispatcher, runner) =
        Dispatcher::builder(Probe::default()).workers(NonZeroUsize::MIN).event_capacity(4).build();
    let mut channel = dispatcher.subscribe();
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let handles = dispatcher
        .submit_batch((0..10).map(|i| task(&format!("t{i}"), Normal, Work::ms(10))))
        .unwrap();
    for handle in handles {
        handle.await.unwrap();
    }
    assert!(matches!(channel.recv().await, Err(RecvError::Lagged(26))));
    // The last four of the 30 events are still there.
    let last = channel.recv().await.unwrap();
    assert_eq!(last.task.as_str(), "t8");
    drop(dispatcher);
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn without_observers_no_event_is_built_but_tasks_run() {
    let probe = Probe::default();
    let (dispatcher, runner) = Dispatcher::new(probe.clone());
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let handle = dispatcher.submit(task("quiet", Normal, Work::secs(1).reporting(5))).unwrap();
    assert_eq!(handle.await.unwrap(), "done quiet");
    // Subscribing later sees only what happens afterwards.
    let mut channel = dispatcher.subscribe();
    let handle = dispatcher.submit(task("loud", Normal, Work::secs(1))).unwrap();
    handle.await.unwrap();
    let first = channel.recv().await.unwrap();
    assert_eq!((first.task.as_str(), kind_name(&first.kind)), ("loud", "queued"));
    drop(dispatcher);
    run.await.unwrap();
}
