//! The results file as a crash-safe journal: one JSON line per finished
//! task, appended, flushed and synced to disk before the task counts.
//!
//! The file is opened for appending (`O_APPEND`) under an exclusive lock,
//! so two runs cannot interleave lines in one file: the second is refused.
//! An existing file is never replaced unless asked (`--force`); continuing
//! it is `--resume`. A write that fails part-way is cut back to the end of
//! the last good line, so a later line never follows a fragment.
//!
//! # Resume
//!
//! [`Journal::resume`] reads what an earlier run wrote. A line is only
//! complete once its newline is on disk, so a run killed mid-write leaves at
//! most a torn last line; it is ignored and cut off before anything new is
//! appended. A task whose id has an `ok` line is done; every other task
//! runs again and its new line is appended after the old ones.
//!
//! # The final view
//!
//! One id can therefore have several lines (earlier `error` or `cancelled`
//! ones, then the outcome of the re-run). **The last line per id wins**:
//! [`final_view`] keeps exactly one record per id, and the summary and the
//! report count each id once from it. Since an `ok` task never runs again,
//! an `ok` line is always the last of its id.

use std::collections::HashMap;
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use om_core::TaskId;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::AsyncWriteExt;

/// What the journal needs to know about a record.
pub(crate) trait Entry: Serialize + DeserializeOwned {
    /// The task's id.
    fn id(&self) -> &TaskId;
    /// True when the task succeeded and must not run again.
    fn is_ok(&self) -> bool;
}

/// Why an existing results file cannot be resumed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JournalError {
    /// Reading, repairing or opening the file failed.
    #[error("cannot use results file {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file exists and holds results; replacing it was not asked for.
    #[error(
        "results file {} already exists: --resume to continue it, --force to replace it, or \
         --out to write elsewhere",
        path.display()
    )]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Another run holds the file's lock.
    #[error("results file {} is being written by another run", path.display())]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// A complete line in the middle of the file is not a result record:
    /// not a crash (that only tears the last line) but an edit or another
    /// file.
    #[error("results file {}:{line}: not a result record ({message}); fix or remove the line", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parser's message.
        message: String,
    },
}

/// What an earlier run left in the file.
#[derive(Debug)]
pub(crate) struct Replay<R> {
    /// Every complete record, in file order.
    pub(crate) records: Vec<R>,
    /// Bytes of a torn tail that were cut off (0 when the file was clean).
    pub(crate) torn_bytes: usize,
}

impl<R: Entry> Replay<R> {
    /// An empty replay: nothing ran before.
    pub(crate) fn empty() -> Self {
        Self { records: Vec::new(), torn_bytes: 0 }
    }

    /// The ids whose last record is `ok`: the tasks not to run again.
    pub(crate) fn done(&self) -> std::collections::HashSet<TaskId> {
        final_view(self.records.iter())
            .into_iter()
            .filter(|r| r.is_ok())
            .map(|r| r.id().clone())
            .collect()
    }
}

/// The appending half: one line per finished task.
#[derive(Debug)]
pub(crate) struct Journal<R> {
    file: tokio::fs::File,
    path: PathBuf,
    /// The end of the last complete line: where a failed write is cut back
    /// to.
    good_len: u64,
    /// Set when a failed write could not be cut back: nothing more may be
    /// appended after the fragment.
    broken: bool,
    _record: PhantomData<fn(&R)>,
}

impl<R: Entry> Journal<R> {
    /// Starts a new journal at `path`. A file already there is refused
    /// ([`JournalError::Exists`]) unless it is empty or `force` is set, in
    /// which case it is replaced.
    pub(crate) async fn create(path: &Path, force: bool) -> Result<Self, JournalError> {
        let io = |source| JournalError::Io { path: path.to_owned(), source };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        let journal = Self::open(path)?;
        if journal.good_len > 0 && !force {
            return Err(JournalError::Exists { path: path.to_owned() });
        }
        // Only now, under the lock: another run's file is never cut.
        journal.file.set_len(0).await.map_err(io)?;
        Ok(Self { good_len: 0, ..journal })
    }

