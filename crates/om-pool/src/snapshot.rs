//! The pool's state as saved to a file: which agents existed, what they were
//! doing, what finished. Written atomically (temporary file, fsync, rename).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use om_core::TaskId;
use serde::{Deserialize, Serialize};

use crate::error::StateError;
use crate::placement::{AgentId, Placement};

/// The format version [`Snapshot`] files carry.
pub const STATE_VERSION: u32 = 1;

/// The pool's state at one moment, as saved to and restored from the state
/// file ([`Builder::state_file`](crate::Builder::state_file)).
///
/// A restored pool keeps the counters (agent ids, tokens used, the finished
/// log) and brings every listed agent back at its placement with its id and
/// counters ([`SpawnCause::Restore`](crate::SpawnCause::Restore)). What the
/// agents were doing is not resumed: tasks in flight when the state was
/// saved are listed by [`interrupted`](Self::interrupted) for the caller to
/// resubmit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`STATE_VERSION`] when written by this crate.
    pub version: u32,
    /// The id the next new agent gets.
    pub next_agent: u64,
    /// Tokens charged to the pool's budget so far.
    pub tokens_used: u64,
    /// Every agent that existed, by id.
    pub agents: Vec<AgentRecord>,
    /// The most recent checkouts that ran something, oldest first (at most
    /// [`Builder::history`](crate::Builder::history) of them).
    pub finished: Vec<Finished>,
}

/// One agent in a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRecord {
    /// Its id.
    pub id: AgentId,
    /// Where it runs.
    pub placement: Placement,
    /// What it was doing.
    pub status: AgentStatus,
    /// Runs it made, over its whole life.
    pub runs: u64,
    /// Runs that returned an error.
    pub errors: u64,
    /// Tokens it used.
    pub tokens: u64,
}

/// What an agent was doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum AgentStatus {
    /// Being made by the factory.
    Spawning,
    /// Ready in the pool.
    Idle,
    /// Lent out, for `task` when the checkout named one.
    Busy {
        /// The task it was lent for.
        task: Option<TaskId>,
    },
    /// Being ended.
    Dying,
}

/// One checkout that ran something, in a [`Snapshot`]'s finished log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finished {
    /// The task named by the checkout, if any.
    pub task: Option<TaskId>,
    /// The agent that ran it.
    pub agent: AgentId,
    /// True when every run of the checkout succeeded.
    pub ok: bool,
    /// Runs made.
    pub runs: u64,
    /// Tokens charged.
    pub tokens: u64,
}

impl Snapshot {
    /// The tasks that were running when the state was saved.
    pub fn interrupted(&self) -> impl Iterator<Item = &TaskId> {
        self.agents.iter().filter_map(|agent| match &agent.status {
            AgentStatus::Busy { task } => task.as_ref(),
            _ => None,
        })
    }

    /// Reads a snapshot from `path`; `Ok(None)` when the file does not exist.
    pub fn load(path: &Path) -> Result<Option<Self>, StateError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Io { path: path.to_owned(), source }),
        };
        let snapshot: Self = serde_json::from_slice(&bytes)
            .map_err(|source| StateError::Json { path: path.to_owned(), source })?;
        if snapshot.version != STATE_VERSION {
            return Err(StateError::Version {
                path: path.to_owned(),
                found: snapshot.version,
                expected: STATE_VERSION,
            });
        }
        Ok(Some(snapshot))
    }

    /// Writes the snapshot to `path` atomically: to a temporary file beside
    /// it, flushed to disk, then renamed over `path`. A crash leaves either
    /// the old file or the new one, never a torn one.
    ///
    /// Blocking: call it from `spawn_blocking` in async code.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|source| StateError::Json { path: path.to_owned(), source })?;
        let temp = temp_path(path);
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| StateError::Io { path, source }
        };
        let mut file = fs::File::create(&temp).map_err(io_err(&temp))?;
        file.write_all(&bytes).map_err(io_err(&temp))?;
        file.write_all(b"\n").map_err(io_err(&temp))?;
        file.sync_all().map_err(io_err(&temp))?;
        drop(file);
        fs::rename(&temp, path).map_err(io_err(path))?;
        // Make the rename itself durable. Not every platform lets a directory
        // be opened and synced, and the data is already safe in the file, so
        // a failure here is not reported.
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty())
            && let Ok(dir) = fs::File::open(dir)
        {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

/// `dir/.name.tmp`: beside the target, so the rename stays on one file system.
fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map_or_else(|| "pool-state".into(), std::ffi::OsStr::to_os_string);
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(".tmp");
    path.with_file_name(temp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        Snapshot {
            version: STATE_VERSION,
            next_agent: 3,
            tokens_used: 42,
            agents: vec![
                AgentRecord {
                    id: AgentId::new(1),
                    placement: Placement::new("llama3.2".parse().unwrap(), "gpu"),
                    status: AgentStatus::Busy { task: Some("t1".into()) },
                    runs: 4,
                    errors: 1,
                    tokens: 40,
                },
                AgentRecord {
                    id: AgentId::new(2),
                    placement: Placement::new("qwen".parse().unwrap(), "cpu"),
                    status: AgentStatus::Idle,
                    runs: 1,
                    errors: 0,
                    tokens: 2,
                },
            ],
            finished: vec![Finished {
                task: Some("t0".into()),
                agent: AgentId::new(2),
                ok: true,
                runs: 1,
                tokens: 2,
            }],
        }
    }

    #[test]
    fn save_then_load_round_trips_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool.json");
        assert_eq!(Snapshot::load(&path).unwrap(), None);
        let snapshot = sample();
        snapshot.save(&path).unwrap();
        assert_eq!(Snapshot::load(&path).unwrap(), Some(snapshot.clone()));
        assert!(!temp_path(&path).exists());
        assert_eq!(snapshot.interrupted().collect::<Vec<_>>(), [&TaskId::from("t1")]);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"state\": \"busy\""), "{text}");
    }

    #[test]
    fn bad_files_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool.json");
        fs::write(&path, "{not json").unwrap();
        assert!(matches!(Snapshot::load(&path), Err(StateError::Json { .. })));
        let mut future = sample();
        future.version = STATE_VERSION + 1;
        future.save(&path).unwrap();
        let err = Snapshot::load(&path).unwrap_err();
        assert!(err.is_invalid() && matches!(err, StateError::Version { found: 2, .. }));
        let missing_dir = dir.path().join("no/such/dir/pool.json");
        assert!(sample().save(&missing_dir).unwrap_err().is_io());
    }
}
