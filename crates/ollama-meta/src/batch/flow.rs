//! The one batch core of `run` and `aider`: open the results file (fresh,
//! or continued with `--resume`), see what is left to do, give the command
//! its journal, a progress display and the services to start, stop those
//! services when the command's tasks have ended, and hand back the final
//! record of every task in task-file order. The commands differ only in
//! what they read, what runs a task and what they print.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::time::Duration;

use om_core::TaskId;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::batch::drive::Journaled;
use crate::batch::journal::{Journal, JournalError, Replay, final_view};
use crate::batch::progress::{Mode, Progress, Stream};
use crate::batch::record::Record;
use crate::cmd::bad_input::BadInput;

/// Where a command's own messages go: stdout for banners and notes
/// (stderr with `--json`, where stdout is the document).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    /// `--json`.
    pub(crate) json: bool,
}

impl Output {
    /// `note: …`.
    pub(crate) fn note(self, message: &str) {
        self.line(&format!("note: {message}"));
    }

    /// `*** … ***`, for what must not be missed (a simulated fleet).
    pub(crate) fn banner(self, message: &str) {
        self.line(&format!("*** {message} ***"));
    }

    fn line(self, line: &str) {
        // A closed stdout is no reason to stop a batch.
        let _ = if self.json {
            writeln!(std::io::stderr().lock(), "{line}")
        } else {
            writeln!(std::io::stdout().lock(), "{line}")
        };
    }

    /// How progress is shown: lines on stderr with `--json`, bars on a
    /// terminal's stderr (so stdout keeps only the summary), else lines on
    /// stdout.
    fn progress_mode(self) -> Mode {
        if self.json {
            Mode::Lines(Stream::Stderr)
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines(Stream::Stdout)
        }
    }
}

/// Background services a batch starts (fleet workers, simulated
/// endpoints, the agent pool): spawned on `tracker`, stopped by `token`,
/// and awaited before the batch reports.
#[derive(Debug, Clone, Default)]
pub(crate) struct Services {
    /// Cancelled once the batch's tasks have ended.
    pub(crate) token: CancellationToken,
    /// Where they run.
    pub(crate) tracker: TaskTracker,
}

impl Services {
    async fn stop(self) {
        self.token.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// What a command gets to run its part of the batch.
pub(crate) struct Todo {
    /// The tasks already `ok` in the results file: not to run again.
    pub(crate) done: HashSet<TaskId>,
    /// The results file, to append to as tasks end.
    pub(crate) journal: Journal<Record>,
    /// The display, counting every task of the file.
    pub(crate) progress: Progress,
    /// Where to start background services.
    pub(crate) services: Services,
}

/// How a batch ended.
pub(crate) struct Ran {
    /// The last record of every task of the file that has one, in file
    /// order.
    pub(crate) records: Vec<Record>,
    /// Tasks skipped because the results file already had them `ok`.
    pub(crate) resumed: usize,
    /// Ctrl-C cut the batch short.
    pub(crate) interrupted: bool,
    /// Since the batch began.
    pub(crate) elapsed: Duration,
}

/// One batch: its results file and how to talk.
pub(crate) struct Batch<'a> {
    /// Notes and banners.
    pub(crate) out: Output,
    /// The task file.
    pub(crate) tasks: &'a Path,
    /// `--out`.
    pub(crate) results: &'a Path,
    /// `--resume`.
    pub(crate) resume: bool,
    /// `--force`: replace an existing results file.
    pub(crate) force: bool,
}

impl Batch<'_> {
    /// Runs the batch of the tasks `ids` (task-file order): opens the
    /// results file, and unless every task is already `ok` there, calls
    /// `body` with what it needs and waits for the services it started.
    ///
    /// # Errors
    ///
    /// [`BadInput`] for a results file that cannot be continued, that
    /// exists without `--resume` or `--force`, or that another run holds; the
    /// journal's I/O errors; whatever `body` fails with.
    pub(crate) async fn run<B, F>(self, ids: &[&TaskId], body: B) -> anyhow::Result<Ran>
    where
        B: FnOnce(Todo) -> F,
        F: Future<Output = anyhow::Result<Journaled>>,
    {
        let started = Instant::now();
        let (journal, replay) = self.open().await?;
        let done = replay.done();
        let resumed = ids.iter().filter(|id| done.contains(**id)).count();
        if resumed > 0 {
            self.out.note(&format!(
                "resuming: {resumed} of {} tasks are already ok in {}",
                ids.len(),
                self.results.display()
            ));
        }
        let services = Services::default();
        let mut journaled = Journaled { records: Vec::new(), interrupted: false };
        let mut fatal = None;
        if resumed < ids.len() {
            let progress =
                Progress::new(self.out.progress_mode(), ids.len() as u64, resumed as u64);
            let todo =
                Todo { done, journal, progress: progress.clone(), services: services.clone() };
            match body(todo).await {
                Ok(ran) => journaled = ran,
                Err(err) => fatal = Some(err),
            }
            progress.finish();
        }
        services.stop().await;
        if let Some(err) = fatal {
            return Err(err);
        }
        let records = self.in_file_order(replay.records, journaled.records, ids);
        Ok(Ran { records, resumed, interrupted: journaled.interrupted, elapsed: started.elapsed() })
    }

    async fn open(&self) -> anyhow::Result<(Journal<Record>, Replay<Record>)> {
        let opened = if self.resume {
            Journal::resume(self.results).await
        } else {
            Journal::create(self.results, self.force)
                .await
                .map(|journal| (journal, Replay::empty()))
        };
        let (journal, replay) = match opened {
            Ok(opened) => opened,
            Err(
                err @ (JournalError::Corrupt { .. }
                | JournalError::Exists { .. }
                | JournalError::Locked { .. }),
            ) => return Err(BadInput(err.to_string()).into()),
            Err(err) => return Err(err.into()),
        };
        if replay.torn_bytes > 0 {
            self.out.note(&format!(
                "{}: ignored a torn last line ({} bytes) left by an interrupted run",
                self.results.display(),
                replay.torn_bytes
            ));
        }
        Ok((journal, replay))
    }

    /// The last line per id, in task-file order; ids the file does not
    /// have are left out, with a note.
    fn in_file_order(&self, old: Vec<Record>, new: Vec<Record>, ids: &[&TaskId]) -> Vec<Record> {
        let all: Vec<Record> = old.into_iter().chain(new).collect();
        let by_id: HashMap<&TaskId, &Record> =
            final_view(all.iter()).into_iter().map(|r| (&r.id, r)).collect();
        let ordered: Vec<Record> =
            ids.iter().filter_map(|id| by_id.get(*id).map(|r| (*r).clone())).collect();
        let strangers = by_id.len() - ordered.len();
        if strangers > 0 {
            self.out.note(&format!(
                "{}: {strangers} task ids are not in {} and are left out of the summary",
                self.results.display(),
                self.tasks.display()
            ));
        }
        ordered
    }
}