    /// Opens the journal at `path` to continue it: reads every complete
    /// record, cuts off a torn tail, and appends from there. A missing file
    /// starts an empty journal.
    pub(crate) async fn resume(path: &Path) -> Result<(Self, Replay<R>), JournalError> {
        let io = |source| JournalError::Io { path: path.to_owned(), source };
        if tokio::fs::try_exists(path).await.map_err(io)? {
            let mut journal = Self::open(path)?;
            let bytes = tokio::fs::read(path).await.map_err(io)?;
            let (replay, valid_len) = parse_lines(&bytes).map_err(|(line, message)| {
                JournalError::Corrupt { path: path.to_owned(), line, message }
            })?;
            journal.good_len = valid_len as u64;
            if replay.torn_bytes > 0 {
                // Cut the torn tail so the next line starts on a line of its own.
                journal.cut_back().await.map_err(io)?;
            }
            Ok((journal, replay))
        } else {
            Ok((Self::create(path, false).await?, Replay::empty()))
        }
    }

    /// Opens (or creates) `path` for appending and takes its lock (local
    /// file calls that return at once, so they are not moved off the
    /// runtime).
    fn open(path: &Path) -> Result<Self, JournalError> {
        let io = |source| JournalError::Io { path: path.to_owned(), source };
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(JournalError::Locked { path: path.to_owned() });
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(io(err)),
        }
        let good_len = file.metadata().map_err(io)?.len();
        Ok(Self {
            file: tokio::fs::File::from_std(file),
            path: path.to_owned(),
            good_len,
            broken: false,
            _record: PhantomData,
        })
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as a line, and returns once it is on disk
    /// (written, flushed and `fdatasync`ed). A write that fails is cut
    /// back to the last good line; if even that fails, every later append
    /// fails too rather than write after a fragment.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future may leave a torn line, which the
    /// next [`resume`](Self::resume) cuts off.
    pub(crate) async fn append(&mut self, record: &R) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other(
                "an earlier write failed and could not be undone; nothing more is appended",
            ));
        }
        let mut line = serde_json::to_vec(record).map_err(io::Error::other)?;
        line.push(b'\n');
        match self.write_line(&line).await {
            Ok(()) => {
                self.good_len += line.len() as u64;
                Ok(())
            }
            Err(err) => {
                if self.cut_back().await.is_err() {
                    self.broken = true;
                }
                Err(err)
            }
        }
    }

    async fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.file.write_all(line).await?;
        self.file.flush().await?;
        self.file.sync_data().await
    }

    /// Cuts the file back to the end of the last good line (appending
    /// goes on from there: the file is in append mode).
    async fn cut_back(&mut self) -> io::Result<()> {
        self.file.set_len(self.good_len).await?;
        self.file.sync_data().await
    }
}

/// Parses a journal's bytes: the records of its complete lines, and the
/// length of the valid prefix. Unparsable lines at the very end are a torn
/// tail (a crash mid-write); one followed by good lines is an error,
/// returned as its 1-based line number and the parser's message.
pub(crate) fn parse_lines<R: Entry>(bytes: &[u8]) -> Result<(Replay<R>, usize), (usize, String)> {
    let mut records = Vec::new();
    let mut valid_len = 0;
    // The first bad line, if no good line has followed it yet.
    let mut bad: Option<(usize, String)> = None;
    let mut offset = 0;
    for (n, chunk) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        offset += chunk.len();
        let complete = chunk.ends_with(b"\n");
        let line = chunk.strip_suffix(b"\n").unwrap_or(chunk);
        if line.iter().all(u8::is_ascii_whitespace) {
            if complete && bad.is_none() {
                valid_len = offset;
            }
            continue;
        }
        match serde_json::from_slice::<R>(line) {
            Ok(record) if complete => {
                if let Some(bad) = bad.take() {
                    return Err(bad);
                }
                records.push(record);
                valid_len = offset;
            }
            // A parsable line without its newline was still being written.
            Ok(_) => {}
            Err(err) => {
                bad.get_or_insert((n + 1, err.to_string()));
            }
        }
    }
    Ok((Replay { records, torn_bytes: bytes.len() - valid_len }, valid_len))
}

