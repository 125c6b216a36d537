//! The report: the setup, the lower bound with its formula, one row per
//! strategy, and the verdict on the targets.

use std::fmt::Write as _;

use om_router::StrategyKind;

use crate::bound::Bound;
use crate::fleet::Machine;
use crate::run::{STEP, Setup, Stats};
use crate::workload::Workload;

/// The lines above the table.
pub(crate) fn header(setup: &Setup, workloads: &[Workload], bounds: &[Bound]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scheduling quality: a fresh simulated fleet per strategy and batch, in virtual time \
         (paused tokio clock, advanced {} ms per step once loopback I/O has settled)",
        STEP.as_millis()
    );
    for machine in &setup.machines {
        let _ = writeln!(out, "  endpoint {}", machine.describe());
    }
    let tasks = workloads.first().map_or(0, |w| w.tasks.len());
    let _ = writeln!(
        out,
        "  {} batch{} of {tasks} tasks: 7 categories × 3 priorities, coder 40 % / llama 30 % / \
         any model 30 %, num_predict 50–400; {} dispatcher workers; permits per endpoint = slots",
        workloads.len(),
        if workloads.len() == 1 { "" } else { "es" },
        setup.workers
    );
    let _ = writeln!(
        out,
        "lower bound = (Σ num_predict + tasks × min_e(ttft_e × rate_e)) / Σ_e(rate_e × slots_e) \
         (model loads, failures and queueing ignored)"
    );
    for (workload, bound) in workloads.iter().zip(bounds) {
        let _ = writeln!(
            out,
            "  batch seed {:>3}: ({} + {:.0}) tokens / {:.0} tok/s = {:.1} s",
            workload.seed,
            bound.tokens,
            bound.ttft_tokens,
            bound.capacity,
            bound.makespan().as_secs_f64()
        );
    }
    out
}

/// The column titles.
pub(crate) fn titles(machines: &[Machine], batches: usize) -> String {
    let names: Vec<&str> = machines.iter().map(|m| m.name).collect();
    format!(
        "\n{:<13} {:<width$} {:>6} {:>6} {:>8} {:>6} {:>7}  {:<22} {:>6}",
        "strategy",
        "makespan per batch (s)",
        "×bound",
        "worst",
        "rr÷this",
        "failed",
        "retries",
        format!("tasks {}", names.join("/")),
        "wall",
        width = makespans_width(batches)
    )
}

fn makespans_width(batches: usize) -> usize {
    (batches * 7).max(22)
}

/// One strategy's row: its makespan on each batch, the mean and the worst
/// ratio to the batch's bound, how many times faster than round-robin it
/// was (the mean of per-batch ratios), failed tasks, failed attempts, where
/// the tasks ran, and the real time the runs took.
pub(crate) fn row(
    runs: &[Stats],
    bounds: &[Bound],
    round_robin: Option<&[Stats]>,
    machines: &[Machine],
) -> String {
    let Some(first) = runs.first() else { return String::new() };
    let makespans: Vec<String> =
        runs.iter().map(|r| format!("{:>6.1}", r.makespan.as_secs_f64())).collect();
    let ratios: Vec<f64> = runs
        .iter()
        .zip(bounds)
        .map(|(r, b)| r.makespan.as_secs_f64() / b.makespan().as_secs_f64())
        .collect();
    let versus = round_robin.map_or_else(
        || "-".to_owned(),
        |rr| {
            let speedups: Vec<f64> = rr
                .iter()
                .zip(runs)
                .map(|(rr, r)| rr.makespan.as_secs_f64() / r.makespan.as_secs_f64())
                .collect();
            format!("{:.2}", mean(&speedups))
        },
    );
    let placed: Vec<String> = machines
        .iter()
        .map(|m| {
            let tasks: usize = runs.iter().filter_map(|r| r.placed.get(m.name)).map(|p| p.0).sum();
            tasks.to_string()
        })
        .collect();
    format!(
        "{:<13} {:<width$} {:>6.3} {:>6.3} {:>8} {:>6} {:>7}  {:<22} {:>5.1}s",
        first.strategy.as_str(),
        makespans.join(" "),
        mean(&ratios),
        ratios.iter().copied().fold(0.0, f64::max),
        versus,
        runs.iter().map(|r| r.failed).sum::<usize>(),
        runs.iter().map(|r| r.failed_attempts).sum::<usize>(),
        placed.join("/"),
        runs.iter().map(|r| r.wall.as_secs_f64()).sum::<f64>(),
        width = makespans_width(runs.len())
    )
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// The verdict on the targets: the best strategy (by mean ratio)
/// within 1.10× the bound, and at least 1.5× faster than round-robin.
pub(crate) fn targets(all: &[Vec<Stats>], bounds: &[Bound]) -> Option<String> {
    let ratio = |runs: &Vec<Stats>| {
        let ratios: Vec<f64> = runs
            .iter()
            .zip(bounds)
            .map(|(r, b)| r.makespan.as_secs_f64() / b.makespan().as_secs_f64())
            .collect();
        mean(&ratios)
    };
    let best = all.iter().min_by(|a, b| ratio(a).total_cmp(&ratio(b)))?;
    let rr =
        all.iter().find(|r| r.first().is_some_and(|s| s.strategy == StrategyKind::RoundRobin))?;
    let speedups: Vec<f64> = rr
        .iter()
        .zip(best)
        .map(|(rr, b)| rr.makespan.as_secs_f64() / b.makespan.as_secs_f64())
        .collect();
    let (best_ratio, speedup) = (ratio(best), mean(&speedups));
    let mark = |ok: bool| if ok { "met" } else { "MISSED" };
    Some(format!(
        "\nbest: {} at {best_ratio:.3}× the lower bound (target ≤ 1.10: {}), {speedup:.2}× \
         faster than round_robin (target ≥ 1.5: {}); round_robin itself is at {:.3}× the bound, \
         so no schedule can be more than {:.2}× faster than it",
        best.first().map_or("?", |s| s.strategy.as_str()),
        mark(best_ratio <= 1.10),
        mark(speedup >= 1.5),
        ratio(rr),
        ratio(rr)
    ))
}

/// Where the time went in one run: per endpoint, the attempts, the busy
/// slot-seconds, its utilisation and when its last attempt ended; then the
/// last attempts to end.
pub(crate) fn detail(stats: &Stats, machines: &[Machine]) -> String {
    let mut out = String::new();
    let makespan = stats.makespan.as_secs_f64();
    for machine in machines {
        let spans: Vec<_> = stats.attempts.iter().filter(|s| s.endpoint == machine.name).collect();
        let busy: f64 = spans.iter().map(|s| s.end - s.start).sum();
        let last = spans.iter().map(|s| s.end).fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "    {:<7} {:>4} attempts, busy {:>6.1} slot·s ({:>3.0} % of {} × makespan), last end {:>6.1}s",
            machine.name,
            spans.len(),
            busy,
            100.0 * busy / (makespan * machine.slots as f64),
            machine.slots,
            last
        );
    }
    let mut tail: Vec<_> = stats.attempts.iter().collect();
    tail.sort_by(|a, b| b.end.total_cmp(&a.end));
    for span in tail.iter().take(5) {
        let _ = writeln!(
            out,
            "    tail: {} on {} ({}) {:>6.1}s → {:>6.1}s{}",
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
