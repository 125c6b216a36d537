//! Quotas per model and per endpoint, and the pool's maximum, hold at every
//! instant under concurrent checkouts with random placements; counted by the
//! agents themselves from the start of their spawn until they are dropped.

use std::sync::Arc;
use std::time::Duration;

use om_core::rng::SplitMix64;
use om_pool::{Builder, EventKind, Pool, Quota, Request};
use proptest::prelude::*;
use tokio::task::JoinSet;
use tokio::time::sleep;
use tokio_util::sync::CancellationToken;

use crate::support::{Factory, Fake, Fleet, Job, drain, model, placement};

const MODEL_A: usize = 2;
const MODEL_B: usize = 1;
const PER_MODEL: usize = 2;
const ENDPOINT_X: usize = 2;
const ENDPOINT_Y: usize = 3;

/// A pool over models a, b, c and endpoints x, y with tight quotas.
fn builder(fleet: &Arc<Fleet>, max: usize, spares: usize) -> Builder<Factory> {
    Pool::builder(Factory::new(fleet).with_delay(Duration::from_millis(3)))
        .min(1)
        .max(max)
        .spares(spares)
        .scale_up_after(Duration::from_millis(20))
        .scale_up_queue_depth(3)
        .idle_timeout(Duration::from_millis(50))
        .placements([
            placement("a", "x"),
            placement("a", "y"),
            placement("b", "x"),
            placement("b", "y"),
            placement("c", "y"),
        ])
        .model_quota(model("a"), MODEL_A)
        .model_quota(model("b"), MODEL_B)
        .per_model_quota(PER_MODEL)
        .endpoint_quota("x", ENDPOINT_X)
        .endpoint_quota("y", ENDPOINT_Y)
}

/// The request of kind `kind` (0..7); kind 6 names `c@x`, a placement the
/// pool does not list but may serve because the request is exact.
fn request(kind: usize) -> Request {
    match kind {
        0 => Request::any(),
        1 => Request::any().with_model(model("a")),
        2 => Request::any().with_model(model("b")),
        3 => Request::any().with_endpoint("x"),
        4 => Request::any().with_endpoint("y"),
        5 => Request::placement(placement("a", "y")),
        _ => Request::placement(placement("c", "x")),
    }
}

fn assert_within_quotas(fleet: &Fleet, max: usize) {
    assert!(fleet.max_total() <= max, "total {} > {max}", fleet.max_total());
    assert!(fleet.max_for_model(&model("a")) <= MODEL_A);
    assert!(fleet.max_for_model(&model("b")) <= MODEL_B);
    assert!(fleet.max_for_model(&model("c")) <= PER_MODEL);
    assert!(fleet.max_for_endpoint(&"x".into()) <= ENDPOINT_X);
    assert!(fleet.max_for_endpoint(&"y".into()) <= ENDPOINT_Y);
}

/// One task: waits `delay_ms`, checks out an agent for `kind`, checks that
/// it matches, runs for `run_ms`, maybe failing (which recycles the agent).
async fn task(pool: Pool<Factory>, kind: usize, delay_ms: u64, run_ms: u64, fail: bool) {
    sleep(Duration::from_millis(delay_ms)).await;
    let request = request(kind);
    let mut agent = pool.checkout(request.clone()).await.expect("an agent");
    assert!(request.matches(agent.placement()), "{request:?} got {}", agent.placement());
    let fake: &Fake = &agent;
    assert_eq!(&fake.placement, agent.placement(), "the agent runs where the pool says");
    let job = if fail { Job::ms(run_ms).failing() } else { Job::ms(run_ms) };
    let _ = agent.run(job).await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn quotas_are_never_exceeded(
        jobs in prop::collection::vec((0usize..7, 0u64..40, 0u64..30, prop::bool::weighted(0.1)), 1..50),
        max in 1usize..8,
        spares in 0usize..3,
        worker in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let fleet = Fleet::new();
        rt.block_on(async {
            let pool = builder(&fleet, max, spares).build().unwrap();
            let shutdown = CancellationToken::new();
            let running = worker.then(|| tokio::spawn(pool.clone().run(shutdown.clone())));
            let mut tasks = JoinSet::new();
            for (kind, delay, run, fail) in jobs.iter().copied() {
                tasks.spawn(task(pool.clone(), kind, delay, run, fail));
            }
            let all = async { while let Some(done) = tasks.join_next().await { done.unwrap(); } };
            tokio::time::timeout(Duration::from_hours(1), all)
                .await
                .expect("every checkout is served: no deadlock");
            assert_within_quotas(&fleet, max);
            shutdown.cancel();
            if let Some(running) = running {
                running.await.unwrap().unwrap();
            }
            pool.close();
            assert_eq!(pool.stats().agents, 0);
        });
        prop_assert_eq!(fleet.live(), 0, "every agent was dropped");
    }
}

