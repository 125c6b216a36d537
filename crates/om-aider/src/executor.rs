//! [`AiderExecutor`]: the dispatcher's executor for Aider tasks. The
//! dispatcher decides what runs next; the [`Place`] where the session's
//! requests go; the pool who runs it.

use std::convert::Infallible;
use std::sync::Arc;

use om_core::{EndpointId, ModelChoice, ModelName, TaskCategory};
use om_dispatch::{Context, Executor, TaskError};
use om_pool::{AgentId, CheckoutError, Pool, Request};

use crate::agent::{AgentTask, AiderFactory};
use crate::error::SessionError;
use crate::place::{Lease as _, NoInstance, Place};
use crate::session::{SessionReport, SessionSpec, Sessions};

/// The category assumed for a task that does not give one: Aider tasks are
/// code changes.
pub const DEFAULT_CATEGORY: TaskCategory = TaskCategory::Coding;

/// One task for the dispatcher: the session, the models its place may
/// choose from, and its category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiderTask {
    /// The session.
    pub spec: SessionSpec,
    /// Which models may run it.
    pub models: ModelChoice,
    /// The category, for affinity ([`DEFAULT_CATEGORY`] when unset).
    pub category: Option<TaskCategory>,
}

impl AiderTask {
    /// A task for any model.
    pub fn new(spec: SessionSpec) -> Self {
        Self { spec, models: ModelChoice::Any, category: None }
    }
}

/// What the executor reports while a task runs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// The task got an agent and its Aider session starts.
    Assigned {
        /// The model the place chose.
        model: ModelName,
        /// Where it runs, as the place names it.
        endpoint: EndpointId,
        /// The pool's agent.
        agent: AgentId,
    },
}

/// Why an Aider task failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaskFailure {
    /// No model instance can serve it.
    #[error(transparent)]
    NoInstance(NoInstance),
    /// The place could not set up where the session's requests go (a
    /// gateway that could not bind, say).
    #[error("the session could not be placed")]
    Place(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The pool gave no agent.
    #[error("no agent for the session")]
    Checkout(#[source] CheckoutError<Infallible>),
    /// The session could not run.
    #[error(transparent)]
    Session(SessionError),
    /// The session ran and failed; the report says how and what it left.
    #[error("{}", .0.status)]
    Unsuccessful(Box<SessionReport>),
}

impl TaskFailure {
    /// The report of a session that ran and failed.
    pub fn report(&self) -> Option<&SessionReport> {
        match self {
            Self::Unsuccessful(report) => Some(report),
            _ => None,
        }
    }
}

impl TaskError for TaskFailure {
    fn kind_name(&self) -> &'static str {
        match self {
            Self::NoInstance(_) => "no_instance",
            Self::Place(_) => "placement",
            Self::Checkout(err) => err.kind_name(),
            Self::Session(err) => err.kind_name(),
            Self::Unsuccessful(report) => report.status.as_str(),
        }
    }
}

/// Runs [`AiderTask`]s for an [`om_dispatch::Dispatcher`].
///
/// For each task it asks the [`Place`] where the session's requests go,
/// checks an agent for that placement out of the pool, runs the session,
/// and ends the lease with the session's [outcome](SessionReport::outcome),
/// which says how good the edit was; the report names the endpoints that
/// answered. A session that ran but did not succeed is an error carrying
/// its report.
#[derive(Debug)]
pub struct AiderExecutor<P> {
    sessions: Arc<Sessions>,
    pool: Pool<AiderFactory>,
    place: P,
}

impl<P: Place> AiderExecutor<P> {
    /// An executor running `sessions` on agents of `pool`, wherever `place`
    /// puts them.
    pub fn new(sessions: Arc<Sessions>, pool: Pool<AiderFactory>, place: P) -> Self {
        Self { sessions, pool, place }
    }
}

impl<P: Place> Executor for AiderExecutor<P> {
    type Payload = AiderTask;
    type Output = SessionReport;
    type Error = TaskFailure;
    type Progress = Progress;

    async fn execute(
        &self,
        task: AiderTask,
        cx: &Context<'_, Progress>,
    ) -> Result<SessionReport, TaskFailure> {
        let category = task.category.unwrap_or(DEFAULT_CATEGORY);
        let lease = self.place.place(&task).await?;
        let target = lease.target();
        let placement = om_pool::Placement::new(target.model.clone(), target.endpoint.clone());
        let url = target.url.clone();
        let checkout = Request::placement(placement.clone()).with_task(cx.id().clone());
        let mut agent = match self.pool.checkout(checkout).await {
            Ok(agent) => agent,
            Err(err) => {
                lease.end(None).await;
                return Err(TaskFailure::Checkout(err));
            }
        };
        cx.report(Progress::Assigned {
            model: placement.model.clone(),
            endpoint: placement.endpoint.clone(),
            agent: agent.id(),
        });
        match agent.run(AgentTask { spec: task.spec, url }).await {
            Ok(mut report) => {
                let outcome = report.outcome(self.sessions.settings().mode, Some(category));
                report.served_by = lease.end(Some(&outcome)).await;
                if report.status.is_success() {
                    Ok(report)
                } else {
                    Err(TaskFailure::Unsuccessful(Box::new(report)))
                }
            }
            Err(err) => {
                // Aider or git failed here: nothing to say about the model.
                lease.end(None).await;
                Err(TaskFailure::Session(err))
            }
        }
    }
}
