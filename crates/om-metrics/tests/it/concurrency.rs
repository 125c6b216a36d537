//! Many tasks on many threads recording at once: every count is exact, the
//! in-flight gauge returns to zero, and readers never see totals go down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use om_core::{EndpointId, ErrorKind, ModelName, TaskCategory};
use om_metrics::{Metrics, Outcome, RequestRecord};

use crate::support::{endpoint, model, ms};

const TASKS: u64 = 16;
const PER_TASK: u64 = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_recording_is_exact() {
    let metrics = Metrics::new();
    let fleet: Arc<Vec<(EndpointId, ModelName)>> = Arc::new(vec![
        (endpoint("a"), model("qwen2.5-coder:7b")),
        (endpoint("a"), model("llama3.2")),
        (endpoint("b"), model("qwen2.5-coder:7b")),
        (endpoint("c"), model("llama3.2")),
    ]);
    let done = Arc::new(AtomicBool::new(false));

    // A reader that snapshots and renders while the writers run: totals only
    // ever grow.
    let reader = tokio::spawn({
        let (metrics, done) = (metrics.clone(), Arc::clone(&done));
        async move {
            let mut last = 0;
            let mut reads = 0_u32;
            while !done.load(Ordering::Relaxed) {
                let snapshot = metrics.snapshot();
                let total: u64 = snapshot.instances.iter().map(|i| i.stats.requests).sum();
                assert!(total >= last, "total went from {last} to {total}");
                last = total;
                assert!(!snapshot.to_prometheus().is_empty());
                reads += 1;
                tokio::task::yield_now().await;
            }
            reads
        }
    });

    let writers: Vec<_> = (0..TASKS)
        .map(|t| {
            let (metrics, fleet) = (metrics.clone(), Arc::clone(&fleet));
            tokio::spawn(async move {
                for i in 0..PER_TASK {
                    let (e, m) = &fleet[((t + i) % 4) as usize];
                    // The guard is held across an await: it holds no lock and is Send.
                    let guard = metrics.start_request(e, m);
                    if i % 64 == 0 {
                        tokio::task::yield_now().await;
                    }
                    let outcome =
                        if i % 10 == 0 { Outcome::Err(ErrorKind::Busy) } else { Outcome::Ok };
                    let category = TaskCategory::ALL[(i % 7) as usize];
                    metrics.record_request(
                        RequestRecord::new(e, m, outcome, ms(1 + i % 500))
                            .with_category(category)
                            .with_tokens(3, 10.0),
                    );
                    drop(guard);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer panicked");
    }
    done.store(true, Ordering::Relaxed);
    let reads = reader.await.expect("reader panicked");
    assert!(reads > 0);

    let snapshot = metrics.snapshot();
    let total = TASKS * PER_TASK;
    // Each task walks the fleet round-robin from its own offset, so every
    // instance gets exactly a quarter.
    assert_eq!(snapshot.instances.len(), 4);
    for instance in &snapshot.instances {
        assert_eq!(instance.stats.requests, total / 4, "{}", instance.endpoint);
        assert_eq!(instance.stats.latency_seconds.count, total / 4);
        assert_eq!(instance.stats.in_flight, 0);
    }
    let requests: u64 = snapshot.instances.iter().map(|i| i.stats.requests).sum();
    let failures: u64 = snapshot.instances.iter().map(|i| i.stats.failures).sum();
    let busy: u64 = snapshot.instances.iter().map(|i| i.stats.errors["busy"]).sum();
    let tokens: u64 = snapshot.instances.iter().map(|i| i.stats.output_tokens).sum();
    let failures_per_task = PER_TASK.div_ceil(10);
    assert_eq!(requests, total);
    assert_eq!(failures, TASKS * failures_per_task);
    assert_eq!(busy, failures);
    assert_eq!(tokens, 3 * total);
    let by_category: u64 = snapshot.categories.iter().map(|c| c.requests).sum();
    assert_eq!(by_category, total);
    for (index, category) in TaskCategory::ALL.into_iter().enumerate() {
        let per_task = (0..PER_TASK).filter(|i| (i % 7) as usize == index).count() as u64;
        let stats = snapshot.category(Some(category)).expect("every category recorded");
        assert_eq!(stats.requests, TASKS * per_task, "{category}");
    }
    let models: u64 = snapshot.models.iter().map(|m| m.stats.requests).sum();
    assert_eq!(models, total);
}
