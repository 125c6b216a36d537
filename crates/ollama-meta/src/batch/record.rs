//! One line of the results file: how one task ended.
//!
//! The schema is the same for every kind of batch (LLM tasks and Aider
//! sessions): what ran where, when, how fast, what it produced and why it
//! failed. Fields that do not apply (a task cancelled before it started has
//! no model) are `null`; an Aider session adds `session` (branch, files,
//! lines, commits, log).

use om_core::{Priority, TaskCategory, TaskId};
use serde::{Deserialize, Serialize};

use crate::batch::journal::Entry;

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    /// It produced its output.
    Ok,
    /// It failed; `error` says why.
    Error,
    /// It was cancelled (Ctrl-C) before or while running.
    Cancelled,
}

impl Status {
    /// `ok`, `error` or `cancelled`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Why a task failed: a stable kind name and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ErrorInfo {
    /// A stable `snake_case` kind (`model_not_found`, `timeout`, `canceled`).
    pub(crate) kind: String,
    /// What happened, for a person.
    pub(crate) message: String,
}

/// One finished task, as a results line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The task's id, unique in its batch.
    pub(crate) id: TaskId,
    /// How it ended.
    pub(crate) status: Status,
    /// Its category (as given or detected), when known.
    pub(crate) category: Option<TaskCategory>,
    /// Its queue priority.
    pub(crate) priority: Priority,
    /// The model of the last attempt.
    pub(crate) model: Option<String>,
    /// The endpoint of the last attempt; on an `aider` line, the endpoints
    /// that answered the session, comma-separated (`fleet` when none did).
    pub(crate) endpoint: Option<String>,
    /// Attempts made (failovers and retries included).
    pub(crate) attempts: u32,
    /// When the task started running (RFC 3339, UTC); `null` when it never
    /// did.
    pub(crate) started_at: Option<String>,
    /// When it ended (RFC 3339, UTC).
    pub(crate) finished_at: String,
    /// The last attempt, from sending the request to its end.
    pub(crate) latency_ms: Option<u64>,
    /// The whole task: waits for capacity, failed attempts and backoff
    /// included.
    pub(crate) elapsed_ms: Option<u64>,
    /// The last attempt, from sending the request to the first token.
    pub(crate) ttft_ms: Option<u64>,
    /// Prompt tokens evaluated.
    pub(crate) prompt_tokens: Option<u64>,
    /// Tokens generated.
    pub(crate) completion_tokens: Option<u64>,
    /// Generation speed.
    pub(crate) tokens_per_sec: Option<f64>,
    /// What the task produced.
    pub(crate) output: Option<String>,
    /// Why it failed or was cancelled.
    pub(crate) error: Option<ErrorInfo>,
    /// What an Aider session did (`ollama-meta aider` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) session: Option<Session>,
}

/// What an Aider session did, in its results line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Session {
    /// The session's branch, `om/<task id>`.
    pub(crate) branch: String,
    /// The commit it started from.
    pub(crate) base_commit: String,
    /// The worktree, when it was kept (`--keep`, or uncommitted changes).
    pub(crate) worktree: Option<String>,
    /// How the session ended: `ok`, `aider_failed`, `timeout` or
    /// `model_unreachable`.
    pub(crate) outcome: String,
    /// Aider's exit code (`null` when a signal ended it).
    pub(crate) exit_code: Option<i32>,
    /// The files changed since the base commit.
    pub(crate) files: Vec<FileStat>,
    /// Lines added over all files.
    pub(crate) added: u64,
    /// Lines deleted over all files.
    pub(crate) deleted: u64,
    /// The commits on the branch, oldest first.
    pub(crate) commits: Vec<CommitLine>,
    /// Aider's output.
    pub(crate) log: String,
}

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileStat {
    /// Relative to the repository root.
    pub(crate) path: String,
    /// Lines added (`null` for a binary file).
    pub(crate) added: Option<u64>,
    /// Lines deleted (`null` for a binary file).
    pub(crate) deleted: Option<u64>,
}

/// One commit of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CommitLine {
    /// The full hash.
    pub(crate) id: String,
    /// The first line of its message.
    pub(crate) summary: String,
}

impl Record {
    /// True when the task succeeded.
    pub(crate) fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// `model@endpoint`, or `-` for what is unknown.
    pub(crate) fn placement(&self) -> String {
        format!(
            "{}@{}",
            self.model.as_deref().unwrap_or("-"),
            self.endpoint.as_deref().unwrap_or("-")
        )
    }
}

impl Entry for Record {
    fn id(&self) -> &TaskId {
        &self.id
    }

    fn is_ok(&self) -> bool {
        Self::is_ok(self)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A record for tests, `ok` unless `status` says otherwise.
    pub(crate) fn record(id: &str, status: Status) -> Record {
        Record {
            id: id.into(),
            status,
            category: Some(TaskCategory::Coding),
            priority: Priority::Normal,
            model: Some("qwen2.5-coder:7b".to_owned()),
            endpoint: Some("gpu".to_owned()),
            attempts: 1,
            started_at: Some("2025-01-01T00:00:00Z".to_owned()),
            finished_at: "2025-01-01T00:00:01.5Z".to_owned(),
            latency_ms: Some(1500),
            elapsed_ms: Some(1500),
            ttft_ms: Some(40),
            prompt_tokens: Some(12),
            completion_tokens: Some(100),
            tokens_per_sec: Some(68.0),
            output: (status == Status::Ok).then(|| "fn main() {}".to_owned()),
            error: (status != Status::Ok)
                .then(|| ErrorInfo { kind: "timeout".to_owned(), message: "too slow".to_owned() }),
            session: None,
        }
    }

    #[test]
    fn lines_have_the_documented_keys() {
        let line = serde_json::to_value(record("a", Status::Error)).unwrap();
        let keys: Vec<&str> = line.as_object().unwrap().keys().map(String::as_str).collect();
        for key in [
            "id",
            "status",
            "category",
            "priority",
            "model",
            "endpoint",
            "attempts",
            "started_at",
            "finished_at",
            "latency_ms",
            "ttft_ms",
            "prompt_tokens",
            "completion_tokens",
            "tokens_per_sec",
            "output",
            "error",
        ] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
        assert_eq!(line["status"], "error");
        assert_eq!(line["error"]["kind"], "timeout");
        assert!(!keys.contains(&"session"), "only Aider sessions have one");
    }
}
