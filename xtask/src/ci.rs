//! `cargo xtask ci`: every check CI runs, in order, stopping at the first failure.
//!
//! A developer and CI run exactly the same thing: `.ci/run` only prepares the machine and
//! then calls `cargo xtask ci`. No step sets `RUSTFLAGS`, because changing it would
//! invalidate the build cache and force a full rebuild; `-D warnings` goes to clippy after
//! `--` and to rustdoc through `RUSTDOCFLAGS`, which affects the doc step only.

use std::time::{Duration, Instant};

use crate::{Result, cargo, deny, display_command, e2e, run_command};

/// Command-line flags of `cargo xtask ci`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Flags {
    /// Also run the benches once in criterion's test mode.
    full: bool,
}

impl Flags {
    /// Parses the arguments after `ci`.
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let mut flags = Self::default();
        for arg in args {
            match arg.as_str() {
                "--full" => flags.full = true,
                other => return Err(format!("`ci`: unknown argument `{other}`").into()),
            }
        }
        Ok(flags)
    }
}

/// What one CI step runs.
#[derive(Debug, Clone, Copy)]
enum Action {
    /// `cargo <args>` with extra environment variables.
    Cargo { args: &'static [&'static str], env: &'static [(&'static str, &'static str)] },
    /// The Python end-to-end tests (`cargo xtask e2e`).
    E2e,
    /// The dependency audit (`cargo xtask deny`).
    Deny,
}

/// One named CI step.
#[derive(Debug, Clone, Copy)]
struct Step {
    name: &'static str,
    action: Action,
}

impl Step {
    const fn cargo(name: &'static str, args: &'static [&'static str]) -> Self {
        Self { name, action: Action::Cargo { args, env: &[] } }
    }

    /// The command line shown in the step header.
    fn describe(&self) -> String {
        match self.action {
            Action::Cargo { args, env } => {
                let mut cmd = cargo(args);
                cmd.envs(env.iter().copied());
                display_command(&cmd)
            }
            Action::E2e => "cargo xtask e2e".to_owned(),
            Action::Deny => "cargo xtask deny".to_owned(),
        }
    }

    fn run(&self) -> Result<()> {
        match self.action {
            Action::Cargo { args, env } => {
                let mut cmd = cargo(args);
                cmd.envs(env.iter().copied());
                run_command(&mut cmd)
            }
            // CI runs the real model too: its one-time build fits CI's limit.
            Action::E2e => e2e::run(true),
            Action::Deny => deny::run(),
        }
    }
}

/// The steps of `cargo xtask ci --full`, in order. Test steps come last so the log ends
/// with the test summaries.
fn steps(flags: Flags) -> Vec<Step> {
    let mut steps = vec![
        Step::cargo("fmt", &["fmt", "--all", "--", "--check"]),
        Step { name: "deny", action: Action::Deny },
        Step::cargo(
            "clippy",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--locked",
                "--",
                "-D",
                "warnings",
            ],
        ),
        Step {
            name: "doc",
            action: Action::Cargo {
                args: &["doc", "--workspace", "--no-deps", "--all-features", "--locked"],
                env: &[("RUSTDOCFLAGS", "-D warnings")],
            },
        },
        // No `--all-targets` here: it would skip the doctests. This also runs the tidy
        // checks, which are ordinary `#[test]`s of the xtask crate.
        Step::cargo("test", &["test", "--workspace", "--all-features", "--locked"]),
    ];
    if flags.full {
        steps.push(Step::cargo(
            "bench-smoke",
            &["test", "--benches", "--workspace", "--all-features", "--locked"],
        ));
    }
    steps.push(Step { name: "e2e", action: Action::E2e });
    steps
}

/// How one step ended.
#[derive(Debug)]
struct Outcome {
    name: &'static str,
    elapsed: Duration,
    passed: bool,
}

/// Runs every step in order and stops at the first failure.
pub(crate) fn run(flags: Flags) -> Result<()> {
    let steps = steps(flags);
    let total = steps.len();
    let started = Instant::now();
    let mut outcomes = Vec::with_capacity(total);
    let mut failure = None;

    for (index, step) in steps.iter().enumerate() {
        println!();
        println!("==> xtask ci [{}/{total}] {}: {}", index + 1, step.name, step.describe());
        let step_started = Instant::now();
        let result = step.run();
        let passed = result.is_ok();
        outcomes.push(Outcome { name: step.name, elapsed: step_started.elapsed(), passed });
        if let Err(err) = result {
            failure = Some((step.name, err));
            break;
        }
    }

    println!();
    println!("==> xtask ci summary ({:.1?} in all)", started.elapsed());
    for outcome in &outcomes {
        let verdict = if outcome.passed { "ok" } else { "FAILED" };
        println!("    {:<12} {verdict:<6} {:>8.1?}", outcome.name, outcome.elapsed);
    }
    for step in steps.iter().skip(outcomes.len()) {
        println!("    {:<12} skipped", step.name);
    }

    match failure {
        None => {
            println!("xtask ci: all steps passed");
            Ok(())
        }
        Some((name, err)) => {
            println!("xtask ci: step `{name}` failed");
            Err(format!("ci step `{name}` failed: {err}").into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(flags: Flags) -> Vec<&'static str> {
        steps(flags).iter().map(|step| step.name).collect()
    }

    #[test]
    fn steps_run_in_the_documented_order() {
        assert_eq!(names(Flags::default()), ["fmt", "deny", "clippy", "doc", "test", "e2e"]);
        assert_eq!(
            names(Flags { full: true }),
            ["fmt", "deny", "clippy", "doc", "test", "bench-smoke", "e2e"]
        );
    }

    #[test]
    fn no_step_sets_rustflags_and_tests_keep_doctests() {
        for step in steps(Flags { full: true }) {
            if let Action::Cargo { args, env } = step.action {
                assert!(env.iter().all(|(key, _)| *key != "RUSTFLAGS"), "{}", step.name);
                if step.name == "test" {
                    assert!(!args.contains(&"--all-targets"), "--all-targets skips doctests");
                }
            }
        }
    }

    #[test]
    fn flags_reject_unknown_arguments() {
        assert!(Flags::parse(&["--full".to_owned()]).is_ok_and(|flags| flags.full));
        assert!(Flags::parse(&["--fast".to_owned()]).is_err());
    }
}
