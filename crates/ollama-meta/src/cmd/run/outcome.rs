//! How one task ended, as a results line: from the fleet's result or
//! failure, or from the dispatcher's cancellation.

use std::time::{Duration, SystemTime};

use om_core::ErrorKind;
use om_core::time::format_rfc3339;
use om_dispatch::DispatchError;
use om_orchestrator::TaskResult;

use crate::batch::record::{ErrorInfo, Record, Status};
use crate::batch::running::{Meta, RunningTask};
use crate::cmd::run::executor::Failed;

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The results line for a task that ended with `outcome`; `running` is what
/// the executor recorded while it ran (absent when it never started).
pub(crate) fn record(
    meta: &Meta,
    outcome: Result<TaskResult, DispatchError<Failed>>,
    running: Option<&RunningTask>,
) -> Record {
    match outcome {
        Ok(result) => succeeded(meta, result),
        Err(DispatchError::Failed(Failed::Task(failure))) => {
            let last = failure.attempts.last();
            let status = if failure.kind() == ErrorKind::Canceled {
                Status::Cancelled
            } else {
                Status::Error
            };
            Record {
                id: meta.id.clone(),
                status,
                category: Some(failure.category),
                priority: meta.priority,
                model: failure.model().map(ToString::to_string),
                endpoint: failure.endpoint().map(ToString::to_string),
                attempts: u32::try_from(failure.attempts.len()).unwrap_or(u32::MAX),
                started_at: Some(format_rfc3339(failure.started_at)),
                finished_at: format_rfc3339(failure.finished_at),
                latency_ms: last.map(|a| ms(a.latency)),
                elapsed_ms: Some(ms(failure.elapsed)),
                ttft_ms: None,
                prompt_tokens: None,
                completion_tokens: None,
                tokens_per_sec: None,
                output: None,
                error: Some(ErrorInfo {
                    kind: failure.error.kind_name().to_owned(),
                    message: failure.error.message().to_owned(),
                }),
                session: None,
            }
        }
        Err(DispatchError::Failed(Failed::NotStarted)) => {
            stopped(meta, running, Status::Cancelled, "canceled", "interrupted before it started")
        }
        Err(DispatchError::Cancelled { stage }) => stopped(
            meta,
            running,
            Status::Cancelled,
            "canceled",
            &format!("cancelled while {stage} (interrupted)"),
        ),
        Err(DispatchError::Panicked { message }) => {
            stopped(meta, running, Status::Error, "panic", &message)
        }
        Err(other) => stopped(meta, running, Status::Error, "internal", &other.to_string()),
    }
}

fn succeeded(meta: &Meta, result: TaskResult) -> Record {
    Record {
        id: meta.id.clone(),
        status: Status::Ok,
        category: Some(result.category),
        priority: meta.priority,
        model: Some(result.model.to_string()),
        endpoint: Some(result.endpoint.to_string()),
        attempts: u32::try_from(result.attempts.len()).unwrap_or(u32::MAX),
        started_at: Some(format_rfc3339(result.started_at)),
        finished_at: format_rfc3339(result.finished_at),
        latency_ms: Some(ms(result.latency)),
        elapsed_ms: Some(ms(result.elapsed)),
        ttft_ms: result.ttft.map(ms),
        prompt_tokens: result.prompt_tokens,
        completion_tokens: result.completion_tokens,
        tokens_per_sec: result.tokens_per_sec,
        output: Some(result.output),
        error: None,
        session: None,
    }
}

/// A task that ended without the fleet's verdict (cancelled, or a panic).
fn stopped(
    meta: &Meta,
    running: Option<&RunningTask>,
    status: Status,
    kind: &str,
    message: &str,
) -> Record {
    let now = SystemTime::now();
    let (model, endpoint) =
        running.and_then(|r| r.placement.clone()).map_or((None, None), |(m, e)| (Some(m), Some(e)));
    Record {
        id: meta.id.clone(),
        status,
        category: meta.category,
        priority: meta.priority,
        model,
        endpoint,
        attempts: running.map_or(0, |r| r.attempts),
        started_at: running.map(|r| format_rfc3339(r.started_at)),
        finished_at: format_rfc3339(now),
        latency_ms: None,
        elapsed_ms: running.map(|r| ms(now.duration_since(r.started_at).unwrap_or_default())),
        ttft_ms: None,
        prompt_tokens: None,
        completion_tokens: None,
        tokens_per_sec: None,
        output: None,
        error: Some(ErrorInfo { kind: kind.to_owned(), message: message.to_owned() }),
        session: None,
    }
}
