//! `ollama-meta aider`, spawned as a user would run it, with a fake `aider`
//! (a shell script run as a program with arguments, asking its model one
//! question with python3) against a simulated endpoint: exit codes for bad
//! input, sessions end to end with their branches, results and summary,
//! the requests going through the fleet, failures, and `--resume`. The real
//! aider-chat runs in `cargo xtask e2e` (`tests/python/aider_e2e.py`).

#![cfg(unix)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use om_sim::EndpointSpec;
use serde_json::Value;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ollama-meta");

/// Prints its arguments (or, with `FAKE_AIDER_PIDFILE`, writes its pid there
/// and hangs), asks its model one chat question at
/// `OLLAMA_API_BASE` (exit 4 when that fails), appends `# edited-by:
/// <model>` to the files after `--` and commits them as Aider would; a file
/// whose name has `broken` in it makes it fail (exit 3) instead.
const FAKE_AIDER: &str = r#"#!/bin/sh
for a in "$@"; do printf 'arg: %s\n' "$a"; done
if [ -n "$FAKE_AIDER_PIDFILE" ]; then echo $$ > "$FAKE_AIDER_PIDFILE.tmp"; mv "$FAKE_AIDER_PIDFILE.tmp" "$FAKE_AIDER_PIDFILE"; exec sleep 600; fi
commit=0
model=""
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    --auto-commits) commit=1 ;;
    --model) shift; model="$1" ;;
  esac
  shift
done
python3 - "$OLLAMA_API_BASE" "${model#ollama_chat/}" <<'PY' || exit 4
import json, sys, urllib.request
base, model = sys.argv[1], sys.argv[2]
body = json.dumps({"model": model, "stream": False,
                   "messages": [{"role": "user", "content": "hello"}]}).encode()
with urllib.request.urlopen(urllib.request.Request(base + "/api/chat", data=body), timeout=60) as r:
    print("reply:", json.load(r)["message"]["content"][:40])
PY
for f in "$@"; do
  case "$f" in *broken*) echo "cannot edit $f" >&2; exit 3 ;; esac
  printf '# edited-by: %s\n' "${model#ollama_chat/}" >> "$f"
