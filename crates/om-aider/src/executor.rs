//! [`AiderExecutor`]: the dispatcher's executor for Aider tasks. The
//! dispatcher decides what runs next; the executor routes the task to a
//! model instance and checks an agent out of the pool for it; the pool
//! decides who runs it.

use std::convert::Infallible;
use std::sync::Arc;

use om_core::{EndpointId, ErrorKind, ModelChoice, ModelName, TaskCategory};
use om_dispatch::{Context, Executor, TaskError};
use om_pool::{AgentId, CheckoutError, Pool, Request};
use om_registry::{Outcome, Registry, Verdict};
use tokio::time::Instant;

use crate::agent::{AgentTask, AiderFactory};
use crate::error::SessionError;
use crate::select::{NoInstance, Route, SelectRequest};
use crate::session::{SessionReport, SessionSpec, Sessions};

/// The category assumed for a task that does not give one: Aider tasks are
/// code changes.
pub const DEFAULT_CATEGORY: TaskCategory = TaskCategory::Coding;

/// One task for the dispatcher: the session, and what the selection may
/// choose from.
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
        /// The model.
        model: ModelName,
        /// The endpoint.
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
            Self::Checkout(err) => err.kind_name(),
            Self::Session(err) => err.kind_name(),
            Self::Unsuccessful(report) => report.status.as_str(),
        }
    }
}

/// Runs [`AiderTask`]s for an [`om_dispatch::Dispatcher`].
///
/// For each task it asks the [`Route`] to rank instances on the registry's
/// current snapshot, starts the first whose breaker admits it (counting the
/// session in flight there), checks an agent for that placement out of the
/// pool, runs the session, and records the session's
/// [outcome](SessionReport::outcome) on the instance, so health, breakers
/// and learned affinity see Aider sessions too. A session that ran but did
/// not succeed is an error carrying its report.
#[derive(Debug)]
pub struct AiderExecutor<R> {
    sessions: Arc<Sessions>,
    pool: Pool<AiderFactory>,
    registry: Registry,
    route: R,
}

impl<R: Route> AiderExecutor<R> {
    /// An executor running `sessions` on agents of `pool`, placed by
    /// `route` on the fleet of `registry`.
    pub fn new(
        sessions: Arc<Sessions>,
        pool: Pool<AiderFactory>,
        registry: Registry,
        route: R,
    ) -> Self {
        Self { sessions, pool, registry, route }
    }
}

impl<R: Route> Executor for AiderExecutor<R> {
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
        let snapshot = self.registry.snapshot();
        let now = Instant::now();
        let request = SelectRequest { models: &task.models, category };
        let ranked = self.route.route(&snapshot, &request, now).map_err(TaskFailure::NoInstance)?;
        let Some((index, in_flight)) = ranked.iter().find_map(|&index| {
            snapshot.instance(index).begin(now).ok().map(|guard| (index, guard))
        }) else {
            return Err(TaskFailure::NoInstance(NoInstance {
                reason: "every ranked instance's breaker refused".to_owned(),
                temporary: true,
            }));
        };
        let instance = snapshot.instance(index);
        let endpoint = snapshot.endpoint(instance.endpoint);
        let placement = om_pool::Placement::new(instance.info.name.clone(), endpoint.id.clone());
        let url = endpoint.url.clone();
        drop(snapshot);

        let checkout = Request::placement(placement.clone()).with_task(cx.id().clone());
        let mut agent = self.pool.checkout(checkout).await.map_err(TaskFailure::Checkout)?;
        cx.report(Progress::Assigned {
            model: placement.model.clone(),
            endpoint: placement.endpoint.clone(),
            agent: agent.id(),
        });
        match agent.run(AgentTask { spec: task.spec, url }).await {
            Ok(report) => {
                let mode = self.sessions.settings().mode;
                in_flight.finish(&report.outcome(mode, Some(category)), Instant::now());
                if report.status.is_success() {
                    Ok(report)
                } else {
                    Err(TaskFailure::Unsuccessful(Box::new(report)))
                }
            }
            Err(err) => {
                // Aider or git failed here: nothing to say about the model.
                in_flight
                    .finish(&Outcome::new(Verdict::Neutral(ErrorKind::Internal)), Instant::now());
                Err(TaskFailure::Session(err))
            }
        }
    }
}
