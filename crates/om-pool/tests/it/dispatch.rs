//! The pool inside an `om_dispatch::Executor`: the dispatcher decides what
//! runs next, the pool decides who runs it. This adapter is what a
//! composition crate (om-aider, the binary) writes.

use std::num::NonZeroUsize;
use std::time::Duration;

use om_dispatch::{Context, Dispatcher, Executor, Task, TaskError};
use om_pool::{AgentFactory, CheckoutError, Pool, Request};
use tokio_util::sync::CancellationToken;

use crate::support::{Factory, Fleet, Job, Scripted, placement};

/// Runs each task on an agent checked out of the pool for it.
struct Pooled<F: AgentFactory> {
    pool: Pool<F>,
}

/// Why a pooled task failed: no agent, or the agent's error.
#[derive(Debug, thiserror::Error)]
enum PooledError {
    #[error("no agent")]
    Checkout(#[source] CheckoutError<Scripted>),
    #[error("agent failed")]
    Agent(#[source] Scripted),
}

impl TaskError for PooledError {
    fn kind_name(&self) -> &'static str {
        match self {
            Self::Checkout(err) => err.kind_name(),
            Self::Agent(_) => "agent_failed",
        }
    }
}

impl Executor for Pooled<Factory> {
    type Payload = Job;
    type Output = om_pool::AgentId;
    type Error = PooledError;
    type Progress = ();

    async fn execute(&self, job: Job, cx: &Context<'_, ()>) -> Result<Self::Output, PooledError> {
        let request = Request::any().with_task(cx.id().clone());
        let mut agent = self.pool.checkout(request).await.map_err(PooledError::Checkout)?;
        agent.run(job).await.map_err(PooledError::Agent)
        // The agent goes back to the pool here, when `agent` drops.
    }
}

#[tokio::test(start_paused = true)]
async fn the_dispatcher_runs_tasks_on_pooled_agents() {
    let fleet = Fleet::new();
    let pool = Pool::builder(Factory::new(&fleet))
        .min(1)
        .max(3)
        .spares(0)
        .scale_up_after(Duration::from_millis(100))
        .placement(placement("llama3.2", "gpu"))
        .build()
        .unwrap();
    let shutdown = CancellationToken::new();
    let maintenance = tokio::spawn(pool.clone().run(shutdown.clone()));
    let (dispatcher, runner) = Dispatcher::builder(Pooled { pool: pool.clone() })
        .workers(NonZeroUsize::new(6).unwrap())
        .build();
    let running = tokio::spawn(runner.run(shutdown.clone()));

    let handles = dispatcher
        .submit_batch((0..12).map(|i| {
            let job = if i == 5 { Job::secs(1).failing() } else { Job::secs(1) };
            Task::new(format!("t{i}"), job)
        }))
        .unwrap();
    let mut ok = 0;
    for handle in handles {
        match handle.await {
            Ok(_) => ok += 1,
            Err(err) => assert_eq!(err.into_failure().unwrap().kind_name(), "agent_failed"),
        }
    }
    assert_eq!(ok, 11);
    // Six workers, but never more than three agents: the pool decided.
    assert_eq!(fleet.max_total(), 3);
    let finished = pool.snapshot().finished;
    assert_eq!(finished.len(), 12);
    assert!(finished.iter().any(|f| f.task.as_ref().is_some_and(|t| t.as_str() == "t5") && !f.ok));

    let report = dispatcher.shutdown(Duration::from_secs(1)).await;
    assert!(!report.timed_out);
    shutdown.cancel();
    running.await.unwrap();
    maintenance.await.unwrap().unwrap();
    assert_eq!(fleet.live(), 0);
}
