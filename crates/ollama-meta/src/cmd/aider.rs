//! `ollama-meta aider TASKS --repo PATH`: headless Aider sessions in
//! parallel, each in its own git worktree on its own branch.
//!
//! The steps mirror `run`: read and check the task file (nothing runs while
//! it has a problem: exit 2); find Aider and open the repository (exit 2
//! when either is missing); load the configuration; open the results file
//! (fresh, or continued with `--resume`); build the fleet and probe it once;
//! then queue every task not already `ok` on an `om-dispatch` dispatcher
//! whose executor routes each session through the router (with the
//! `--select` strategy), checks an agent out of an `om-pool` pool and runs
//! the session; append each outcome to the journal as it ends; print the
//! session table and the summary.
//!
//! Ctrl-C once stops starting sessions and lets the running ones finish;
//! twice cancels them (their Aider processes are stopped). Either way every
//! queued task ends with a line in the journal.

mod executor;
mod outcome;
mod place;
mod route;
mod table;

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use futures_util::stream::FuturesUnordered;
use om_aider::{AiderExecutor, AiderFactory, AiderTask, SessionSpec, Sessions, Settings};
use om_core::TaskId;
use om_dispatch::{Dispatcher, EventKind};
use om_orchestrator::Fleet;
use om_pool::Pool;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::batch::journal::{Journal, JournalError, Replay, final_view};
use crate::batch::progress::{Mode, Progress, Stream};
use crate::batch::record::Record;
use crate::batch::summary::Summary;
use crate::batch::taskfile::{self, AiderEntry};
use crate::cli::{AiderArgs, GlobalArgs};
use crate::cmd::aider::executor::{Running, SessionExecutor};
use crate::cmd::aider::outcome::Meta;
use crate::cmd::aider::place::FleetPlace;
use crate::cmd::aider::route::Ranking;
use crate::cmd::config::EXIT_BAD_INPUT;
use crate::cmd::run::drive;
use crate::cmd::run::interrupt::Interrupts;
use crate::cmd::serve;

