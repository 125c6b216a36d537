//! The pool's own overhead per task: checkout, run and check-in with an agent
//! that does nothing, so what is measured is the pool.
//!
//! - `single`: one task at a time on a current-thread runtime, one agent.
//! - `concurrent_10`: ten tasks at once on a 2-thread runtime, ten agents
//!   (no task ever waits; the lock is contended).
//! - `concurrent_10_yield` and `contended_10_on_2_yield`: the same ten tasks
//!   whose run yields once, so agents are held across a scheduling point;
//!   with two agents most checkouts then wait and are served by hand-off at
//!   check-in. The difference between the two is the cost of waiting.
//!
//! Criterion reports time per task (`iter_custom` divides by the tasks run).
//! Run with: `cargo bench -p om-pool --bench overhead`.
#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use om_pool::{Agent, AgentFactory, AgentId, Placement, Pool, Request};

/// Returns its task at once, or after yielding once to the scheduler.
struct Noop {
    yields: bool,
}

impl Agent for Noop {
    type Task = u64;
    type Output = u64;
    type Error = Infallible;

    async fn run(&mut self, task: u64) -> Result<u64, Infallible> {
        if self.yields {
            tokio::task::yield_now().await;
        }
        Ok(black_box(task))
    }
}

struct Noops {
    yields: bool,
}

impl AgentFactory for Noops {
    type Agent = Noop;
    type Error = Infallible;

    async fn spawn(&self, _id: AgentId, _placement: &Placement) -> Result<Noop, Infallible> {
        Ok(Noop { yields: self.yields })
    }
}

fn pool(agents: usize, yields: bool) -> Pool<Noops> {
    let placement = Placement::new("llama3.2".parse().expect("a valid model name"), "local");
    Pool::builder(Noops { yields })
        .min(agents)
        .max(agents)
        .spares(0)
        .placement(placement)
        .build()
        .expect("a valid configuration")
}

/// One task: checkout, run, check-in (on drop).
async fn task(pool: &Pool<Noops>, i: u64) {
    let mut agent = pool.checkout(Request::any()).await.expect("an agent");
    black_box(agent.run(i).await.expect("a no-op succeeds"));
}

/// Runs `iters` tasks split over `workers` concurrent loops and returns the
/// wall time; the pool is warmed up first so no agent is made inside.
fn measure(rt: &tokio::runtime::Runtime, pool: &Pool<Noops>, workers: u64, iters: u64) -> Duration {
    rt.block_on(async {
        let mut warm = Vec::new();
        for _ in 0..pool.stats().target {
            warm.push(pool.checkout(Request::any()).await.expect("an agent"));
        }
        drop(warm);
        let per_worker = iters.div_ceil(workers);
        let start = Instant::now();
        let mut loops = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let pool = pool.clone();
            loops.spawn(async move {
                for i in 0..per_worker {
                    task(&pool, i).await;
                }
            });
        }
        while let Some(done) = loops.join_next().await {
            done.expect("a bench loop");
        }
        let elapsed = start.elapsed();
        // Scale to the requested count when the split rounded up.
        elapsed.mul_f64(iters as f64 / (per_worker * workers) as f64)
    })
}

fn overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool_overhead");
    group.throughput(Throughput::Elements(1));

    let current = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    let single = pool(1, false);
    group.bench_function("single", |b| {
        b.iter_custom(|iters| {
            current.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    task(&single, i).await;
                }
                start.elapsed()
            })
        });
    });

    let threaded =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().expect("a runtime");
    let ten = pool(10, false);
    group.bench_function("concurrent_10", |b| {
        b.iter_custom(|iters| measure(&threaded, &ten, 10, iters));
    });
    let ten = pool(10, true);
    group.bench_function("concurrent_10_yield", |b| {
        b.iter_custom(|iters| measure(&threaded, &ten, 10, iters));
    });
    let two = pool(2, true);
    group.bench_function("contended_10_on_2_yield", |b| {
        b.iter_custom(|iters| measure(&threaded, &two, 10, iters));
    });
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