/// One record per id, the last one written, in order of each id's first
/// line.
pub(crate) fn final_view<'a, R: Entry + 'a>(
    records: impl IntoIterator<Item = &'a R>,
) -> Vec<&'a R> {
    let mut position: HashMap<&TaskId, usize> = HashMap::new();
    let mut view: Vec<&R> = Vec::new();
    for record in records {
        if let Some(&i) = position.get(record.id()) {
            view[i] = record;
        } else {
            position.insert(record.id(), view.len());
            view.push(record);
        }
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::record::tests::record;
    use crate::batch::record::{Record, Status};

    fn line(id: &str, status: Status) -> String {
        let mut line = serde_json::to_string(&record(id, status)).unwrap();
        line.push('\n');
        line
    }

    #[test]
    fn torn_last_line_is_cut_off() {
        let good = format!("{}{}", line("a", Status::Ok), line("b", Status::Error));
        let torn = format!("{good}{}", &line("c", Status::Ok)[..40]);
        let (replay, valid) = parse_lines::<Record>(torn.as_bytes()).unwrap();
        assert_eq!(replay.records.len(), 2);
        assert_eq!(valid, good.len());
        assert_eq!(replay.torn_bytes, 40);
        // A whole line that lacks only its newline was not finished either.
        let unfinished = format!("{good}{}", line("c", Status::Ok).trim_end());
        let (replay, valid) = parse_lines::<Record>(unfinished.as_bytes()).unwrap();
        assert_eq!((replay.records.len(), valid), (2, good.len()));
    }

    #[test]
    fn garbage_in_the_middle_is_an_error_at_the_end_a_tear() {
        let text = format!("{}not json\n{}", line("a", Status::Ok), line("b", Status::Ok));
        let (line_no, _) = parse_lines::<Record>(text.as_bytes()).unwrap_err();
        assert_eq!(line_no, 2);
        let text = format!("{}\n{{\"id\": \n", line("a", Status::Ok));
        let (replay, valid) = parse_lines::<Record>(text.as_bytes()).unwrap();
        assert_eq!(replay.records.len(), 1);
        assert_eq!(valid, line("a", Status::Ok).len() + 1);
    }

    #[test]
    fn last_line_per_id_wins() {
        let records = [
            record("a", Status::Error),
            record("b", Status::Ok),
            record("a", Status::Cancelled),
            record("a", Status::Ok),
        ];
        let view = final_view(records.iter());
        assert_eq!(view.len(), 2);
        assert_eq!((view[0].id.as_str(), view[0].status), ("a", Status::Ok));
        assert_eq!(view[1].id.as_str(), "b");
        let replay = Replay { records: records[..3].to_vec(), torn_bytes: 0 };
        let done = replay.done();
        assert!(done.contains(&TaskId::from("b")) && !done.contains(&TaskId::from("a")));
    }

    #[tokio::test]
    async fn resume_repairs_and_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/results.jsonl");
        let mut journal = Journal::<Record>::create(&path, false).await.unwrap();
        journal.append(&record("a", Status::Ok)).await.unwrap();
        journal.append(&record("b", Status::Error)).await.unwrap();
        drop(journal);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"{\"id\":\"c\",\"sta");
        std::fs::write(&path, &bytes).unwrap();

        let (mut journal, replay) = Journal::<Record>::resume(&path).await.unwrap();
        assert_eq!(replay.records.len(), 2);
        assert_eq!(replay.torn_bytes, 14);
        journal.append(&record("b", Status::Ok)).await.unwrap();
        drop(journal);

        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        let (replay, _) = parse_lines::<Record>(text.as_bytes()).unwrap();
        assert_eq!(replay.done().len(), 2);
    }

    #[tokio::test]
    async fn an_existing_file_is_kept_unless_forced_and_locked_while_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        let mut journal = Journal::<Record>::create(&path, false).await.unwrap();
        journal.append(&record("a", Status::Ok)).await.unwrap();
        let err = Journal::<Record>::resume(&path).await.unwrap_err();
        assert!(matches!(err, JournalError::Locked { .. }), "{err}");
        let err = Journal::<Record>::create(&path, true).await.unwrap_err();
        assert!(matches!(err, JournalError::Locked { .. }), "a locked file is never cut: {err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
        drop(journal);

        let err = Journal::<Record>::create(&path, false).await.unwrap_err();
        assert!(err.to_string().contains("--resume") && err.to_string().contains("--force"));
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1, "kept");
        let mut journal = Journal::<Record>::create(&path, true).await.unwrap();
        journal.append(&record("b", Status::Ok)).await.unwrap();
        drop(journal);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"b\"") && !text.contains("\"a\""), "{text}");
    }

    #[tokio::test]
    async fn a_failed_write_is_cut_back_so_later_lines_stay_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        let mut journal = Journal::<Record>::create(&path, false).await.unwrap();
        journal.append(&record("a", Status::Ok)).await.unwrap();
        // What a write that failed half-way leaves behind.
        journal.file.write_all(b"{\"id\":\"b\",\"sta").await.unwrap();
        journal.cut_back().await.unwrap();
        journal.append(&record("c", Status::Ok)).await.unwrap();
        drop(journal);
        let (replay, _) = parse_lines::<Record>(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(replay.torn_bytes, 0);
        let ids: Vec<&str> = replay.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
    }
}
