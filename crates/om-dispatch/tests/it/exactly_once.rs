//! Every accepted task ends exactly once, whatever is submitted, cancelled,
//! resized or shut down, and in whatever order.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::time::Duration;

use om_core::Priority;
use om_dispatch::{
    CancelHandle, DispatchError, Dispatcher, EventKind, ShutdownReport, Stage, Summary, TaskHandle,
};
use proptest::prelude::*;
use tokio_util::sync::CancellationToken;

use crate::support::{Probe, Recorder, Work, task, totals};

/// One step of a scenario.
#[derive(Debug, Clone)]
enum Op {
    Submit(Spec),
    Batch(Vec<Spec>),
    Cancel(usize),
    SetWorkers(usize),
    Sleep(u64),
    Yield,
    CancelAll,
}

/// One task of a scenario.
#[derive(Debug, Clone)]
struct Spec {
    priority: Priority,
    ms: u64,
    end: u8,
    progress: u32,
}

/// How a scenario ends.
#[derive(Debug, Clone)]
enum Finale {
    Shutdown(u64),
    CancelRunToken,
    DropHandles,
}

fn spec() -> impl Strategy<Value = Spec> {
    (prop::sample::select(Priority::ALL.to_vec()), 0_u64..40, 0_u8..10, 0_u32..3)
        .prop_map(|(priority, ms, end, progress)| Spec { priority, ms, end, progress })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => spec().prop_map(Op::Submit),
        2 => prop::collection::vec(spec(), 1..6).prop_map(Op::Batch),
        3 => any::<usize>().prop_map(Op::Cancel),
        1 => (1_usize..6).prop_map(Op::SetWorkers),
        3 => (0_u64..30).prop_map(Op::Sleep),
        2 => Just(Op::Yield),
        1 => Just(Op::CancelAll),
    ]
}

fn finale() -> impl Strategy<Value = Finale> {
    prop_oneof![
        3 => (0_u64..100).prop_map(Finale::Shutdown),
        1 => Just(Finale::CancelRunToken),
        1 => Just(Finale::DropHandles),
    ]
}

impl Spec {
    fn work(&self) -> Work {
        let work = Work::ms(self.ms).reporting(self.progress);
        match self.end {
            0 => work.panicking(),
            1 | 2 => work.failing("scripted", "scripted failure"),
            _ => work,
        }
    }
}

/// The terminal kinds, for comparing a handle's result with the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Finished,
    Failed,
    Cancelled(Stage),
}

fn end_of_event(kind: &EventKind<u32>) -> Option<End> {
    match kind {
        EventKind::Finished { .. } => Some(End::Finished),
        EventKind::Failed { .. } => Some(End::Failed),
        EventKind::Cancelled { stage } => Some(End::Cancelled(*stage)),
        _ => None,
    }
}

fn end_of_result(result: &Result<String, DispatchError<crate::support::ScriptError>>) -> End {
    match result {
        Ok(_) => End::Finished,
        Err(DispatchError::Cancelled { stage }) => End::Cancelled(*stage),
        Err(_) => End::Failed,
    }
}

/// Checks every task's event sequence and its handle's result; returns the
/// index of each task's terminal event in the log.
fn check_exactly_once(
    recorder: &Recorder,
    results: &[(String, End)],
    summary: &Summary,
) -> Result<HashMap<String, usize>, TestCaseError> {
    let events = recorder.all();
    let mut by_task: HashMap<&str, Vec<(usize, &EventKind<u32>)>> = HashMap::new();
    for (index, event) in events.iter().enumerate() {
        by_task.entry(event.task.as_str()).or_default().push((index, &event.kind));
    }
    let mut terminal_at = HashMap::new();
    for (id, end) in results {
        let seq = by_task.remove(id.as_str()).unwrap_or_default();
        prop_assert!(matches!(seq.first(), Some((_, EventKind::Queued))), "{id}: {seq:?}");
        let terminals: Vec<_> = seq.iter().filter(|(_, kind)| kind.is_terminal()).collect();
        prop_assert_eq!(terminals.len(), 1, "{}: {:?}", id, seq);
        let (index, last) = seq.last().copied().expect("not empty");
        prop_assert!(last.is_terminal(), "{id}: terminal is not last: {seq:?}");
        prop_assert_eq!(end_of_event(last), Some(*end), "{}: handle disagrees with events", id);
        let starts = seq.iter().filter(|(_, k)| matches!(k, EventKind::Started { .. })).count();
        prop_assert!(starts <= 1, "{id}: {seq:?}");
        if starts == 0 {
            prop_assert!(
                matches!(end, End::Cancelled(Stage::Queued)),
                "{id} never started but ended {end:?}"
            );
        }
        terminal_at.insert(id.clone(), index);
    }
    // Refused submissions emit nothing: every event belongs to an accepted task.
    prop_assert!(by_task.is_empty(), "events of unknown tasks: {:?}", by_task.keys());
    let count = |want: fn(&End) -> bool| results.iter().filter(|(_, end)| want(end)).count() as u64;
    prop_assert_eq!(summary.submitted, results.len() as u64);
    prop_assert_eq!(summary.finished, count(|e| *e == End::Finished));
    prop_assert_eq!(summary.failed, count(|e| *e == End::Failed));
    prop_assert_eq!(summary.cancelled, count(|e| matches!(e, End::Cancelled(_))));
    prop_assert_eq!(summary.cancelled_queued, count(|e| *e == End::Cancelled(Stage::Queued)));
    prop_assert_eq!(summary.outstanding(), 0);
    prop_assert_eq!(summary.completed(), summary.submitted);
    Ok(terminal_at)
}

