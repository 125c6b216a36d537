//! The cloneable handle through which tasks are submitted and the dispatcher
//! is steered, and the builder that makes it.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use om_core::TaskId;
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::error::SubmitError;
use crate::event::{Callback, Event, Events};
use crate::executor::Executor;
use crate::handle::TaskHandle;
use crate::runner::Runner;
use crate::shared::Shared;
use crate::summary::Summary;
use crate::task::Task;

/// Workers when the builder is not told otherwise.
pub const DEFAULT_WORKERS: NonZeroUsize = NonZeroUsize::new(10).expect("10 is not zero");

/// Capacity of the event channel when the builder is not told otherwise.
pub const DEFAULT_EVENT_CAPACITY: usize = 1024;

/// The dispatcher's handle: submit tasks, watch events, change the number of
/// workers, shut down.
///
/// Cheap to clone; every clone steers the same dispatcher. When the last
/// clone is dropped the dispatcher [closes](Self::close): queued and running
/// tasks still complete, and [`Runner::run`] returns once they have.
pub struct Dispatcher<E: Executor> {
    shared: Arc<Shared<E>>,
}

impl<E: Executor> Dispatcher<E> {
    /// A builder with [`DEFAULT_WORKERS`], no aging and
    /// [`DEFAULT_EVENT_CAPACITY`].
    pub fn builder(executor: E) -> Builder<E> {
        Builder {
            executor,
            workers: DEFAULT_WORKERS,
            aging: None,
            event_capacity: DEFAULT_EVENT_CAPACITY,
            callbacks: Vec::new(),
        }
    }

    /// A dispatcher with the builder's defaults, and the runner that executes
    /// its tasks.
    pub fn new(executor: E) -> (Self, Runner<E>) {
        Self::builder(executor).build()
    }

    /// Queues one task and returns its handle.
    ///
    /// Never waits: the queue is unbounded, as a batch is known up front;
    /// callers that stream work in can bound it with the
    /// [`Summary::queued`] count.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Closed`], with the task, once the dispatcher is closed.
    pub fn submit(
        &self,
        task: Task<E::Payload>,
    ) -> Result<TaskHandle<E>, SubmitError<Task<E::Payload>>> {
        self.shared.submit(task)
    }

    /// Queues every task, in order, or none; returns their handles in the
    /// same order. Cheaper per task than [`submit`](Self::submit).
    ///
    /// # Errors
    ///
    /// [`SubmitError::Closed`], with all the tasks, once the dispatcher is
    /// closed.
    #[expect(clippy::type_complexity, reason = "spelled out so the docs show what comes back")]
    pub fn submit_batch(
        &self,
        tasks: impl IntoIterator<Item = Task<E::Payload>>,
    ) -> Result<Vec<TaskHandle<E>>, SubmitError<Vec<Task<E::Payload>>>> {
        self.shared.submit_batch(tasks.into_iter().collect())
    }

    /// A receiver of every event from now on (see [`crate::Event`] for the
    /// ordering and loss rules).
    pub fn subscribe(&self) -> broadcast::Receiver<Event<E::Progress>> {
        self.shared.events.subscribe()
    }

    /// Changes the number of workers while running.
    ///
    /// Raising it takes effect at once: the runner spawns the new workers.
    /// Lowering it lets running tasks finish; a surplus worker retires when
    /// it next looks for work, so concurrency drops as tasks complete.
    pub fn set_workers(&self, workers: NonZeroUsize) {
        self.shared.set_workers(workers.get());
    }

    /// What the dispatcher has done so far.
    pub fn summary(&self) -> Summary {
        self.shared.state.lock().summary()
    }

    /// Stops accepting tasks; queued and running ones carry on. Idempotent.
    pub fn close(&self) {
        self.shared.close();
    }

    /// True once the dispatcher accepts no more tasks.
    pub fn is_closed(&self) -> bool {
        self.shared.state.lock().is_closed()
    }

    /// Global cancellation: closes the dispatcher, ends every queued task as
    /// cancelled at once and cancels every running one (its token, a child of
    /// the global token, is cancelled and its future dropped). Cancelling the
    /// token passed to [`Runner::run`] does the same.
    pub fn cancel_all(&self) {
        self.shared.cancel_all();
    }

