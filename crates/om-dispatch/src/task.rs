//! A unit of work as submitted: an id, a priority and the executor's payload.

use om_core::{Priority, TaskId};

/// One task to dispatch: what to run ([`payload`](Self::payload)), how urgent it
/// is and the id it is reported under.
///
/// Plain data; the dispatcher does not require ids to be unique, but events, the
/// [`Summary`](crate::Summary) and the
/// [`ShutdownReport`](crate::ShutdownReport) name tasks by id only, so a caller
/// that wants to tell tasks apart there should keep them unique (batch files do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task<T> {
    /// The id the task is reported under.
    pub id: TaskId,
    /// Where the task goes in the queue.
    pub priority: Priority,
    /// What the executor receives.
    pub payload: T,
}

impl<T> Task<T> {
    /// A task of [`Priority::Normal`].
    pub fn new(id: impl Into<TaskId>, payload: T) -> Self {
        Self { id: id.into(), priority: Priority::Normal, payload }
    }

    /// The same task with `priority`.
    #[must_use]
    pub fn with_priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }
}
