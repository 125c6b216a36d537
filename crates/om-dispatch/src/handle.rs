//! The caller's side of one submitted task: its result and its cancellation.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use om_core::{Priority, TaskId};

use crate::executor::Executor;
use crate::shared::Shared;
use crate::slot::{Outcome, Slot};

/// A submitted task: a future of its result, and the way to cancel it.
///
/// Resolves to the executor's output, or to a
/// [`DispatchError`](crate::DispatchError) saying why there is none. Every
/// accepted task resolves exactly once, after its terminal event has been
/// delivered and counted in the [`Summary`](crate::Summary).
///
/// Dropping the handle does **not** cancel the task (like
/// `tokio::task::JoinHandle`): it runs to its end and is reported through
/// events and the summary only. Call [`cancel`](Self::cancel) to cancel it.
///
/// # Cancel safety
///
/// Awaiting is cancel safe: dropping the future loses nothing, the task keeps
/// going.
///
/// # Panics
///
/// Polling the handle again after it returned `Ready` panics.
#[must_use = "dropping a TaskHandle detaches the task; await it or call cancel"]
pub struct TaskHandle<E: Executor> {
    slot: Arc<Slot<E>>,
    shared: Arc<Shared<E>>,
}

impl<E: Executor> TaskHandle<E> {
    pub(crate) fn new(slot: Arc<Slot<E>>, shared: Arc<Shared<E>>) -> Self {
        Self { slot, shared }
    }

    /// The task's id.
    pub fn id(&self) -> &TaskId {
        &self.slot.id
    }

    /// The task's priority as submitted.
    pub fn priority(&self) -> Priority {
        self.slot.priority
    }

    /// True once the result is available (awaiting will not wait).
    pub fn is_finished(&self) -> bool {
        self.slot.is_done()
    }

    /// Cancels the task. A queued task is removed at once and resolves as
    /// cancelled; a running task's token is cancelled and its future dropped
    /// by its worker, unless it completes first. Does nothing once the task
    /// has ended.
    pub fn cancel(&self) {
        self.shared.cancel_task(&self.slot);
    }

    /// A cloneable handle that can only cancel, for keeping apart from the
    /// result (in a map of running tasks, in a signal handler).
    pub fn cancel_handle(&self) -> CancelHandle<E> {
        CancelHandle { slot: Arc::clone(&self.slot), shared: Arc::clone(&self.shared) }
    }
}

impl<E: Executor> Future for TaskHandle<E> {
    type Output = Outcome<E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.slot.poll_outcome(cx.waker())
    }
}

impl<E: Executor> fmt::Debug for TaskHandle<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle").field("task", &self.slot).finish_non_exhaustive()
    }
}

/// Cancels one task; see [`TaskHandle::cancel`].
pub struct CancelHandle<E: Executor> {
    slot: Arc<Slot<E>>,
    shared: Arc<Shared<E>>,
}

impl<E: Executor> CancelHandle<E> {
    /// The task's id.
    pub fn id(&self) -> &TaskId {
        &self.slot.id
    }

    /// Cancels the task; see [`TaskHandle::cancel`].
    pub fn cancel(&self) {
        self.shared.cancel_task(&self.slot);
    }
}

impl<E: Executor> Clone for CancelHandle<E> {
    fn clone(&self) -> Self {
        Self { slot: Arc::clone(&self.slot), shared: Arc::clone(&self.shared) }
    }
}

impl<E: Executor> fmt::Debug for CancelHandle<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle").field("task", &self.slot).finish_non_exhaustive()
    }
}
