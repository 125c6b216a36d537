//! `ollama-meta models` against simulated endpoints in this process, one of
//! them stopped: the table, the JSON document, `--watch` and the exit codes.

use std::process::Stdio;
use std::time::Duration;

use om_sim::{EndpointSpec, SimHandle};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ollama-meta");

/// The binary with a clean environment for configuration, so a developer's
/// own `OLLAMA_HOST` or `OLLAMA_META_*` cannot change the outcome.
fn command() -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("OLLAMA_") {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("RUST_LOG").stdin(Stdio::null()).kill_on_drop(true);
    cmd
}

/// Three simulators; the last one is stopped. Returns the running ones and
/// the three URLs.
async fn fleet() -> (Vec<SimHandle>, Vec<String>) {
    let mut sims: Vec<SimHandle> = (0..3)
        .map(|i| om_sim::spawn(EndpointSpec::default().with_name(format!("sim-{i}"))))
        .collect();
    let urls: Vec<String> = sims.iter().map(SimHandle::url).collect();
    sims.pop().expect("three simulators").stop().await;
    (sims, urls)
}

fn endpoint_args(urls: &[String]) -> Vec<String> {
    urls.iter().flat_map(|url| ["--endpoint".to_owned(), url.clone()]).collect()
}

/// `http://127.0.0.1:PORT` → the endpoint's default name, `127.0.0.1:PORT`.
fn name(url: &str) -> &str {
    url.trim_start_matches("http://")
}

#[tokio::test]
async fn table_shows_two_endpoints_up_with_their_models_and_one_down() {
    let (sims, urls) = fleet().await;
    let out = command().arg("models").args(endpoint_args(&urls)).output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));

    let line = |start: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("a line for {start} in\n{stdout}"))
    };
    for url in &urls[..2] {
        let line = line(name(url));
        assert!(line.contains(url.as_str()) && line.contains(" up "), "{line}");
        assert!(line.contains("0.33.0") && line.ends_with("ms"), "version and latency: {line}");
    }
    let down = line(name(&urls[2]));
    assert!(down.contains("down: connection refused"), "{down}");
    let llama: Vec<&str> =
        stdout.lines().filter(|l| l.trim_start().starts_with("llama3.2:latest")).collect();
    assert_eq!(llama.len(), 2, "once per endpoint that answered:\n{stdout}");
    for columns in ["llama", "3.2B", "Q4_K_M", "131072", "completion,tools"] {
        assert!(llama[0].contains(columns), "{columns} in {}", llama[0]);
    }
    let embed = stdout.lines().find(|l| l.trim_start().starts_with("nomic-embed-text")).unwrap();
    assert!(embed.contains("embedding") && embed.contains("2048"), "{embed}");
    assert!(stdout.contains("3 endpoints (2 up, 1 down), 8 models (0 loaded)"), "{stdout}");

    for sim in sims {
        sim.stop().await;
    }
}

#[tokio::test]
async fn json_is_the_documented_document() {
    let (sims, urls) = fleet().await;
    let out =
        command().args(["models", "--json"]).args(endpoint_args(&urls)).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(
        doc["summary"],
        serde_json::json!({"endpoints": 3, "up": 2, "down": 1, "unknown": 0, "models": 8, "loaded": 0})
    );
    let endpoints = doc["endpoints"].as_array().unwrap();
    let find = |url: &str| endpoints.iter().find(|e| e["url"] == url).unwrap();
    for url in &urls[..2] {
        let endpoint = find(url);
        assert_eq!(endpoint["name"], name(url));
        assert_eq!(endpoint["health"], "up");
        assert_eq!(endpoint["reason"], serde_json::Value::Null);
        assert_eq!(endpoint["version"], "0.33.0");
        assert!(endpoint["latency_ms"].as_f64().unwrap() > 0.0);
        let models = endpoint["models"].as_array().unwrap();
        let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["llama3.2:latest", "nomic-embed-text:latest", "qwen2.5-coder:7b", "qwen3:8b"]
        );
        let qwen3 = &models[3];
        assert_eq!(qwen3["family"], "qwen3");
        assert_eq!(qwen3["parameter_size"], "8.2B");
        assert_eq!(qwen3["quantization"], "Q4_K_M");
        assert_eq!(qwen3["context_length"], 40_960);
        assert_eq!(qwen3["capabilities"], serde_json::json!(["completion", "tools", "thinking"]));
        assert_eq!(qwen3["loaded"], serde_json::Value::Null);
    }
    let down = find(&urls[2]);
    assert_eq!(down["health"], "down");
    assert_eq!(down["reason"], "connection refused");
    assert_eq!(down["version"], serde_json::Value::Null);
    assert_eq!(down["models"], serde_json::json!([]));

    for sim in sims {
        sim.stop().await;
    }
}

#[tokio::test]
async fn nobody_answering_exits_1_and_bad_config_exits_2() {
    let (sims, urls) = fleet().await;
    for sim in sims {
        sim.stop().await;
    }
    let out =
        command().args(["models", "--json"]).args(endpoint_args(&urls)).output().await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["down"], 3, "still shown: {doc}");

    let out = command().args(["models", "--endpoint", "ftp://nowhere"]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("endpoints[0]"), "{stderr}");
}

#[tokio::test]
async fn watch_prints_snapshots_until_sigterm() {
    let (sims, urls) = fleet().await;
    let mut child = command()
        .args(["models", "--watch", "--json", "--interval", "100ms"])
        .args(endpoint_args(&urls))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..3 {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("a snapshot in time")
            .unwrap()
            .expect("a line");
        let doc: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(doc["summary"]["up"], 2, "{doc}");
    }
    let pid = child.id().unwrap().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().await.unwrap().success());
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("watch stops on SIGTERM")
        .unwrap();
    assert_eq!(exit.code(), Some(0));

    for sim in sims {
        sim.stop().await;
    }
}
