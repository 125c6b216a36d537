//! `Router::route` for each built-in strategy at 10, 100 and 1,000
//! instances.
//!
//! The fleet: `n / 10` endpoints with the same 10 models each, every
//! instance with measured latency, TTFT, speed and coding affinity, half of
//! them loaded. Two requests:
//!
//! - `pinned`: one model, the usual case (a client names its model), so
//!   `n / 10` candidates come from the snapshot's model index;
//! - `any`: any model with the tools capability, so all `n` instances are
//!   candidates.
//!
//! Above 64 candidates (`RouterConfig::exact_limit`) decisions are
//! sampled: `pinned/1000`, `any/100` and `any/1000` measure the sampled
//! path, the others the exact one. The target is at most 1 µs at 1,000
//! instances for every strategy.
//!
//! `category/…` is `detect_category`, which every forwarded request without
//! a category runs over its prompt: a one-line prompt, and a coding agent's
//! (about 20 KB of instructions and code).
//!
//! Run with: `cargo bench -p om-router --bench route`.
#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use om_core::{Capabilities, Capability, EndpointId, TaskCategory};
use om_registry::{
    Config, EndpointSpec, Health, Loaded, LoadedModel, ModelInfo, Outcome, Registry, Snapshot,
};
use om_router::{RouteRequest, Router, RouterConfig, StrategyKind, detect_category};
use tokio::time::Instant;

const MODELS_PER_ENDPOINT: usize = 10;

fn fleet(instances: usize) -> Registry {
    let registry = Registry::new(Config::default());
    let endpoints = (instances / MODELS_PER_ENDPOINT).max(1);
    let mut edit = registry.edit();
    for e in 0..endpoints {
        let id = EndpointId::new(format!("ep{e:04}"));
        let mut spec = EndpointSpec::new(
            id.clone(),
            format!("127.0.0.1:{}", 20_000 + e).parse().expect("address"),
        );
        spec.weight = 1.0 + (e % 3) as f64;
        spec.tags = vec![if e % 2 == 0 { "gpu" } else { "cpu" }.to_owned()];
        edit.upsert_endpoint(spec).expect("valid spec");
        edit.set_health(&id, Health::Healthy).expect("known endpoint");
        let models: Vec<ModelInfo> = (0..MODELS_PER_ENDPOINT)
            .map(|m| {
                let mut info = ModelInfo::new(format!("model{m}:7b").parse().expect("name"));
                info.family = format!("family{}", m % 3);
                info.capabilities = Capabilities::of(&[Capability::Completion, Capability::Tools]);
                info.context_length = Some(32_768);
                info
            })
            .collect();
        let loaded = models
            .iter()
            .enumerate()
            .filter(|(m, _)| (e + m) % 2 == 0)
            .map(|(_, info)| LoadedModel {
                name: info.name.clone(),
                state: Loaded { expires_at: None, context_length: Some(8192), size_vram: 1 },
            })
            .collect();
        edit.replace_models(&id, models).expect("known endpoint");
        edit.set_loaded(&id, loaded).expect("known endpoint");
    }
    edit.publish();
    let snapshot = registry.snapshot();
    let now = Instant::now();
    for (i, instance) in snapshot.instances().iter().enumerate() {
        let mut outcome = Outcome::success()
            .with_latency(Duration::from_millis(800 + (i as u64 * 37) % 900))
            .with_ttft(Duration::from_millis(100 + (i as u64 * 13) % 200))
            .with_category(TaskCategory::Coding)
            .with_quality(((i * 7) % 10) as f64 / 10.0);
        outcome.tokens_per_sec = Some(20.0 + (i % 50) as f64);
        for _ in 0..3 {
            instance.live.record(&outcome, now);
        }
    }
    registry
}

fn requests() -> [(&'static str, RouteRequest); 2] {
    let base = |r: RouteRequest| {
        r.with_capabilities(Capabilities::of(&[Capability::Tools]))
            .with_tokens(2_000, Some(512))
            .with_category(TaskCategory::Coding)
    };
    [
        ("pinned", base(RouteRequest::for_model("model3:7b".parse().expect("name")))),
        ("any", base(RouteRequest::any())),
    ]
}

fn bench(c: &mut Criterion) {
    let sizes = [10, 100, 1_000];
    let fleets: Vec<(usize, std::sync::Arc<Snapshot>, Registry)> = sizes
        .iter()
        .map(|&n| {
            let registry = fleet(n);
            (n, registry.snapshot(), registry)
        })
        .collect();
    let now = Instant::now();
    for kind in StrategyKind::ALL {
        let mut group = c.benchmark_group(format!("route/{kind}"));
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        let router = Router::new(RouterConfig { strategy: kind, ..RouterConfig::default() });
        for (label, request) in requests() {
            for (n, snapshot, _) in &fleets {
                group.bench_with_input(BenchmarkId::new(label, n), n, |b, _| {
                    b.iter(|| black_box(router.route(black_box(&request), snapshot, now)));
                });
            }
        }
        group.finish();
    }
}

fn category(c: &mut Criterion) {
    let short = "fix the failing test in parser.rs".to_owned();
    let code = "    let value = parse(input)?; // the parser's own error, with its line\n";
    let agent = format!(
        "Act as an expert software developer. Always use best practices when coding.\n{}\n\
         Now refactor the function above so that it returns early.",
        code.repeat(300)
    );
    let mut group = c.benchmark_group("category");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for (label, prompt) in [("short", &short), ("agent_20k", &agent)] {
        group.bench_function(label, |b| b.iter(|| black_box(detect_category(black_box(prompt)))));
    }
    group.finish();
}

criterion_group!(benches, bench, category);
criterion_main!(benches);