    /// Graceful shutdown: closes the dispatcher, lets queued and running
    /// tasks complete for up to `grace`, then cancels whatever remains, waits
    /// for it to end and reports what was cancelled.
    ///
    /// Returns once every accepted task has ended. Tasks make progress only
    /// while [`Runner::run`] is being polled; without it, queued tasks wait
    /// for the deadline and are then cancelled. `Duration::MAX` waits without
    /// a deadline.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future keeps what it did: the dispatcher stays closed,
    /// and if the deadline had passed the cancellations go ahead.
    pub async fn shutdown(&self, grace: Duration) -> ShutdownReport {
        self.shared.close();
        let settled = self.shared.settled();
        let timed_out = if let Some(deadline) = Instant::now().checked_add(grace) {
            tokio::time::timeout_at(deadline, settled).await.is_err()
        } else {
            settled.await;
            false
        };
        if timed_out {
            tracing::info!(?grace, "shutdown deadline reached, cancelling what remains");
            self.shared.cancel_all();
            self.shared.settled().await;
        }
        let state = self.shared.state.lock();
        let (cancelled_queued, cancelled_running) = state.cancelled_after_close();
        ShutdownReport { timed_out, cancelled_queued, cancelled_running, summary: state.summary() }
    }
}

impl<E: Executor> Clone for Dispatcher<E> {
    fn clone(&self) -> Self {
        self.shared.handles.fetch_add(1, Ordering::Relaxed);
        Self { shared: Arc::clone(&self.shared) }
    }
}

impl<E: Executor> Drop for Dispatcher<E> {
    fn drop(&mut self) {
        // AcqRel: the last handle's close must see every other handle's work.
        if self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.close();
        }
    }
}

impl<E: Executor> fmt::Debug for Dispatcher<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher").field("shared", &self.shared).finish()
    }
}

/// What [`Dispatcher::shutdown`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// True when the grace period ran out and remaining tasks were cancelled.
    pub timed_out: bool,
    /// Tasks cancelled while still queued after the dispatcher closed.
    pub cancelled_queued: Vec<TaskId>,
    /// Tasks cancelled while running after the dispatcher closed.
    pub cancelled_running: Vec<TaskId>,
    /// The final summary: every accepted task has ended.
    pub summary: Summary,
}

/// Configures a [`Dispatcher`]; from [`Dispatcher::builder`].
pub struct Builder<E: Executor> {
    executor: E,
    workers: NonZeroUsize,
    aging: Option<Duration>,
    event_capacity: usize,
    callbacks: Vec<Callback<E::Progress>>,
}

impl<E: Executor> Builder<E> {
    /// How many tasks run at once (default [`DEFAULT_WORKERS`]); changeable
    /// later with [`Dispatcher::set_workers`].
    #[must_use]
    pub fn workers(mut self, workers: NonZeroUsize) -> Self {
        self.workers = workers;
        self
    }

    /// Turns on aging: a task that has waited `interval` is treated as one
    /// priority level higher, after twice that two levels, so a low-priority
    /// task waits at most about `2 × interval` behind later high-priority
    /// ones. Equal effective priorities run in submission order. Off by
    /// default; a zero interval also means off.
    #[must_use]
    pub fn aging(mut self, interval: Duration) -> Self {
        self.aging = Some(interval);
        self
    }

    /// How many events the channel of [`Dispatcher::subscribe`] buffers per
    /// receiver before a slow receiver lags (default
    /// [`DEFAULT_EVENT_CAPACITY`]; at least 1).
    #[must_use]
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity;
        self
    }

    /// Registers a callback that sees every event, synchronously, on the
    /// thread that produced it. It must be quick and must not block; it may
    /// call into the dispatcher. A panic in it is caught and logged.
    #[must_use]
    pub fn on_event(
        mut self,
        callback: impl Fn(&Event<E::Progress>) + Send + Sync + 'static,
    ) -> Self {
        self.callbacks.push(Arc::new(callback));
        self
    }

    /// The dispatcher and the runner that executes its tasks; spawn or await
    /// [`Runner::run`].
    pub fn build(self) -> (Dispatcher<E>, Runner<E>) {
        let events = Events::new(self.callbacks, self.event_capacity);
        let shared = Arc::new(Shared::new(self.workers.get(), self.aging, events));
        let runner = Runner::new(Arc::clone(&shared), Arc::new(self.executor));
        (Dispatcher { shared }, runner)
    }
}

impl<E: Executor> fmt::Debug for Builder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("workers", &self.workers)
            .field("aging", &self.aging)
            .field("event_capacity", &self.event_capacity)
            .field("callbacks", &self.callbacks.len())
            .finish_non_exhaustive()
    }
}
