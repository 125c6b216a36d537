//! Scheduling quality: the makespan of mixed batches on a heterogeneous
//! simulated fleet, for each routing strategy, against the lower bound.
//!
//! Run with `cargo xtask bench scheduling` (or `cargo bench -p ollama-meta
//! --bench scheduling`). For each strategy and each of five seeded batches
//! the bench starts the same fresh fleet — three om-sim endpoints at 120, 60
//! and 20 tokens/s with 4, 2 and 1 slots (the orchestrator's permits per
//! endpoint are the slots), llama cold behind a 5 s load on the fast one,
//! the middle one failing 5 % of requests with a 500 — and sends the batch of
//! 240 tasks (seven categories, three priorities, a pinned or a free model,
//! `num_predict` 50–400) through an `om-dispatch` dispatcher with 12 workers
//! to the `om-orchestrator` fleet, as `ollama-meta run` does. It prints each
//! strategy's makespan per batch, the mean and worst ratio to the batch's
//! lower bound, how much faster than round-robin it is, failures, retries
//! and where the tasks ran.
//!
//! Lower bound: `(Σ num_predict + tasks × min_e(ttft_e × rate_e)) /
//! Σ_e(rate_e × slots_e)` — total work over total capacity, ignoring loads,
//! failures and queueing, so that no schedule can beat it (`bound.rs`). The
//! issue's targets: the best strategy within 1.10× the bound and at least
//! 1.5× faster than round-robin.
//!
//! Time is virtual: each run has its own current-thread runtime with tokio's
//! clock paused, advanced 1 ms per step once loopback I/O has settled
//! (`clock.rs`), so a simulated minute and a half takes a few seconds and the
//! machine's load does not change the numbers. Runs are not bit-for-bit
//! repeatable (tokio's `select!` and hash maps are randomly seeded per
//! process), and which task lands last on the slow endpoint — up to 20 s of
//! makespan — is sensitive to small differences: hence several batches, and
//! the mean and the worst. The wall column is real time.
//!
//! Options (after `--`): strategy names to run only those, `--tasks N`,
//! `--batches N`, `--workers N`, `--seed N` (of the first batch; the others
//! follow), `--detail` (per run and endpoint: attempts, busy slot-seconds,
//! utilisation, last end; and the last attempts to end). Without `--bench`
//! (as under `cargo test --benches`) it only checks that one small batch
//! runs.

#![allow(clippy::print_stdout, reason = "a bench prints its report")]

mod bound;
mod clock;
mod fleet;
mod run;
mod table;
mod workload;

use std::io::Write as _;
use std::num::NonZeroUsize;

use om_router::StrategyKind;

use crate::bound::Bound;
use crate::run::{Setup, Stats};
use crate::workload::Workload;

/// What the command line asks for.
#[derive(Debug)]
struct Args {
    strategies: Vec<StrategyKind>,
    tasks: usize,
    batches: usize,
    workers: NonZeroUsize,
    seed: u64,
    /// `cargo bench` passes `--bench`; `cargo test --benches` does not.
    bench: bool,
    /// Print where the time went after each row.
    detail: bool,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Args, Box<dyn std::error::Error>> {
    let mut parsed = Args {
        strategies: Vec::new(),
        tasks: 0,
        batches: 0,
        workers: NonZeroUsize::new(12).ok_or("twelve is not zero")?,
        seed: 7,
        bench: false,
        detail: false,
    };
    let (mut tasks, mut batches) = (None, None);
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--bench" => parsed.bench = true,
            "--detail" => parsed.detail = true,
            "--tasks" => tasks = Some(value("--tasks")?.parse()?),
            "--batches" => batches = Some(value("--batches")?.parse::<usize>()?.max(1)),
            "--workers" => {
                parsed.workers =
                    NonZeroUsize::new(value("--workers")?.parse()?).ok_or("--workers 0")?;
            }
            "--seed" => parsed.seed = value("--seed")?.parse()?,
            flag if flag.starts_with('-') => return Err(format!("unknown flag {flag}").into()),
            name => parsed.strategies.push(name.parse()?),
        }
    }
    // Without `--bench` (`cargo test --benches`): a quick check that it runs.
    parsed.tasks = tasks.unwrap_or(if parsed.bench { 240 } else { 12 });
    parsed.batches = batches.unwrap_or(if parsed.bench { 5 } else { 1 });
    if parsed.strategies.is_empty() {
        parsed.strategies = StrategyKind::ALL.to_vec();
    }
    // Round-robin first, so that every row can be compared with it.
    parsed.strategies.sort_by_key(|s| *s != StrategyKind::RoundRobin);
    parsed.strategies.dedup();
    Ok(parsed)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse(std::env::args().skip(1))?;
    let setup = Setup { machines: fleet::machines().to_vec(), workers: args.workers };
    let workloads: Vec<Workload> = (0..args.batches as u64)
        .map(|i| workload::generate(args.tasks, args.seed.wrapping_add(i)))
        .collect();
    let bounds: Vec<Bound> = workloads.iter().map(|w| Bound::new(w, &setup.machines)).collect();
    if !args.bench {
        println!("scheduling: smoke run; `cargo bench` runs the full benchmark");
    }
    print!("{}", table::header(&setup, &workloads, &bounds));
    println!("{}", table::titles(&setup.machines, workloads.len()));
    let mut all: Vec<Vec<Stats>> = Vec::new();
    for &strategy in &args.strategies {
        let mut runs = Vec::new();
        for workload in &workloads {
            let stats = run::run(&setup, workload, strategy)?;
            if args.detail {
                println!(
                    "  {strategy} on batch seed {}: {:.1}s",
                    workload.seed,
                    stats.makespan.as_secs_f64()
                );
                print!("{}", table::detail(&stats, &setup.machines));
            }
            runs.push(stats);
        }
        let round_robin = all
            .first()
            .filter(|rr| rr.first().is_some_and(|s| s.strategy == StrategyKind::RoundRobin))
            .map(Vec::as_slice);
        println!("{}", table::row(&runs, &bounds, round_robin, &setup.machines));
        std::io::stdout().flush()?;
        all.push(runs);
    }
    if let Some(verdict) = table::targets(&all, &bounds) {
        println!("{verdict}");
    }
    Ok(())
}