/// The same on a multi-threaded runtime, where checkouts, check-ins and the
/// worker really race; no timers, so no real time passes beyond the work.
#[test]
fn quotas_hold_under_real_parallelism() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    for seed in 0..20_u64 {
        let fleet = Fleet::new();
        let max = 1 + (seed as usize % 6);
        rt.block_on(async {
            let pool = Pool::builder(Factory::new(&fleet))
                .min(1)
                .max(max)
                .spares((seed % 3) as usize)
                .scale_up_after(Duration::ZERO)
                .idle_timeout(Duration::ZERO)
                .placements([
                    placement("a", "x"),
                    placement("a", "y"),
                    placement("b", "x"),
                    placement("b", "y"),
                    placement("c", "y"),
                ])
                .model_quota(model("a"), MODEL_A)
                .model_quota(model("b"), MODEL_B)
                .per_model_quota(PER_MODEL)
                .endpoint_quota("x", ENDPOINT_X)
                .endpoint_quota("y", ENDPOINT_Y)
                .build()
                .unwrap();
            let shutdown = CancellationToken::new();
            let worker = tokio::spawn(pool.clone().run(shutdown.clone()));
            let mut rng = SplitMix64::new(seed);
            let mut tasks = JoinSet::new();
            for _ in 0..200 {
                let (pool, kind, fail) = (pool.clone(), rng.below(7), rng.chance(0.1));
                tasks.spawn(async move {
                    let request = request(kind);
                    let mut agent = pool.checkout(request.clone()).await.expect("an agent");
                    assert!(request.matches(agent.placement()));
                    let job = if fail { Job::ms(0).failing() } else { Job::ms(0) };
                    let _ = agent.run(job).await;
                });
            }
            let all = async {
                while let Some(done) = tasks.join_next().await {
                    done.unwrap();
                }
            };
            tokio::time::timeout(Duration::from_mins(1), all).await.expect("no deadlock");
            shutdown.cancel();
            worker.await.unwrap().unwrap();
        });
        assert_within_quotas(&fleet, max);
        assert_eq!(fleet.live(), 0, "seed {seed}: every agent was dropped");
    }
}

/// A waiter handed the slot of an agent evicted for it makes its own agent
/// only once the evicted one is gone, though the check-in that evicted it
/// runs on another thread and dropping the agent takes a while there.
#[test]
fn a_waiter_spawns_into_an_evicted_slot_only_once_the_agent_is_gone() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let fleet = Fleet::new();
    rt.block_on(async {
        let pool = Pool::builder(Factory::new(&fleet))
            .max(1)
            .spares(0)
            .placements([placement("a", "x"), placement("b", "x")])
            .build()
            .unwrap();
        let a = pool.checkout(Request::any().with_model(model("a"))).await.unwrap();
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move {
                let agent = pool.checkout(Request::any().with_model(model("b"))).await?;
                Ok::<_, om_pool::CheckoutError<_>>(agent.placement().clone())
            }
        });
        while pool.stats().waiters == 0 {
            tokio::task::yield_now().await;
        }
        // Checking `a` in leaves it idle and in the way of the waiter: it is
        // evicted, and its drop on this plain thread takes 50 ms, during
        // which a waiter woken too soon would make its agent on a worker.
        fleet.linger_drops(Duration::from_millis(50));
        std::thread::spawn(move || drop(a)).join().unwrap();
        assert_eq!(waiting.await.unwrap().unwrap(), placement("b", "x"));
    });
    assert_eq!(fleet.max_total(), 1, "never two agents in a pool of one");
}

#[tokio::test(start_paused = true)]
async fn a_full_quota_makes_checkouts_wait_and_says_so() {
    let fleet = Fleet::new();
    // One spare: the pool has room for a second agent, but not of model b.
    let pool = Pool::builder(Factory::new(&fleet))
        .max(5)
        .spares(1)
        .placement(placement("b", "x"))
        .model_quota(model("b"), 1)
        .build()
        .unwrap();
    let mut events = pool.subscribe();
    let first = pool.checkout(Request::any()).await.unwrap();
    let waiting = tokio::spawn({
        let pool = pool.clone();
        async move { pool.checkout(Request::any().with_task("second")).await.map(|a| a.id()) }
    });
    sleep(Duration::from_millis(10)).await;
    assert_eq!(pool.stats().waiters, 1);
    let quota = Quota::Model { model: model("b"), limit: 1 };
    assert!(drain(&mut events).contains(&EventKind::QuotaHit { quota }));
    let id = first.id();
    drop(first);
    assert_eq!(waiting.await.unwrap().unwrap(), id, "the returned agent goes to the waiter");
    assert_eq!(fleet.max_for_model(&model("b")), 1);
}

#[tokio::test(start_paused = true)]
async fn an_idle_agent_in_the_way_is_evicted() {
    let fleet = Fleet::new();
    let pool = Pool::builder(Factory::new(&fleet))
        .min(1)
        .max(1)
        .spares(0)
        .placements([placement("a", "x"), placement("b", "x")])
        .build()
        .unwrap();
    let mut events = pool.subscribe();
    let a = pool.checkout(Request::any().with_model(model("a"))).await.unwrap();
    let a_id = a.id();
    drop(a);
    let b = pool.checkout(Request::any().with_model(model("b"))).await.unwrap();
    assert_eq!(b.placement(), &placement("b", "x"));
    assert!(
        drain(&mut events)
            .contains(&EventKind::Killed { agent: a_id, reason: om_pool::KillReason::Evicted })
    );
    assert_eq!(fleet.max_total(), 1);
}

#[tokio::test(start_paused = true)]
async fn requests_no_placement_can_serve_fail_fast() {
    let fleet = Fleet::new();
    let pool = Pool::builder(Factory::new(&fleet))
        .placement(placement("a", "x"))
        .endpoint_quota("y", 0)
        .build()
        .unwrap();
    let err = pool.checkout(Request::any().with_model(model("b"))).await.unwrap_err();
    assert!(err.is_no_placement(), "{err}");
    let err = pool.checkout(Request::placement(placement("a", "y"))).await.unwrap_err();
    assert!(err.is_no_placement(), "a zero quota can never be met");
    assert_eq!(fleet.spawned(), 0);
}
