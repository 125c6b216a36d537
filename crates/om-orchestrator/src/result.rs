//! What a task produced: the output and measurements of a success, or the
//! error of a failure, each with every attempt it took.

use std::fmt;
use std::time::{Duration, SystemTime};

use om_core::wire::{Metrics, ToolCall};
use om_core::{EndpointId, Error, ErrorKind, ModelName, TaskCategory, TaskId};

/// One attempt of a task on one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub number: u32,
    /// Where it ran.
    pub endpoint: EndpointId,
    /// The model it ran on, as the endpoint lists it.
    pub model: ModelName,
    /// From the start of the task to the start of the attempt (waits and
    /// earlier attempts).
    pub offset: Duration,
    /// From sending the request to its end.
    pub latency: Duration,
    /// `None` when the attempt succeeded.
    pub error: Option<AttemptError>,
}

impl Attempt {
    /// True when the attempt succeeded.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptError {
    /// The kind ([`ErrorKind::name`] gives its stable name).
    pub kind: ErrorKind,
    /// The message (for upstream errors, Ollama's own text).
    pub message: String,
    /// Output had been streamed when it failed; in
    /// [`Fleet::execute`](crate::Fleet::execute) that output was discarded
    /// and the task started again elsewhere.
    pub partial: bool,
}

impl AttemptError {
    pub(crate) fn of(error: &Error) -> Self {
        Self {
            kind: error.kind(),
            message: error.message().to_owned(),
            partial: error.is_partial(),
        }
    }
}

/// A task that succeeded.
///
/// The output is exactly what one model produced in one attempt: an attempt
/// that broke mid-way is discarded whole, never continued elsewhere.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskResult {
    /// The task's id (its `Task::id`).
    pub task: TaskId,
    /// Its category (as given, or detected from the prompt).
    pub category: TaskCategory,
    /// The endpoint of the successful attempt.
    pub endpoint: EndpointId,
    /// The model of the successful attempt, as the endpoint lists it.
    pub model: ModelName,
    /// Every attempt, the successful one last.
    pub attempts: Vec<Attempt>,
    /// Wall-clock start of the task.
    pub started_at: SystemTime,
    /// Wall-clock end of the task.
    pub finished_at: SystemTime,
    /// The whole task: waits, failed attempts and backoff included.
    pub elapsed: Duration,
    /// The successful attempt, from sending the request to the last chunk.
    pub latency: Duration,
    /// The successful attempt, from sending the request to the first chunk.
    pub ttft: Option<Duration>,
    /// Prompt tokens evaluated (Ollama's `prompt_eval_count`).
    pub prompt_tokens: Option<u64>,
    /// Tokens generated (`eval_count`).
    pub completion_tokens: Option<u64>,
    /// Generation speed (`eval_count / eval_duration`).
    pub tokens_per_sec: Option<f64>,
    /// The answer.
    pub output: String,
    /// The reasoning trace, for thinking models that sent one.
    pub thinking: Option<String>,
    /// Tool calls the model made.
    pub tool_calls: Vec<ToolCall>,
    /// Why generation ended (`stop`, `length`).
    pub done_reason: Option<String>,
    /// Ollama's timing and token metrics from the final chunk.
    pub metrics: Metrics,
}

/// A task that failed, with every attempt it made.
///
/// `Display` names the task and its attempts; [`std::error::Error::source`]
/// is the error itself.
#[derive(Debug)]
pub struct TaskFailure {
    /// The task's id (its `Task::id`).
    pub task: TaskId,
    /// Its category (as given, or detected from the prompt).
    pub category: TaskCategory,
    /// Why it failed: the last attempt's error, or why no attempt could be
    /// made ([`ErrorKind::NoBackend`], [`ErrorKind::Timeout`],
    /// [`ErrorKind::Canceled`]).
    pub error: Error,
    /// Every attempt made (none when no instance could serve the task).
    pub attempts: Vec<Attempt>,
    /// Wall-clock start of the task.
    pub started_at: SystemTime,
    /// Wall-clock end of the task.
    pub finished_at: SystemTime,
    /// The whole task.
    pub elapsed: Duration,
    /// Output streamed to the caller before the failure; empty except for
    /// a [`TaskStream`](crate::TaskStream) that broke after its first chunk,
    /// when [`Error::is_partial`] is true as well.
    pub output: String,
}

impl TaskFailure {
    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        self.error.kind()
    }

    /// The error, without the attempts and timings.
    pub fn into_error(self) -> Error {
        self.error
    }

    /// The endpoint of the last attempt, if any.
    pub fn endpoint(&self) -> Option<&EndpointId> {
        self.attempts.last().map(|a| &a.endpoint)
    }

    /// The model of the last attempt, if any.
    pub fn model(&self) -> Option<&ModelName> {
        self.attempts.last().map(|a| &a.model)
    }
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.attempts.len() {
            0 => write!(f, "task {} failed before any attempt", self.task),
            1 => write!(f, "task {} failed after 1 attempt", self.task),
            n => write!(f, "task {} failed after {n} attempts", self.task),
        }
    }
}

impl std::error::Error for TaskFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<TaskFailure> for Error {
    fn from(failure: TaskFailure) -> Self {
        failure.error
    }
}
