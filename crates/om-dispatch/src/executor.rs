//! The seam between the dispatcher and what runs a task.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;

use om_core::{Priority, TaskId};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::event::{Event, EventKind, Events};

/// What runs one task: an LLM call through the orchestrator, an Aider
/// session, or a test double.
///
/// The dispatcher holds one executor and calls [`execute`](Self::execute)
/// from up to `workers` tasks at once, so it takes `&self` and must be
/// `Sync`; per-call state lives in the returned future.
///
/// # Cancellation
///
/// When a running task is cancelled (by its handle, by global cancellation
/// or at the shutdown deadline), the dispatcher first cancels
/// [`Context::token`] and then drops the future at its next `.await`. An
/// executor whose work all lives inside the future needs no cancellation code
/// of its own. One that starts work outliving the future (a child process, a
/// request on another task) should tie it to the token or to a drop guard.
/// An executor that blocks the thread instead of awaiting cannot be cancelled
/// and delays shutdown.
///
/// A future that is ready when it is next polled wins over a cancellation
/// that arrives at the same time: finished work is reported as finished.
///
/// # Panics
///
/// A panic inside `execute` or its future is caught and reported as
/// [`DispatchError::Panicked`](crate::DispatchError::Panicked) (kind `panic` in
/// the [`Summary`](crate::Summary)); the worker carries on.
///
/// # Examples
///
/// ```
/// use om_dispatch::{Context, Executor};
///
/// /// Upper-cases text, reporting the length first.
/// struct Shout;
///
/// impl Executor for Shout {
///     type Payload = String;
///     type Output = String;
///     type Error = std::convert::Infallible;
///     type Progress = usize;
///
///     async fn execute(&self, text: String, cx: &Context<'_, usize>) -> Result<String, Self::Error> {
///         cx.report(text.len());
///         Ok(text.to_uppercase())
///     }
/// }
/// ```
pub trait Executor: Send + Sync + 'static {
    /// What a task carries to the executor.
    type Payload: Send + 'static;
    /// What a successful task produces.
    type Output: Send + 'static;
    /// What a failed task produces.
    type Error: TaskError;
    /// What [`Context::report`] carries in [`EventKind::Progress`]; `()` when
    /// the executor reports nothing.
    type Progress: Clone + fmt::Debug + Send + Sync + 'static;

    /// Runs one task.
    ///
    /// `cx` names the task, carries its cancellation token and reports
    /// progress; it is borrowed for the future's lifetime, so progress can
    /// only be reported while the task runs.
    fn execute(
        &self,
        payload: Self::Payload,
        cx: &Context<'_, Self::Progress>,
    ) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send;
}

/// An error an [`Executor`] can return: a standard error with a short stable
/// kind name, by which the [`Summary`](crate::Summary) groups failures.
pub trait TaskError: std::error::Error + Send + Sync + 'static {
    /// A short stable `snake_case` name for the kind of failure (`timeout`,
    /// `model_not_found`); the message is kept separately.
    fn kind_name(&self) -> &'static str;
}

impl TaskError for om_core::Error {
    fn kind_name(&self) -> &'static str {
        om_core::Error::kind_name(self)
    }
}

impl TaskError for Infallible {
    fn kind_name(&self) -> &'static str {
        match *self {}
    }
}

/// What an executor knows about the task it runs, and its line back to the
/// dispatcher's observers.
pub struct Context<'a, P> {
    pub(crate) id: &'a TaskId,
    pub(crate) priority: Priority,
    pub(crate) worker: usize,
    pub(crate) token: &'a CancellationToken,
    pub(crate) events: &'a Events<P>,
}

impl<P: Clone> Context<'_, P> {
    /// The task's id.
    pub fn id(&self) -> &TaskId {
        self.id
    }

    /// The task's priority as submitted.
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// The number of the worker running the task (see
    /// [`EventKind::Started`]).
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// The task's cancellation token: a child of the dispatcher's global
    /// token, cancelled when this task, or everything, is cancelled.
    pub fn token(&self) -> &CancellationToken {
        self.token
    }

    /// True once the task has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Emits an [`EventKind::Progress`] event to the callbacks and the
    /// channel. Costs nothing when no one listens.
    pub fn report(&self, progress: P) {
        self.events.emit(|| Event {
            task: self.id.clone(),
            priority: self.priority,
            at: Instant::now(),
            kind: EventKind::Progress(progress),
        });
    }
}

impl<P> fmt::Debug for Context<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("id", self.id)
            .field("priority", &self.priority)
            .field("worker", &self.worker)
            .field("cancelled", &self.token.is_cancelled())
            .finish_non_exhaustive()
    }
}
