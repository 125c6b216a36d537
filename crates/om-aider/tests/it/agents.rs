//! Claude Code and Codex sessions, with fake `claude` and `codex` programs
//! that check how they were called, edit a file, and print the JSON their
//! real counterparts print: the session commits their edit on its branch
//! and reads their token counts; a failed answer is `model_unreachable`;
//! a missing program says how to install it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use om_aider::{AgentKind, Mode, SessionSpec, SessionStatus, Sessions, Settings, Target};

use crate::support::{Fixture, make_executable};

/// Fake Claude Code: checks its environment and flags, edits `a.py`, and
/// prints Claude Code's `--output-format json` result. `FAKE_AGENT=error`
/// prints a failed result instead.
const FAKE_CLAUDE: &str = r##"#!/bin/sh
[ "$1" = "-p" ] || { echo "not headless: $1" >&2; exit 9; }
[ -n "$ANTHROPIC_BASE_URL" ] || { echo "no ANTHROPIC_BASE_URL" >&2; exit 9; }
echo "base: $ANTHROPIC_BASE_URL model: $ANTHROPIC_MODEL fast: $ANTHROPIC_SMALL_FAST_MODEL" >&2
for a in "$@"; do printf 'arg: %s\n' "$a" >&2; done
if [ "${FAKE_AGENT:-}" = error ]; then
  echo '{"type":"result","subtype":"error_during_execution","is_error":true,"result":"API Error: 503 no model server"}'
  exit 0
fi
echo "# edited by claude" >> a.py
echo '{"type":"result","subtype":"success","is_error":false,"result":"done","usage":{"input_tokens":321,"output_tokens":45}}'
"##;

/// Fake Codex: checks that its provider is the gateway's Responses API,
/// edits `a.py`, reads a `-` prompt from stdin, and prints `exec --json`
/// events.
const FAKE_CODEX: &str = r##"#!/bin/sh
[ "$1" = "exec" ] || { echo "not exec: $1" >&2; exit 9; }
case "$*" in *'wire_api="responses"'*) ;; *) echo "not the responses API" >&2; exit 9 ;; esac
[ -n "$OLLAMA_META_CODEX_KEY" ] || { echo "no key variable" >&2; exit 9; }
for a in "$@"; do printf 'arg: %s\n' "$a" >&2; last="$a"; done
if [ "$last" = "-" ]; then echo "stdin: $(cat | head -c 40)" >&2; fi
echo '{"type":"thread.started","thread_id":"t"}'
echo "# edited by codex" >> a.py
echo '{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":7}}'
"##;

fn script(fixture: &Fixture, name: &str, text: &str) -> PathBuf {
    let path = fixture.dir.path().join(name);
    std::fs::write(&path, text).expect("write fake agent");
    make_executable(&path);
    path
}

fn target() -> Target {
    Target {
        model: "qwen2.5-coder:7b".parse().expect("a valid model name"),
        endpoint: "gateway".into(),
        url: "http://127.0.0.1:41000".parse().expect("a valid URL"),
    }
}

async fn open(
    fixture: &Fixture,
    agent: AgentKind,
    program: &Path,
    env: &[(&str, &str)],
) -> Arc<Sessions> {
    let settings = Settings {
        agent,
        program: program.to_path_buf(),
        env: env.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        ..Settings::default()
    };
    Sessions::open(&fixture.repo, "main", settings).await.expect("sessions open")
}

#[tokio::test]
async fn claude_code_edits_on_its_branch_through_the_gateway() {
    let fixture = Fixture::new(&["a.py"]);
    let claude = script(&fixture, "claude", FAKE_CLAUDE);
    let sessions = open(&fixture, AgentKind::Claude, &claude, &[]).await;
    let spec = SessionSpec::new("claude-a", "-x: add a marker").with_file("a.py");
    let report = sessions.run(&spec, &target()).await.unwrap();
    let log = std::fs::read_to_string(&report.log).unwrap();
    assert_eq!(report.status, SessionStatus::Succeeded, "{log}");
    assert!(
        log.contains("base: http://127.0.0.1:41000 model: qwen2.5-coder:7b fast: qwen2.5-coder:7b"),
        "{log}"
    );
    assert!(log.contains("arg: -x: add a marker\n\nFiles to edit: a.py"), "{log}");
    assert_eq!((report.tokens.sent, report.tokens.received), (321, 45));
    // Claude Code does not commit; the session does, once.
    assert_eq!(report.commits.len(), 1, "{:?}", report.commits);
    assert_eq!(report.commits[0].summary, "om: claude-a");
    let on_branch = fixture.git(&["show", "om/claude-a:a.py"]);
    assert!(on_branch.ends_with("# edited by claude\n"), "{on_branch}");

    let failing = open(&fixture, AgentKind::Claude, &claude, &[("FAKE_AGENT", "error")]).await;
    let report = failing.run(&SessionSpec::new("claude-b", "x"), &target()).await.unwrap();
    assert_eq!(report.status, SessionStatus::ModelUnreachable);
    assert_eq!(report.last_api_error.as_deref(), Some("API Error: 503 no model server"));
    assert!(report.commits.is_empty());
}

#[tokio::test]
async fn codex_reads_a_long_message_on_stdin() {
    let fixture = Fixture::new(&["a.py"]);
    let codex = script(&fixture, "codex", FAKE_CODEX);
    let sessions = open(&fixture, AgentKind::Codex, &codex, &[]).await;
    let long = format!("begin {}", "x".repeat(om_aider::MAX_MESSAGE_ARG));
    let report = sessions.run(&SessionSpec::new("codex-a", long), &target()).await.unwrap();
    let log = std::fs::read_to_string(&report.log).unwrap();
    assert_eq!(report.status, SessionStatus::Succeeded, "{log}");
    assert!(
        log.contains("model_providers.ollama-meta.base_url=\"http://127.0.0.1:41000/v1\""),
        "{log}"
    );
    assert!(log.contains("stdin: begin xxx"), "{log}");
    assert_eq!((report.tokens.sent, report.tokens.received, report.replies), (100, 7, 1));
    assert_eq!(report.commits.len(), 1);
}

#[tokio::test]
async fn a_missing_agent_says_how_to_install_it() {
    let fixture = Fixture::new(&["a.py"]);
    for (agent, hint) in [
        (AgentKind::Claude, "npm install -g @anthropic-ai/claude-code"),
        (AgentKind::Codex, "npm install -g @openai/codex"),
    ] {
        let program = fixture.dir.path().join("bin").join(agent.as_str());
        let settings = Settings { agent, program, mode: Mode::Ask, ..Settings::default() };
        let err = Sessions::open(&fixture.repo, "main", settings).await.unwrap_err();
        assert!(err.is_agent_not_found(), "{err}");
        let text = err.to_string();
        assert!(text.starts_with(&format!("{agent} not found: `")), "{text}");
        assert!(text.contains(hint), "{text}");
    }
}
