//! Cost of recording: one `record_request` from one thread and from two
//! threads at once (lock contention), the in-flight guard, and the readers
//! (snapshot and Prometheus rendering) at 100 instances.
//!
//! Run with: `cargo bench -p om-metrics --bench record`.
#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use om_core::{EndpointId, ErrorKind, ModelName, TaskCategory};
use om_metrics::{Metrics, Outcome, RequestRecord};

/// Eight instances: 4 endpoints × 2 models, as a small fleet.
fn instances() -> Vec<(EndpointId, ModelName)> {
    let models: [ModelName; 2] =
        ["qwen2.5-coder:7b".parse().expect("valid"), "llama3.2".parse().expect("valid")];
    (0..4)
        .flat_map(|e| {
            models.iter().map(move |m| (EndpointId::new(format!("endpoint-{e}")), m.clone()))
        })
        .collect()
}

/// The `i`-th record: mostly successes with TTFT and tokens, one in 16 a
/// busy failure, categories rotating.
fn record(fleet: &[(EndpointId, ModelName)], i: u64) -> RequestRecord<'_> {
    let (endpoint, model) = &fleet[i as usize % fleet.len()];
    let latency = Duration::from_micros(50_000 + (i * 7919) % 2_000_000);
    let category = TaskCategory::ALL[i as usize % TaskCategory::ALL.len()];
    if i.is_multiple_of(16) {
        RequestRecord::new(endpoint, model, Outcome::Err(ErrorKind::Busy), latency)
            .with_category(category)
    } else {
        RequestRecord::new(endpoint, model, Outcome::Ok, latency)
            .with_category(category)
            .with_ttft(Duration::from_micros(20_000 + i % 100_000))
            .with_tokens(100 + i % 400, 40.0 + (i % 60) as f64)
    }
}

fn bench_record(c: &mut Criterion) {
    let fleet = instances();
    let mut group = c.benchmark_group("record_request");

    group.bench_function("1_thread", |b| {
        let metrics = Metrics::new();
        let mut i = 0_u64;
        b.iter(|| {
            i += 1;
            metrics.record_request(black_box(record(&fleet, i)));
        });
    });

    // Each iteration is one record on each of two threads at the same time,
    // so the reported time is the wall time per record per thread.
    group.bench_function("2_threads", |b| {
        let metrics = Metrics::new();
        b.iter_custom(|iters| {
            let barrier = Barrier::new(2);
            std::thread::scope(|scope| {
                let workers: Vec<_> = (0..2_u64)
                    .map(|t| {
                        let (metrics, fleet, barrier) = (&metrics, &fleet, &barrier);
                        scope.spawn(move || {
                            barrier.wait();
                            let start = Instant::now();
                            for i in 0..iters {
                                metrics.record_request(black_box(record(fleet, i * 2 + t)));
                            }
                            start.elapsed()
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|w| w.join().expect("bench thread panicked"))
                    .max()
                    .unwrap_or_default()
            })
        });
    });
    group.finish();

    c.bench_function("start_request_guard", |b| {
        let metrics = Metrics::new();
        let (endpoint, model) = &fleet[0];
        b.iter(|| drop(black_box(metrics.start_request(endpoint, model))));
    });
}

fn bench_read(c: &mut Criterion) {
    let metrics = Metrics::new();
    let fleet: Vec<(EndpointId, ModelName)> = (0..50)
        .flat_map(|e| {
            ["qwen2.5-coder:7b", "llama3.2"]
                .map(|m| (EndpointId::new(format!("endpoint-{e}")), m.parse().expect("valid")))
        })
        .collect();
    for i in 0..100_000 {
        metrics.record_request(record(&fleet, i));
    }
    let mut group = c.benchmark_group("read_100_instances");
    group.bench_function("snapshot", |b| b.iter(|| black_box(metrics.snapshot())));
    group.bench_function("to_prometheus", |b| b.iter(|| black_box(metrics.to_prometheus())));
    group.finish();
}

criterion_group!(benches, bench_record, bench_read);
criterion_main!(benches);
