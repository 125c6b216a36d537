//! `cargo xtask fuzz [CASES]`: the fuzz properties, run long.
//!
//! cargo-fuzz needs a nightly compiler and a sanitizer runtime CI does not
//! have, so the fuzz targets are proptest properties named `fuzz_*`: the
//! NDJSON line decoder and frame decoder (om-client), the end-of-answer
//! line reader (om-core), request inspection (om-gateway), task files
//! (ollama-meta) and configuration files and variables (om-config). Each
//! asserts that any input is answered — read, or refused with a typed,
//! located error — and never panics. `cargo xtask ci` runs them with
//! proptest's default 256 cases as part of the tests; this runs them with
//! `PROPTEST_CASES` (default 20,000), in release mode for speed.

use crate::{Result, cargo, run_command};

/// Cases per property when none are given.
const DEFAULT_CASES: u64 = 20_000;

/// Runs every `fuzz_*` test of the workspace with `cases` cases each.
pub(crate) fn run(rest: &[String]) -> Result<()> {
    let cases = match rest {
        [] => DEFAULT_CASES,
        [n] => n.parse().map_err(|_| format!("`fuzz` takes a number of cases, got `{n}`"))?,
        [_, extra, ..] => return Err(format!("`fuzz` takes one argument, got `{extra}`").into()),
    };
    let mut cmd = cargo([
        "test",
        "--workspace",
        "--release",
        "--locked",
        "fuzz_",
        "--",
        "--test-threads",
        "2",
    ]);
    cmd.env("PROPTEST_CASES", cases.to_string());
    run_command(&mut cmd)
}
