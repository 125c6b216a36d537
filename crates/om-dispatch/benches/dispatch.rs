//! Dispatcher overhead: tasks per second through submit, queue, worker and
//! handle with a no-op executor, 10 workers on a 2-thread runtime.
//!
//! Run with: `cargo bench -p om-dispatch --bench dispatch`. The target
//! is at least 500k tasks/s on 2 cores.
#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]

use std::convert::Infallible;
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use om_core::{Priority, TaskId};
use om_dispatch::{Context, Dispatcher, Executor, Task};
use tokio_util::sync::CancellationToken;

/// Returns its payload at once.
struct Noop;

impl Executor for Noop {
    type Payload = u64;
    type Output = u64;
    type Error = Infallible;
    type Progress = ();

    async fn execute(&self, payload: u64, _cx: &Context<'_, ()>) -> Result<u64, Infallible> {
        Ok(black_box(payload))
    }
}

const BATCH: usize = 10_000;

/// A batch of tasks with mixed priorities; built outside the measurement.
fn tasks() -> Vec<Task<u64>> {
    (0..BATCH as u64)
        .map(|i| {
            let priority = Priority::ALL[(i % 3) as usize];
            Task::new(TaskId::new(format!("t{i}")), i).with_priority(priority)
        })
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a tokio runtime")
}

/// How a round submits its tasks.
#[derive(Clone, Copy)]
enum Submit {
    Batch,
    OneByOne,
}

/// Submits `tasks` and awaits every handle, on the runtime, so only its two
/// threads do the work.
fn round(
    rt: &tokio::runtime::Runtime,
    dispatcher: &Dispatcher<Noop>,
    tasks: Vec<Task<u64>>,
    how: Submit,
) {
    let dispatcher = dispatcher.clone();
    let submitter = rt.spawn(async move {
        let handles = match how {
            Submit::Batch => dispatcher.submit_batch(tasks).expect("open"),
            Submit::OneByOne => {
                tasks.into_iter().map(|task| dispatcher.submit(task).expect("open")).collect()
            }
        };
        for handle in handles {
            black_box(handle.await.expect("a no-op succeeds"));
        }
    });
    rt.block_on(submitter).expect("submitter");
}

fn dispatch(c: &mut Criterion) {
    let rt = runtime();
    let workers = NonZeroUsize::new(10).expect("not zero");
    let mut group = c.benchmark_group("dispatch");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.measurement_time(Duration::from_secs(8));

    let cases = [
        ("noop_10_workers/submit_batch", Submit::Batch, false),
        ("noop_10_workers/submit", Submit::OneByOne, false),
        // A subscriber draining the channel, as a progress display would.
        ("noop_10_workers_subscribed/submit_batch", Submit::Batch, true),
    ];
    for (name, how, observed) in cases {
        // One long-lived dispatcher per case, as a batch run uses it.
        let (dispatcher, runner) = Dispatcher::builder(Noop).workers(workers).build();
        let running = rt.spawn(runner.run(CancellationToken::new()));
        let drain = observed.then(|| {
            let mut events = dispatcher.subscribe();
            rt.spawn(async move { while events.recv().await.is_ok() {} })
        });
        group.bench_function(name, |b| {
            b.iter_batched(
                tasks,
                |tasks| round(&rt, &dispatcher, tasks, how),
                BatchSize::PerIteration,
            );
        });
        drop(dispatcher);
        rt.block_on(running).expect("runner");
        if let Some(drain) = drain {
            rt.block_on(drain).expect("drain ends when the channel closes");
        }
    }
    group.finish();
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
