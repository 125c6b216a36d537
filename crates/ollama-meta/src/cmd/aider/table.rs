//! The session table printed after a run: task → branch, files changed,
//! lines added and deleted, model, tokens and status.

use std::fmt::Write as _;

use serde::Serialize;

use crate::batch::record::Record;
use crate::batch::summary::human_ms;

/// One session, as the table and `--json` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Row {
    /// The task.
    pub(crate) task: String,
    /// `ok`, `error` or `cancelled`.
    pub(crate) status: String,
    /// Why it did not succeed, in a word (`timeout`, `aider_failed`, …).
    pub(crate) error: Option<String>,
    /// The session's branch (`null` when no session ran).
    pub(crate) branch: Option<String>,
    /// Files changed.
    pub(crate) files: usize,
    /// Lines added.
    pub(crate) added: u64,
    /// Lines deleted.
    pub(crate) deleted: u64,
    /// Commits on the branch.
    pub(crate) commits: usize,
    /// The model, when the session was placed.
    pub(crate) model: Option<String>,
    /// The endpoints that answered the session, comma-separated; `None`
    /// when no session ran.
    pub(crate) endpoint: Option<String>,
    /// Tokens sent.
    pub(crate) tokens_sent: Option<u64>,
    /// Tokens received.
    pub(crate) tokens_received: Option<u64>,
    /// How long the session took.
    pub(crate) duration_ms: Option<u64>,
    /// The kept worktree, if any.
    pub(crate) worktree: Option<String>,
}

/// One row per record, in the given order.
pub(crate) fn rows(records: &[&Record]) -> Vec<Row> {
    records
        .iter()
        .map(|r| {
            let session = r.session.as_ref();
            Row {
                task: r.id.to_string(),
                status: r.status.as_str().to_owned(),
                error: r.error.as_ref().map(|e| e.kind.clone()),
                branch: session.map(|s| s.branch.clone()),
                files: session.map_or(0, |s| s.files.len()),
                added: session.map_or(0, |s| s.added),
                deleted: session.map_or(0, |s| s.deleted),
                commits: session.map_or(0, |s| s.commits.len()),
                model: r.model.clone(),
                endpoint: r.endpoint.clone(),
                tokens_sent: r.prompt_tokens,
                tokens_received: r.completion_tokens,
                duration_ms: r.latency_ms,
                worktree: session.and_then(|s| s.worktree.clone()),
            }
        })
        .collect()
}

/// The rows as an aligned text table.
pub(crate) fn render(rows: &[Row]) -> String {
    const HEAD: [&str; 8] =
        ["task", "status", "branch", "files", "+/-", "model@endpoint", "tokens", "time"];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            let status = match &r.error {
                Some(kind) if r.status != "cancelled" => format!("{} ({kind})", r.status),
                _ => r.status.clone(),
            };
            let tokens = match (r.tokens_sent, r.tokens_received) {
                (Some(sent), Some(received)) => format!("{sent} → {received}"),
                _ => "-".to_owned(),
            };
            [
                r.task.clone(),
                status,
                r.branch.clone().unwrap_or_else(|| "-".to_owned()),
                r.files.to_string(),
                format!("+{}/-{}", r.added, r.deleted),
                format!(
                    "{}@{}",
                    r.model.as_deref().unwrap_or("-"),
                    r.endpoint.as_deref().unwrap_or("-")
                ),
                tokens,
                r.duration_ms.map_or_else(|| "-".to_owned(), human_ms),
            ]
        })
        .collect();
    let mut widths = HEAD.map(|h| h.chars().count());
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<width$}  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&HEAD.map(str::to_owned));
    for row in &cells {
        line(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::record::tests::record;
    use crate::batch::record::{FileStat, Session, Status};

    #[test]
    fn rows_and_table() {
        let mut ok = record("fix-1", Status::Ok);
        ok.session = Some(Session {
            branch: "om/fix-1".to_owned(),
            base_commit: "abc".to_owned(),
            worktree: None,
            outcome: "ok".to_owned(),
            exit_code: Some(0),
            files: vec![FileStat { path: "a.py".to_owned(), added: Some(1), deleted: Some(0) }],
            added: 1,
            deleted: 0,
            commits: Vec::new(),
            log: "/r/.om-worktrees/.logs/fix-1.log".to_owned(),
        });
        let failed = record("fix-2", Status::Error);
        let rows = rows(&[&ok, &failed]);
        assert_eq!(rows[0].branch.as_deref(), Some("om/fix-1"));
        assert_eq!((rows[0].files, rows[0].added), (1, 1));
        assert_eq!(rows[1].error.as_deref(), Some("timeout"));
        let table = render(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("task "));
        assert!(lines[1].contains("om/fix-1") && lines[1].contains("+1/-0"), "{table}");
        assert!(
            lines[1].contains("qwen2.5-coder:7b@gpu") && lines[1].contains("12 → 100"),
            "{table}"
        );
        assert!(lines[2].contains("error (timeout)"), "{table}");
        // Columns line up: every row's status starts where the header's does.
        let at = lines[0].find("status").unwrap();
        assert!(
            lines.iter().skip(1).all(|l| l[at..].starts_with("ok") || l[at..].starts_with("error"))
        );
    }
}
