//! The task dispatcher of ollama-meta: a priority queue, N workers, progress
//! events, cancellation and graceful shutdown, generic over what executes a
//! task.
//!
//! `om-dispatch` depends only on `om-core`. It knows nothing of HTTP, models
//! or Aider: an [`Executor`] runs one task's payload, and the dispatcher
//! decides when and how many at once. `ollama-meta run` plugs in LLM calls
//! on an `om-orchestrator` fleet; `om-aider` plugs in Aider sessions.
//!
//! - [`Dispatcher`]: the cloneable handle. [`submit`](Dispatcher::submit) and
//!   [`submit_batch`](Dispatcher::submit_batch) queue [`Task`]s and return
//!   [`TaskHandle`]s (futures of each result, and per-task
//!   [`cancel`](TaskHandle::cancel)); [`set_workers`](Dispatcher::set_workers)
//!   changes concurrency while running; [`subscribe`](Dispatcher::subscribe)
//!   and [`Builder::on_event`] deliver [`Event`]s; [`summary`](Dispatcher::summary)
//!   aggregates counts, durations and failures into a [`Summary`];
//!   [`shutdown`](Dispatcher::shutdown) drains with a deadline.
//! - [`Runner`]: the background half; [`Runner::run`] drives the workers.
//! - The queue has three levels ([`Priority`](om_core::Priority) High, Normal,
//!   Low), FIFO inside a level, and optional aging ([`Builder::aging`]) so
//!   low-priority work is never starved. Every operation is O(1).
//! - Every accepted task ends exactly once: [`EventKind::Finished`],
//!   [`EventKind::Failed`] (an error or a caught panic) or
//!   [`EventKind::Cancelled`], and its handle resolves to match.
//!
//! ```
//! use std::num::NonZeroUsize;
//! use std::time::Duration;
//!
//! use om_core::Priority;
//! use om_dispatch::{Context, Dispatcher, Executor, Task};
//! use tokio_util::sync::CancellationToken;
//!
//! /// Counts the words of a text.
//! struct WordCount;
//!
//! impl Executor for WordCount {
//!     type Payload = &'static str;
//!     type Output = usize;
//!     type Error = std::convert::Infallible;
//!     type Progress = ();
//!
//!     async fn execute(&self, text: &'static str, _cx: &Context<'_, ()>) -> Result<usize, Self::Error> {
//!         Ok(text.split_whitespace().count())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (dispatcher, runner) = Dispatcher::builder(WordCount)
//!     .workers(NonZeroUsize::new(4).ok_or("zero workers")?)
//!     .aging(Duration::from_secs(30))
//!     .build();
//! let shutdown = CancellationToken::new();
//! let running = tokio::spawn(runner.run(shutdown.clone()));
//!
//! let urgent = dispatcher.submit(Task::new("urgent", "fix the build").with_priority(Priority::High))?;
//! let batch = dispatcher.submit_batch([
//!     Task::new("a", "write the docs"),
//!     Task::new("b", "add a test for the parser"),
//! ])?;
//! assert_eq!(urgent.await?, 3);
//! for handle in batch {
//!     assert!(handle.await? >= 3);
//! }
//!
//! let report = dispatcher.shutdown(Duration::from_secs(10)).await;
//! assert!(!report.timed_out && report.summary.is_all_finished());
//! assert_eq!(running.await?.finished, 3);
//! # Ok(())
//! # }
//! ```
//!
//! # Workers
//!
//! Workers are long-lived loops inside [`Runner::run`], tracked in a
//! `JoinSet` and awaited before `run` returns; no task is spawned per job and
//! nothing is detached. Each takes the next task under one short
//! `parking_lot` lock, runs the executor's future inline, and records the end
//! in the same critical section that takes the following task. Idle workers
//! park on a `Notify`. [`Dispatcher::set_workers`] is a command to the run
//! loop: raising the target spawns workers at once; lowering it retires the
//! surplus as each next looks for work, so running tasks are never
//! interrupted.
//!
//! # Events
//!
//! Events go synchronously to the callbacks registered with
//! [`Builder::on_event`] (lossless) and then to a bounded
//! `tokio::sync::broadcast` channel opened by [`Dispatcher::subscribe`]
//! (a slow receiver lags and skips, the dispatcher never waits). Per task
//! they arrive in order, `Queued`, `Started`, `Progress`…, then one terminal
//! event, and the terminal event is delivered before the [`TaskHandle`]
//! resolves. Executors report progress with [`Context::report`], in their
//! own [`Executor::Progress`] type.
//!
//! # Cancellation
//!
//! Each running task has a [`CancellationToken`](tokio_util::sync::CancellationToken)
//! ([`Context::token`]), a child of the dispatcher's global token. Cancelling
//! a queued task ([`TaskHandle::cancel`]) removes it at once; cancelling a
//! running one cancels its token and drops its future. Global cancellation
//! ([`Dispatcher::cancel_all`], or cancelling the token given to
//! [`Runner::run`]) closes the dispatcher and cancels everything.
//!
//! # Shutdown
//!
//! [`Dispatcher::shutdown`] stops accepting tasks (a later `submit` returns
//! [`SubmitError::Closed`] with the task), lets queued and running tasks
//! complete until the grace period ends, then cancels whatever remains and
//! returns a [`ShutdownReport`] naming exactly the tasks it cancelled, queued
//! and running, with the final [`Summary`]. [`Runner::run`] returns once the
//! dispatcher is closed and every task has ended, so the caller awaits both.
//! Dropping every [`Dispatcher`] handle closes it the same way without a
//! deadline; dropping the [`Runner`] or its `run` future cancels everything
//! still pending, so no [`TaskHandle`] waits forever.

mod dispatcher;
mod error;
mod event;
mod executor;
mod handle;
mod queue;
mod runner;
mod shared;
mod slot;
mod summary;
mod task;

pub use dispatcher::{
    Builder, DEFAULT_EVENT_CAPACITY, DEFAULT_WORKERS, Dispatcher, ShutdownReport,
};
pub use error::{DispatchError, SubmitError};
pub use event::{Event, EventKind, Failure, Stage};
pub use executor::{Context, Executor, TaskError};
pub use handle::{CancelHandle, TaskHandle};
pub use runner::Runner;
pub use summary::{DurationStats, FailureGroup, Summary};
pub use task::Task;
