//! Snapshot reads with and without a writer publishing new snapshots on
//! another thread, and the cost of one publication.
//!
//! The fleet: 100 endpoints × 10 models = 1,000 instances. The writer
//! flips one endpoint's loaded models back and forth, which publishes a new
//! snapshot each time, as fast as it can.
//!
//! Run with: `cargo bench -p om-registry --bench snapshot`.
#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]
#![allow(clippy::print_stderr, reason = "a bench reports how many snapshots the writer published")]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use criterion::{Criterion, criterion_group, criterion_main};
use om_core::{EndpointId, ModelName};
use om_registry::{Config, EndpointSpec, Health, Loaded, LoadedModel, ModelInfo, Registry};

fn fleet(endpoints: usize, models: usize) -> Registry {
    let registry = Registry::new(Config::default());
    let mut edit = registry.edit();
    for e in 0..endpoints {
        let id = EndpointId::new(format!("ep{e:04}"));
        let url = format!("127.0.0.1:{}", 20_000 + e).parse().expect("valid address");
        edit.upsert_endpoint(EndpointSpec::new(id.clone(), url)).expect("valid spec");
        edit.set_health(&id, Health::Healthy).expect("known endpoint");
        let infos = (0..models)
            .map(|m| ModelInfo::new(format!("model{m}:7b").parse().expect("valid name")))
            .collect();
        edit.replace_models(&id, infos).expect("known endpoint");
    }
    edit.publish();
    registry
}

fn loaded(name: &ModelName) -> LoadedModel {
    LoadedModel {
        name: name.clone(),
        state: Loaded { expires_at: None, context_length: Some(4096), size_vram: 1 },
    }
}

fn bench(c: &mut Criterion) {
    let registry = fleet(100, 10);
    let mut group = c.benchmark_group("snapshot");

    group.bench_function("read/idle", |b| {
        b.iter(|| {
            let snapshot = registry.snapshot();
            black_box(snapshot.instances().len())
        });
    });

    let stop = Arc::new(AtomicBool::new(false));
    let published = Arc::new(AtomicU64::new(0));
    let writer = {
        let (registry, stop, published) = (registry.clone(), stop.clone(), published.clone());
        thread::spawn(move || {
            let id = EndpointId::new("ep0000");
            let model: ModelName = "model0:7b".parse().expect("valid name");
            let mut on = false;
            while !stop.load(Ordering::Relaxed) {
                on = !on;
                let set = if on { vec![loaded(&model)] } else { vec![] };
                registry.set_loaded(&id, set).expect("known endpoint");
                published.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    group.bench_function("read/under_writes", |b| {
        b.iter(|| {
            let snapshot = registry.snapshot();
            black_box(snapshot.instances().len())
        });
    });
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer thread");
    eprintln!("writer published {} snapshots meanwhile", published.load(Ordering::Relaxed));

    let id = EndpointId::new("ep0001");
    let model: ModelName = "model1:7b".parse().expect("valid name");
    let mut on = false;
    group.bench_function("publish/1000_instances", |b| {
        b.iter(|| {
            on = !on;
            let set = if on { vec![loaded(&model)] } else { vec![] };
            black_box(registry.set_loaded(&id, set).expect("known endpoint"))
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
