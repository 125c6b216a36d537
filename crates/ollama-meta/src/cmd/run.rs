//! `ollama-meta run TASKS`: a batch of LLM tasks across the fleet, with
//! progress, a crash-safe results journal, a summary and an HTML report.
//!
//! The steps: read and check the task file (nothing runs while it has a
//! problem: exit 2); load the configuration; open the results file (fresh,
//! or continued with `--resume`); pick the fleet (configured, or simulated);
//! queue every task not already `ok` on an `om-dispatch` dispatcher whose
//! executor runs it through the `om-orchestrator` fleet; append each
//! outcome to the journal as it ends; print the summary; write the report.
//!
//! Ctrl-C once stops starting tasks and lets the running ones finish;
//! twice cancels them. Either way every task that was queued ends with a
//! line in the journal (`cancelled` if it did not finish), so `--resume`
//! picks up exactly what is left.

pub(crate) mod drive;
mod executor;
mod fleet;
pub(crate) mod interrupt;
mod outcome;

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use futures_util::stream::FuturesUnordered;
use om_core::Task;
use om_dispatch::Dispatcher;
use om_orchestrator::Fleet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::batch::journal::{Journal, JournalError, Replay, final_view};
use crate::batch::progress::{Mode, Progress, Stream};
use crate::batch::record::Record;
use crate::batch::report;
use crate::batch::summary::Summary;
use crate::batch::taskfile;
use crate::cli::{GlobalArgs, RunArgs};
use crate::cmd::config::EXIT_BAD_INPUT;
use crate::cmd::run::executor::{LlmExecutor, Running};
use crate::cmd::run::outcome::Meta;

/// How long a low-priority task waits before it is treated as one level
/// higher, so a long batch of high-priority work cannot starve it.
const AGING: Duration = Duration::from_mins(1);

