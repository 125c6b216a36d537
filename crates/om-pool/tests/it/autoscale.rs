//! Autoscaling: up when checkouts wait long enough or enough of them wait,
//! not for a short burst; down to the floor after the idle timeout, never
//! below the minimum.

use std::time::Duration;

use om_pool::{EventKind, KillReason, Pool, Request};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::support::{Factory, Fleet, Job, drain, placement};

fn secs(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

/// `count` tasks that each check out any agent and run `job`; each returns
/// when it finished.
fn load(pool: &Pool<Factory>, count: usize, job: Job) -> JoinSet<Instant> {
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        let pool = pool.clone();
        tasks.spawn(async move {
            let mut agent = pool.checkout(Request::any()).await.expect("an agent");
            agent.run(job).await.expect("the job succeeds");
            Instant::now()
        });
    }
    tasks
}

#[tokio::test(start_paused = true)]
async fn scales_up_under_load_and_down_when_idle() {
    let fleet = Fleet::new();
    let pool = Pool::builder(Factory::new(&fleet))
        .min(1)
        .max(10)
        .spares(0)
        .scale_up_after(secs(2))
        .scale_up_queue_depth(100)
        .idle_timeout(secs(30))
        .placement(placement("llama3.2", "gpu"))
        .build()
        .unwrap();
    let mut events = pool.subscribe();
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(pool.clone().run(shutdown.clone()));
    let start = Instant::now();
    let mut tasks = load(&pool, 10, Job::secs(10));

    // One agent works, nine checkouts wait: no scale-up before the delay.
    sleep(secs(1)).await;
    let stats = pool.stats();
    assert_eq!((stats.agents, stats.busy, stats.waiters), (1, 1, 9), "{stats:?}");

    // After the delay the autoscaler sizes the pool for every waiter.
    sleep_until(start + Duration::from_millis(2500)).await;
    let stats = pool.stats();
    assert_eq!((stats.agents, stats.busy, stats.waiters, stats.target), (10, 10, 0, 10));
    assert_eq!(fleet.max_total(), 10);
    let scaled: Vec<_> = drain(&mut events)
        .into_iter()
        .filter(|e| matches!(e, EventKind::ScaledUp { .. }))
        .collect();
    assert_eq!(scaled, [EventKind::ScaledUp { from: 1, to: 10, waiters: 9 }]);

    // Ten tasks of 10 s finish in 12 s, not 100 s.
    while let Some(finished) = tasks.join_next().await {
        assert!(finished.unwrap() <= start + secs(12) + Duration::from_millis(10));
    }

    // Idle agents survive until the idle timeout (hysteresis), then the pool
    // shrinks to its minimum, oldest idle first.
    sleep_until(start + secs(39)).await;
    assert_eq!(pool.stats().agents, 10);
    sleep_until(start + secs(43)).await;
    let stats = pool.stats();
    assert_eq!((stats.agents, stats.idle), (1, 1), "{stats:?}");
    assert_eq!(fleet.live(), 1);
    let events = drain(&mut events);
    let killed = events
        .iter()
        .filter(|e| matches!(e, EventKind::Killed { reason: KillReason::IdleTimeout, .. }))
        .count();
    assert_eq!(killed, 9);
    let last_down = events.iter().rev().find_map(|e| match e {
        EventKind::ScaledDown { to, .. } => Some(*to),
        _ => None,
    });
    assert_eq!(last_down, Some(1));

    // Never below the minimum, however long it stays idle.
    sleep(secs(3600)).await;
    assert_eq!(pool.stats().agents, 1);
    shutdown.cancel();
    worker.await.unwrap().unwrap();
    assert_eq!(fleet.live(), 0, "shutdown kills idle agents");
}

#[tokio::test(start_paused = true)]
async fn a_deep_queue_scales_up_at_once() {
    let fleet = Fleet::new();
    let pool = Pool::builder(Factory::new(&fleet))
        .min(1)
        .max(4)
        .spares(0)
        .scale_up_after(secs(60))
        .scale_up_queue_depth(3)
        .placement(placement("llama3.2", "gpu"))
        .build()
        .unwrap();
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(pool.clone().run(shutdown.clone()));
    let mut tasks = load(&pool, 6, Job::secs(5));
    sleep(Duration::from_millis(10)).await;
    let stats = pool.stats();
    // Capped at max: four work, two wait.
    assert_eq!((stats.agents, stats.busy, stats.waiters), (4, 4, 2), "{stats:?}");
    while tasks.join_next().await.is_some() {}
    assert_eq!(fleet.max_total(), 4);
    shutdown.cancel();
    worker.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_short_burst_does_not_scale_up() {
    let fleet = Fleet::new();
    let pool = Pool::builder(Factory::new(&fleet))
        .min(1)
        .spares(0)
        .scale_up_after(secs(2))
        .scale_up_queue_depth(100)
        .placement(placement("llama3.2", "gpu"))
        .build()
        .unwrap();
    let mut events = pool.subscribe();
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(pool.clone().run(shutdown.clone()));
    let start = Instant::now();
    let mut tasks = load(&pool, 3, Job::ms(500));
    while let Some(finished) = tasks.join_next().await {
        assert!(finished.unwrap() <= start + Duration::from_millis(1600));
    }
    sleep(secs(10)).await;
    assert_eq!(fleet.spawned(), 1, "three short tasks shared one agent");
    assert!(!drain(&mut events).iter().any(|e| matches!(e, EventKind::ScaledUp { .. })));
    shutdown.cancel();
    worker.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_minimum_is_spawned_and_kept() {
    let fleet = Fleet::new();
    let pool = Pool::builder(Factory::new(&fleet))
        .min(3)
        .max(6)
        .spares(0)
        .scale_up_after(Duration::from_millis(100))
        .idle_timeout(secs(1))
        .placement(placement("llama3.2", "gpu"))
        .build()
        .unwrap();
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(pool.clone().run(shutdown.clone()));
    sleep(Duration::from_millis(10)).await;
    assert_eq!((pool.stats().agents, pool.stats().idle), (3, 3));

    let mut tasks = load(&pool, 6, Job::secs(1));
    while tasks.join_next().await.is_some() {}
    assert_eq!(fleet.max_total(), 6);
    sleep(secs(600)).await;
    assert_eq!(pool.stats().agents, 3);
    assert_eq!(fleet.live(), 3);
    shutdown.cancel();
    worker.await.unwrap().unwrap();
}
