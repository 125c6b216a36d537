//! One strategy's run: a fresh scenario fleet, the whole batch through the
//! dispatcher to the orchestrator, and what it took — all in virtual time.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::num::NonZeroUsize;
use std::time::Duration;

use om_core::{ErrorKind, Task};
use om_dispatch::{Context, Dispatcher, Executor};
use om_orchestrator::{Attempt, Fleet, Options};
use om_router::StrategyKind;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::VirtualClock;
use crate::scenario::{self, Scenario};
use crate::workload::Workload;

/// The virtual clock's step.
pub(crate) const STEP: Duration = Duration::from_millis(1);

/// How every run is set up.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    pub(crate) scenario: Scenario,
    /// Dispatcher workers: tasks in flight at once.
    pub(crate) workers: NonZeroUsize,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    pub(crate) strategy: StrategyKind,
    /// Whether straggling attempts could be hedged.
    pub(crate) hedge: bool,
    /// From submitting the batch to the end of its last task, in virtual
    /// time.
    pub(crate) makespan: Duration,
    /// Tasks that failed for good.
    pub(crate) failed: usize,
    /// Attempts that failed (each followed by a retry unless the task gave
    /// up).
    pub(crate) failed_attempts: usize,
    /// Attempts stopped because a hedge beside them finished first (or
    /// hedges stopped because the first attempt did).
    pub(crate) hedges: usize,
    /// Per endpoint: tasks that ended there successfully, and the tokens
    /// they generated.
    pub(crate) placed: BTreeMap<String, (usize, u64)>,
    /// Every attempt, in the order the tasks were submitted.
    pub(crate) attempts: Vec<Span>,
    /// Real time the run took.
    pub(crate) wall: std::time::Duration,
    /// Per endpoint, its learned concurrency limit at the end (`None`:
    /// configured).
    pub(crate) limits: BTreeMap<String, Option<u32>>,
}

/// One attempt on the run's clock.
#[derive(Debug, Clone)]
pub(crate) struct Span {
    pub(crate) task: String,
    pub(crate) endpoint: String,
    pub(crate) model: String,
    /// Seconds from the batch's start.
    pub(crate) start: f64,
    pub(crate) end: f64,
    pub(crate) ok: bool,
}

/// Runs `workload` with `strategy` (and hedging as `hedge` says) on a
/// fresh fleet, on a fresh current-thread runtime with a paused clock.
pub(crate) fn run(
    setup: &Setup,
    workload: &Workload,
    strategy: StrategyKind,
    hedge: bool,
) -> Result<Stats, Box<dyn std::error::Error>> {
    let wall = std::time::Instant::now();
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build()?;
    let mut stats = runtime.block_on(measure(setup, workload, strategy, hedge))?;
    stats.wall = wall.elapsed();
    Ok(stats)
}

async fn measure(
    setup: &Setup,
    workload: &Workload,
    strategy: StrategyKind,
    hedge: bool,
) -> Result<Stats, Box<dyn std::error::Error>> {
    let _clock = VirtualClock::start(STEP);
    let seed = workload.seed;
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let endpoints = scenario::start(&setup.scenario, workload, &tracker, &shutdown).await?;
    let (fleet, workers) = Fleet::from_config(&scenario::config(endpoints, strategy, hedge, seed))?;
    if let Some(report) = workers.probe_all().await
        && report.down() > 0
    {
        return Err(format!("{} simulated endpoints did not answer", report.down()).into());
    }
    tracker.spawn(workers.run(shutdown.clone()));

    let registry = fleet.registry().clone();
    let (dispatcher, runner) =
        Dispatcher::builder(OnFleet { fleet }).workers(setup.workers).build();
    let runner = tracker.spawn(runner.run(shutdown.child_token()));
    let started = Instant::now();
    let handles = dispatcher
        .submit_batch(workload.tasks.iter().map(|planned| {
            let task = &planned.task;
            om_dispatch::Task::new(task.id.clone(), task.clone()).with_priority(task.priority)
        }))
        .map_err(|_| "the dispatcher closed before the batch was queued")?;
    let mut stats = Stats {
        strategy,
        hedge,
        makespan: Duration::ZERO,
        failed: 0,
        failed_attempts: 0,
        hedges: 0,
        placed: BTreeMap::new(),
        attempts: Vec::new(),
        wall: std::time::Duration::ZERO,
        limits: BTreeMap::new(),
    };
    for handle in handles {
        let ended = handle.await?;
        stats.makespan = stats.makespan.max(ended.at.duration_since(started));
        let stopped =
            |a: &&Attempt| a.error.as_ref().is_some_and(|e| e.kind == ErrorKind::Canceled);
        let hedges = ended.attempts.iter().filter(stopped).count();
        stats.hedges += hedges;
        stats.failed_attempts += ended.attempts.iter().filter(|a| !a.is_ok()).count() - hedges;
        let begun = ended.begun.duration_since(started);
        stats.attempts.extend(ended.attempts.iter().map(|a| {
            let start = begun + a.offset;
            Span {
                task: ended.task.clone(),
                endpoint: a.endpoint.to_string(),
                model: a.model.to_string(),
                start: start.as_secs_f64(),
                end: (start + a.latency).as_secs_f64(),
                ok: a.is_ok(),
            }
        }));
        match ended.placed {
            Some((endpoint, tokens)) => {
                let entry = stats.placed.entry(endpoint).or_default();
                entry.0 += 1;
                entry.1 += tokens;
            }
            None => stats.failed += 1,
        }
    }
    stats.limits = registry
        .snapshot()
        .endpoints()
        .iter()
        .map(|e| (e.id.to_string(), e.live.learned_limit().map(|(n, _)| n)))
        .collect();
    drop(dispatcher);
    runner.await?;
    shutdown.cancel();
    tracker.close();
    tracker.wait().await;
    // The offline schedule is computed from the planned lengths: a run that
    // generated anything else did other work and cannot be compared.
    let generated: u64 = stats.placed.values().map(|p| p.1).sum();
    if stats.failed == 0 && generated != workload.tokens() {
        return Err(format!(
            "{strategy}: the fleet generated {generated} tokens, the batch planned {}",
            workload.tokens()
        )
        .into());
    }
    Ok(stats)
}

/// Runs each task on the fleet and notes when and where it ended.
#[derive(Debug)]
struct OnFleet {
    fleet: Fleet,
}

/// One task's end.
#[derive(Debug)]
struct Ended {
    task: String,
    /// When the executor started it.
    begun: Instant,
    at: Instant,
    /// The endpoint and the tokens generated, when the task succeeded.
    placed: Option<(String, u64)>,
    attempts: Vec<Attempt>,
}

impl Executor for OnFleet {
    type Payload = Task;
    type Output = Ended;
    type Error = Infallible;
    type Progress = ();

    async fn execute(&self, task: Task, _cx: &Context<'_, ()>) -> Result<Ended, Infallible> {
        let begun = Instant::now();
        let outcome = self.fleet.execute_with(&task, Options::default()).await;
        let at = Instant::now();
        let task = task.id.to_string();
        Ok(match outcome {
            Ok(result) => Ended {
                task,
                begun,
                at,
                placed: Some((
                    result.endpoint.to_string(),
                    result.completion_tokens.unwrap_or_default(),
                )),
                attempts: result.attempts,
            },
            Err(failure) => Ended { task, begun, at, placed: None, attempts: failure.attempts },
        })
    }
}