/// Runs the sessions; see the module docs. Exit code 0 when every task of
/// the file succeeded, 1 when some did not, 2 for invalid input.
pub(crate) async fn run(global: &GlobalArgs, args: &AiderArgs) -> anyhow::Result<ExitCode> {
    let started = tokio::time::Instant::now();
    let out = Output { json: global.json };
    let entries = match taskfile::load_aider(&args.tasks) {
        Ok(entries) => entries,
        Err(err) => {
            report_error(&err.to_string());
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let sessions = match Sessions::open(&args.repo, &args.base, settings(args)).await {
        Ok(sessions) => sessions,
        Err(err) => {
            report_error(&format!("{:#}", anyhow::Error::new(err)));
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let loaded = match load_config(global) {
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
    let todo: Vec<&AiderEntry> = entries.iter().filter(|e| !done.contains(&e.task.id)).collect();
    let resumed = entries.len() - todo.len();
    if resumed > 0 {
        out.note(&format!(
            "resuming: {resumed} of {} tasks are already ok in {}",
            entries.len(),
            args.out.display()
        ));
    }

    let services = CancellationToken::new();
    let tracker = TaskTracker::new();
    let mut new_records = Vec::new();
    let mut interrupted = false;
    let mut fatal = None;
    if !todo.is_empty() {
        let (fleet, workers) = Fleet::from_config(&loaded.config)
            .map_err(|err| anyhow::anyhow!("{}", err.message()))
            .context("building the fleet")?;
        if let Some(report) = workers.probe_all().await {
            for endpoint in report.endpoints.iter().filter(|e| !e.status.is_up()) {
                out.note(&format!(
                    "endpoint {} ({}) is down: {}",
                    endpoint.endpoint,
                    endpoint.url,
                    endpoint.status.reason().unwrap_or("no answer")
                ));
            }
        }
        tracker.spawn(workers.run(services.clone()));
        let mode = if global.json {
            Mode::Lines(Stream::Stderr)
        } else if std::io::stderr().is_terminal() {
            // Bars on stderr, so stdout keeps only the summary.
            Mode::Bars
        } else {
            Mode::Lines(Stream::Stdout)
        };
        let progress = Progress::new(mode, entries.len() as u64, resumed as u64);
        let gateway = om_gateway::Settings {
            // The sessions' own gateways are private to this run: Aider
            // sends no gateway token, only its `--api-key`, which goes on
            // to the endpoints as it did when Aider talked to them.
            auth_token: None,
            forward_authorization: args.api_key.is_some()
                || loaded.config.gateway.forward_authorization,
            ..serve::settings(&loaded.config.gateway)
        };
        let batch =
            Batch { sessions, fleet, gateway, progress: progress.clone(), args, tracker: &tracker };
        let outcome = batch.run(todo, journal, &services).await;
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
    let by_id: HashMap<&TaskId, &Record> =
        final_view(all.iter()).into_iter().map(|r| (&r.id, r)).collect();
    let ordered: Vec<&Record> =
        entries.iter().filter_map(|e| by_id.get(&e.task.id).copied()).collect();
    let summary = Summary::new(&ordered, entries.len(), resumed, started.elapsed(), false);
    let rows = table::rows(&ordered);
    {
        let mut stdout = std::io::stdout().lock();
        if global.json {
            let document = Document { summary: &summary, sessions: &rows };
            writeln!(stdout, "{}", serde_json::to_string_pretty(&document)?)?;
        } else {
            write!(stdout, "\n{}", table::render(&rows))?;
            write!(stdout, "\n{summary}")?;
            writeln!(stdout, "results: {}", args.out.display())?;
        }
    }
    Ok(drive::exit_code(summary.is_all_ok(), interrupted))
}

/// The `--json` document: the summary and one row per session.
#[derive(Debug, Serialize)]
struct Document<'a> {
    summary: &'a Summary,
    sessions: &'a [table::Row],
}

/// The session settings from the flags.
fn settings(args: &AiderArgs) -> Settings {
    Settings {
        program: args.aider_bin.clone(),
        mode: args.mode,
        edit_format: args.edit_format,
        editor_model: args.editor_model.clone(),
        weak_model: None,
        commits: args.commits,
        extra_args: args.extra_args.iter().map(OsString::from).collect(),
        timeout: args.timeout,
        keep: args.keep,
        api_key: args.api_key.clone().map(om_aider::ApiKey::new),
        env: Vec::new(),
    }
}

/// Loads the configuration as every command does.
fn load_config(global: &GlobalArgs) -> Result<om_config::Loaded, om_config::Error> {
    let mut flags = om_config::Overrides::default();
    flags.endpoints.clone_from(&global.endpoints);
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

/// Prints an error for the person at the terminal.
fn report_error(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "error: {message}");
}

/// Where the command's own messages go: stdout (stderr with `--json`).
#[derive(Debug, Clone, Copy)]
struct Output {
    json: bool,
}

impl Output {
    fn note(self, message: &str) {
        let line = format!("note: {message}");
        // A closed stdout is no reason to stop the sessions.
        let _ = if self.json {
            writeln!(std::io::stderr().lock(), "{line}")
        } else {
            writeln!(std::io::stdout().lock(), "{line}")
        };
    }
}

/// One run of sessions on one fleet.
struct Batch<'a> {
    sessions: Arc<Sessions>,
    fleet: Fleet,
    gateway: om_gateway::Settings,
    progress: Progress,
    args: &'a AiderArgs,
    tracker: &'a TaskTracker,
}

impl Batch<'_> {
    /// Runs `entries`, journaling each outcome as it ends, and returns the
    /// new records. The first Ctrl-C drains, the second cancels.
    async fn run(
        self,
        entries: Vec<&AiderEntry>,
        mut journal: Journal<Record>,
        services: &CancellationToken,
    ) -> anyhow::Result<drive::Journaled> {
        let concurrency = self.args.concurrency;
        let pool = Pool::builder(AiderFactory::new(Arc::clone(&self.sessions)))
            .min(0)
            .max(concurrency.get())
            .build()
            .context("building the agent pool")?;
        self.tracker.spawn({
            let pool = pool.clone();
            let services = services.clone();
            async move {
                if let Err(err) = pool.run(services).await {
                    tracing::warn!(error = %err, "the agent pool's worker stopped");
                }
            }
        });
        let place = FleetPlace {
            ranking: Ranking::new(self.fleet.router().config(), self.args.select),
            fleet: self.fleet,
            gateway: self.gateway,
        };
        let inner = AiderExecutor::new(self.sessions, pool, place);
        let running = Running::default();
        let draining = CancellationToken::new();
        let executor = SessionExecutor {
            inner,
            progress: self.progress.clone(),
            running: running.clone(),
            draining: draining.clone(),
        };
        let on_event = executor::placement_callback(running.clone(), self.progress.clone());
        let (dispatcher, runner) = Dispatcher::builder(executor)
            .workers(concurrency)
            .on_event(move |event| {
                if let EventKind::Progress(progress) = &event.kind {
                    on_event(&event.task, progress);
                }
            })
            .build();
        let cancel_everything = CancellationToken::new();
        let runner = tokio::spawn(runner.run(cancel_everything.clone()));
        let metas: Vec<Meta> = entries.iter().map(|e| Meta::of(&e.task)).collect();
        let submitted = dispatcher
            .submit_batch(entries.iter().map(|entry| {
                om_dispatch::Task::new(entry.task.id.clone(), task(entry))
                    .with_priority(entry.task.priority)
            }))
            .map_err(|_| anyhow::anyhow!("the dispatcher closed before the batch was queued"))?;
        let pending: FuturesUnordered<_> = submitted
            .into_iter()
            .zip(metas)
            .map(|(handle, meta)| async move { (meta, handle.await) })
            .collect();

        let mut interrupts = Interrupts::new().context("listening for Ctrl-C")?;
        let records = drive::journal_outcomes(
            drive::Queued { dispatcher: &dispatcher, draining: &draining },
            pending,
            |(meta, result)| {
                let ran = running.take(&meta.id);
                (ran.as_ref().map(|r| r.worker), outcome::record(&meta, result, ran.as_ref()))
            },
            &mut journal,
            &mut interrupts,
            &self.progress,
            &drive::Words {
                draining: "interrupted: no new sessions start; running sessions finish \
                           (Ctrl-C again to stop them)",
                cancelling: "interrupted again: stopping running sessions",
            },
        )
        .await;
        drop(dispatcher);
        runner.await.context("the dispatcher's runner failed")?;
        records
    }
}

/// The dispatcher's payload for one task of the file.
fn task(entry: &AiderEntry) -> AiderTask {
    let task = &entry.task;
    let mut spec = SessionSpec::new(task.id.clone(), task.prompt.text());
    spec.files = entry.files.iter().map(Into::into).collect();
    spec.read_only = entry.read.iter().map(Into::into).collect();
    spec.timeout = task.timeout;
    AiderTask { spec, models: task.model.clone(), category: task.category }
}
