//! Warm spares: idle agents kept ready beyond those checked out, within the
//! maximum, spread over the configured placements.

use std::time::Duration;

use om_pool::{EventKind, Pool, Request, SpawnCause};
use tokio::time::sleep;
use tokio_util::sync::CancellationToken;

use crate::support::{Factory, Fleet, drain, placement};

#[tokio::test(start_paused = true)]
async fn spares_are_kept_ready_as_agents_are_checked_out() {
    let fleet = Fleet::new();
    let pool = Pool::builder(Factory::new(&fleet).with_delay(Duration::from_millis(100)))
        .min(1)
        .max(4)
        .spares(2)
        .placements([placement("llama3.2", "gpu"), placement("llama3.2", "cpu")])
        .build()
        .unwrap();
    let mut events = pool.subscribe();
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(pool.clone().run(shutdown.clone()));
    let settle = Duration::from_millis(150);

    sleep(settle).await;
    let stats = pool.stats();
    assert_eq!((stats.agents, stats.idle), (2, 2), "two spares before any checkout: {stats:?}");
    // Spread: one per placement.
    let endpoints: Vec<_> = fleet.made().iter().map(|(_, p)| p.endpoint.to_string()).collect();
    assert_eq!(endpoints, ["gpu", "cpu"]);

    // A checkout is served by a spare at once, and the spare is replaced.
    let first = pool.checkout(Request::any()).await.unwrap();
    assert_eq!(pool.stats().idle, 1);
    sleep(settle).await;
    let stats = pool.stats();
    assert_eq!((stats.agents, stats.busy, stats.idle), (3, 1, 2), "{stats:?}");

    // The maximum caps the spares: 2 busy + 2 spares = 4.
    let second = pool.checkout(Request::any()).await.unwrap();
    sleep(settle).await;
    let stats = pool.stats();
    assert_eq!((stats.agents, stats.busy, stats.idle), (4, 2, 2), "{stats:?}");
    let third = pool.checkout(Request::any()).await.unwrap();
    sleep(settle).await;
    let stats = pool.stats();
    assert_eq!((stats.agents, stats.busy, stats.idle), (4, 3, 1), "{stats:?}");

    let causes: Vec<_> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            EventKind::Spawned { cause, .. } => Some(cause),
            _ => None,
        })
        .collect();
    assert_eq!(causes, [SpawnCause::Spare; 4]);
    drop((first, second, third));
    shutdown.cancel();
    worker.await.unwrap().unwrap();
    assert_eq!(fleet.live(), 0);
}

#[tokio::test(start_paused = true)]
async fn without_the_worker_checkouts_spawn_on_demand_up_to_the_target() {
    let fleet = Fleet::new();
    let pool = Pool::builder(Factory::new(&fleet))
        .min(1)
        .max(10)
        .spares(1)
        .placement(placement("llama3.2", "gpu"))
        .build()
        .unwrap();
    // With one spare, each checkout leaves room for one more agent.
    let a = pool.checkout(Request::any()).await.unwrap();
    let b = pool.checkout(Request::any()).await.unwrap();
    let c = pool.checkout(Request::any()).await.unwrap();
    assert_eq!(fleet.spawned(), 3);
    assert_eq!(pool.stats().target, 4);
    let ids = [a.id(), b.id(), c.id()];
    drop((a, b, c));
    // Returned agents are reused, the most recent first.
    let again = pool.checkout(Request::any()).await.unwrap();
    assert_eq!(again.id(), ids[2]);
    assert_eq!(fleet.spawned(), 3);
}