done
echo "Tokens: 1.5k sent, 42 received."
if [ "$commit" = 1 ] && [ $# -gt 0 ]; then
  git add -- "$@" && git commit -q -m "fake aider: edit"
fi
"#;

struct Fixture {
    dir: tempfile::TempDir,
    repo: PathBuf,
    aider: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out =
        std::process::Command::new("git").args(args).current_dir(dir).output().expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Fixture {
    fn new(files: &[&str]) -> Self {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().expect("a temporary folder");
        let repo = dir.path().join("repo");
        std::fs::create_dir(&repo).expect("the repository folder");
        git(&repo, &["init", "--quiet", "--initial-branch=main"]);
        git(&repo, &["config", "user.name", "cli tests"]);
        git(&repo, &["config", "user.email", "cli@ollama-meta.invalid"]);
        for file in files {
            std::fs::write(repo.join(file), "x = 1\n").expect("a file");
        }
        git(&repo, &["add", "--all"]);
        git(&repo, &["commit", "--quiet", "--message", "initial"]);
        let aider = dir.path().join("aider");
        std::fs::write(&aider, FAKE_AIDER).expect("the fake aider");
        std::fs::set_permissions(&aider, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Self { dir, repo, aider }
    }

    fn tasks(&self, yaml: &str) -> PathBuf {
        let path = self.dir.path().join("tasks.yaml");
        std::fs::write(&path, yaml).expect("the task file");
        path
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("results.jsonl")
    }
}

/// Runs `ollama-meta <global> aider <args>` with a clean configuration
/// environment.
async fn aider(global: &[&str], args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("OLLAMA_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_LOG", "warn").args(global).arg("aider").args(args).kill_on_drop(true);
    tokio::time::timeout(Duration::from_mins(2), cmd.output())
        .await
        .expect("the run ends")
        .expect("the binary starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One task per file, ids `t0…`, each prompt with quotes in it.
fn tasks_for(files: &[&str]) -> String {
    let mut yaml = String::from("tasks:\n");
    for (i, file) in files.iter().enumerate() {
        let _ = write!(
            yaml,
            "  - id: t{i}\n    prompt: \"change {file}, don't \\\"break\\\" it\"\n    files: [{file}]\n"
        );
    }
    yaml
}

#[tokio::test]
async fn missing_aider_bad_repositories_and_bad_tasks_exit_2() {
    let fixture = Fixture::new(&["a.py"]);
    let tasks = fixture.tasks("- id: t\n  prompt: p\n  files: [a.py]\n");
    let repo = fixture.repo.to_str().unwrap();
    let out = fixture.out();
    let out = out.to_str().unwrap();

    let run = aider(
        &[],
        &[
            tasks.to_str().unwrap(),
            "--repo",
            repo,
            "--aider-bin",
            "/nonexistent/aider",
            "--out",
            out,
        ],
    )
    .await;
    assert_eq!(run.status.code(), Some(2), "{}", text(&run.stderr));
    assert!(text(&run.stderr).contains("pipx install aider-chat"), "{}", text(&run.stderr));

    let aider_bin = fixture.aider.to_str().unwrap();
    let elsewhere = fixture.dir.path().to_str().unwrap();
    let run = aider(
        &[],
        &[tasks.to_str().unwrap(), "--repo", elsewhere, "--aider-bin", aider_bin, "--out", out],
    )
    .await;
    assert_eq!(run.status.code(), Some(2));
    assert!(text(&run.stderr).contains("is not a git repository"), "{}", text(&run.stderr));

    let run = aider(
        &[],
        &[
            tasks.to_str().unwrap(),
            "--repo",
            repo,
            "--base",
            "nope",
            "--aider-bin",
            aider_bin,
            "--out",
            out,
        ],
    )
    .await;
    assert_eq!(run.status.code(), Some(2));
    assert!(text(&run.stderr).contains("base \"nope\""), "{}", text(&run.stderr));

    let bad = fixture.tasks("- id: a/b\n  prompt: p\n  files: [../x.py]\n- id: c\n  messages: [{role: user, content: hi}]\n");
    let run = aider(
        &[],
        &[bad.to_str().unwrap(), "--repo", repo, "--aider-bin", aider_bin, "--out", out],
    )
    .await;
    assert_eq!(run.status.code(), Some(2));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("tasks.yaml:1") && stderr.contains("cannot name a worktree"),
        "{stderr}"
    );
    assert!(stderr.contains("tasks.yaml:3") && stderr.contains("climbs out"), "{stderr}");
    assert!(stderr.contains("not `messages`"), "{stderr}");
    assert_eq!(git(&fixture.repo, &["branch", "--list", "om/*"]), "", "nothing ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_run_in_parallel_on_their_branches_and_resume_skips_the_ok_ones() {
    let files = ["f0.py", "f1.py", "f2.py", "broken.py"];
    let fixture = Fixture::new(&files);
    let sim = om_sim::spawn(
        EndpointSpec::default().with_name("sim").with_load_time(Duration::from_millis(10)),
    );
    let tasks = fixture.tasks(&tasks_for(&files));
    let out = fixture.out();
    let args = [
        tasks.to_str().unwrap(),
        "--repo",
        fixture.repo.to_str().unwrap(),
        "--aider-bin",
        fixture.aider.to_str().unwrap(),
        "--concurrency",
        "4",
        "--select",
        "capable",
        "--out",
        out.to_str().unwrap(),
    ];
    let url = sim.url();
    let run = aider(&["--json", "--endpoint", &url], &args).await;
    assert_eq!(run.status.code(), Some(1), "one task fails: {}", text(&run.stderr));
    let document: Value = serde_json::from_slice(&run.stdout).expect("--json prints one document");
    assert_eq!(document["summary"]["tasks"], 4);
    assert_eq!(document["summary"]["ok"], 3);
    assert_eq!(document["summary"]["failed"], 1);
    let sessions = document["sessions"].as_array().expect("session rows");
    assert_eq!(sessions.len(), 4);
    assert_eq!(sessions[3]["status"], "error");
    assert_eq!(sessions[3]["error"], "aider_failed");

    let lines: Vec<Value> = std::fs::read_to_string(&out)
        .expect("results")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 4);
    for line in &lines {
        let id = line["id"].as_str().unwrap();
        let i: usize = id.trim_start_matches('t').parse().unwrap();
        let session = &line["session"];
        assert_eq!(session["branch"], format!("om/{id}"));
        if i < 3 {
            assert_eq!(line["status"], "ok", "{line}");
            assert_eq!(line["prompt_tokens"], 1500);
            assert_eq!(line["completion_tokens"], 42);
            assert_eq!(session["files"][0]["path"], files[i]);
            assert_eq!(session["added"], 1);
            let model = line["model"].as_str().unwrap();
            let content = git(&fixture.repo, &["show", &format!("om/{id}:{}", files[i])]);
            assert_eq!(content, format!("x = 1\n# edited-by: {model}\n"));
            let changed = git(&fixture.repo, &["diff", "--name-only", "main", &format!("om/{id}")]);
            assert_eq!(changed.trim(), files[i], "no cross-talk");
            let log = std::fs::read_to_string(session["log"].as_str().unwrap()).unwrap();
            assert!(log.contains("arg: --message=change"), "{log}");
            // Its request went through the session's gateway to the fleet,
            // which says which endpoint answered.
            assert!(log.contains("reply: "), "{log}");
            assert_eq!(line["endpoint"], url.trim_start_matches("http://"), "{line}");
            assert!(log.contains("don't \"break\" it\n"), "the message stays one argument: {log}");
        } else {
            assert_eq!(line["status"], "error");
            assert_eq!(line["error"]["kind"], "aider_failed");
            assert_eq!(session["exit_code"], 3);
            assert!(line["error"]["message"].as_str().unwrap().contains("status 3"), "{line}");
        }
    }
    assert_eq!(git(&fixture.repo, &["status", "--porcelain"]), "");

    // Resume: the three ok tasks are skipped, the broken one runs again and
    // its new line is appended.
    let run = aider(&["--json", "--endpoint", &url], &[&args[..], &["--resume"]].concat()).await;
    assert_eq!(run.status.code(), Some(1));
    assert!(text(&run.stderr).contains("resuming: 3 of 4"), "{}", text(&run.stderr));
    let after = std::fs::read_to_string(&out).unwrap();
    assert_eq!(after.lines().count(), 5);
    assert!(after.lines().last().unwrap().contains("\"id\":\"t3\""));
    sim.stop().await;
}

/// The process `pid` has ended (gone, or a zombie nobody reaped yet).
#[cfg(target_os = "linux")]
fn ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // `pid (comm) S …`: the state follows the last `)`.
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aider_processes_die_with_a_killed_run() {
    let fixture = Fixture::new(&["f0.py"]);
    let sim = om_sim::spawn(EndpointSpec::default().with_name("sim"));
    let tasks = fixture.tasks(&tasks_for(&["f0.py"]));
    let pidfile = fixture.dir.path().join("aider.pid");
    let mut run = Command::new(BIN)
        .env("RUST_LOG", "warn")
        .env("FAKE_AIDER_PIDFILE", &pidfile)
        .args(["--endpoint", &sim.url(), "aider"])
        .arg(&tasks)
        .arg("--repo")
        .arg(&fixture.repo)
        .arg("--aider-bin")
        .arg(&fixture.aider)
        .arg("--out")
        .arg(fixture.out())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let pid = tokio::time::timeout(Duration::from_mins(1), async {
        loop {
            if let Ok(text) = std::fs::read_to_string(&pidfile)
                && let Ok(pid) = text.trim().parse::<u32>()
            {
                return pid;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the session starts");
    assert!(!ended(pid), "the session runs");
    run.start_kill().expect("SIGKILL");
    run.wait().await.expect("the run is reaped");
    let gone = tokio::time::timeout(Duration::from_secs(20), async {
        while !ended(pid) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "aider (pid {pid}) outlived the run that was killed");
    sim.stop().await;
}
