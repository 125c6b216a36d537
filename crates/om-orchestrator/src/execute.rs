//! [`Fleet::execute`]: the batch path. A task runs to its end on one
//! instance (or on a second one started beside a straggler, whichever
//! finishes first: see `race`); a failure anywhere, even mid-stream, starts
//! it again from scratch on another instance within the budget.

use std::future::Future;

use om_core::Task;
use tracing::Instrument;

use crate::drive::Whole;
use crate::fleet::Fleet;
use crate::job::Job;
use crate::options::Options;
use crate::result::{TaskFailure, TaskResult};

impl Fleet {
    /// Executes `task` to its end: see [`execute_with`](Self::execute_with).
    ///
    /// # Errors
    ///
    /// As [`execute_with`](Self::execute_with).
    ///
    /// # Cancel safety
    ///
    /// As [`execute_with`](Self::execute_with).
    pub fn execute(
        &self,
        task: &Task,
    ) -> impl Future<Output = Result<TaskResult, TaskFailure>> + Send + use<> {
        self.execute_with(task, Options::default())
    }

    /// Executes `task` to its end, failing over as needed, and returns the
    /// whole answer of one model with every attempt it took.
    ///
    /// The future owns what it needs (a clone of the task and of the fleet
    /// handle), so it can be spawned; the task's clock starts when it is
    /// first polled.
    ///
    /// Each attempt routes the task (model pin or allow-list, required
    /// capabilities, context need, category) on a fresh registry snapshot,
    /// takes a permit of the chosen endpoint (or of the next ranked one with
    /// a free permit), calls `/api/chat` streaming, and records the outcome
    /// in the registry and the metrics. When every eligible instance is at
    /// its limit, cooling down after a 503/429 or behind an open breaker,
    /// the task waits for one instead of failing.
    ///
    /// A failure that another attempt may cure ([`Error::is_failover`]:
    /// connect errors, timeouts, 5xx, broken or garbled streams, a model
    /// missing on that endpoint) is retried on another instance after a
    /// backoff, within [`Settings::max_attempts`](crate::Settings::max_attempts);
    /// a stream that broke after some output is retried from scratch and its
    /// partial output discarded, so the result never splices two answers.
    /// Backpressure (503 "server busy", 429) spends no budget.
    ///
    /// With [`Settings::hedge`](crate::Settings::hedge) on, an attempt that
    /// streams so slowly that an idle endpoint elsewhere would finish the
    /// whole task well before it (while no task waits for capacity) gets a
    /// second attempt there; the first to finish is the result (its whole
    /// output, never spliced) and the other is stopped, its pace recorded.
    ///
    /// # Errors
    ///
    /// A [`TaskFailure`] holding the last attempt's error when the budget
    /// is spent or the error is final (an invalid request);
    /// [`ErrorKind::NoBackend`](om_core::ErrorKind::NoBackend) at once when
    /// no instance could ever serve the task;
    /// [`ErrorKind::Timeout`](om_core::ErrorKind::Timeout) with
    /// [`TimeoutPhase::Total`](om_core::TimeoutPhase::Total) when the deadline
    /// passes; [`ErrorKind::Canceled`](om_core::ErrorKind::Canceled) when
    /// the options' token is cancelled.
    ///
    /// [`Error::is_failover`]: om_core::Error::is_failover
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the task: the running request's
    /// connection is closed (which stops Ollama generating), its permit is
    /// released, the instance's in-flight count drops with nothing recorded
    /// against it, and the metrics count the task as cancelled.
    pub fn execute_with(
        &self,
        task: &Task,
        options: Options,
    ) -> impl Future<Output = Result<TaskResult, TaskFailure>> + Send + use<> {
        let span = tracing::debug_span!("task", task = %task.id);
        let (fleet, task) = (self.clone(), task.clone());
        async move {
            let mut job = Job::new(fleet, &task, options);
            match job.drive(&Whole(&task)).await {
                Ok(finished) => Ok(job.succeed(finished)),
                Err(error) => Err(job.fail(error, String::new())),
            }
        }
        .instrument(span)
    }
}
