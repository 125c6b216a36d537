//! How one Aider task ended, as a results line: from the session's report,
//! from why it could not run, or from the dispatcher's cancellation.

use std::error::Error as _;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use om_aider::{DEFAULT_CATEGORY, SessionReport, TaskFailure};
use om_core::EndpointId;
use om_core::time::format_rfc3339;
use om_dispatch::{DispatchError, TaskError as _};

use crate::batch::record::{CommitLine, ErrorInfo, FileStat, Record, Session, Status};
use crate::batch::running::{Meta, RunningTask};
use crate::cmd::aider::executor::Failed;

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The results line for a task that ended with `outcome`; `running` is what
/// the executor recorded while it ran (absent when it never started).
pub(crate) fn record(
    meta: &Meta,
    outcome: Result<SessionReport, DispatchError<Failed>>,
    running: Option<&RunningTask>,
) -> Record {
    match outcome {
        Ok(report) => from_report(meta, &report, running, None),
        Err(DispatchError::Failed(Failed::Session(TaskFailure::Unsuccessful(report)))) => {
            let error =
                ErrorInfo { kind: report.status.as_str().to_owned(), message: explain(&report) };
            from_report(meta, &report, running, Some(error))
        }
        Err(DispatchError::Failed(Failed::Session(failure))) => {
            stopped(meta, running, Status::Error, failure.kind_name(), &chain(&failure))
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

/// The endpoints that answered the session, comma-separated; where it was
/// placed when none did (it sent no model request, or its place cannot
/// tell).
fn served_by(report: &SessionReport) -> String {
    if report.served_by.is_empty() {
        return report.endpoint.to_string();
    }
    let names: Vec<&str> = report.served_by.iter().map(EndpointId::as_str).collect();
    names.join(",")
}

/// A line for a session that ran: `error` is set when it did not succeed.
fn from_report(
    meta: &Meta,
    report: &SessionReport,
    running: Option<&RunningTask>,
    error: Option<ErrorInfo>,
) -> Record {
    let finished = SystemTime::now();
    let started = running.map_or_else(
        || finished.checked_sub(report.duration).unwrap_or(finished),
        |r| r.started_at,
    );
    Record {
        id: meta.id.clone(),
        status: if error.is_none() { Status::Ok } else { Status::Error },
        category: Some(meta.category.unwrap_or(DEFAULT_CATEGORY)),
        priority: meta.priority,
        model: Some(report.model.to_string()),
        endpoint: Some(served_by(report)),
        attempts: 1,
        started_at: Some(format_rfc3339(started)),
        finished_at: format_rfc3339(finished),
        latency_ms: Some(ms(report.duration)),
        elapsed_ms: Some(ms(finished.duration_since(started).unwrap_or(report.duration))),
        ttft_ms: None,
        prompt_tokens: Some(report.tokens.sent),
        completion_tokens: Some(report.tokens.received),
        tokens_per_sec: None,
        output: None,
        error,
        session: Some(session(report)),
    }
}

fn session(report: &SessionReport) -> Session {
    Session {
        branch: report.branch.clone(),
        base_commit: report.base_commit.clone(),
        worktree: report.worktree_kept.then(|| report.worktree.display().to_string()),
        outcome: report.status.as_str().to_owned(),
        exit_code: report.exit_code,
        files: report
            .diff
            .files
            .iter()
            .map(|f| FileStat {
                path: f.path.display().to_string(),
                added: f.added,
                deleted: f.deleted,
            })
            .collect(),
        added: report.diff.added(),
        deleted: report.diff.deleted(),
        commits: report
            .commits
            .iter()
            .map(|c| CommitLine { id: c.id.clone(), summary: c.summary.clone() })
            .collect(),
        log: report.log.display().to_string(),
    }
}

/// Why a session that ran did not succeed, with where to look.
fn explain(report: &SessionReport) -> String {
    let mut message = report.status.to_string();
    if let Some(api) = &report.last_api_error {
        message.push_str(": ");
        message.push_str(api);
    }
    let _ = write!(message, "; log: {}", report.log.display());
    message
}

/// An error and its causes, `: `-separated.
fn chain(err: &TaskFailure) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// A task that ended without a session report (cancelled, a panic, or the
/// session could not run).
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
