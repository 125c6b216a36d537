//! Running `git` as a program with arguments, and its typed error.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

/// Variables that would point git (or Aider's `GitPython`) at another
/// repository than the one in the working directory, for example when
/// ollama-meta runs inside a git hook. They are removed from every git and
/// Aider process.
pub(crate) const GIT_LOCATION_VARS: [&str; 5] =
    ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_PREFIX"];

/// A git command that failed.
#[derive(Debug, thiserror::Error)]
#[error("`git {args}` in {dir}: {reason}", dir = .dir.display())]
pub struct GitError {
    /// The arguments, space separated, for the message.
    pub args: String,
    /// Where it ran.
    pub dir: PathBuf,
    /// What went wrong.
    pub reason: GitFailure,
    #[source]
    source: Option<io::Error>,
}

impl GitError {
    /// True when git could not be started at all (not installed).
    pub fn is_spawn(&self) -> bool {
        matches!(self.reason, GitFailure::Spawn)
    }

    /// True when git ran and exited unsuccessfully.
    pub fn is_failed(&self) -> bool {
        matches!(self.reason, GitFailure::Exited { .. })
    }
}

/// Why a git command failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitFailure {
    /// It could not be started (the source holds the I/O error).
    Spawn,
    /// It exited unsuccessfully.
    Exited {
        /// The exit status, as text.
        status: String,
        /// The last line git printed on stderr.
        stderr: String,
    },
}

impl std::fmt::Display for GitFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Spawn => f.write_str("could not start git"),
            Self::Exited { status, stderr } if stderr.is_empty() => write!(f, "{status}"),
            Self::Exited { status, stderr } => write!(f, "{status}: {stderr}"),
        }
    }
}

/// Runs `git <args>` in `dir` and returns its stdout.
///
/// Git never prompts (`GIT_TERMINAL_PROMPT=0`, stdin closed) and ignores
/// the location variables of an enclosing git process.
pub(crate) async fn git<I, S>(dir: &Path, args: I) -> Result<Vec<u8>, GitError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let shown = || args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ");
    let mut command = tokio::process::Command::new("git");
    command
        .args(&args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for var in GIT_LOCATION_VARS {
        command.env_remove(var);
    }
    let output = command.output().await.map_err(|source| GitError {
        args: shown(),
        dir: dir.to_path_buf(),
        reason: GitFailure::Spawn,
        source: Some(source),
    })?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(GitError {
            args: shown(),
            dir: dir.to_path_buf(),
            reason: GitFailure::Exited {
                status: describe(output.status),
                stderr: last_line(&output.stderr),
            },
            source: None,
        })
    }
}

/// `git` whose output is one line of text (a hash, a path).
pub(crate) async fn git_line<I, S>(dir: &Path, args: I) -> Result<String, GitError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = git(dir, args).await?;
    Ok(String::from_utf8_lossy(&out).trim_end_matches(['\n', '\r']).to_owned())
}

fn describe(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => status.to_string(),
    }
}

fn last_line(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_well() {
        let failure =
            GitFailure::Exited { status: "exit status 128".into(), stderr: "fatal: bad".into() };
        assert_eq!(failure.to_string(), "exit status 128: fatal: bad");
        assert_eq!(last_line(b"hint: x\nfatal: y\n\n"), "fatal: y");
    }

    #[tokio::test]
    async fn git_runs_and_fails_typed() {
        let dir = tempfile::tempdir().unwrap();
        let version = git_line(dir.path(), ["--version"]).await.unwrap();
        assert!(version.starts_with("git version"), "{version}");
        let err = git(dir.path(), ["rev-parse", "--show-toplevel"]).await.unwrap_err();
        assert!(err.is_failed() && !err.is_spawn(), "{err}");
        assert!(err.to_string().contains("`git rev-parse --show-toplevel`"), "{err}");
    }
}
