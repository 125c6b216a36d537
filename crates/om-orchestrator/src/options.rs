//! Per-call options: an overall deadline, a deadline for the answer to
//! begin, a bound on waiting for capacity, a cancellation token and a
//! progress callback.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use om_core::{EndpointId, ErrorKind, ModelName};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What happens while a task runs, for progress displays.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Progress {
    /// Every eligible instance is busy, cooling down or at its concurrency
    /// limit: the task waits for capacity.
    Waiting,
    /// An attempt started.
    Attempt {
        /// 1 for the first.
        number: u32,
        /// Where.
        endpoint: EndpointId,
        /// On which model.
        model: ModelName,
    },
    /// A chunk of output arrived; `chunks` counts them in this attempt (one
    /// chunk is about one token).
    Chunk {
        /// Chunks so far in this attempt.
        chunks: u64,
    },
    /// An attempt failed and the task will try again.
    Retrying {
        /// The attempt that failed.
        number: u32,
        /// Why.
        kind: ErrorKind,
    },
}

/// Called with each [`Progress`] of a task, on the task's own future: keep
/// it short and non-blocking (update a bar, send on a channel).
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// A bound on waiting for capacity: a caller that would rather answer
/// "busy, try again" than queue without end (the gateway's wait queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimit {
    /// Tasks that may be waiting for capacity at once; one that would be
    /// past them fails at once with [`ErrorKind::Busy`].
    pub max_waiting: usize,
    /// How long one task may wait for capacity before it fails with
    /// [`ErrorKind::Busy`].
    pub max_wait: Duration,
}

/// Options of one [`Fleet::execute_with`](crate::Fleet::execute_with) or
/// [`Fleet::execute_stream_with`](crate::Fleet::execute_stream_with) call.
///
/// The task's deadline is the earlier of its own `timeout` (or the fleet's
/// default task timeout) counted from the call, and `deadline`.
#[derive(Clone, Default)]
pub struct Options {
    /// An overall deadline, e.g. for a whole batch.
    pub deadline: Option<Instant>,
    /// By when the answer must have begun — its first line, which for a
    /// call that does not stream is the whole answer; a stream that has
    /// begun is not cut by it. Missed, the call fails with a total-time
    /// [`ErrorKind::Timeout`].
    pub start_by: Option<Instant>,
    /// Bounds waiting for capacity; `None` waits as long as the deadline
    /// lets it.
    pub queue: Option<QueueLimit>,
    /// Cancels the task: it ends with [`ErrorKind::Canceled`].
    pub cancel: Option<CancellationToken>,
    /// Receives progress.
    pub progress: Option<ProgressFn>,
}

impl Options {
    /// With an overall deadline.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The answer must begin by `start_by`.
    #[must_use]
    pub fn with_start_by(mut self, start_by: Instant) -> Self {
        self.start_by = Some(start_by);
        self
    }

    /// Waiting for capacity bounded by `queue`.
    #[must_use]
    pub fn with_queue(mut self, queue: QueueLimit) -> Self {
        self.queue = Some(queue);
        self
    }

    /// Cancelled by `token`.
    #[must_use]
    pub fn with_cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Reporting progress to `progress`.
    #[must_use]
    pub fn with_progress(mut self, progress: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    pub(crate) fn report(&self, progress: &Progress) {
        if let Some(f) = &self.progress {
            f(progress);
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("deadline", &self.deadline)
            .field("start_by", &self.start_by)
            .field("queue", &self.queue)
            .field("cancel", &self.cancel)
            .field("progress", &self.progress.as_ref().map(|_| "Fn(&Progress)"))
            .finish()
    }
}
