//! The per-task shared cell: phase, cancellation token and the result the
//! [`TaskHandle`](crate::TaskHandle) waits for.
//!
//! Phases move `Queued → Running → Done` or `Queued → Ending → Done`.
//! Leaving `Queued` happens only under the dispatcher's state lock (the lock
//! order is state, then slot), which makes it the one place where "a worker
//! takes it" and "a canceller removes it" are decided, exactly once.
//! `Ending` means a terminal outcome is decided but not yet published: the
//! handle resolves only after the terminal event has been delivered.

use std::fmt;
use std::sync::OnceLock;
use std::task::{Poll, Waker};

use om_core::{Priority, TaskId};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::error::DispatchError;
use crate::executor::Executor;

/// What a [`TaskHandle`](crate::TaskHandle) resolves to.
pub(crate) type Outcome<E> = Result<<E as Executor>::Output, DispatchError<<E as Executor>::Error>>;

pub(crate) struct Slot<E: Executor> {
    pub(crate) id: TaskId,
    pub(crate) priority: Priority,
    /// Created when a worker takes the task, so queued tasks cost no token.
    token: OnceLock<CancellationToken>,
    cell: Mutex<Cell<E>>,
}

struct Cell<E: Executor> {
    phase: Phase<E>,
    waker: Option<Waker>,
}

enum Phase<E: Executor> {
    Queued,
    Running,
    Ending,
    /// `None` once the handle has taken the outcome.
    Done(Option<Outcome<E>>),
}

impl<E: Executor> Slot<E> {
    pub(crate) fn new(id: TaskId, priority: Priority) -> Self {
        Self {
            id,
            priority,
            token: OnceLock::new(),
            cell: Mutex::new(Cell { phase: Phase::Queued, waker: None }),
        }
    }

    /// `Queued → Running` with `token`. Hands the token back when the task is
    /// no longer queued (it was cancelled), so the caller can reuse it.
    /// Call with the state lock held.
    pub(crate) fn start(&self, token: CancellationToken) -> Result<(), CancellationToken> {
        let mut cell = self.cell.lock();
        if !matches!(cell.phase, Phase::Queued) {
            return Err(token);
        }
        cell.phase = Phase::Running;
        // Set exactly once: only the `Queued → Running` step reaches here.
        self.token.get_or_init(|| token);
        Ok(())
    }

    /// `Queued → Ending`; false when the task was no longer queued.
    /// Call with the state lock held.
    pub(crate) fn end_queued(&self) -> bool {
        let mut cell = self.cell.lock();
        if !matches!(cell.phase, Phase::Queued) {
            return false;
        }
        cell.phase = Phase::Ending;
        true
    }

    /// The running task's token; `None` before it started.
    pub(crate) fn token(&self) -> Option<&CancellationToken> {
        self.token.get()
    }

    /// Publishes the outcome and wakes the handle.
    pub(crate) fn resolve(&self, outcome: Outcome<E>) {
        let waker = {
            let mut cell = self.cell.lock();
            cell.phase = Phase::Done(Some(outcome));
            cell.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// True once the outcome is published.
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.cell.lock().phase, Phase::Done(_))
    }

    /// The outcome once published; registers `waker` otherwise.
    ///
    /// # Panics
    ///
    /// When the outcome was already taken (a handle polled after completion).
    pub(crate) fn poll_outcome(&self, waker: &Waker) -> Poll<Outcome<E>> {
        let mut cell = self.cell.lock();
        if let Phase::Done(outcome) = &mut cell.phase {
            return Poll::Ready(outcome.take().expect("TaskHandle polled after completion"));
        }
        match &mut cell.waker {
            Some(current) => current.clone_from(waker),
            None => cell.waker = Some(waker.clone()),
        }
        Poll::Pending
    }
}

impl<E: Executor> fmt::Debug for Slot<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match self.cell.lock().phase {
            Phase::Queued => "queued",
            Phase::Running => "running",
            Phase::Ending => "ending",
            Phase::Done(_) => "done",
        };
        f.debug_struct("Slot")
            .field("id", &self.id)
            .field("priority", &self.priority)
            .field("phase", &phase)
            .finish_non_exhaustive()
    }
}
