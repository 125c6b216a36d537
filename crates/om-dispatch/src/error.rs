//! Why a task did not produce an output, and why a submission was refused.

use std::fmt;

use crate::event::Stage;

/// Why a [`TaskHandle`](crate::TaskHandle) resolved without an output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError<E> {
    /// The executor returned an error; it is the [`source`](std::error::Error::source).
    #[error("task failed")]
    Failed(#[source] E),
    /// The executor panicked; the dispatcher caught the panic and kept going.
    #[error("task panicked: {message}")]
    Panicked {
        /// The panic payload when it was a string, else a placeholder.
        message: String,
    },
    /// The task was cancelled: by its handle, by global cancellation or by
    /// [`Dispatcher::shutdown`](crate::Dispatcher::shutdown) at its deadline.
    #[error("task cancelled while {stage}")]
    Cancelled {
        /// Whether it was still queued or already running.
        stage: Stage,
    },
}

impl<E> DispatchError<E> {
    /// True when the executor returned an error.
    pub fn is_failed(&self) -> bool {
        matches!(self, Self::Failed(_))
    }

    /// True when the executor panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, Self::Panicked { .. })
    }

    /// True when the task was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Cancelled { .. })
    }

    /// The executor's error, when there is one.
    pub fn failure(&self) -> Option<&E> {
        match self {
            Self::Failed(err) => Some(err),
            _ => None,
        }
    }

    /// The executor's error by value, when there is one.
    pub fn into_failure(self) -> Option<E> {
        match self {
            Self::Failed(err) => Some(err),
            _ => None,
        }
    }
}

/// The dispatcher no longer accepts work; the refused task(s) are handed back.
///
/// `T` is a [`Task`](crate::Task) for [`Dispatcher::submit`](crate::Dispatcher::submit)
/// and a `Vec` of them for [`Dispatcher::submit_batch`](crate::Dispatcher::submit_batch),
/// so a caller can journal or retry them elsewhere.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError<T> {
    /// [`Dispatcher::close`](crate::Dispatcher::close) or
    /// [`Dispatcher::shutdown`](crate::Dispatcher::shutdown) was called, the
    /// dispatcher was cancelled, or every [`Dispatcher`](crate::Dispatcher)
    /// handle was dropped.
    #[error("dispatcher is closed")]
    Closed(T),
}

impl<T> SubmitError<T> {
    /// True when the dispatcher was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed(_))
    }

    /// The refused submission.
    pub fn into_inner(self) -> T {
        match self {
            Self::Closed(inner) => inner,
        }
    }
}

// Payloads need not be `Debug`; say what was refused without printing it.
impl<T> fmt::Debug for SubmitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed(_) => f.debug_tuple("Closed").finish_non_exhaustive(),
        }
    }
}