/// Runs one scenario on a paused current-thread runtime.
fn scenario(workers: usize, ops: Vec<Op>, finale: Finale) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let recorder = Recorder::default();
        let (dispatcher, runner) = Dispatcher::builder(Probe::default())
            .workers(NonZeroUsize::new(workers).expect("workers > 0"))
            .aging(Duration::from_millis(50))
            .on_event(recorder.callback())
            .build();
        let token = CancellationToken::new();
        let run = tokio::spawn(runner.run(token.clone()));
        let mut handles: Vec<TaskHandle<Probe>> = Vec::new();
        let mut cancellers: Vec<CancelHandle<Probe>> = Vec::new();
        let mut next_id = 0;
        let mut closed_at: Option<usize> = None;
        let mut refused = 0;
        let mut name = || {
            next_id += 1;
            format!("t{next_id}")
        };
        for op in ops {
            match op {
                Op::Submit(spec) => {
                    match dispatcher.submit(task(&name(), spec.priority, spec.work())) {
                        Ok(handle) => {
                            cancellers.push(handle.cancel_handle());
                            handles.push(handle);
                        }
                        Err(err) => {
                            prop_assert!(closed_at.is_some(), "refused while open: {err}");
                            refused += 1;
                        }
                    }
                }
                Op::Batch(specs) => {
                    let tasks: Vec<_> =
                        specs.iter().map(|s| task(&name(), s.priority, s.work())).collect();
                    match dispatcher.submit_batch(tasks) {
                        Ok(batch) => {
                            cancellers.extend(batch.iter().map(TaskHandle::cancel_handle));
                            handles.extend(batch);
                        }
                        Err(err) => {
                            prop_assert!(closed_at.is_some(), "refused while open: {err}");
                            prop_assert_eq!(err.into_inner().len(), specs.len());
                            refused += 1;
                        }
                    }
                }
                Op::Cancel(index) if !cancellers.is_empty() => {
                    cancellers[index % cancellers.len()].cancel();
                }
                Op::Cancel(_) => {}
                Op::SetWorkers(n) => {
                    dispatcher.set_workers(NonZeroUsize::new(n).expect("n > 0"));
                }
                Op::Sleep(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                Op::Yield => tokio::task::yield_now().await,
                Op::CancelAll => {
                    closed_at.get_or_insert(recorder.all().len());
                    dispatcher.cancel_all();
                }
            }
        }
        let mut report: Option<ShutdownReport> = None;
        match finale {
            Finale::Shutdown(ms) => {
                closed_at.get_or_insert(recorder.all().len());
                report = Some(dispatcher.shutdown(Duration::from_millis(ms)).await);
            }
            Finale::CancelRunToken => {
                closed_at.get_or_insert(recorder.all().len());
                token.cancel();
            }
            Finale::DropHandles => drop(dispatcher),
        }
        // Generous virtual time: a stuck task shows up as a timeout, not a hang.
        let summary = tokio::time::timeout(Duration::from_hours(1), run)
            .await
            .map_err(|_| TestCaseError::fail("run did not return"))?
            .expect("run panicked");
        let mut results = Vec::new();
        for handle in handles {
            let id = handle.id().to_string();
            prop_assert!(handle.is_finished(), "{id} not resolved after run returned");
            let result = handle.await;
            results.push((id, end_of_result(&result)));
        }
        let terminal_at = check_exactly_once(&recorder, &results, &summary)?;
        let _ = refused;

        if let (Some(report), Some(closed_at)) = (report, closed_at) {
            prop_assert_eq!(totals(&report.summary), totals(&summary));
            // The report names exactly the tasks cancelled after closing.
            let mut expected_queued = Vec::new();
            let mut expected_running = Vec::new();
            for (id, end) in &results {
                if terminal_at[id] >= closed_at {
                    match end {
                        End::Cancelled(Stage::Queued) => expected_queued.push(id.clone()),
                        End::Cancelled(Stage::Running) => expected_running.push(id.clone()),
                        _ => {}
                    }
                }
            }
            let mut got_queued: Vec<String> =
                report.cancelled_queued.iter().map(ToString::to_string).collect();
            let mut got_running: Vec<String> =
                report.cancelled_running.iter().map(ToString::to_string).collect();
            for list in
                [&mut expected_queued, &mut expected_running, &mut got_queued, &mut got_running]
            {
                list.sort();
            }
            prop_assert_eq!(got_queued, expected_queued);
            prop_assert_eq!(got_running, expected_running);
        }
        Ok(())
    })
}

