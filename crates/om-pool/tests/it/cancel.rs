//! Dropping a checkout half-way gives everything back.

use std::time::Duration;

use om_pool::{EventKind, Pool, Request, SpawnCause};
use tokio::time::timeout;

use crate::support::{Factory, Fleet, drain, placement};

#[tokio::test(start_paused = true)]
async fn a_cancelled_waiter_leaves_the_queue() {
    let fleet = Fleet::new();
    let pool = Pool::builder(Factory::new(&fleet))
        .max(1)
        .spares(0)
        .placement(placement("llama3.2", "gpu"))
        .build()
        .unwrap();
    let held = pool.checkout(Request::any()).await.unwrap();
    let gave_up = timeout(Duration::from_secs(1), pool.checkout(Request::any())).await;
    assert!(gave_up.is_err());
    assert_eq!(pool.stats().waiters, 0);

    // A waiter dropped after being handed an agent but before collecting it
    // hands the agent back.
    let mut late = Box::pin(pool.checkout(Request::any()));
    assert!(futures_poll_once(late.as_mut()).await.is_none());
    let id = held.id();
    drop(held);
    assert_eq!(pool.stats().busy, 1, "granted to the waiter");
    drop(late);
    let stats = pool.stats();
    assert_eq!((stats.busy, stats.idle, stats.waiters), (0, 1, 0), "{stats:?}");
    assert_eq!(pool.checkout(Request::any()).await.unwrap().id(), id);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_spawn_frees_its_slot() {
    let fleet = Fleet::new();
    let pool = Pool::builder(Factory::new(&fleet).with_delay(Duration::from_secs(5)))
        .max(1)
        .spares(0)
        .placement(placement("llama3.2", "gpu"))
        .build()
        .unwrap();
    let mut events = pool.subscribe();
    let gave_up = timeout(Duration::from_secs(1), pool.checkout(Request::any())).await;
    assert!(gave_up.is_err());
    assert_eq!(fleet.live(), 0, "the half-made agent was dropped");
    assert_eq!(pool.stats().agents, 0);
    assert!(matches!(
        drain(&mut events).as_slice(),
        [EventKind::SpawnFailed { cause: SpawnCause::Demand, .. }]
    ));
    // The slot is free again.
    let agent = pool.checkout(Request::any()).await.unwrap();
    assert_eq!(agent.id().as_u64(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_spawn_is_a_typed_error_and_frees_its_slot() {
    let fleet = Fleet::new();
    let pool = Pool::builder(Factory::new(&fleet))
        .max(1)
        .spares(0)
        .placement(placement("llama3.2", "gpu"))
        .build()
        .unwrap();
    fleet.fail_next_spawns(1);
    let err = pool.checkout(Request::any()).await.unwrap_err();
    assert!(err.is_spawn(), "{err}");
    assert!(
        matches!(&err, om_pool::CheckoutError::Spawn { placement: p, .. } if *p == placement("llama3.2", "gpu"))
    );
    assert!(pool.checkout(Request::any()).await.is_ok());
}

/// Polls a future once; `Some` if it finished.
async fn futures_poll_once<F: Future + Unpin>(mut future: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut future).poll(cx) {
            std::task::Poll::Ready(output) => Some(output),
            std::task::Poll::Pending => None,
        })
    })
    .await
}
