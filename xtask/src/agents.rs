//! The real Claude Code and Codex through `ollama-meta aider --agent …` against the
//! simulator: part of `cargo xtask e2e`.
//!
//! Both are pinned in `xtask/npm-agents.txt` and installed with the machine's npm into
//! `target/npm-agents` (a stamp file skips the install while the pins are unchanged).
//! `tests/python/agents_e2e.py` then runs a few sessions of each agent: every request they
//! make goes through a session gateway (`/v1/messages` for Claude Code, `/v1/responses`
//! for Codex) to the simulator, whose replies are text, so the check is the protocol and
//! the bookkeeping (each session ok, its branch made, tokens counted), not an edit.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::e2e::{SIM_ARGS, prepare_venv_at, run_with_timeout, start_ollama_meta};
use crate::{Result, project_root, run_command, target_dir};

/// The pins, relative to the project root.
const PINS: &str = "xtask/npm-agents.txt";

/// The install folder under the target directory.
const PREFIX: &str = "npm-agents";

/// The file in the install folder that records the pins last installed.
const STAMP: &str = "xtask-pins.stamp";

/// The script, relative to the project root.
const SCRIPT: &str = "tests/python/agents_e2e.py";

/// The whole scenario's limit.
const TIMEOUT: Duration = Duration::from_mins(10);

/// The end-to-end test, with an already built `binary`.
pub(crate) fn e2e(binary: &Path) -> Result<()> {
    println!("--> e2e scenario `agents`: {SCRIPT}");
    run(binary).map_err(|err| format!("e2e scenario `agents`: {err}").into())
}

fn run(binary: &Path) -> Result<()> {
    let root = project_root();
    let bin = install(&root)?;
    // The stdlib-only script runs on the clients' venv, which `e2e` prepared already.
    let python = prepare_venv_at(&root, "py-venv", "xtask/python-requirements.txt")?;
    let (sim, urls) = start_ollama_meta(binary, SIM_ARGS, 1)?;
    let url = urls.first().ok_or("the simulator printed no URL")?;
    let mut cmd = Command::new(python);
    cmd.env("PYTHONUNBUFFERED", "1")
        .arg(root.join(SCRIPT))
        .arg("--base-url")
        .arg(url)
        .arg("--ollama-meta")
        .arg(binary)
        .arg("--claude")
        .arg(bin.join("claude"))
        .arg("--codex")
        .arg(bin.join("codex"))
        .current_dir(&root)
        .stdin(Stdio::null());
    let result = run_with_timeout(&mut cmd, TIMEOUT);
    drop(sim);
    result
}

/// Installs the pinned agents unless the stamp says they are; returns their `bin` folder.
fn install(root: &Path) -> Result<PathBuf> {
    let pins_path = root.join(PINS);
    let pins = fs::read_to_string(&pins_path)
        .map_err(|err| format!("reading {}: {err}", pins_path.display()))?;
    let packages = packages(&pins);
    let prefix = target_dir().join(PREFIX);
    let bin = prefix.join("node_modules").join(".bin");
    let stamp = prefix.join(STAMP);
    if fs::read_to_string(&stamp).is_ok_and(|installed| installed == pins) {
        println!("coding agents up to date ({})", stamp.display());
        return Ok(bin);
    }
    fs::create_dir_all(&prefix).map_err(|err| format!("creating {}: {err}", prefix.display()))?;
    run_command(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--no-save", "--prefix"])
            .arg(&prefix)
            .args(&packages),
    )
    .map_err(|err| format!("{err} (the agents need Node.js 18 or later and npm)"))?;
    for program in ["claude", "codex"] {
        if !bin.join(program).exists() {
            return Err(format!("{program} is missing after installing {PINS}").into());
        }
    }
    fs::write(&stamp, pins).map_err(|err| format!("writing {}: {err}", stamp.display()))?;
    Ok(bin)
}

/// The `name@version` lines of a pins file.
fn packages(pins: &str) -> Vec<&str> {
    pins.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_and_exact_pins_exist() {
        let root = project_root();
        assert!(root.join(SCRIPT).is_file(), "{SCRIPT} is missing");
        let pins = fs::read_to_string(root.join(PINS)).expect("pins readable");
        let packages = packages(&pins);
        assert_eq!(packages.len(), 2, "{packages:?}");
        for package in packages {
            let version = package.rsplit_once('@').map(|(_, v)| v).unwrap_or_default();
            assert!(
                version.split('.').count() == 3
                    && version.split('.').all(|p| p.parse::<u32>().is_ok()),
                "{package} is not pinned to an exact version"
            );
        }
    }
}