proptest! {
    // 256 cases by default; PROPTEST_CASES raises it for a longer soak.
    #[test]
    fn every_task_ends_exactly_once(
        workers in 1_usize..6,
        ops in prop::collection::vec(op(), 0..60),
        finale in finale(),
    ) {
        scenario(workers, ops, finale)?;
    }
}

/// Real threads, real races: two producers, a canceller and a resizer on a
/// two-thread runtime; tasks only yield, so nothing sleeps.
#[test]
fn stress_on_a_multi_thread_runtime_loses_nothing() {
    for seed in 1..=24_u64 {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .expect("runtime");
        runtime.block_on(stress(seed));
    }
}

/// A small deterministic generator (`SplitMix64`), so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

async fn stress(seed: u64) {
    const PER_PRODUCER: usize = 1500;
    let recorder = Recorder::default();
    let (dispatcher, runner) = Dispatcher::builder(Probe::default())
        .workers(NonZeroUsize::new(4).expect("4"))
        .aging(Duration::from_millis(1))
        .on_event(recorder.callback())
        .build();
    let run = tokio::spawn(runner.run(CancellationToken::new()));
    let (cancel_tx, mut cancel_rx) = tokio::sync::mpsc::unbounded_channel::<CancelHandle<Probe>>();

    let mut producers = Vec::new();
    for producer in 0..2_u64 {
        let dispatcher = dispatcher.clone();
        let cancel_tx = cancel_tx.clone();
        producers.push(tokio::spawn(async move {
            let mut rng = Rng(seed * 31 + producer);
            let mut handles = Vec::new();
            let mut made = 0;
            while made < PER_PRODUCER {
                let spec = |rng: &mut Rng, i: usize| {
                    let priority = Priority::ALL[rng.below(3) as usize];
                    let work = match rng.below(10) {
                        0 => Work::ms(0).panicking(),
                        1 => Work::ms(0).failing("scripted", "scripted failure"),
                        _ => Work::ms(0),
                    };
                    task(&format!("p{producer}-{i}"), priority, work.reporting(rng.below(2) as u32))
                };
                let batch = 1 + rng.below(20) as usize;
                let new: Vec<_> = if rng.below(2) == 0 {
                    let tasks: Vec<_> = (made..made + batch).map(|i| spec(&mut rng, i)).collect();
                    dispatcher.submit_batch(tasks).expect("open")
                } else {
                    (made..made + batch)
                        .map(|i| dispatcher.submit(spec(&mut rng, i)).expect("open"))
                        .collect()
                };
                made += batch;
                for handle in &new {
                    if rng.below(8) == 0 {
                        let _ = cancel_tx.send(handle.cancel_handle());
                    }
                }
                handles.extend(new);
                if rng.below(4) == 0 {
                    let workers = 1 + rng.below(8) as usize;
                    dispatcher.set_workers(NonZeroUsize::new(workers).expect("> 0"));
                }
                tokio::task::yield_now().await;
            }
            handles
        }));
    }
    drop(cancel_tx);
    let canceller = tokio::spawn(async move {
        while let Some(handle) = cancel_rx.recv().await {
            tokio::task::yield_now().await;
            handle.cancel();
        }
    });

    let mut handles = Vec::new();
    for producer in producers {
        handles.extend(producer.await.expect("producer"));
    }
    canceller.await.expect("canceller");
    let grace = if seed.is_multiple_of(2) { Duration::ZERO } else { Duration::MAX };
    let report = dispatcher.shutdown(grace).await;
    let summary = run.await.expect("run");
    assert_eq!(totals(&report.summary), totals(&summary));

    let mut results = Vec::new();
    for handle in handles {
        let id = handle.id().to_string();
        assert!(handle.is_finished(), "seed {seed}: {id} unresolved");
        results.push((id, end_of_result(&handle.await)));
    }
    assert!(results.len() >= 2 * PER_PRODUCER);
    check_exactly_once(&recorder, &results, &summary)
        .unwrap_or_else(|err| panic!("seed {seed}: {err}"));
    if grace == Duration::MAX {
        assert!(!report.timed_out);
    }
}
