//! `cargo xtask e2e`: the Python compatibility tests against a running `ollama-meta`.
//!
//! The tests use the real client libraries (the official `ollama` and `openai` Python
//! packages), pinned in `xtask/python-requirements.txt` and installed into a venv at
//! `target/py-venv` (created with `$PYTHON -m venv`, `python3` by default; reinstalled
//! only when the requirements file changes). Each [`Scenario`] starts its backends (simulators), then
//! its server — given `--endpoint URL` for each backend — waits for each process to print the
//! addresses it listens on, runs one script against the server and stops every process again,
//! whatever happened. Add a scenario to [`SCENARIOS`] to add a script.

use std::{
    env, fs,
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc::{self, RecvTimeoutError},
    thread,
    time::{Duration, Instant},
};

use crate::{Result, cargo, display_command, project_root, run_command, target_dir};

/// How long a server may take to print its listening address.
const STARTUP_TIMEOUT: Duration = Duration::from_mins(1);

/// The stdout line prefix a server prints once per endpoint it serves.
const LISTENING_PREFIX: &str = "listening on ";

/// The pinned Python packages, relative to the project root.
const REQUIREMENTS: &str = "xtask/python-requirements.txt";

/// The file in the venv that records the requirements last installed.
const REQUIREMENTS_STAMP: &str = "xtask-requirements.stamp";

/// How to start the server a script talks to.
#[derive(Debug, Clone, Copy)]
struct ServerSetup {
    /// Arguments to the `ollama-meta` binary.
    args: &'static [&'static str],
    /// How many `listening on …` lines to wait for before starting the script.
    endpoints: usize,
}

/// One Python script and the server it runs against.
#[derive(Debug, Clone, Copy)]
struct Scenario {
    /// A short name for logs.
    name: &'static str,
    /// The script, relative to the project root.
    script: &'static str,
    /// Servers started first, in order (the simulators behind a gateway); the server below
    /// gets `--endpoint URL` for every URL they print.
    backends: &'static [ServerSetup],
    /// The server the script talks to.
    server: ServerSetup,
    /// Builds the script's arguments from the server's base URLs, in the order printed.
    script_args: fn(&[String]) -> Vec<String>,
    /// How long the script may run.
    timeout: Duration,
}

/// Passes the first endpoint as `--base-url`.
fn base_url_arg(urls: &[String]) -> Vec<String> {
    urls.first().map(|url| vec!["--base-url".to_owned(), url.clone()]).unwrap_or_default()
}

/// A fast simulator on a free port: the arguments of `ollama-meta sim`.
pub(crate) const SIM_ARGS: &[&str] = &[
    "sim",
    "--listen",
    "127.0.0.1:0",
    "--tokens-per-sec",
    "2000",
    "--ttft-ms",
    "5",
    "--load-ms",
    "30",
    "--seed",
    "7",
];

/// Every end-to-end scenario, run in order.
const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "compat-sim",
        script: "tests/python/compat_sim.py",
        backends: &[],
        server: ServerSetup { args: SIM_ARGS, endpoints: 1 },
        script_args: base_url_arg,
        timeout: Duration::from_mins(5),
    },
    Scenario {
        name: "compat-gateway",
        script: "tests/python/compat_gateway.py",
        backends: &[
            ServerSetup { args: SIM_ARGS, endpoints: 1 },
            ServerSetup { args: SIM_ARGS, endpoints: 1 },
        ],
        server: ServerSetup { args: &["serve", "--listen", "127.0.0.1:0"], endpoints: 1 },
        script_args: base_url_arg,
        timeout: Duration::from_mins(5),
    },
];

/// Runs every scenario, stopping at the first failure.
pub(crate) fn run(real: bool) -> Result<()> {
    let root = project_root();
    let python = prepare_venv(&root)?;
    let binary = build_binary()?;
    for scenario in SCENARIOS {
        println!("--> e2e scenario `{}`: {}", scenario.name, scenario.script);
        run_scenario(&root, &python, &binary, scenario)
            .map_err(|err| format!("e2e scenario `{}`: {err}", scenario.name))?;
    }
    // The real Aider, in its own venv (see `aider.rs`), and the real Claude Code and
    // Codex, from npm (see `agents.rs`).
    crate::aider::e2e(&binary)?;
    crate::agents::e2e(&binary)?;
    // A real model behind llama.cpp's server (see `real.rs`): a source build the first time.
    if real { crate::real::e2e(&binary) } else { Ok(()) }
}

// === venv ===

/// The venv's Python interpreter.
fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// Creates `target/py-venv` if needed and installs the pinned requirements into it, unless
/// the stamp file says the same requirements are already installed. Returns the venv's
/// Python.
fn prepare_venv(root: &Path) -> Result<PathBuf> {
    prepare_venv_at(root, "py-venv", REQUIREMENTS)
}

