//! Why a checkout failed, why the state file could not be read or written,
//! and why a pool could not be built.

use std::io;
use std::path::PathBuf;

use crate::placement::{Placement, Request};

/// Why [`Pool::checkout`](crate::Pool::checkout) returned no agent; `E` is
/// the factory's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckoutError<E> {
    /// The pool was closed ([`Pool::close`](crate::Pool::close), or its
    /// maintenance worker shut down).
    #[error("agent pool is closed")]
    Closed,
    /// The pool's token budget is spent.
    #[error("token budget exhausted: {used} of {budget} tokens used")]
    BudgetExhausted {
        /// Tokens used so far.
        used: u64,
        /// The budget.
        budget: u64,
    },
    /// No placement the pool may use matches the request (or every matching
    /// one has a quota of zero), so no agent could ever serve it.
    #[error("no placement matches the request")]
    NoPlacement {
        /// The request.
        request: Request,
    },
    /// The factory failed to make the agent this checkout was to get.
    #[error("spawning an agent at {placement} failed")]
    Spawn {
        /// Where the agent was to run.
        placement: Placement,
        /// The factory's error.
        #[source]
        source: E,
    },
}

impl<E> CheckoutError<E> {
    /// True when the pool was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed)
    }

    /// True when the token budget is spent.
    pub fn is_budget_exhausted(&self) -> bool {
        matches!(self, Self::BudgetExhausted { .. })
    }

    /// True when no placement could ever serve the request.
    pub fn is_no_placement(&self) -> bool {
        matches!(self, Self::NoPlacement { .. })
    }

    /// True when the factory failed.
    pub fn is_spawn(&self) -> bool {
        matches!(self, Self::Spawn { .. })
    }

    /// A short stable `snake_case` name for the kind of failure.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Closed => "pool_closed",
            Self::BudgetExhausted { .. } => "budget_exhausted",
            Self::NoPlacement { .. } => "no_placement",
            Self::Spawn { .. } => "spawn_failed",
        }
    }
}

/// Why the state file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Reading, writing or renaming the file failed.
    #[error("state file {path}: i/o error")]
    Io {
        /// The file (or its temporary sibling).
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file is not a pool state document.
    #[error("state file {path}: invalid JSON")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The file was written by an incompatible version of the pool.
    #[error("state file {path}: version {found}, expected {expected}")]
    Version {
        /// The file.
        path: PathBuf,
        /// The version it holds.
        found: u32,
        /// The version this pool writes.
        expected: u32,
    },
}

impl StateError {
    /// True for an I/O failure.
    pub fn is_io(&self) -> bool {
        matches!(self, Self::Io { .. })
    }

    /// True when the file's contents could not be used (bad JSON or version).
    pub fn is_invalid(&self) -> bool {
        matches!(self, Self::Json { .. } | Self::Version { .. })
    }
}

/// Why [`Builder::build`](crate::Builder::build) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The sizes do not make sense together.
    #[error("invalid pool configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: &'static str,
    },
    /// The state file exists but could not be restored.
    #[error("restoring the pool state failed")]
    Restore(#[source] StateError),
}

impl BuildError {
    /// True when the configuration was rejected.
    pub fn is_config(&self) -> bool {
        matches!(self, Self::Config { .. })
    }

    /// True when the state file could not be restored.
    pub fn is_restore(&self) -> bool {
        matches!(self, Self::Restore(_))
    }
}
