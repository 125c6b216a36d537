//! [`PooledAgent`]: an agent lent by the pool, returned when dropped.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use om_core::TaskId;
use tokio::time::Instant;

use crate::agent::{Agent, AgentFactory};
use crate::event::{KillReason, RecycleReason};
use crate::placement::{AgentId, Placement};
use crate::pool::Shared;
use crate::state::{Effects, Lease, Report};

/// What became of an agent at check-in ([`PooledAgent::finish`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// It is idle in the pool, ready for the next checkout.
    Idle,
    /// It was recycled; a fresh agent takes its place when one is needed.
    Recycled(RecycleReason),
    /// It was killed (the pool is closed).
    Killed(KillReason),
}

impl Disposition {
    /// True when the agent went back into the pool.
    pub fn is_idle(self) -> bool {
        matches!(self, Self::Idle)
    }
}

/// An agent checked out of a [`Pool`](crate::Pool); it goes back when this
/// is dropped (or [`finish`](Self::finish)ed).
///
/// Run tasks with [`run`](Self::run), which counts runs, errors and tokens;
/// they are charged to the agent and the pool's budget at check-in. Read
/// the agent itself through `Deref`. At check-in the agent is recycled
/// instead of returned when a run failed (unless
/// [`Builder::recycle_on_error`](crate::Builder::recycle_on_error) is off),
/// when it reports itself unhealthy, when it has reached
/// [`Builder::recycle_after`](crate::Builder::recycle_after) runs, when a run
/// was abandoned half-way, or when [`retire`](Self::retire) was called.
pub struct PooledAgent<F: AgentFactory> {
    shared: Arc<Shared<F>>,
    id: AgentId,
    placement: Arc<Placement>,
    /// Present until check-in.
    agent: Option<F::Agent>,
    task: Option<TaskId>,
    /// The agent's token count when it was lent.
    baseline: u64,
    runs: u64,
    errors: u64,
    tokens: u64,
    /// A run is in progress; still set at drop means it was abandoned.
    running: bool,
    retire: bool,
}

impl<F: AgentFactory> PooledAgent<F> {
    pub(crate) fn new(
        shared: Arc<Shared<F>>,
        lease: Lease<F::Agent>,
        task: Option<TaskId>,
    ) -> Self {
        let baseline = lease.agent.tokens_used();
        Self {
            shared,
            id: lease.id,
            placement: lease.placement,
            agent: Some(lease.agent),
            task,
            baseline,
            runs: 0,
            errors: 0,
            tokens: 0,
            running: false,
            retire: false,
        }
    }

    /// The agent's id.
    pub fn id(&self) -> AgentId {
        self.id
    }

    /// Where the agent runs.
    pub fn placement(&self) -> &Placement {
        &self.placement
    }

    /// The task named by the checkout.
    pub fn task(&self) -> Option<&TaskId> {
        self.task.as_ref()
    }

    /// Runs `task` on the agent and records the outcome and the tokens used.
    ///
    /// # Errors
    ///
    /// The agent's error, unchanged.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future half-way leaves the agent in an unknown state: it
    /// is recycled at check-in ([`RecycleReason::Abandoned`]).
    pub async fn run(
        &mut self,
        task: <F::Agent as Agent>::Task,
    ) -> Result<<F::Agent as Agent>::Output, <F::Agent as Agent>::Error> {
        let agent = self.agent.as_mut().expect("a lent agent is present until check-in");
        self.running = true;
        let result = agent.run(task).await;
        self.running = false;
        self.runs += 1;
        self.errors += u64::from(result.is_err());
        self.tokens = agent.tokens_used().saturating_sub(self.baseline);
        result
    }

    /// Asks for the agent to be recycled at check-in instead of returned, for
    /// a failure the agent cannot see (its output was rejected).
    pub fn retire(&mut self) {
        self.retire = true;
    }

    /// Checks the agent in now and says what became of it. Dropping does the
    /// same without telling.
    pub fn finish(mut self) -> Disposition {
        self.checkin().unwrap_or(Disposition::Idle)
    }

    fn checkin(&mut self) -> Option<Disposition> {
        let agent = self.agent.take()?;
        let report = Report {
            task: self.task.take(),
            runs: self.runs,
            errors: self.errors,
            tokens: self.tokens,
            abandoned: self.running,
            retire: self.retire,
        };
        let mut fx = Effects::default();
        let disposition =
            self.shared.state.lock().checkin(self.id, agent, report, Instant::now(), &mut fx);
        self.shared.settle(fx);
        Some(disposition)
    }
}

impl<F: AgentFactory> Deref for PooledAgent<F> {
    type Target = F::Agent;

    fn deref(&self) -> &F::Agent {
        self.agent.as_ref().expect("a lent agent is present until check-in")
    }
}

impl<F: AgentFactory> Drop for PooledAgent<F> {
    fn drop(&mut self) {
        self.checkin();
    }
}

impl<F: AgentFactory> fmt::Debug for PooledAgent<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledAgent")
            .field("id", &self.id)
            .field("placement", &*self.placement)
            .field("task", &self.task)
            .field("runs", &self.runs)
            .field("errors", &self.errors)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}
