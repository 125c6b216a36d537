//! The dispatcher's executor for `ollama-meta aider`: om-aider's executor,
//! plus the progress display, the bookkeeping that lets a cancelled session
//! still be journaled with where it ran, and the drain on the first Ctrl-C.

use om_aider::{
    AiderExecutor, AiderTask, Place, Progress as SessionProgress, SessionReport, TaskFailure,
};
use om_core::TaskId;
use om_dispatch::{Context, Executor, TaskError};
use tokio_util::sync::CancellationToken;

use crate::batch::progress::Progress;
use crate::batch::running::Running;

/// Runs Aider tasks.
#[derive(Debug)]
pub(crate) struct SessionExecutor<P> {
    /// Places the session, checks out an agent and runs it.
    pub(crate) inner: AiderExecutor<P>,
    /// The display.
    pub(crate) progress: Progress,
    /// What is running now.
    pub(crate) running: Running,
    /// Cancelled on the first Ctrl-C: sessions that have not started yet end
    /// as cancelled instead of starting.
    pub(crate) draining: CancellationToken,
}

/// Why a task produced no report.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failed {
    /// The session failed, or could not run.
    #[error(transparent)]
    Session(TaskFailure),
    /// The run was interrupted before the session started.
    #[error("not started: the run was interrupted")]
    NotStarted,
}

impl TaskError for Failed {
    fn kind_name(&self) -> &'static str {
        match self {
            Self::Session(failure) => failure.kind_name(),
            Self::NotStarted => "canceled",
        }
    }
}

/// The dispatcher event callback for om-aider's progress: shows the
/// session's `model@endpoint` on its worker line.
pub(crate) fn placement_callback(
    running: Running,
    progress: Progress,
) -> impl Fn(&TaskId, &SessionProgress) + Send + Sync + 'static {
    move |id, event| {
        if let SessionProgress::Assigned { model, endpoint, .. } = event
            && let Some(worker) = running.place(id, model.to_string(), endpoint.to_string())
        {
            progress.placed(worker, format!("{model}@{endpoint}"));
        }
    }
}

impl<P: Place> Executor for SessionExecutor<P> {
    type Payload = AiderTask;
    type Output = SessionReport;
    type Error = Failed;
    type Progress = SessionProgress;

    async fn execute(
        &self,
        task: AiderTask,
        cx: &Context<'_, SessionProgress>,
    ) -> Result<SessionReport, Failed> {
        if self.draining.is_cancelled() {
            return Err(Failed::NotStarted);
        }
        self.running.start(cx.id(), cx.worker());
        self.progress.started(cx.worker(), cx.id());
        self.inner.execute(task, cx).await.map_err(Failed::Session)
    }
}
