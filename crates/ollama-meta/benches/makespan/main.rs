//! Scheduling quality: the makespan of every routing strategy on three
//! heterogeneous simulated fleets, against an offline schedule of the same
//! tasks.
//!
//! Run with `cargo xtask bench makespan` (or `cargo bench -p ollama-meta
//! --bench makespan`). Scenarios (`scenario.rs`):
//!
//! - `1:3:9`: endpoints at 150, 450 and 1,350 tokens/s, two slots each,
//!   120 tasks with `num_predict` 40, 80 or 160 and any model;
//! - `cold`: the same speeds, the tasks pinned half to a coder model and
//!   half to llama, which is cold behind a 5 s load on the fast endpoint;
//! - `mixed`: one GPU box at 1,350 tokens/s and two laptops at 150, half the
//!   tasks with `num_predict`, half without (their length set by their
//!   category, which the router learns online), three priorities.
//!
//! For each scenario, strategy and seeded batch the bench starts a fresh
//! fleet of om-sim endpoints and sends the batch through an `om-dispatch`
//! dispatcher with 10 workers (as `ollama-meta run`) to the
//! `om-orchestrator` fleet. Replies are scripted to the planned length, so
//! every run does the same work, checked against the tokens generated.
//!
//! The reference is `offline.rs`: an earliest-completion-time list schedule
//! that knows every output length, under the simulator's own shared-compute
//! model. The targets: the default strategy within 1.15× of it, and
//! round-robin at least 1.5× slower than the default on the 1:3:9 fleet.
//! Every strategy runs with hedging on (the default: a straggling attempt
//! gets a second one on a free faster instance); round-robin and the
//! default run once more without it, to show what placement alone does.
//!
//! Time is virtual: each run has its own current-thread runtime with tokio's
//! clock paused, advanced 1 ms per step once loopback I/O has settled
//! (`clock.rs`), so the machine's load does not change the numbers. Runs
//! are not bit-for-bit repeatable (tokio's `select!` and hash maps are
//! randomly seeded per process): hence several batches, the mean and the
//! worst. The wall column is real time.
//!
//! Then `concurrency.rs`: a batch over one endpoint at `--parallel 1` and
//! `4` with the limit learned, beside one set by hand (scenario
//! `parallel`).
//!
//! Options (after `--`): strategy names to run only those, `--scenario
//! NAME` (repeatable), `--tasks N`, `--batches N`, `--workers N`, `--seed
//! N` (of the first batch; the others follow), `--detail` (per run and
//! endpoint: attempts, busy and idle-while-waiting slot-seconds, last end;
//! and the last attempts to end). Without `--bench` (as under `cargo test
//! --benches`) it only checks that one small batch per scenario runs.

#![allow(clippy::print_stdout, reason = "a bench prints its report")]

mod clock;
mod concurrency;
mod offline;
mod run;
mod scenario;
mod table;
mod workload;

use std::io::Write as _;
use std::num::NonZeroUsize;

use om_router::StrategyKind;

use crate::offline::Offline;
use crate::run::{Setup, Stats};
use crate::scenario::Scenario;
use crate::workload::Workload;

/// What the command line asks for.
#[derive(Debug)]
struct Args {
    strategies: Vec<StrategyKind>,
    /// Scenario names; empty: all.
    scenarios: Vec<String>,
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
        scenarios: Vec::new(),
        tasks: 0,
        batches: 0,
        workers: NonZeroUsize::new(10).ok_or("ten is not zero")?,
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
            "--scenario" => parsed.scenarios.push(value("--scenario")?),
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
    parsed.tasks = tasks.unwrap_or(if parsed.bench { 120 } else { 12 });
    parsed.batches = batches.unwrap_or(if parsed.bench { 3 } else { 1 });
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
    let scenarios: Vec<Scenario> = scenario::all()
        .into_iter()
        .filter(|s| args.scenarios.is_empty() || args.scenarios.iter().any(|n| n == s.name))
        .collect();
    if let Some(unknown) = args
        .scenarios
        .iter()
        .find(|n| n.as_str() != "parallel" && !scenarios.iter().any(|s| s.name == n.as_str()))
    {
        let mut names: Vec<&str> = scenario::all().iter().map(|s| s.name).collect();
        names.push("parallel");
        return Err(format!("unknown scenario {unknown:?}; expected one of {names:?}").into());
    }
    if !args.bench {
        println!("makespan: smoke run; `cargo bench` runs the full benchmark");
    }
    println!("{}", table::preamble(args.workers.get()));
    let mut verdicts = Vec::new();
    for scenario in scenarios {
        let setup = Setup { scenario, workers: args.workers };
        let workloads: Vec<Workload> = (0..args.batches as u64)
            .map(|i| workload::generate(setup.scenario.mix, args.tasks, args.seed.wrapping_add(i)))
            .collect();
        let offline: Vec<Offline> =
            workloads.iter().map(|w| offline::schedule(&setup.scenario, w)).collect();
        println!("{}", table::header(&setup, &workloads, &offline));
        let mut all: Vec<Vec<Stats>> = Vec::new();
        // Every strategy as configured by default (hedging on), then
        // round-robin and the default without hedging: placement alone.
        let placement_only = args
            .strategies
            .iter()
            .filter(|s| {
                [StrategyKind::RoundRobin, om_router::RouterConfig::default().strategy].contains(s)
            })
            .map(|&s| (s, false));
        let policies: Vec<(StrategyKind, bool)> =
            args.strategies.iter().map(|&s| (s, true)).chain(placement_only).collect();
        for (strategy, hedge) in policies {
            let mut runs = Vec::new();
            for workload in &workloads {
                let stats = run::run(&setup, workload, strategy, hedge)?;
                if args.detail {
                    println!(
                        "  {strategy} on batch seed {}: {:.2}s",
                        workload.seed,
                        stats.makespan.as_secs_f64()
                    );
                    print!("{}", table::detail(&stats, &setup.scenario));
                }
                runs.push(stats);
            }
            let round_robin = table::find(&all, StrategyKind::RoundRobin, hedge);
            println!("{}", table::row(&runs, &offline, round_robin, &setup.scenario));
            std::io::stdout().flush()?;
            all.push(runs);
        }
        verdicts.extend(table::targets(&setup.scenario, &all, &offline));
    }
    if args.scenarios.is_empty() || args.scenarios.iter().any(|n| n == "parallel") {
        print!("{}", concurrency::report(args.workers, args.tasks, args.seed)?);
    }
    if !verdicts.is_empty() {
        println!("\n{}", verdicts.join("\n"));
    }
    Ok(())
}
