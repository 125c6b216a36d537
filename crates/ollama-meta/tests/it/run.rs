//! `ollama-meta run`, spawned as a user would run it: bad task files,
//! exit codes, the results journal across a SIGKILL and `--resume`, and
//! Ctrl-C.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use om_sim::EndpointSpec;
use serde_json::Value;
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
    cmd.env_remove("RUST_LOG").env("RUST_LOG", "warn").kill_on_drop(true);
    cmd
}

async fn run(args: &[&str]) -> Output {
    let out = command().arg("run").args(args).output();
    tokio::time::timeout(Duration::from_mins(1), out)
        .await
        .expect("the run ends")
        .expect("the binary starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every results line, parsed.
fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("the results file is readable")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a JSON record"))
        .collect()
}

/// The last line per id, as the journal defines it.
fn final_view(lines: &[Value]) -> HashMap<String, Value> {
    lines
        .iter()
        .map(|l| (l["id"].as_str().expect("every line has an id").to_owned(), l.clone()))
        .collect()
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("the temporary folder is writable");
    path
}

/// A YAML batch of `n` short tasks, ids `t1..tn`.
fn batch(n: usize, num_predict: u32) -> String {
    let mut yaml = String::from("tasks:\n");
    for i in 1..=n {
        let priority = ["high", "normal", "low"][i % 3];
        let _ = write!(
            yaml,
            "  - id: t{i}\n    priority: {priority}\n    prompt: Write helper number {i}.\n    \
             options: {{num_predict: {num_predict}}}\n"
        );
    }
    yaml
}

#[tokio::test]
async fn bad_task_files_are_refused_with_locations_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results.jsonl");
    let cases: [(&str, &str, &[&str]); 7] = [
        (
            "duplicate.yaml",
            "tasks:\n  - id: a\n    prompt: x\n  - id: a\n    prompt: y\n",
            &[":4:5: task \"a\" (#2): duplicate id \"a\": task #1 at line 2 has it too"],
        ),
        (
            "unknown.yaml",
            "- prompt: x\n  temprature: 0.1\n",
            &[":2:3: task #1: unknown field `temprature`"],
        ),
        ("missing.json", "[{\"id\": \"a\"}]", &[":1:2: task \"a\" (#1): missing `prompt`"]),
        (
            "both.jsonl",
            "{\"id\": \"a\", \"prompt\": \"x\", \"messages\": [{\"role\": \"user\", \"content\": \"y\"}]}\n",
            &[":1:28: task \"a\" (#1): `prompt` and `messages` are exclusive"],
        ),
        (
            "priority.yaml",
            "- id: a\n  prompt: x\n  priority: urgent\n",
            &[
                ":3:13: task \"a\" (#1): unknown priority \"urgent\"; expected one of: high, normal, low",
            ],
        ),
        (
            "timeout.yaml",
            "- id: a\n  prompt: x\n  timeout: 90 seconds\n",
            &[":3:12: task \"a\" (#1): timeout \"90 seconds\" is not a duration such as \"90s\""],
        ),
        (
            // Every problem of a file is reported at once.
            "many.yaml",
            "- id: a\n  promt: x\n- id: b\n  prompt: y\n  priority: soon\n- id: b\n  prompt: z\n",
            &[
                "(3 problems)",
                ":2:3: task \"a\" (#1): unknown field `promt`",
                ":5:13: task \"b\" (#2): unknown priority \"soon\"",
                ":6:3: task \"b\" (#3): duplicate id \"b\"",
            ],
        ),
    ];
    for (name, content, expected) in cases {
        let file = write(dir.path(), name, content);
        let output = run(&[file.to_str().unwrap(), "--sim", "--out", out.to_str().unwrap()]).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains("nothing was run"), "{name}: {stderr}");
        for fragment in expected {
            assert!(stderr.contains(fragment), "{name}: expected {fragment:?} in {stderr}");
        }
        assert!(!out.exists(), "{name}: no results file is written for a bad task file");
        assert!(text(&output.stdout).is_empty(), "{name}: nothing ran, nothing printed");
    }
}

#[tokio::test]
async fn all_ok_exits_0_with_results_summary_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(dir.path(), "tasks.yaml", &batch(6, 24));
    let out = dir.path().join("out/results.jsonl");
    let report = dir.path().join("out/report.html");
    let output = run(&[
        tasks.to_str().unwrap(),
        "--sim",
        "--out",
        out.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ])
    .await;
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{}", text(&output.stderr));
    assert!(stdout.starts_with("*** SIMULATED fleet (--sim)"), "a banner says so first: {stdout}");
    assert!(stdout.contains("Summary (SIMULATED fleet"), "{stdout}");
    assert!(stdout.contains("6 tasks: 6 ok, 0 failed, 0 cancelled"), "{stdout}");
    let lines = lines(&out);
    assert_eq!(lines.len(), 6);
    for line in &lines {
        assert_eq!(line["status"], "ok", "{line}");
        assert!(line["output"].as_str().is_some_and(|o| !o.is_empty()), "{line}");
        assert!(line["completion_tokens"].as_u64().is_some_and(|n| n <= 24), "{line}");
        for key in ["model", "endpoint", "started_at", "finished_at", "latency_ms", "ttft_ms"] {
            assert!(!line[key].is_null(), "{key} in {line}");
        }
    }
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("SIMULATED") && html.contains("<svg"), "the report has its plots");
}

