//! The dispatcher's executor for LLM tasks: one [`Task`] through the
//! fleet, with live progress, and the bookkeeping that lets a cancelled
//! task still be journaled with where it ran.

use om_core::Task;
use om_dispatch::{Context, Executor, TaskError};
use om_orchestrator::{Fleet, Options, Progress as FleetProgress, TaskFailure, TaskResult};
use tokio_util::sync::CancellationToken;

use crate::batch::progress::Progress;
use crate::batch::running::Running;

/// Runs tasks on the fleet.
#[derive(Debug)]
pub(crate) struct LlmExecutor {
    /// Where tasks run.
    pub(crate) fleet: Fleet,
    /// The display.
    pub(crate) progress: Progress,
    /// What is running now.
    pub(crate) running: Running,
    /// Cancelled on the first Ctrl-C: tasks that have not started yet end
    /// as cancelled instead of starting.
    pub(crate) draining: CancellationToken,
}

/// Why a task produced no result.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failed {
    /// The fleet could not run it.
    #[error("{0}")]
    Task(#[source] Box<TaskFailure>),
    /// The run was interrupted before the task started.
    #[error("not started: the run was interrupted")]
    NotStarted,
}

impl TaskError for Failed {
    fn kind_name(&self) -> &'static str {
        match self {
            Self::Task(failure) => failure.error.kind_name(),
            Self::NotStarted => "canceled",
        }
    }
}

impl Executor for LlmExecutor {
    type Payload = Task;
    type Output = TaskResult;
    type Error = Failed;
    type Progress = ();

    async fn execute(&self, task: Task, cx: &Context<'_, ()>) -> Result<TaskResult, Failed> {
        if self.draining.is_cancelled() {
            return Err(Failed::NotStarted);
        }
        let worker = cx.worker();
        self.running.start(&task.id, worker);
        self.progress.started(worker, &task.id);
        let (progress, running, id) =
            (self.progress.clone(), self.running.clone(), task.id.clone());
        let options = Options::default().with_cancel(cx.token().clone()).with_progress(
            move |event: &FleetProgress| match event {
                FleetProgress::Attempt { endpoint, model, .. } => {
                    running.place(&id, model.to_string(), endpoint.to_string());
                    progress.placed(worker, format!("{model}@{endpoint}"));
                }
                FleetProgress::Chunk { chunks } => progress.tokens(worker, *chunks),
                FleetProgress::Waiting => progress.waiting(worker),
                _ => {}
            },
        );
        self.fleet
            .execute_with(&task, options)
            .await
            .map_err(|failure| Failed::Task(Box::new(failure)))
    }
}
