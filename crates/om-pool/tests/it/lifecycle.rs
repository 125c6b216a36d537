//! Lifecycle: recycle after N runs, on error, when unhealthy (at check-in
//! and at checkout), when a run is abandoned or on request; closing.

use std::num::NonZeroU64;
use std::time::Duration;

use om_pool::{Disposition, EventKind, KillReason, Pool, RecycleReason, Request};
use tokio::time::{sleep, timeout};

use crate::support::{Factory, Fleet, Job, drain, placement};

fn builder(fleet: &std::sync::Arc<Fleet>) -> om_pool::Builder<Factory> {
    Pool::builder(Factory::new(fleet)).max(2).spares(0).placement(placement("llama3.2", "gpu"))
}

#[tokio::test(start_paused = true)]
async fn agents_are_recycled_after_n_runs() {
    let fleet = Fleet::new();
    let pool = builder(&fleet).recycle_after(NonZeroU64::new(3).unwrap()).build().unwrap();
    let mut events = pool.subscribe();
    let mut first = None;
    for round in 0..3 {
        let mut agent = pool.checkout(Request::any()).await.unwrap();
        assert_eq!(*first.get_or_insert(agent.id()), agent.id(), "round {round} reuses the agent");
        agent.run(Job::ms(1)).await.unwrap();
        let expected = if round < 2 {
            Disposition::Idle
        } else {
            Disposition::Recycled(RecycleReason::TaskLimit)
        };
        let id = agent.id();
        assert_eq!(agent.finish(), expected);
        if round < 2 {
            // Runs count across checkouts, per agent.
            let record = pool.snapshot().agents.into_iter().find(|a| a.id == id).unwrap();
            assert_eq!(record.runs, round + 1);
        }
    }
    let first = first.unwrap();
    assert!(
        drain(&mut events)
            .contains(&EventKind::Recycled { agent: first, reason: RecycleReason::TaskLimit })
    );
    assert_eq!(fleet.live(), 0, "the recycled agent was dropped");
    let fresh = pool.checkout(Request::any()).await.unwrap();
    assert_ne!(fresh.id(), first);
    assert_eq!(fleet.spawned(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_run_recycles_unless_told_not_to() {
    let fleet = Fleet::new();
    let pool = builder(&fleet).build().unwrap();
    let mut agent = pool.checkout(Request::any()).await.unwrap();
    agent.run(Job::ms(1).failing()).await.unwrap_err();
    assert_eq!(agent.finish(), Disposition::Recycled(RecycleReason::Error));

    let fleet = Fleet::new();
    let pool = builder(&fleet).recycle_on_error(false).build().unwrap();
    let mut agent = pool.checkout(Request::any()).await.unwrap();
    agent.run(Job::ms(1).failing()).await.unwrap_err();
    assert_eq!(agent.finish(), Disposition::Idle);
    let record = &pool.snapshot().agents[0];
    assert_eq!((record.runs, record.errors), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn unhealthy_agents_are_recycled_at_checkin_and_at_checkout() {
    let fleet = Fleet::new();
    let pool = builder(&fleet).build().unwrap();
    let mut events = pool.subscribe();

    // Unhealthy while out: recycled when it comes back.
    let mut agent = pool.checkout(Request::any()).await.unwrap();
    agent.run(Job::ms(1)).await.unwrap();
    fleet.set_healthy(agent.id(), false);
    assert_eq!(agent.finish(), Disposition::Recycled(RecycleReason::Unhealthy));

    // Unhealthy while idle: skipped (and recycled) by the next checkout.
    let agent = pool.checkout(Request::any()).await.unwrap();
    let sick = agent.id();
    drop(agent);
    fleet.set_healthy(sick, false);
    let agent = pool.checkout(Request::any()).await.unwrap();
    assert_ne!(agent.id(), sick);
    assert!(
        drain(&mut events)
            .contains(&EventKind::Recycled { agent: sick, reason: RecycleReason::Unhealthy })
    );
    assert_eq!(fleet.live(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_run_or_a_retired_agent_is_recycled() {
    let fleet = Fleet::new();
    let pool = builder(&fleet).build().unwrap();
    let mut agent = pool.checkout(Request::any()).await.unwrap();
    let cut = timeout(Duration::from_secs(1), agent.run(Job::secs(10))).await;
    assert!(cut.is_err());
    assert_eq!(agent.finish(), Disposition::Recycled(RecycleReason::Abandoned));

    let mut agent = pool.checkout(Request::any()).await.unwrap();
    agent.run(Job::ms(1)).await.unwrap();
    agent.retire();
    assert_eq!(agent.finish(), Disposition::Recycled(RecycleReason::Retired));
    assert_eq!(fleet.live(), 0);
}

#[tokio::test(start_paused = true)]
async fn closing_refuses_checkouts_and_kills_agents_as_they_return() {
    let fleet = Fleet::new();
    let pool = builder(&fleet).max(1).build().unwrap();
    let mut events = pool.subscribe();
    let busy = pool.checkout(Request::any()).await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.checkout(Request::any()).await.map(drop) }
    });
    sleep(Duration::from_millis(1)).await;
    pool.close();
    assert!(waiter.await.unwrap().unwrap_err().is_closed());
    assert!(pool.checkout(Request::any()).await.unwrap_err().is_closed());
    assert_eq!(fleet.live(), 1, "the busy agent lives until it comes back");
    let id = busy.id();
    assert_eq!(busy.finish(), Disposition::Killed(KillReason::Closed));
    assert_eq!(fleet.live(), 0);
    assert!(
        drain(&mut events).contains(&EventKind::Killed { agent: id, reason: KillReason::Closed })
    );
    assert!(pool.stats().closed);
}
