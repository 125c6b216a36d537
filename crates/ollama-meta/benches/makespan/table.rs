//! The report: per scenario, the setup, the offline schedule, one row per
//! strategy, and the verdict on the targets.

use std::fmt::Write as _;

use om_router::StrategyKind;

use crate::offline::Offline;
use crate::run::{STEP, Setup, Stats};
use crate::scenario::Scenario;
use crate::workload::{Mix, Workload};

/// The first line of the report.
pub(crate) fn preamble(workers: usize) -> String {
    format!(
        "makespan: every strategy on fresh simulated fleets, in virtual time (paused tokio \
         clock, advanced {} ms per step once loopback I/O has settled); {workers} dispatcher \
         workers as `ollama-meta run --concurrency {workers}`; max_concurrency per endpoint = \
         slots (the ceiling of its learned limit); om-sim's shared compute (n requests on a box \
         progress at min(n^0.5, 2) / n of a lone one's speed)\n\
         offline = earliest-completion-time list schedule of the same tasks in dispatch order, \
         output lengths known, under the same shared-compute model; * = the default strategy",
        STEP.as_millis()
    )
}

/// The lines above a scenario's table.
pub(crate) fn header(setup: &Setup, workloads: &[Workload], offline: &[Offline]) -> String {
    let scenario = &setup.scenario;
    let mut out = String::new();
    let _ = writeln!(out, "\nscenario {}", scenario.name);
    for machine in &scenario.machines {
        let _ = writeln!(out, "  endpoint {}", machine.describe());
    }
    let tasks = workloads.first().map_or(0, |w| w.tasks.len());
    let mix = match scenario.mix {
        Mix::Sized => "num_predict 40/80/160, any model, one priority".to_owned(),
        Mix::TwoModels => format!(
            "num_predict 40/80/160, half pinned to {}, half to {}",
            scenario.models[0],
            scenario.models.get(1).copied().unwrap_or("?")
        ),
        Mix::Mixed => "half num_predict 40–320, half none (40–320 tokens by category, learned \
                       online), three priorities"
            .to_owned(),
    };
    let _ = writeln!(
        out,
        "  {} batch{} of {tasks} tasks, 7 categories: {mix}",
        workloads.len(),
        if workloads.len() == 1 { "" } else { "es" },
    );
    for (workload, offline) in workloads.iter().zip(offline) {
        let placed: Vec<String> = offline.placed.iter().map(usize::to_string).collect();
        let _ = writeln!(
            out,
            "  batch seed {:>3}: {} tokens; offline {:.2} s, tasks {}",
            workload.seed,
            workload.tokens(),
            offline.makespan,
            placed.join("/")
        );
    }
    let names: Vec<&str> = scenario.machines.iter().map(|m| m.name).collect();
    let _ = write!(
        out,
        "{:<26} {:<width$} {:>8} {:>6} {:>8} {:>6} {:>7} {:>6}  {:<24} {:>6}",
        "strategy",
        "makespan per batch (s)",
        "×offline",
        "worst",
        "rr÷this",
        "failed",
        "retries",
        "hedged",
        format!("tasks {}", names.join("/")),
        "wall",
        width = makespans_width(workloads.len())
    );
    out
}

fn makespans_width(batches: usize) -> usize {
    (batches * 7).max(22)
}

/// Per batch, the run's makespan over the offline schedule's.
fn ratios(runs: &[Stats], offline: &[Offline]) -> Vec<f64> {
    runs.iter().zip(offline).map(|(r, o)| r.makespan.as_secs_f64() / o.makespan).collect()
}

/// The mean over batches of round-robin's makespan over this one's.
fn versus(round_robin: &[Stats], runs: &[Stats]) -> f64 {
    let speedups: Vec<f64> = round_robin
        .iter()
        .zip(runs)
        .map(|(rr, r)| rr.makespan.as_secs_f64() / r.makespan.as_secs_f64())
        .collect();
    mean(&speedups)
}

