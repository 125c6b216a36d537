//! Why sessions could not be set up or run.

use std::io;
use std::path::PathBuf;

use crate::diffstat::BadNumstat;
use crate::git::GitError;
use crate::locate::AgentNotFound;
use crate::name::{InvalidName, InvalidPath};

/// Why [`Sessions::open`](crate::Sessions::open) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The agent's program is not installed where it was looked for.
    #[error(transparent)]
    AgentNotFound(#[from] AgentNotFound),
    /// The path is not inside a git repository (or git is missing).
    #[error("{path} is not a git repository", path = .path.display())]
    NotARepository {
        /// The path given.
        path: PathBuf,
        /// What git said.
        #[source]
        source: GitError,
    },
    /// The base ref does not name a commit.
    #[error("base {base:?} does not name a commit")]
    BadBase {
        /// The ref given.
        base: String,
        /// What git said.
        #[source]
        source: GitError,
    },
    /// The worktree or log folder could not be prepared.
    #[error("could not prepare {path}", path = .path.display())]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl SetupError {
    /// True when the agent is not installed.
    pub fn is_agent_not_found(&self) -> bool {
        matches!(self, Self::AgentNotFound(_))
    }

    /// True when the path is not a git repository.
    pub fn is_not_a_repository(&self) -> bool {
        matches!(self, Self::NotARepository { .. })
    }

    /// True when the base ref is bad.
    pub fn is_bad_base(&self) -> bool {
        matches!(self, Self::BadBase { .. })
    }
}

/// Why a session could not run to a report.
///
/// A session that ran but failed (Aider exited non-zero, timed out, never
/// reached the model) is not an error here: it is a
/// [`SessionReport`](crate::SessionReport) whose
/// [`status`](crate::SessionReport::status) says so, with its log and
/// whatever it changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The task id cannot name a worktree.
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
    /// A file of the task would leave the repository.
    #[error(transparent)]
    InvalidPath(#[from] InvalidPath),
    /// The agent's program is gone.
    #[error(transparent)]
    AgentNotFound(#[from] AgentNotFound),
    /// Aider could not be started.
    #[error("could not start {program}", program = .program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A git command failed (making the worktree, reading the result).
    #[error(transparent)]
    Git(#[from] GitError),
    /// Git's diff output was not understood.
    #[error(transparent)]
    Numstat(#[from] BadNumstat),
    /// The task's worktree from an earlier run still has processes working
    /// in it (an Aider that outlived its run): it is not touched.
    #[error(
        "worktree {path} is in use by process(es) {pids:?} from an earlier run; stop them first",
        path = .path.display()
    )]
    WorktreeInUse {
        /// The worktree.
        path: PathBuf,
        /// The processes whose working folder is in it.
        pids: Vec<u32>,
    },
    /// The task's branch from an earlier run has commits its base does not:
    /// resetting it would lose them.
    #[error(
        "branch {branch} has {commits} commit(s) not in {base}: merge it, delete it \
         (git branch -D {branch}) or give the task another id"
    )]
    UnmergedBranch {
        /// The branch.
        branch: String,
        /// Commits on it that the base does not have.
        commits: u64,
        /// The base it was compared with.
        base: String,
    },
    /// A log or message file could not be written or read.
    #[error("i/o error on {path}", path = .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl SessionError {
    /// True when the task itself is invalid (its id or files): running it
    /// again cannot help.
    pub fn is_invalid_task(&self) -> bool {
        matches!(self, Self::InvalidName(_) | Self::InvalidPath(_))
    }

    /// True when the agent is missing or cannot be started.
    pub fn is_agent_unavailable(&self) -> bool {
        matches!(self, Self::AgentNotFound(_) | Self::Spawn { .. })
    }

    /// True when an earlier run's worktree or branch is kept from being
    /// reset (live processes, unmerged commits).
    pub fn is_earlier_work(&self) -> bool {
        matches!(self, Self::WorktreeInUse { .. } | Self::UnmergedBranch { .. })
    }

    /// True when git failed.
    pub fn is_git(&self) -> bool {
        matches!(self, Self::Git(_) | Self::Numstat(_))
    }

    /// A short stable `snake_case` name for the kind of failure.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::InvalidName(_) | Self::InvalidPath(_) => "invalid_task",
            Self::AgentNotFound(_) => "agent_not_found",
            Self::Spawn { .. } => "agent_spawn",
            Self::Git(_) | Self::Numstat(_) => "git",
            Self::WorktreeInUse { .. } => "worktree_in_use",
            Self::UnmergedBranch { .. } => "unmerged_branch",
            Self::Io { .. } => "io",
        }
    }
}
