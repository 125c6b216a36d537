//! The state file: saved periodically and at shutdown, atomically; restored
//! on start with every agent's placement, id and counters, the tasks that
//! were in flight and what finished.

use std::path::Path;
use std::time::Duration;

use om_pool::{AgentId, AgentStatus, Pool, Request, Snapshot, SpawnCause};
use tokio::time::sleep;
use tokio_util::sync::CancellationToken;

use crate::support::{Factory, Fleet, Job, placement};

fn builder(fleet: &std::sync::Arc<Fleet>, path: &Path) -> om_pool::Builder<Factory> {
    Pool::builder(Factory::new(fleet))
        .min(3)
        .max(4)
        .spares(0)
        .recycle_on_error(false)
        .placements([placement("llama3.2", "gpu"), placement("llama3.2", "cpu")])
        .state_file(path)
        .save_every(Duration::from_millis(100))
}

#[tokio::test(start_paused = true)]
async fn save_and_restore_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.json");

    let fleet = Fleet::new();
    let pool = builder(&fleet, &path).build().unwrap();
    assert!(pool.restored().is_none());
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(pool.clone().run(shutdown.clone()));
    sleep(Duration::from_millis(10)).await;
    assert_eq!(pool.stats().agents, 3, "the minimum was spawned");

    let mut agent = pool
        .checkout(Request::placement(placement("llama3.2", "gpu")).with_task("t1"))
        .await
        .unwrap();
    agent.run(Job::ms(5).tokens(5)).await.unwrap();
    drop(agent);
    let mut agent = pool
        .checkout(Request::placement(placement("llama3.2", "cpu")).with_task("t2"))
        .await
        .unwrap();
    agent.run(Job::ms(5).tokens(3).failing()).await.unwrap_err();
    drop(agent);
    let busy = pool.checkout(Request::any().with_task("in-flight")).await.unwrap();

    // The worker saves on its own, soon after a change.
    sleep(Duration::from_millis(200)).await;
    let saved = pool.snapshot();
    assert_eq!(Snapshot::load(&path).unwrap().as_ref(), Some(&saved));
    assert_eq!(saved.agents.len(), 3);
    assert_eq!(saved.tokens_used, 8);
    assert_eq!(saved.interrupted().map(om_core::TaskId::as_str).collect::<Vec<_>>(), ["in-flight"]);
    let finished: Vec<_> = saved
        .finished
        .iter()
        .map(|f| (f.task.as_ref().unwrap().as_str(), f.ok, f.tokens))
        .collect();
    assert_eq!(finished, [("t1", true, 5), ("t2", false, 3)]);

    // A crash: the worker is gone and the agent never comes back. A new
    // pool starts from the file.
    worker.abort();
    let fleet2 = Fleet::new();
    let pool2 = builder(&fleet2, &path).build().unwrap();
    assert_eq!(pool2.restored(), Some(&saved));
    let shutdown2 = CancellationToken::new();
    let worker2 = tokio::spawn(pool2.clone().run(shutdown2.clone()));
    sleep(Duration::from_millis(10)).await;

    // Every saved agent is back at its placement with its id and counters,
    // idle; the pool's counters carry on.
    let restored = pool2.snapshot();
    assert_eq!(restored.next_agent, saved.next_agent);
    assert_eq!(restored.tokens_used, saved.tokens_used);
    assert_eq!(restored.finished, saved.finished);
    let summary = |snapshot: &Snapshot| {
        snapshot
            .agents
            .iter()
            .map(|a| (a.id, a.placement.clone(), a.runs, a.errors, a.tokens))
            .collect::<Vec<_>>()
    };
    assert_eq!(summary(&restored), summary(&saved));
    assert!(restored.agents.iter().all(|a| a.status == AgentStatus::Idle));
    let made: Vec<_> = fleet2.made().into_iter().map(|(id, _)| id).collect();
    assert_eq!(made, saved.agents.iter().map(|a| a.id).collect::<Vec<_>>());
    assert_eq!(fleet2.live(), 3, "no extra agents beyond the restored ones");

    // New agents continue the numbering.
    let fresh = pool2.checkout(Request::placement(placement("qwen", "gpu"))).await.unwrap();
    assert_eq!(fresh.id(), AgentId::new(saved.next_agent));
    drop(fresh);

    // A graceful shutdown writes the final state: nothing left but the agent
    // still checked out of the first pool is not this pool's business.
    shutdown2.cancel();
    worker2.await.unwrap().unwrap();
    let last = Snapshot::load(&path).unwrap().unwrap();
    assert!(last.agents.is_empty(), "{last:?}");
    assert_eq!(last.tokens_used, 8);
    drop(busy);
}

#[tokio::test(start_paused = true)]
async fn shutdown_saves_agents_still_out_with_their_task() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let fleet = Fleet::new();
    let pool = builder(&fleet, &path).save_every(Duration::from_hours(1)).build().unwrap();
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(pool.clone().run(shutdown.clone()));
    let busy = pool.checkout(Request::any().with_task("long")).await.unwrap();
    shutdown.cancel();
    worker.await.unwrap().unwrap();
    let saved = Snapshot::load(&path).unwrap().unwrap();
    let statuses: Vec<_> = saved.agents.iter().map(|a| a.status.clone()).collect();
    assert_eq!(statuses, [AgentStatus::Busy { task: Some("long".into()) }]);
    drop(busy);

    // Restoring brings the agent back as a restore, not as a new one.
    let fleet2 = Fleet::new();
    let pool2 = builder(&fleet2, &path).min(0).build().unwrap();
    let mut events = pool2.subscribe();
    let shutdown2 = CancellationToken::new();
    let worker2 = tokio::spawn(pool2.clone().run(shutdown2.clone()));
    sleep(Duration::from_millis(1)).await;
    let spawned = crate::support::drain(&mut events);
    assert!(
        matches!(
            spawned.as_slice(),
            [om_pool::EventKind::Spawned { cause: SpawnCause::Restore, .. }]
        ),
        "{spawned:?}"
    );
    shutdown2.cancel();
    worker2.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_corrupt_state_file_is_a_typed_build_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.json");
    std::fs::write(&path, "[1, 2").unwrap();
    let err = builder(&Fleet::new(), &path).build().unwrap_err();
    assert!(err.is_restore(), "{err}");
    let err = Pool::builder(Factory::new(&Fleet::new())).min(3).max(2).build().unwrap_err();
    assert!(err.is_config(), "{err}");
}
