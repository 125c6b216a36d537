//! The `ollama-meta` binary, spawned as a user would run it.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ollama-meta");

/// A command with a clean environment for configuration, so a developer's
/// own `OLLAMA_HOST` or `OLLAMA_META_*` cannot change the outcome.
fn command() -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("OLLAMA_") {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("RUST_LOG").kill_on_drop(true);
    cmd
}

#[tokio::test]
async fn sim_serves_until_sigterm() {
    let mut child = command()
        .args(["sim", "--listen", "127.0.0.1:0", "--tokens-per-sec", "2000", "--load-ms", "5"])
        .args(["--models", "codellama:13b,phi3:mini,llama3.2"])
        .args(["--batch-exponent", "0.7", "--max-speedup", "inf"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("sim printed its address in time")
        .unwrap()
        .expect("a line");
    assert!(line.starts_with("SIMULATED"), "the output says it is simulated: {line}");
    // Names outside the built-in set are served too.
    assert!(line.contains("(models: codellama:13b, phi3:mini, llama3.2:latest)"), "{line}");
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap();
    let addr = url.trim_start_matches("http://");

    // A raw HTTP/1.1 request, so this test needs no client crate.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut stream,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut reply = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("Ollama is running"), "{reply}");

    let pid = child.id().unwrap().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("sim stops on SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn sim_rejects_bad_flags_with_exit_2() {
    let cases: [(&[&str], &str); 4] = [
        (&["--models", "gpt-17,bad name"], "--models: invalid model name \"bad name\""),
        (&["--batch-exponent", "1.5"], "--batch-exponent: must be between 0 and 1"),
        (&["--max-speedup", "0.5"], "--max-speedup: must be at least 1"),
        (&["--max-speedup", "NaN"], "--max-speedup: must be at least 1"),
    ];
    for (flags, message) in cases {
        let out = command().arg("sim").args(flags).output().await.unwrap();
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{flags:?}: {stderr}");
    }
}

#[tokio::test]
async fn serve_refuses_an_open_address_without_a_token() {
    let out = command().args(["serve", "--listen", "0.0.0.0:0"]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("0.0.0.0:0") && stderr.contains("--insecure-no-auth"), "{stderr}");
}

#[tokio::test]
async fn config_show_lists_sources() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("om.toml");
    std::fs::write(&file, "[retry]\nmax_attempts = 7\n").unwrap();
    let out = command()
        .args(["config", "show", "--config"])
        .arg(&file)
        .env("OLLAMA_META_TIMEOUTS__CONNECT", "2s")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = |key: &str| {
        stdout.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("{key} in {stdout}"))
    };
    assert!(line("retry.max_attempts").contains(file.to_str().unwrap()));
    assert!(line("timeouts.connect").contains("OLLAMA_META_TIMEOUTS__CONNECT"));
    assert!(line("endpoints[0].url").contains("http://127.0.0.1:11434"));
}

#[tokio::test]
async fn config_show_json_is_a_document() {
    let out = command()
        .args(["config", "show", "--json", "--endpoint", "http://10.1.2.3:11434"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["config"]["endpoints"][0]["url"], "http://10.1.2.3:11434");
}

#[tokio::test]
async fn invalid_config_exits_2_naming_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[retry]\nmax_atempts = 3\n[timeouts]\nconnect = \"30x\"\n").unwrap();
    let out = command().args(["config", "show", "--config"]).arg(&file).output().await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("max_atempts"), "{stderr}");
    assert!(stderr.contains("max_attempts"), "did-you-mean in {stderr}");
    assert!(stderr.contains("timeouts.connect"), "{stderr}");
    assert!(stderr.contains(file.to_str().unwrap()), "{stderr}");
}

#[tokio::test]
async fn completions_and_the_manual_come_from_the_parser() {
    let bash = Command::new(BIN).args(["completions", "bash"]).output().await.unwrap();
    assert!(bash.status.success());
    let script = String::from_utf8_lossy(&bash.stdout);
    // Subcommands and a flag's possible values are in the script.
    assert!(script.contains("serve") && script.contains("completion-time"), "{script}");
    let man = Command::new(BIN).arg("man").output().await.unwrap();
    assert!(man.status.success());
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(page.contains(".TH ollama-meta 1") && page.contains("aider"), "{page}");
    let bad = Command::new(BIN).args(["completions", "tcsh"]).output().await.unwrap();
    assert_eq!(bad.status.code(), Some(2), "an unknown shell is a usage error");
}