/// [`prepare_venv`] for the venv `target/<name>` and the requirements file `requirements`
/// (relative to the project root).
pub(crate) fn prepare_venv_at(root: &Path, name: &str, requirements: &str) -> Result<PathBuf> {
    prepare_venv_with(root, name, requirements, &[])
}

/// [`prepare_venv_at`] with `envs` set for pip (a source build's settings).
pub(crate) fn prepare_venv_with(
    root: &Path,
    name: &str,
    requirements: &str,
    envs: &[(&str, &str)],
) -> Result<PathBuf> {
    let venv = target_dir().join(name);
    let python = venv_python(&venv);
    if !python.exists() {
        let host_python = env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
        run_command(Command::new(host_python).arg("-m").arg("venv").arg(&venv))?;
    }

    let requirements_path = root.join(requirements);
    let requirements = fs::read_to_string(&requirements_path)
        .map_err(|err| format!("reading {}: {err}", requirements_path.display()))?;
    let stamp = venv.join(REQUIREMENTS_STAMP);
    if fs::read_to_string(&stamp).is_ok_and(|installed| installed == requirements) {
        println!("python requirements up to date ({})", stamp.display());
        return Ok(python);
    }
    run_command(
        Command::new(&python)
            .args(["-m", "pip", "install", "--disable-pip-version-check", "--quiet", "-r"])
            .arg(&requirements_path)
            .envs(envs.iter().copied()),
    )?;
    fs::write(&stamp, requirements).map_err(|err| format!("writing {}: {err}", stamp.display()))?;
    Ok(python)
}

// === server ===

/// Builds `ollama-meta` exactly as the test step does: `cargo test --no-run`
/// builds the binary for the crate's integration tests with the same feature
/// resolution, so after the test step this is a no-op. A plain `cargo build`
/// would resolve features without dev-dependencies and rebuild half the tree.
pub(crate) fn build_binary() -> Result<PathBuf> {
    run_command(&mut cargo(["test", "--workspace", "--all-features", "--locked", "--no-run"]))?;
    let binary = target_dir().join("debug").join(format!("ollama-meta{}", env::consts::EXE_SUFFIX));
    if binary.exists() {
        Ok(binary)
    } else {
        Err(format!("built ollama-meta but {} does not exist", binary.display()).into())
    }
}

/// A child process that is killed and reaped when dropped, whatever happened.
#[derive(Debug)]
pub(crate) struct KillOnDrop {
    child: Child,
    name: String,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // The child may exit between the check and the kill; both errors are harmless.
            let _ = self.child.kill();
        }
        match self.child.wait() {
            Ok(status) => println!("stopped {} ({status})", self.name),
            Err(err) => eprintln!("could not reap {}: {err}", self.name),
        }
    }
}

/// What the stdout reader thread reports.
enum ServerLine {
    Line(String),
    Closed,
}

/// Starts the server (with `extra` arguments after its own) and returns it with the base
/// URLs it printed. The server's stdout keeps being echoed (prefixed) after that, so the
/// server never blocks on a full pipe.
fn start_server(
    binary: &Path,
    setup: &ServerSetup,
    extra: &[String],
) -> Result<(KillOnDrop, Vec<String>)> {
    let mut cmd = Command::new(binary);
    cmd.args(setup.args)
        .args(extra)
        .current_dir(project_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let shown = display_command(&cmd);
    println!("$ {shown} &");
    let mut child = cmd.spawn().map_err(|err| format!("could not start `{shown}`: {err}"))?;
    let stdout = child.stdout.take();
    let mut server = KillOnDrop { child, name: "ollama-meta".to_owned() };
    let stdout = stdout.ok_or("server stdout was not captured")?;

    let (tx, rx) = mpsc::channel();
    thread::spawn(move || forward_lines(stdout, &tx));

    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let mut urls = Vec::with_capacity(setup.endpoints);
    while urls.len() < setup.endpoints {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(format!(
                "server printed {} of {} `{LISTENING_PREFIX}http://…` lines within {STARTUP_TIMEOUT:?}",
                urls.len(),
                setup.endpoints
            )
            .into());
        }
        match rx.recv_timeout(remaining.min(Duration::from_millis(200))) {
            Ok(ServerLine::Line(line)) => {
                if let Some(url) = parse_listening_line(&line) {
                    urls.push(url.to_owned());
                }
            }
            Ok(ServerLine::Closed) | Err(RecvTimeoutError::Disconnected) => {
                // Stdout closes just before the exit status is there to collect.
                let status = match wait_timeout(&mut server.child, Duration::from_secs(2))? {
                    Some(status) => format!("exited: {status}"),
                    None => "still running".to_owned(),
                };
                return Err(format!("server closed stdout before it was ready ({status})").into());
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Some(status) = server.child.try_wait()? {
                    return Err(format!("server exited before it was ready ({status})").into());
                }
            }
        }
    }
    Ok((server, urls))
}

