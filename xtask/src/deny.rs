//! `cargo xtask deny`: the dependency audit, with `cargo-deny` and the
//! policy in `deny.toml` (one version of each crate, permissive licences,
//! crates.io only, and the `RustSec` advisories).
//!
//! The advisory database is a git repository on GitHub. Where GitHub cannot
//! be reached (this project's CI machines reach crates.io and `PyPI` only) the
//! advisory check says so and is skipped; every other check, and any
//! advisory found when the database is reachable, fails the step.

use std::process::Command;

use crate::{Result, cargo, display_command, run_command};

/// The `cargo-deny` installed when there is none.
const CARGO_DENY_VERSION: &str = "0.20.2";

/// What `cargo-deny` prints when it cannot fetch the advisory database.
const FETCH_FAILED: &str = "failed to fetch advisory database";

/// Runs the audit.
pub(crate) fn run() -> Result<()> {
    let mut version = cargo(["deny", "--version"]);
    if !version.output().is_ok_and(|out| out.status.success()) {
        // Once per machine, a few minutes on 2 cores; without the default
        // features it needs no git or TLS stack of its own.
        println!("cargo-deny is not installed; installing it");
        run_command(&mut cargo([
            "install",
            "cargo-deny",
            "--locked",
            "--no-default-features",
            "--version",
            CARGO_DENY_VERSION,
        ]))?;
    }
    run_command(&mut cargo(["deny", "--locked", "check", "bans", "licenses", "sources"]))?;
    advisories(&mut cargo(["deny", "--locked", "check", "advisories"]))
}

/// Runs the advisory check; an unreachable database is a skip, not a pass.
fn advisories(cmd: &mut Command) -> Result<()> {
    let shown = display_command(cmd);
    println!("$ {shown}");
    let output = cmd.output().map_err(|err| format!("could not start `{shown}`: {err}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprint!("{stderr}");
    match verdict(output.status.success(), &stderr) {
        Verdict::Passed => Ok(()),
        Verdict::Unreachable => {
            println!(
                "advisories: SKIPPED, the RustSec database on GitHub is unreachable from here"
            );
            Ok(())
        }
        Verdict::Failed => Err(format!("`{shown}` failed: {}", output.status).into()),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Passed,
    Unreachable,
    Failed,
}

fn verdict(success: bool, stderr: &str) -> Verdict {
    if success {
        Verdict::Passed
    } else if stderr.contains(FETCH_FAILED) && !stderr.contains("error[vulnerability]") {
        Verdict::Unreachable
    } else {
        Verdict::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unreachable_database_is_skipped() {
        assert_eq!(verdict(true, ""), Verdict::Passed);
        let offline =
            "[ERROR] failed to fetch advisory database https://github.com/RustSec/advisory-db";
        assert_eq!(verdict(false, offline), Verdict::Unreachable);
        assert_eq!(verdict(false, "error[vulnerability]: x"), Verdict::Failed);
        assert_eq!(verdict(false, "error[unmaintained]: y"), Verdict::Failed);
    }
}