/// Runs the batch; see the module docs. Exit code 0 when every task of the
/// file succeeded, 1 when some did not, 2 for invalid input.
pub(crate) async fn run(global: &GlobalArgs, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let started = tokio::time::Instant::now();
    let out = Output { json: global.json };
    if args.sim && !global.endpoints.is_empty() {
        report_error("--sim and --endpoint are exclusive: --sim starts its own endpoints");
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    let tasks = match taskfile::load(&args.tasks) {
        Ok(tasks) => tasks,
        Err(err) => {
            report_error(&err.to_string());
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let loaded = match load_config(global, args.strategy.as_deref()) {
        Ok(loaded) => loaded,
        Err(err) => {
            report_error(&err.to_string());
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let (journal, replay) = match open_journal(&args.out, args.resume).await {
        Ok(opened) => opened,
        Err(err @ JournalError::Corrupt { .. }) => {
            report_error(&err.to_string());
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
        Err(err) => return Err(err.into()),
    };
    if replay.torn_bytes > 0 {
        out.note(&format!(
            "{}: ignored a torn last line ({} bytes) left by an interrupted run",
            args.out.display(),
            replay.torn_bytes
        ));
    }
    let done = replay.done();
    let todo: Vec<Task> = tasks.iter().filter(|t| !done.contains(&t.id)).cloned().collect();
    let resumed = tasks.len() - todo.len();
    if resumed > 0 {
        out.note(&format!(
            "resuming: {resumed} of {} tasks are already ok in {}",
            tasks.len(),
            args.out.display()
        ));
    }

    let services = CancellationToken::new();
    let tracker = TaskTracker::new();
    let mut simulated = args.sim;
    let mut new_records = Vec::new();
    let mut interrupted = false;
    let mut fatal = None;
    let mut slots = std::collections::BTreeMap::new();
    if !todo.is_empty() {
        let chosen = fleet::choose(args.sim, loaded, &tracker, &services).await?;
        if let Some(banner) = &chosen.simulated {
            simulated = true;
            out.banner(banner);
        }
        let (fleet, workers) = Fleet::from_config(&chosen.config)
            .map_err(|err| anyhow::anyhow!("{}", err.message()))
            .context("building the fleet")?;
        tracker.spawn(workers.run(services.clone()));
        slots = fleet
            .registry()
            .snapshot()
            .endpoints()
            .iter()
            .map(|e| (e.id.to_string(), e.capacity()))
            .collect();
        let mode = if global.json {
            Mode::Lines(Stream::Stderr)
        } else if std::io::stderr().is_terminal() {
            // Bars on stderr, so stdout keeps only the summary.
            Mode::Bars
        } else {
            Mode::Lines(Stream::Stdout)
        };
        let progress = Progress::new(mode, tasks.len() as u64, resumed as u64);
        let batch = Batch { fleet, progress: progress.clone(), concurrency: args.concurrency };
        let outcome = batch.run(todo, journal).await;
        progress.finish();
        match outcome {
            Ok(journaled) => {
                interrupted = journaled.interrupted;
                new_records = journaled.records;
            }
            Err(err) => fatal = Some(err),
        }
    }
    services.cancel();
    tracker.close();
    tracker.wait().await;
    if let Some(err) = fatal {
        return Err(err);
    }

    // The final view: the last line per id, in task-file order.
    let all: Vec<Record> = replay.records.into_iter().chain(new_records).collect();
    let by_id: HashMap<&om_core::TaskId, &Record> =
        final_view(all.iter()).into_iter().map(|r| (&r.id, r)).collect();
    let ordered: Vec<&Record> = tasks.iter().filter_map(|t| by_id.get(&t.id).copied()).collect();
    let strangers = by_id.len() - ordered.len();
    if strangers > 0 {
        out.note(&format!(
            "{}: {strangers} task ids are not in {} and are left out of the summary",
            args.out.display(),
            args.tasks.display()
        ));
    }
    let summary = Summary::new(&ordered, tasks.len(), resumed, started.elapsed(), simulated);
    {
        let mut stdout = std::io::stdout().lock();
        if global.json {
            writeln!(stdout, "{}", serde_json::to_string_pretty(&summary)?)?;
        } else {
            write!(stdout, "\n{summary}")?;
            writeln!(stdout, "results: {}", args.out.display())?;
        }
    }
    if let Some(path) = &args.report {
        let meta = report::Meta {
            title: args.tasks.display().to_string(),
            generated_at: om_core::time::format_rfc3339(SystemTime::now()),
            slots,
        };
        write_report(path, &report::render(&meta, &summary, &ordered))?;
        if !global.json {
            writeln!(std::io::stdout().lock(), "report: {}", path.display())?;
        }
    }
    Ok(drive::exit_code(summary.is_all_ok(), interrupted))
}

/// Loads the configuration as every command does, plus `--strategy`.
fn load_config(
    global: &GlobalArgs,
    strategy: Option<&str>,
) -> Result<om_config::Loaded, om_config::Error> {
    let mut flags = om_config::Overrides::default();
    flags.endpoints.clone_from(&global.endpoints);
    if let Some(strategy) = strategy {
        flags.settings.push(("routing.strategy".to_owned(), strategy.to_owned()));
    }
    let mut loader = om_config::Loader::new().overrides(flags);
    if let Some(path) = &global.config {
        loader = loader.file(path);
    }
    loader.load()
}

async fn open_journal(
    path: &Path,
    resume: bool,
) -> Result<(Journal<Record>, Replay<Record>), JournalError> {
    if resume {
        Journal::resume(path).await
    } else {
        Ok((Journal::create(path).await?, Replay::empty()))
    }
}

fn write_report(path: &Path, html: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating the report's folder {}", parent.display()))?;
    }
    std::fs::write(path, html).with_context(|| format!("writing the report {}", path.display()))
}

/// Prints an error for the person at the terminal.
fn report_error(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "error: {message}");
}

/// Where the command's own messages go: stdout for banners and notes
/// (stderr with `--json`, where stdout is the document).
#[derive(Debug, Clone, Copy)]
struct Output {
    json: bool,
}

impl Output {
    fn note(self, message: &str) {
        self.line(&format!("note: {message}"));
    }

    fn banner(self, message: &str) {
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
}

/// One batch on one fleet.
struct Batch {
    fleet: Fleet,
    progress: Progress,
    concurrency: std::num::NonZeroUsize,
}

impl Batch {
    /// Runs `tasks`, journaling each outcome as it ends, and returns the new
    /// records. Handles Ctrl-C: the first press drains, the second cancels.
    async fn run(
        self,
        tasks: Vec<Task>,
        mut journal: Journal<Record>,
    ) -> anyhow::Result<drive::Journaled> {
        // Listen first, so that no press is lost while the batch is queued.
        let mut interrupts = interrupt::Interrupts::new().context("listening for Ctrl-C")?;
        let running = Running::default();
        let draining = CancellationToken::new();
        let executor = LlmExecutor {
            fleet: self.fleet,
            progress: self.progress.clone(),
            running: running.clone(),
            draining: draining.clone(),
        };
        let (dispatcher, runner) =
            Dispatcher::builder(executor).workers(self.concurrency).aging(AGING).build();
        let cancel_everything = CancellationToken::new();
        let runner = tokio::spawn(runner.run(cancel_everything.clone()));
        let metas: Vec<Meta> = tasks
            .iter()
            .map(|t| Meta { id: t.id.clone(), priority: t.priority, category: t.category })
            .collect();
        let submitted = dispatcher
            .submit_batch(
                tasks.into_iter().map(|t| {
                    om_dispatch::Task::new(t.id.clone(), t.clone()).with_priority(t.priority)
                }),
            )
            .map_err(|_| anyhow::anyhow!("the dispatcher closed before the batch was queued"))?;
        let pending: FuturesUnordered<_> = submitted
            .into_iter()
            .zip(metas)
            .map(|(handle, meta)| async move { (meta, handle.await) })
            .collect();

        let records = drive::journal_outcomes(
            drive::Queued { dispatcher: &dispatcher, draining: &draining },
            pending,
            |(meta, outcome)| {
                let ran = running.take(&meta.id);
                (ran.as_ref().map(|r| r.worker), outcome::record(&meta, outcome, ran.as_ref()))
            },
            &mut journal,
            &mut interrupts,
            &self.progress,
            &drive::Words {
                draining: "interrupted: no new tasks start; running tasks finish \
                           (Ctrl-C again to cancel them)",
                cancelling: "interrupted again: cancelling running tasks",
            },
        )
        .await;
        drop(dispatcher);
        runner.await.context("the dispatcher's runner failed")?;
        records
    }
}
