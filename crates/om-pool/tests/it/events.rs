//! Events: one per lifecycle change, in the order the changes happened.

use std::num::NonZeroU64;
use std::time::Duration;

use om_pool::{AgentId, EventKind, KillReason, Pool, RecycleReason, Request, SpawnCause};
use tokio::time::sleep;
use tokio_util::sync::CancellationToken;

use crate::support::{Factory, Fleet, Job, drain, placement};

#[tokio::test(start_paused = true)]
async fn lifecycle_events_arrive_in_order() {
    let fleet = Fleet::new();
    let gpu = placement("llama3.2", "gpu");
    let pool = Pool::builder(Factory::new(&fleet))
        .min(1)
        .max(2)
        .spares(0)
        .recycle_after(NonZeroU64::new(2).unwrap())
        .scale_up_after(Duration::from_secs(1))
        .idle_timeout(Duration::from_secs(5))
        .placement(gpu.clone())
        .build()
        .unwrap();
    let mut events = pool.subscribe();
    let (one, two, three) = (AgentId::new(1), AgentId::new(2), AgentId::new(3));

    // A demand spawn, two runs over two checkouts, then a recycle.
    for _ in 0..2 {
        let mut agent = pool.checkout(Request::any().with_task("t")).await.unwrap();
        agent.run(Job::ms(5).tokens(7)).await.unwrap();
    }
    let checkin = |agent| EventKind::CheckedIn { agent, runs: 1, errors: 0, tokens: 7 };
    let out = |agent, waited| EventKind::CheckedOut {
        agent,
        task: Some("t".into()),
        waited: Duration::from_millis(waited),
    };
    assert_eq!(
        drain(&mut events),
        [
            EventKind::Spawned { agent: one, placement: gpu.clone(), cause: SpawnCause::Demand },
            out(one, 0),
            checkin(one),
            out(one, 0),
            checkin(one),
            EventKind::Recycled { agent: one, reason: RecycleReason::TaskLimit },
        ]
    );

    // Under load with the worker: a waiter, a scale-up, a spawn for the
    // waiter; later an idle kill and a scale-down; at shutdown a close.
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(pool.clone().run(shutdown.clone()));
    sleep(Duration::from_millis(1)).await;
    assert_eq!(
        drain(&mut events),
        [EventKind::Spawned { agent: two, placement: gpu.clone(), cause: SpawnCause::Spare }]
    );
    let busy = pool.checkout(Request::any()).await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.checkout(Request::any()).await.map(drop) }
    });
    sleep(Duration::from_secs(2)).await;
    waiter.await.unwrap().unwrap();
    drop(busy);
    sleep(Duration::from_secs(10)).await;
    shutdown.cancel();
    worker.await.unwrap().unwrap();
    let events = drain(&mut events);
    let no_task = |agent| EventKind::CheckedOut { agent, task: None, waited: Duration::ZERO };
    let empty = |agent| EventKind::CheckedIn { agent, runs: 0, errors: 0, tokens: 0 };
    assert_eq!(
        events,
        [
            no_task(two),
            EventKind::ScaledUp { from: 1, to: 2, waiters: 1 },
            EventKind::Spawned { agent: three, placement: gpu.clone(), cause: SpawnCause::Demand },
            EventKind::CheckedOut { agent: three, task: None, waited: Duration::from_secs(1) },
            empty(three),
            empty(two),
            EventKind::Killed { agent: three, reason: KillReason::IdleTimeout },
            EventKind::ScaledDown { from: 2, to: 1 },
            EventKind::Killed { agent: two, reason: KillReason::Closed },
        ]
    );
}
