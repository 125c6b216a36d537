//! Learned endpoint concurrency: the same batch over one endpoint serving
//! `--parallel 1` and `--parallel 4`, with no `max_concurrency` configured
//! (the orchestrator learns the limit from its answers, starting at 4),
//! beside `max_concurrency = 4` set by hand, on two kinds of box: one whose
//! decoding batches well (four requests at once generate four times the
//! tokens, as a GPU does while memory-bound) and om-sim's default shared
//! box (throughput grows as the square root of the load, at most 2x).
//!
//! The target: on the box that batches well, `--parallel 4` reaches at
//! least 3.5x the throughput of `--parallel 1`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::run::{self, Setup, Stats};
use crate::scenario::{Batching, CODER, Machine, Permits, Scenario};
use crate::workload::{self, Mix};

/// A box whose decoding batches perfectly up to four requests.
const BATCHES_WELL: Batching = Batching { exponent: 1.0, max_speedup: 4.0 };

fn scenario(parallel: usize, batching: Batching, permits: Permits) -> Scenario {
    Scenario {
        name: "parallel",
        machines: vec![Machine {
            name: "gpu",
            tokens_per_sec: 300.0,
            ttft: Duration::from_millis(20),
            slots: parallel,
            load_time: Duration::from_secs(3),
            cold: &[],
            batching,
            permits,
        }],
        models: &[CODER],
        mix: Mix::Sized,
    }
}

/// Runs the comparison and returns its report.
pub(crate) fn report(
    workers: std::num::NonZeroUsize,
    tasks: usize,
    seed: u64,
) -> Result<String, Box<dyn std::error::Error>> {
    let workload = workload::generate(Mix::Sized, tasks, seed);
    let mut out = String::from(
        "\nlearned endpoint concurrency: one endpoint, 300 tok/s alone, the default strategy, \
         no max_concurrency (learned from 4) unless said\n",
    );
    let mut verdict = String::new();
    for (label, batching) in [
        ("batches well (n^1, up to 4x)", BATCHES_WELL),
        ("shared (n^0.5, up to 2x)", Batching::SHARED),
    ] {
        let run = |parallel, permits| -> Result<Stats, Box<dyn std::error::Error>> {
            let setup = Setup { scenario: scenario(parallel, batching, permits), workers };
            run::run(&setup, &workload, om_router::RouterConfig::default().strategy, true)
        };
        let one = run(1, Permits::Learned)?;
        let four = run(4, Permits::Learned)?;
        let by_hand = run(4, Permits::Slots)?;
        let rate = |s: &Stats| workload.tokens() as f64 / s.makespan.as_secs_f64();
        let limit = |s: &Stats| s.limits.values().map(|l| l.map_or(0, |n| n)).max().unwrap_or(0);
        let _ = writeln!(
            out,
            "  box {label:<28} --parallel 1: {:>6.0} tok/s (limit {:>2})   --parallel 4: {:>6.0} \
             tok/s (limit {:>2}) = {:.2}x   max_concurrency = 4 by hand: {:>6.0} tok/s \
             (learned ÷ by hand {:.2})",
            rate(&one),
            limit(&one),
            rate(&four),
            limit(&four),
            rate(&four) / rate(&one),
            rate(&by_hand),
            rate(&four) / rate(&by_hand),
        );
        if batching.exponent >= 1.0 {
            let ratio = rate(&four) / rate(&one);
            let _ = write!(
                verdict,
                "parallel: --parallel 4 ÷ --parallel 1 = {ratio:.2}x on a box that batches well \
                 (target ≥ 3.5: {})",
                if ratio >= 3.5 { "met" } else { "MISSED" }
            );
        }
    }
    let _ = writeln!(out, "{verdict}");
    Ok(out)
}
