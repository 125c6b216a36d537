//! Progress events and their delivery to callbacks and a broadcast channel.
//!
//! Every event goes to each registered callback, in registration order, and
//! then to the broadcast channel that [`Dispatcher::subscribe`] opens.
//! Callbacks are lossless: they run synchronously on the thread that produced
//! the event, so they must be quick and must not block. The channel is bounded
//! (capacity set by [`Builder::event_capacity`]) and never slows the
//! dispatcher down: a receiver that falls more than that many events behind
//! gets [`RecvError::Lagged`] and skips ahead. Until the first `subscribe` the
//! channel does not exist, and with neither callbacks nor subscribers no event
//! is even built.
//!
//! Per task, events arrive in order: [`Queued`](EventKind::Queued), then
//! [`Started`](EventKind::Started), any number of
//! [`Progress`](EventKind::Progress), and exactly one terminal event
//! ([`Finished`](EventKind::Finished), [`Failed`](EventKind::Failed) or
//! [`Cancelled`](EventKind::Cancelled)); a task cancelled while queued goes
//! straight from `Queued` to `Cancelled`. The terminal event is delivered
//! before the task's [`TaskHandle`](crate::TaskHandle) resolves.
//!
//! The output itself goes only to the handle (it need not be `Clone`); a
//! failure travels in the event as a [`Failure`] (kind and message). An
//! executor that wants observers to see details of a result (tokens,
//! `model@endpoint`) reports them as a last [`Progress`](EventKind::Progress).
//!
//! [`Dispatcher::subscribe`]: crate::Dispatcher::subscribe
//! [`Builder::event_capacity`]: crate::Builder::event_capacity
//! [`RecvError::Lagged`]: tokio::sync::broadcast::error::RecvError::Lagged

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use om_core::{Priority, TaskId};
use tokio::sync::broadcast;
use tokio::time::Instant;

/// Something that happened to one task.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event<P> {
    /// The task's id.
    pub task: TaskId,
    /// The task's priority as submitted.
    pub priority: Priority,
    /// When it happened.
    pub at: Instant,
    /// What happened.
    pub kind: EventKind<P>,
}

impl<P> Event<P> {
    /// True for the one event that ends a task.
    pub fn is_terminal(&self) -> bool {
        self.kind.is_terminal()
    }
}

/// What happened to a task; `P` is the executor's progress type.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventKind<P> {
    /// Accepted and waiting for a worker.
    Queued,
    /// A worker took it.
    Started {
        /// The worker's number: `0..workers`, reused after a worker retires,
        /// so a progress display can keep one line per worker.
        worker: usize,
        /// Time spent in the queue.
        waited: Duration,
    },
    /// The executor reported progress.
    Progress(P),
    /// The executor returned an output.
    Finished {
        /// Time spent executing.
        ran: Duration,
    },
    /// The executor returned an error or panicked.
    Failed {
        /// Time spent executing.
        ran: Duration,
        /// What went wrong.
        failure: Failure,
    },
    /// The task was cancelled.
    Cancelled {
        /// Whether it was still queued or already running.
        stage: Stage,
    },
}

impl<P> EventKind<P> {
    /// True for [`Finished`](Self::Finished), [`Failed`](Self::Failed) and
    /// [`Cancelled`](Self::Cancelled).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Finished { .. } | Self::Failed { .. } | Self::Cancelled { .. })
    }
}

/// Where a task was when it was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Waiting in the queue; the executor never saw it.
    Queued,
    /// The executor was running it; its future was dropped.
    Running,
}

impl Stage {
    /// `queued` or `running`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure as events and the [`Summary`](crate::Summary) report it: the
/// error's kind name and its message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Failure {
    /// [`TaskError::kind_name`](crate::TaskError::kind_name), or `panic`.
    pub kind: &'static str,
    /// The error's `Display` (this level only), or the panic message.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// A registered event callback.
pub(crate) type Callback<P> = Arc<dyn Fn(&Event<P>) + Send + Sync>;

/// Delivers events to the callbacks and the broadcast channel.
pub(crate) struct Events<P> {
    callbacks: Box<[Callback<P>]>,
    /// Created by the first `subscribe`; never removed, so `is_observed`
    /// only ever goes from false to true.
    channel: OnceLock<broadcast::Sender<Event<P>>>,
    capacity: usize,
}

impl<P: Clone> Events<P> {
    pub(crate) fn new(callbacks: Vec<Callback<P>>, capacity: usize) -> Self {
        Self { callbacks: callbacks.into(), channel: OnceLock::new(), capacity: capacity.max(1) }
    }

    /// True when someone may be listening: events must be built.
    pub(crate) fn is_observed(&self) -> bool {
        !self.callbacks.is_empty() || self.channel.get().is_some()
    }

    /// A receiver of every event from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event<P>> {
        self.channel.get_or_init(|| broadcast::channel(self.capacity).0).subscribe()
    }

    /// Builds the event with `make` and delivers it, if anyone listens.
    pub(crate) fn emit(&self, make: impl FnOnce() -> Event<P>) {
        if !self.is_observed() {
            return;
        }
        let event = make();
        for callback in &self.callbacks {
            // A panicking callback must not take a worker (and its task) down.
            if catch_unwind(AssertUnwindSafe(|| callback(&event))).is_err() {
                tracing::error!(task = %event.task, "event callback panicked");
            }
        }
        if let Some(channel) = self.channel.get() {
            // No receiver left is fine: events are best effort on the channel.
            let _ = channel.send(event);
        }
    }
}

impl<P> fmt::Debug for Events<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("callbacks", &self.callbacks.len())
            .field("channel", &self.channel.get().is_some())
            .field("capacity", &self.capacity)
            .finish()
    }
}