/// One strategy's row: its makespan on each batch, the mean and the worst
/// ratio to the offline schedule, how many times faster than round-robin
/// (with the same hedging) it was, failed tasks, failed attempts, attempts
/// stopped by a hedge, where the tasks ran, and the real time the runs
/// took.
pub(crate) fn row(
    runs: &[Stats],
    offline: &[Offline],
    round_robin: Option<&[Stats]>,
    scenario: &Scenario,
) -> String {
    let Some(first) = runs.first() else { return String::new() };
    let makespans: Vec<String> =
        runs.iter().map(|r| format!("{:>6.2}", r.makespan.as_secs_f64())).collect();
    let ratios = ratios(runs, offline);
    let versus =
        round_robin.map_or_else(|| "-".to_owned(), |rr| format!("{:.2}", versus(rr, runs)));
    let placed: Vec<String> = scenario
        .machines
        .iter()
        .map(|m| {
            let tasks: usize = runs.iter().filter_map(|r| r.placed.get(m.name)).map(|p| p.0).sum();
            tasks.to_string()
        })
        .collect();
    let mut name = first.strategy.as_str().to_owned();
    if first.strategy == om_router::RouterConfig::default().strategy {
        name.push('*');
    }
    if !first.hedge {
        name.push_str(", no hedge");
    }
    format!(
        "{name:<26} {:<width$} {:>8.3} {:>6.3} {:>8} {:>6} {:>7} {:>6}  {:<24} {:>5.1}s",
        makespans.join(" "),
        mean(&ratios),
        ratios.iter().copied().fold(0.0, f64::max),
        versus,
        runs.iter().map(|r| r.failed).sum::<usize>(),
        runs.iter().map(|r| r.failed_attempts).sum::<usize>(),
        runs.iter().map(|r| r.hedges).sum::<usize>(),
        placed.join("/"),
        runs.iter().map(|r| r.wall.as_secs_f64()).sum::<f64>(),
        width = makespans_width(runs.len())
    )
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// The verdict on the targets for one scenario: the default within
/// 1.15× the offline schedule, and (on the 1:3:9 fleet) round-robin at
/// least 1.5× slower than the default. `None` when either strategy was not
/// run.
pub(crate) fn targets(
    scenario: &Scenario,
    all: &[Vec<Stats>],
    offline: &[Offline],
) -> Option<String> {
    let default = find(all, om_router::RouterConfig::default().strategy, true)?;
    let rr = find(all, StrategyKind::RoundRobin, true)?;
    let ratio = mean(&ratios(default, offline));
    let speedup = versus(rr, default);
    let mark = |ok: bool| if ok { "met" } else { "MISSED" };
    let mut verdict = format!(
        "{}: default ({}) at {ratio:.3}× offline (target ≤ 1.15: {}); round_robin ÷ default = \
         {speedup:.2}",
        scenario.name,
        om_router::RouterConfig::default().strategy.as_str(),
        mark(ratio <= 1.15),
    );
    if scenario.mix == Mix::Sized {
        let _ = write!(verdict, " (target ≥ 1.5: {})", mark(speedup >= 1.5));
    }
    if let (Some(default), Some(rr)) = (
        find(all, om_router::RouterConfig::default().strategy, false),
        find(all, StrategyKind::RoundRobin, false),
    ) {
        let _ = write!(
            verdict,
            "; without hedging: default at {:.3}× offline, round_robin at {:.3}×, round_robin ÷ \
             default = {:.2}",
            mean(&ratios(default, offline)),
            mean(&ratios(rr, offline)),
            versus(rr, default)
        );
    }
    Some(verdict)
}

/// The runs of `strategy` with hedging as `hedge` says, when they ran.
pub(crate) fn find(all: &[Vec<Stats>], strategy: StrategyKind, hedge: bool) -> Option<&[Stats]> {
    all.iter()
        .find(|r| r.first().is_some_and(|s| s.strategy == strategy && s.hedge == hedge))
        .map(Vec::as_slice)
}

/// Where the time went in one run: per endpoint, the attempts, the busy
/// slot-seconds and utilisation, the slot-seconds it sat idle while tasks
/// were still waiting to start, and when its last attempt ended; then the
/// last attempts to end.
pub(crate) fn detail(stats: &Stats, scenario: &Scenario) -> String {
    let mut out = String::new();
    let makespan = stats.makespan.as_secs_f64();
    // Every task is submitted at once: tasks wait until the last one starts.
    let last_start = stats.attempts.iter().map(|s| s.start).fold(0.0, f64::max);
    for machine in &scenario.machines {
        let spans: Vec<_> = stats.attempts.iter().filter(|s| s.endpoint == machine.name).collect();
        let busy: f64 = spans.iter().map(|s| s.end - s.start).sum();
        let busy_early: f64 =
            spans.iter().map(|s| (s.end.min(last_start) - s.start.min(last_start)).max(0.0)).sum();
        let idle = (machine.slots as f64 * last_start - busy_early).max(0.0);
        let last = spans.iter().map(|s| s.end).fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "    {:<9} {:>4} attempts, busy {:>6.2} slot·s ({:>3.0} % of {} × makespan), idle \
             while tasks waited {:>5.2} slot·s, last end {:>6.2}s",
            machine.name,
            spans.len(),
            busy,
            100.0 * busy / (makespan * machine.slots as f64),
            machine.slots,
            idle,
            last
        );
    }
    let mut tail: Vec<_> = stats.attempts.iter().collect();
    tail.sort_by(|a, b| b.end.total_cmp(&a.end));
    for span in tail.iter().take(5) {
        let _ = writeln!(
            out,
            "    tail: {} on {} ({}) {:>6.2}s → {:>6.2}s{}",
            span.task,
            span.endpoint,
            span.model,
            span.start,
            span.end,
            if span.ok { "" } else { " failed" }
        );
    }
    out
}
