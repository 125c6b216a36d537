//! `cargo xtask`: the project's automation, written in Rust so it needs nothing but cargo.
//!
//! Run `cargo xtask help` for the list of subcommands. The binary depends on std only;
//! it runs `$CARGO` (the cargo that invoked it) and finds the project root as the parent
//! of this crate's manifest directory.
//!
//! | subcommand | what it does |
//! |---|---|
//! | `ci [--full]` | fmt, the dependency audit, clippy, doc, test and the Python end-to-end tests, stopping at the first failure |
//! | `deny` | the dependency audit (`cargo-deny` with `deny.toml`) |
//! | `e2e [--real]` | the Python compatibility tests against `ollama-meta sim`, the real Aider, Claude Code and Codex through `ollama-meta aider`, and with `--real` a real model (llama.cpp's server) behind the gateway |
//! | `bench [crate] [--save NAME \| --compare NAME] [-- args]` | criterion benches |
//! | `bench aider [LEVELS]` | ten real Aider sessions against the simulator, timed per concurrency |
//! | `bench makespan [-- args]` | makespan per routing strategy on three heterogeneous simulated fleets, against an offline schedule |
//! | `soak [-- args]` | the gateway bench's hold alone: 5,000 streams for 60 s, no error, no leaked descriptor |
//! | `fuzz [CASES]` | the `fuzz_*` proptest properties, with many cases |
//! | `tidy` | the repository conventions, checked by the `#[test]`s in `tidy.rs` |

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "xtask is a command-line tool that reports progress on the terminal"
)]

mod agents;
mod aider;
mod bench;
mod ci;
mod deny;
mod e2e;
mod fuzz;
mod real;
mod tidy;

use std::{
    env,
    ffi::OsStr,
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

/// The error type of every task: a message for the user, already formatted.
type DynError = Box<dyn std::error::Error>;

/// The result type of every task.
type Result<T, E = DynError> = std::result::Result<T, E>;

const USAGE: &str = "\
usage: cargo xtask <command> [args]

commands:
  ci [--full]       run every CI step in order, stopping at the first failure;
                    --full also runs the benches once in test mode
  e2e [--real]      run the Python compatibility tests against `ollama-meta sim`, ten
                    real Aider sessions and real Claude Code and Codex sessions through
                    `ollama-meta aider`; --real also a real model (llama.cpp's server
                    and SmolLM2 from PyPI, built once: about 8 minutes) behind the
                    gateway and `ollama-meta run` (CI runs it)
  bench [CRATE] [--save NAME | --compare NAME] [-- ARGS...]
                    run criterion benches (the whole workspace, or one crate)
  bench aider [LEVELS]
                    wall time of ten real Aider sessions against the simulator at
                    each concurrency (default 1,5,10)
  bench makespan [-- ARGS...]
                    makespan of each routing strategy on three heterogeneous simulated
                    fleets (virtual time), against an offline schedule
  soak [-- ARGS...] hold 5,000 streams through the gateway for 60 s: fails on any
                    error or a leaked file descriptor, reports memory
  fuzz [CASES]      run the `fuzz_*` properties (decoders, request inspection, task
                    files, configuration) with CASES cases each (default 20000)
  deny              audit the dependencies (cargo-deny with deny.toml)
  tidy              check repository conventions (cargo test -p xtask)
  help              print this message
";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return Err("no command given".into());
    };
    match command.as_str() {
        "ci" => ci::run(ci::Flags::parse(rest)?),
        "e2e" => match rest {
            [] => e2e::run(false),
            [flag] if flag == "--real" => e2e::run(true),
            [other, ..] => Err(format!("`e2e` takes only --real, got `{other}`").into()),
        },
        "bench" if rest.first().is_some_and(|arg| arg == "aider") => aider::bench(&rest[1..]),
        "bench" => bench::run(&bench::Flags::parse(rest)?),
        "fuzz" => fuzz::run(rest),
        "soak" => bench::soak(rest),
        "deny" => {
            no_extra_args("deny", rest)?;
            deny::run()
        }
        "tidy" => {
            no_extra_args("tidy", rest)?;
            tidy::run()
        }
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!("{USAGE}");
            Err(format!("unknown command `{other}`").into())
        }
    }
}

/// Fails when a subcommand that takes no arguments was given some.
fn no_extra_args(command: &str, rest: &[String]) -> Result<()> {
    match rest.first() {
        None => Ok(()),
        Some(arg) => Err(format!("`{command}` takes no arguments, got `{arg}`").into()),
    }
}

/// The workspace root: the parent of this crate's manifest directory.
fn project_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// The cargo target directory: `$CARGO_TARGET_DIR` if set, else `<root>/target`.
fn target_dir() -> PathBuf {
    let root = project_root();
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// A `Command` for the cargo that runs us (`$CARGO`, else `cargo`), started in the root.
fn cargo<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let program = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(project_root());
    cmd
}

/// Renders a command the way a user would type it, for logs and error messages.
fn display_command(cmd: &Command) -> String {
    let mut out = String::new();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            let _ = write!(out, "{}={:?} ", key.to_string_lossy(), value.to_string_lossy());
        }
    }
    out.push_str(&cmd.get_program().to_string_lossy());
    for arg in cmd.get_args() {
        out.push(' ');
        out.push_str(&arg.to_string_lossy());
    }
    out
}

/// Runs a command to completion with inherited stdio and fails unless it exits 0.
fn run_command(cmd: &mut Command) -> Result<()> {
    let shown = display_command(cmd);
    println!("$ {shown}");
    let status = cmd.status().map_err(|err| format!("could not start `{shown}`: {err}"))?;
    if status.success() { Ok(()) } else { Err(format!("`{shown}` failed: {status}").into()) }
}
