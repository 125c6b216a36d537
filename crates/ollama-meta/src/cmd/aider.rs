//! `ollama-meta aider TASKS --repo PATH`: headless Aider sessions in
//! parallel, each in its own git worktree on its own branch.
//!
//! The steps are `run`'s, on the same batch core (`batch::flow`): read and
//! check the task file (nothing runs while it has a problem: exit 2); find
//! Aider and open the repository (exit 2 when either is missing); load the
//! configuration; open the results file (fresh, or continued with
//! `--resume`); build the fleet and probe it once; then queue every task
//! not already `ok` on an `om-dispatch` dispatcher whose executor places
//! each session (its model by the router with the `--select` strategy, its
//! requests through a gateway of its own over the fleet), checks an agent
//! out of an `om-pool` pool and runs the session; append each outcome to
//! the journal as it ends; print the session table and the summary.
//!
//! Ctrl-C once stops starting sessions and lets the running ones finish;
//! twice cancels them (their Aider processes are stopped). Either way every
//! queued task ends with a line in the journal.

mod executor;
mod outcome;
mod place;
mod route;
mod table;

use std::ffi::OsString;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use om_aider::{AiderExecutor, AiderFactory, AiderTask, SessionSpec, Sessions, Settings};
use om_dispatch::{Dispatcher, EventKind};
use om_orchestrator::Fleet;
use om_pool::Pool;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::batch::drive::{self, Words};
use crate::batch::flow::{Batch, Output, Todo};
use crate::batch::record::Record;
use crate::batch::running::{Meta, Running};
use crate::batch::summary::Summary;
use crate::batch::taskfile::{self, AiderEntry};
use crate::cli::{AiderArgs, GlobalArgs};
use crate::cmd::aider::executor::SessionExecutor;
use crate::cmd::aider::place::FleetPlace;
use crate::cmd::aider::route::Ranking;
use crate::cmd::bad_input::BadInput;
use crate::cmd::config;

/// Runs the sessions; see the module docs. Exit code 0 when every task of
/// the file succeeded, 1 when some did not, 2 for invalid input.
pub(crate) async fn run(global: &GlobalArgs, args: &AiderArgs) -> anyhow::Result<ExitCode> {
    let out = Output { json: global.json };
    let entries = taskfile::load_aider(&args.tasks).map_err(BadInput::from_error)?;
    if args.agent != om_aider::AgentKind::Aider && args.mode == om_aider::Mode::Architect {
        return Err(BadInput(format!(
            "--mode architect is Aider's (a planner and an editor model); {} runs code or ask",
            args.agent
        ))
        .into());
    }
    let sessions = Sessions::open(&args.repo, &args.base, settings(args))
        .await
        .map_err(BadInput::from_error)?;
    let loaded = config::load(global, Vec::new()).map_err(BadInput::from_error)?;
    let gateway = om_gateway::Settings {
        // The sessions' own gateways are private to this run: Aider sends
        // no gateway token, only its `--api-key`, which goes on to the
        // endpoints as it did when Aider talked to them.
        auth_token: None,
        forward_authorization: args.api_key.is_some()
            || loaded.config.gateway.forward_authorization,
        ..om_gateway::Settings::from(&loaded.config.gateway)
    };
    let ids: Vec<&om_core::TaskId> = entries.iter().map(|e| &e.task.id).collect();
    let batch = Batch {
        out,
        tasks: &args.tasks,
        results: &args.out,
        resume: args.resume,
        force: args.force,
    };
    let ran = batch
        .run(&ids, |todo: Todo| async {
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
            todo.services.tracker.spawn(workers.run(todo.services.token.clone()));
            let left = entries.iter().filter(|e| !todo.done.contains(&e.task.id)).collect();
            let place = FleetPlace {
                ranking: Ranking::new(fleet.router().config(), args.select),
                fleet,
                gateway,
                tracker: todo.services.tracker.clone(),
            };
            queue(sessions, place, left, todo, args).await
        })
        .await?;

    let ordered: Vec<&Record> = ran.records.iter().collect();
    let summary = Summary::new(&ordered, entries.len(), ran.resumed, ran.elapsed, false);
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
    Ok(drive::exit_code(summary.is_all_ok(), ran.interrupted))
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
        agent: args.agent,
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

/// Runs `entries` as sessions placed by `place`, journaling each outcome
/// as it ends. The first Ctrl-C drains, the second cancels.
async fn queue(
    sessions: Arc<Sessions>,
    place: FleetPlace,
    entries: Vec<&AiderEntry>,
    mut todo: Todo,
    args: &AiderArgs,
) -> anyhow::Result<drive::Journaled> {
    let concurrency = args.concurrency;
    let pool = Pool::builder(AiderFactory::new(Arc::clone(&sessions)))
        .min(0)
        .max(concurrency.get())
        .build()
        .context("building the agent pool")?;
    todo.services.tracker.spawn({
        let pool = pool.clone();
        let token = todo.services.token.clone();
        async move {
            if let Err(err) = pool.run(token).await {
                tracing::warn!(error = %err, "the agent pool's worker stopped");
            }
        }
    });
    let running = Running::default();
    let draining = CancellationToken::new();
    let executor = SessionExecutor {
        inner: AiderExecutor::new(sessions, pool, place),
        progress: todo.progress.clone(),
        running: running.clone(),
        draining: draining.clone(),
    };
    let on_event = executor::placement_callback(running.clone(), todo.progress.clone());
    let builder = Dispatcher::builder(executor).workers(concurrency).on_event(move |event| {
        if let EventKind::Progress(progress) = &event.kind {
            on_event(&event.task, progress);
        }
    });
    let queued = entries
        .iter()
        .map(|entry| {
            let task = om_dispatch::Task::new(entry.task.id.clone(), task(entry))
                .with_priority(entry.task.priority);
            (task, Meta::of(&entry.task))
        })
        .collect();
    let words = Words {
        draining: "interrupted: no new sessions start; running sessions finish \
                   (Ctrl-C again to stop them)",
        cancelling: "interrupted again: stopping running sessions",
    };
    drive::run_queued(builder, queued, outcome::record, &running, &mut todo, &words, &draining)
        .await
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