#[tokio::test]
async fn a_task_pinned_to_a_missing_model_fails_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "tasks.yaml",
        "- id: fine\n  prompt: hello\n  options: {num_predict: 8}\n\
         - id: ghost\n  prompt: hello\n  model: no-such-model:13b\n",
    );
    let out = dir.path().join("results.jsonl");
    let output = run(&[tasks.to_str().unwrap(), "--sim", "--out", out.to_str().unwrap()]).await;
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{}", text(&output.stderr));
    assert!(stdout.contains("2 tasks: 1 ok, 1 failed"), "{stdout}");
    let view = final_view(&lines(&out));
    assert_eq!(view["fine"]["status"], "ok");
    assert_eq!(view["ghost"]["status"], "error");
    assert!(view["ghost"]["error"]["message"].as_str().unwrap().contains("no-such-model"));
}

/// A slow endpoint, so a batch is still running when the test kills it.
fn slow_endpoint() -> om_sim::SimHandle {
    om_sim::spawn(
        EndpointSpec::default()
            .with_name("slow")
            .with_tokens_per_sec(150.0)
            .with_ttft(Duration::from_millis(10))
            .with_load_time(Duration::from_millis(20)),
    )
}

/// Waits until the results file has at least `n` complete lines.
async fn wait_for_lines(path: &Path, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let count = std::fs::read_to_string(path).map_or(0, |t| t.matches('\n').count());
        if count >= n {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the batch made no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn killed_and_resumed_every_task_ends_ok_exactly_once() {
    let sim = slow_endpoint();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(dir.path(), "tasks.yaml", &batch(12, 24));
    let out = dir.path().join("results.jsonl");
    let args = [
        "run",
        tasks.to_str().unwrap(),
        "--endpoint",
        &sim.url(),
        "--concurrency",
        "3",
        "--out",
        out.to_str().unwrap(),
    ];
    let mut child =
        command().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_for_lines(&out, 3).await;
    // Child::kill sends SIGKILL: no chance to clean up.
    child.kill().await.unwrap();
    let before = lines(&out);
    assert!(before.len() < 12, "killed mid-run, not after the end");
    // A write torn by the kill leaves a partial last line; make sure there
    // is one, as the worst case.
    let mut bytes = std::fs::read(&out).unwrap();
    bytes.extend_from_slice(br#"{"id":"t12","status":"ok","categ"#);
    std::fs::write(&out, bytes).unwrap();

    let output = command().args(args).arg("--resume").output().await.unwrap();
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{}", text(&output.stderr));
    assert!(stdout.contains("ignored a torn last line"), "{stdout}");
    assert!(stdout.contains("12 tasks: 12 ok"), "{stdout}");
    let after = lines(&out);
    assert_eq!(&after[..before.len()], &before[..], "earlier lines are kept as they were");
    let view = final_view(&after);
    assert_eq!(view.len(), 12, "nothing lost");
    for i in 1..=12 {
        let id = format!("t{i}");
        assert_eq!(view[&id]["status"], "ok", "{id}");
        let oks = after.iter().filter(|l| l["id"] == id.as_str() && l["status"] == "ok").count();
        assert_eq!(oks, 1, "{id} ran to ok exactly once");
    }
    // The tasks recorded ok before the kill did not run again.
    let done_before = before.iter().filter(|l| l["status"] == "ok").count();
    assert_eq!(after.len() - before.len(), 12 - done_before);
    sim.stop().await;
}

#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_drains_journals_every_task_and_exits_130() {
    let sim = slow_endpoint();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(dir.path(), "tasks.yaml", &batch(12, 30));
    let out = dir.path().join("results.jsonl");
    let child = command()
        .args(["run", tasks.to_str().unwrap(), "--endpoint", &sim.url(), "--concurrency", "2"])
        .args(["--out", out.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_lines(&out, 2).await;
    let pid = child.id().unwrap().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().await.unwrap().success());
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the run drains and exits")
        .unwrap();
    let stdout = text(&output.stdout);
    // 128 + SIGINT, as a shell reports a command stopped by Ctrl-C.
    assert_eq!(output.status.code(), Some(130), "interrupted: {stdout}");
    assert!(stdout.contains("interrupted: no new tasks start"), "{stdout}");
    let lines = lines(&out);
    let view = final_view(&lines);
    assert_eq!(lines.len(), 12, "one line per task, none twice");
    assert_eq!(view.len(), 12, "every task is journaled");
    let cancelled = view.values().filter(|l| l["status"] == "cancelled").count();
    let ok = view.values().filter(|l| l["status"] == "ok").count();
    assert_eq!(ok + cancelled, 12, "running tasks finished, the rest were cancelled: {stdout}");
    assert!(cancelled > 0, "the interrupt came before the end");
    sim.stop().await;
}