/// Echoes a server's stdout line by line (prefixed) and reports each line to `tx`.
fn forward_lines(stdout: impl Read, tx: &mpsc::Sender<ServerLine>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        println!("[server] {line}");
        // The receiver is gone once the server is ready; keep draining the pipe anyway.
        let _ = tx.send(ServerLine::Line(line));
    }
    let _ = tx.send(ServerLine::Closed);
}

/// Extracts `http://host:port` from a `listening on http://host:port` line. Tolerates a
/// log prefix before the marker and trailing text after the URL.
fn parse_listening_line(line: &str) -> Option<&str> {
    let start = line.find(LISTENING_PREFIX)? + LISTENING_PREFIX.len();
    let url = line[start..].split_whitespace().next()?;
    let url = url.trim_end_matches('/');
    let is_http = url.starts_with("http://") || url.starts_with("https://");
    (is_http && url.len() > "http://".len()).then_some(url)
}

/// Starts `ollama-meta <args>` and waits for its `endpoints` `listening on` lines, for
/// other xtask commands that need a simulator. Dropping the handle stops it.
pub(crate) fn start_ollama_meta(
    binary: &Path,
    args: &'static [&'static str],
    endpoints: usize,
) -> Result<(KillOnDrop, Vec<String>)> {
    start_server(binary, &ServerSetup { args, endpoints }, &[])
}

// === script ===

/// Runs one scenario: start the backends and the server, run the script, stop them all.
fn run_scenario(root: &Path, python: &Path, binary: &Path, scenario: &Scenario) -> Result<()> {
    let mut backends = Vec::with_capacity(scenario.backends.len());
    let mut endpoints = Vec::new();
    for setup in scenario.backends {
        let (backend, urls) = start_server(binary, setup, &[])?;
        backends.push(backend);
        for url in urls {
            endpoints.extend(["--endpoint".to_owned(), url]);
        }
    }
    let (server, urls) = start_server(binary, &scenario.server, &endpoints)?;
    let mut cmd = Command::new(python);
    cmd.env("PYTHONUNBUFFERED", "1")
        .arg(root.join(scenario.script))
        .args((scenario.script_args)(&urls))
        .current_dir(root)
        .stdin(Stdio::null());
    let result = run_with_timeout(&mut cmd, scenario.timeout);
    // Stop the server before reporting, so its last words come before ours; then the
    // backends behind it.
    drop(server);
    drop(backends);
    result
}

/// Runs a command with inherited stdout and stderr; kills it after `timeout`.
pub(crate) fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Result<()> {
    let shown = display_command(cmd);
    println!("$ {shown}");
    let child = cmd.spawn().map_err(|err| format!("could not start `{shown}`: {err}"))?;
    let mut child = KillOnDrop { child, name: "python".to_owned() };
    let Some(status) = wait_timeout(&mut child.child, timeout)? else {
        return Err(format!("`{shown}` timed out after {timeout:?}").into());
    };
    if status.success() { Ok(()) } else { Err(format!("`{shown}` failed: {status}").into()) }
}

/// Waits up to `timeout` for a child to exit; `None` if it is still running then.
fn wait_timeout(child: &mut Child, timeout: Duration) -> Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        pause(Duration::from_millis(20));
    }
}

/// Blocks this thread for a moment while polling a child process.
#[expect(
    clippy::disallowed_methods,
    reason = "xtask is synchronous code, not async; polling a child needs a plain sleep"
)]
fn pause(duration: Duration) {
    thread::sleep(duration);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_lines_are_parsed() {
        assert_eq!(
            parse_listening_line("listening on http://127.0.0.1:41234"),
            Some("http://127.0.0.1:41234")
        );
        assert_eq!(
            parse_listening_line("2026-01-01T00:00:00Z INFO listening on http://[::1]:80/ (sim)"),
            Some("http://[::1]:80")
        );
        assert_eq!(parse_listening_line("listening on 127.0.0.1:80"), None);
        assert_eq!(parse_listening_line("loading models"), None);
    }

    #[test]
    fn scenarios_point_at_existing_scripts() {
        let root = project_root();
        for scenario in SCENARIOS {
            assert!(root.join(scenario.script).is_file(), "{} is missing", scenario.script);
            assert!(scenario.server.endpoints >= 1);
            assert!(scenario.backends.iter().all(|b| b.endpoints >= 1));
            let args =
                (scenario.script_args)(&vec!["http://x".to_owned(); scenario.server.endpoints]);
            assert!(!args.is_empty());
        }
    }
}
