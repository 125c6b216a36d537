//! The real Aider against the simulator: the end-to-end test of `ollama-meta aider`
//! (part of `cargo xtask e2e`) and its wall-time benchmark (`cargo xtask bench aider`).
//!
//! aider-chat is pinned in `xtask/python-requirements-aider.txt` and installed into its own
//! venv, `target/py-venv-aider`: it pins exact versions of `openai` and `litellm` that
//! conflict with the client libraries of the main venv. The install takes a minute or two
//! and about 700 MB, once; the stamp file skips it while the requirements are unchanged.
//!
//! Both commands start `ollama-meta sim --reply aider` (each reply appends
//! `# edited-by: <model>` to the file the request names; the test's simulator is fast, the
//! bench's as slow as a small local model), then run
//! `tests/python/aider_e2e.py` with the simulator's URL, the `ollama-meta` binary and the
//! venv's `aider`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::e2e::{build_binary, prepare_venv_at, run_with_timeout, start_ollama_meta};
use crate::{Result, project_root, target_dir};

/// The pinned aider-chat, relative to the project root.
const REQUIREMENTS: &str = "xtask/python-requirements-aider.txt";

/// The venv folder under the target directory.
const VENV: &str = "py-venv-aider";

/// The script, relative to the project root.
const SCRIPT: &str = "tests/python/aider_e2e.py";

/// A simulator that answers in Aider's formats, fast, with room for ten sessions at once.
const SIM_ARGS: &[&str] = &[
    "sim",
    "--listen",
    "127.0.0.1:0",
    "--reply",
    "aider",
    "--tokens-per-sec",
    "2000",
    "--ttft-ms",
    "5",
    "--load-ms",
    "30",
    "--parallel",
    "16",
    "--seed",
    "7",
];

/// The benchmark's simulator: the model speed of a small local model (25 tokens/s,
/// half a second to the first token), so that, as with real models, waiting for the model
/// is most of a session and the rounds show what running sessions at once buys. (With the
/// fast simulator above, each session is bound by Aider's own start-up, about 3 s of CPU,
/// and a 2-core machine caps the speed-up at about 2.)
const BENCH_SIM_ARGS: &[&str] = &[
    "sim",
    "--listen",
    "127.0.0.1:0",
    "--reply",
    "aider",
    "--tokens-per-sec",
    "25",
    "--ttft-ms",
    "500",
    "--load-ms",
    "30",
    "--parallel",
    "16",
    "--seed",
    "7",
];

/// How long the end-to-end script may run (two rounds of ten sessions).
const E2E_TIMEOUT: Duration = Duration::from_mins(15);

/// How long the benchmark may run (three rounds).
const BENCH_TIMEOUT: Duration = Duration::from_mins(30);

/// The concurrencies `cargo xtask bench aider` times by default.
const BENCH_LEVELS: &str = "1,5,10";

/// The end-to-end test, with an already built `binary`.
pub(crate) fn e2e(binary: &Path) -> Result<()> {
    println!("--> e2e scenario `aider`: {SCRIPT}");
    run_script(binary, SIM_ARGS, &[], E2E_TIMEOUT)
        .map_err(|err| format!("e2e scenario `aider`: {err}").into())
}

/// `cargo xtask bench aider [LEVELS]`: wall time of ten sessions at each concurrency
/// (`1,5,10` by default).
pub(crate) fn bench(args: &[String]) -> Result<()> {
    let levels = match args {
        [] => BENCH_LEVELS.to_owned(),
        [levels] if levels.split(',').all(|l| l.parse::<u32>().is_ok_and(|n| n > 0)) => {
            levels.clone()
        }
        _ => return Err("usage: cargo xtask bench aider [LEVELS, e.g. 1,5,10]".into()),
    };
    let binary = build_binary()?;
    run_script(&binary, BENCH_SIM_ARGS, &["--bench".to_owned(), levels], BENCH_TIMEOUT)
}

/// Installs Aider if needed, starts the simulator (`ollama-meta <sim>`), runs the script,
/// stops the simulator.
fn run_script(
    binary: &Path,
    sim: &'static [&'static str],
    extra: &[String],
    timeout: Duration,
) -> Result<()> {
    let root = project_root();
    let python = prepare_venv_at(&root, VENV, REQUIREMENTS)?;
    let aider = venv_program(&python, "aider");
    if !aider.exists() {
        return Err(
            format!("{} is missing after installing {REQUIREMENTS}", aider.display()).into()
        );
    }
    let (sim, urls) = start_ollama_meta(binary, sim, 1)?;
    let url = urls.first().ok_or("the simulator printed no URL")?;
    let mut cmd = Command::new(&python);
    cmd.env("PYTHONUNBUFFERED", "1")
        .arg(root.join(SCRIPT))
        .arg("--base-url")
        .arg(url)
        .arg("--ollama-meta")
        .arg(binary)
        .arg("--aider")
        .arg(&aider)
        .args(extra)
        .current_dir(&root)
        .stdin(Stdio::null());
    let result = run_with_timeout(&mut cmd, timeout);
    drop(sim);
    result
}

/// A program installed in the venv of `python`.
fn venv_program(python: &Path, name: &str) -> PathBuf {
    let dir = python.parent().map_or_else(|| target_dir().join(VENV), Path::to_path_buf);
    if cfg!(windows) { dir.join(format!("{name}.exe")) } else { dir.join(name) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_and_the_pin_exist() {
        let root = project_root();
        assert!(root.join(SCRIPT).is_file(), "{SCRIPT} is missing");
        let pins = std::fs::read_to_string(root.join(REQUIREMENTS)).expect("requirements readable");
        assert!(
            pins.lines().any(|l| l.starts_with("aider-chat==")),
            "aider-chat must be pinned in {REQUIREMENTS}"
        );
    }

    #[test]
    fn bench_levels_are_checked() {
        assert!(bench(&["1,x".to_owned()]).is_err());
        assert!(bench(&["0".to_owned()]).is_err());
        assert!(bench(&["1".to_owned(), "2".to_owned()]).is_err());
    }

    #[test]
    fn programs_live_beside_the_venv_python() {
        let python = Path::new("/t/py-venv-aider/bin/python");
        let aider = venv_program(python, "aider");
        assert_eq!(aider.parent(), Some(Path::new("/t/py-venv-aider/bin")));
    }
}
