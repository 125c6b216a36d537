//! `ollama-meta run TASKS`: a batch of LLM tasks across the fleet, with
//! progress, a crash-safe results journal, a summary and an HTML report.
//!
//! The steps: read and check the task file (nothing runs while it has a
//! problem: exit 2); load the configuration; then the batch core
//! (`batch::flow`) opens the results file (fresh, or continued with
//! `--resume`), and for what is left this command picks the fleet
//! (configured, or simulated) and queues every task on an `om-dispatch`
//! dispatcher whose executor runs it through the `om-orchestrator` fleet;
//! each outcome is journaled as it ends; last the summary and the report.
//!
//! Ctrl-C once stops starting tasks and lets the running ones finish;
//! twice cancels them. Either way every task that was queued ends with a
//! line in the journal (`cancelled` if it did not finish), so `--resume`
//! picks up exactly what is left.

mod executor;
mod fleet;
mod outcome;

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use om_core::Task;
use om_dispatch::Dispatcher;
use om_orchestrator::Fleet;
use tokio_util::sync::CancellationToken;

use crate::batch::drive::{self, Words};
use crate::batch::flow::{Batch, Output, Todo};
use crate::batch::record::Record;
use crate::batch::report;
use crate::batch::running::{Meta, Running};
use crate::batch::summary::Summary;
use crate::batch::taskfile;
use crate::cli::{GlobalArgs, RunArgs};
use crate::cmd::bad_input::BadInput;
use crate::cmd::config;
use crate::cmd::run::executor::LlmExecutor;

/// How long a low-priority task waits before it is treated as one level
/// higher, so a long batch of high-priority work cannot starve it.
const AGING: Duration = Duration::from_mins(1);

/// Runs the batch; see the module docs. Exit code 0 when every task of the
/// file succeeded, 1 when some did not, 2 for invalid input.
pub(crate) async fn run(global: &GlobalArgs, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let out = Output { json: global.json };
    if args.sim && !global.endpoints.is_empty() {
        return Err(BadInput(
            "--sim and --endpoint are exclusive: --sim starts its own endpoints".to_owned(),
        )
        .into());
    }
    let tasks = taskfile::load(&args.tasks).map_err(BadInput::from_error)?;
    let mut settings = Vec::new();
    if let Some(strategy) = &args.strategy {
        settings.push(("routing.strategy".to_owned(), strategy.clone()));
    }
    let loaded = config::load(global, settings).map_err(BadInput::from_error)?;
    let ids: Vec<&om_core::TaskId> = tasks.iter().map(|t| &t.id).collect();
    let batch = Batch {
        out,
        tasks: &args.tasks,
        results: &args.out,
        resume: args.resume,
        force: args.force,
    };
    let mut simulated = args.sim;
    let mut slots = std::collections::BTreeMap::new();
    let (simulated_now, slots_now, file) = (&mut simulated, &mut slots, &tasks);
    let ran = batch
        .run(&ids, move |todo: Todo| async move {
            let chosen =
                fleet::choose(args.sim, loaded, &todo.services.tracker, &todo.services.token)
                    .await?;
            if let Some(banner) = &chosen.simulated {
                *simulated_now = true;
                out.banner(banner);
            }
            let (fleet, workers) = Fleet::from_config(&chosen.config)
                .map_err(|err| anyhow::anyhow!("{}", err.message()))
                .context("building the fleet")?;
            todo.services.tracker.spawn(workers.run(todo.services.token.clone()));
            *slots_now = fleet
                .registry()
                .snapshot()
                .endpoints()
                .iter()
                .map(|e| (e.id.to_string(), e.capacity()))
                .collect();
            let left = file.iter().filter(|t| !todo.done.contains(&t.id)).cloned().collect();
            queue(fleet, left, todo, args.concurrency).await
        })
        .await?;

    let ordered: Vec<&Record> = ran.records.iter().collect();
    let summary = Summary::new(&ordered, tasks.len(), ran.resumed, ran.elapsed, simulated);
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
    Ok(drive::exit_code(summary.is_all_ok(), ran.interrupted))
}

fn write_report(path: &Path, html: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating the report's folder {}", parent.display()))?;
    }
    std::fs::write(path, html).with_context(|| format!("writing the report {}", path.display()))
}

/// Runs `tasks` on `fleet`, journaling each outcome as it ends. The first
/// Ctrl-C drains, the second cancels.
async fn queue(
    fleet: Fleet,
    tasks: Vec<Task>,
    mut todo: Todo,
    concurrency: std::num::NonZeroUsize,
) -> anyhow::Result<drive::Journaled> {
    let running = Running::default();
    let draining = CancellationToken::new();
    let executor = LlmExecutor {
        fleet,
        progress: todo.progress.clone(),
        running: running.clone(),
        draining: draining.clone(),
    };
    let builder = Dispatcher::builder(executor).workers(concurrency).aging(AGING);
    let queued = tasks
        .into_iter()
        .map(|t| {
            let meta = Meta::of(&t);
            (om_dispatch::Task::new(t.id.clone(), t.clone()).with_priority(t.priority), meta)
        })
        .collect();
    let words = Words {
        draining: "interrupted: no new tasks start; running tasks finish \
                   (Ctrl-C again to cancel them)",
        cancelling: "interrupted again: cancelling running tasks",
    };
    drive::run_queued(builder, queued, outcome::record, &running, &mut todo, &words, &draining)
        .await
}
