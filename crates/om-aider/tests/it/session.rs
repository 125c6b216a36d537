//! Session lifecycle against a temporary git repository and a fake Aider:
//! worktree, branch, commits, diff stat, tokens, log, cleanup, timeouts,
//! failures and confinement.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use om_aider::{
    Commits, SessionError, SessionReport, SessionSpec, SessionStatus, Sessions, Settings,
    SetupError, Target, TokenUsage,
};

use crate::support::{Fixture, git};

fn target() -> Target {
    Target {
        model: "qwen2.5-coder:7b".parse().expect("a valid model name"),
        endpoint: "gpu".into(),
        url: "http://127.0.0.1:11434".parse().expect("a valid URL"),
    }
}

async fn open(fixture: &Fixture, settings: Settings) -> Arc<Sessions> {
    let settings = Settings { program: fixture.aider.clone(), ..settings };
    Sessions::open(&fixture.repo, "main", settings).await.expect("sessions open")
}

fn log_of(report: &SessionReport) -> String {
    std::fs::read_to_string(&report.log).expect("log readable")
}

#[tokio::test]
async fn a_session_edits_its_file_on_its_branch_and_cleans_up() {
    let fixture = Fixture::new(&["a.py", "b.py"]);
    let sessions = open(&fixture, Settings::default()).await;
    let spec = SessionSpec::new("fix-a", "append a \"marker\" to a.py, don't touch b.py")
        .with_file("a.py");
    let report = sessions.run(&spec, &target()).await.unwrap();

    assert_eq!(report.status, SessionStatus::Succeeded);
    assert_eq!(report.exit_code, Some(0));
    assert_eq!(report.branch, "om/fix-a");
    assert_eq!(report.tokens, TokenUsage { sent: 1205, received: 40 });
    assert_eq!(report.replies, 2);
    assert_eq!(report.commits.len(), 1);
    assert_eq!(report.commits[0].summary, "fake aider: edit");
    assert_eq!(report.diff.files.len(), 1);
    assert_eq!(report.diff.files[0].path, Path::new("a.py"));
    assert_eq!((report.diff.added(), report.diff.deleted()), (1, 0));
    assert!(report.changed());
    assert_eq!(report.model.to_string(), "qwen2.5-coder:7b");
    assert_eq!(report.endpoint.as_str(), "gpu");

    // The worktree is gone, the branch holds the edit, main is untouched
    // and clean (the worktree folder is excluded).
    assert!(!report.worktree_kept);
    assert!(!report.worktree.exists());
    let on_branch = fixture.git(&["show", "om/fix-a:a.py"]);
    assert!(on_branch.ends_with("# edited-by: qwen2.5-coder:7b\n"), "{on_branch}");
    assert!(!std::fs::read_to_string(fixture.repo.join("a.py")).unwrap().contains("edited-by"));
    assert_eq!(fixture.git(&["status", "--porcelain"]), "");
    assert_eq!(fixture.git(&["rev-parse", "main"]).trim(), report.base_commit);
    assert!(fixture.git(&["worktree", "list"]).lines().count() == 1);

    // The log has Aider's output: the message as one argument, the endpoint.
    let log = log_of(&report);
    assert!(
        log.contains("arg: --message=append a \"marker\" to a.py, don't touch b.py\n"),
        "{log}"
    );
    assert!(log.contains("api base: http://127.0.0.1:11434\n"), "{log}");
    assert!(log.contains("api key: none\n"), "{log}");
    assert!(report.log.starts_with(fixture.repo.join(".om-worktrees/.logs")));
    let exclude = std::fs::read_to_string(fixture.repo.join(".git/info/exclude")).unwrap();
    assert!(exclude.contains("/.om-worktrees/"));
}

#[tokio::test]
async fn a_rerun_never_resets_work_it_would_lose() {
    let fixture = Fixture::new(&["a.py"]);
    let sessions = open(&fixture, Settings { keep: true, ..Settings::default() }).await;
    let spec = SessionSpec::new("t1", "edit").with_file("a.py");
    let first = sessions.run(&spec, &target()).await.unwrap();
    assert!(first.worktree_kept);
    assert!(first.worktree.join("a.py").exists());
    assert_eq!(first.worktree, fixture.repo.join(".om-worktrees").join("t1"));

    // The same task again: its branch has a commit main does not, so it is
    // left alone.
    let err = sessions.run(&spec, &target()).await.unwrap_err();
    assert!(matches!(err, SessionError::UnmergedBranch { commits: 1, .. }), "{err}");
    assert_eq!(err.kind_name(), "unmerged_branch");
    assert!(err.to_string().contains("git branch -D om/t1"), "{err}");
    assert_eq!(fixture.git(&["show", "om/t1:a.py"]).matches("edited-by").count(), 1);

    // Merged, the branch holds nothing to lose; but a process still working
    // in the old worktree keeps it from being touched.
    fixture.git(&["merge", "--quiet", "--ff-only", "om/t1"]);
    let mut squatter = std::process::Command::new("sleep")
        .arg("60")
        .current_dir(&first.worktree)
        .spawn()
        .expect("sleep starts");
    let err = sessions.run(&spec, &target()).await.unwrap_err();
    let SessionError::WorktreeInUse { pids, .. } = &err else { panic!("{err}") };
    assert_eq!(pids, &[squatter.id()]);
    squatter.kill().unwrap();
    squatter.wait().unwrap();

    // Then a rerun starts over from the base: one edit on the branch, not two.
    let second = sessions.run(&spec, &target()).await.unwrap();
    assert_eq!(second.commits.len(), 1);
    let content = fixture.git(&["show", "om/t1:a.py"]);
    assert_eq!(content.matches("edited-by").count(), 1, "{content}");
}

#[tokio::test]
async fn the_session_can_commit_or_leave_changes_uncommitted() {
    let fixture = Fixture::new(&["a.py", "b.py"]);
    let sessions =
        open(&fixture, Settings { commits: Commits::Session, ..Settings::default() }).await;
    let report = sessions
        .run(
            &SessionSpec::new("squash", "edit both").with_file("a.py").with_file("b.py"),
            &target(),
        )
        .await
        .unwrap();
    assert_eq!(
        report.commits.iter().map(|c| c.summary.as_str()).collect::<Vec<_>>(),
        ["om: squash"]
    );
    assert_eq!(report.diff.files.len(), 2);
    assert!(!report.worktree_kept);
    assert!(log_of(&report).contains("arg: --no-auto-commits\n"));

    let sessions = open(&fixture, Settings { commits: Commits::Off, ..Settings::default() }).await;
    let report = sessions
        .run(&SessionSpec::new("loose", "edit").with_file("b.py"), &target())
        .await
        .unwrap();
    assert!(report.commits.is_empty());
    assert_eq!(report.diff.files.len(), 1, "uncommitted changes count");
    assert!(report.worktree_kept, "uncommitted work is never deleted");
    assert!(std::fs::read_to_string(report.worktree.join("b.py")).unwrap().contains("edited-by"));
}

#[tokio::test]
async fn a_hanging_aider_is_stopped_at_the_timeout() {
    let fixture = Fixture::new(&["a.py"]);
    let settings = Settings {
        timeout: Duration::from_millis(300),
        env: vec![("FAKE_AIDER".into(), "sleep".into())],
        ..Settings::default()
    };
    let sessions = open(&fixture, settings).await;
    let started = std::time::Instant::now();
    let report =
        sessions.run(&SessionSpec::new("slow", "edit").with_file("a.py"), &target()).await.unwrap();
    assert_eq!(report.status, SessionStatus::TimedOut);
    assert!(!report.status.is_success());
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert!(!report.changed());

    // A task's own timeout wins over the settings'.
    let settings = Settings {
        timeout: Duration::from_hours(1),
        env: vec![("FAKE_AIDER".into(), "sleep".into())],
        ..Settings::default()
    };
    let sessions = open(&fixture, settings).await;
    let mut spec = SessionSpec::new("slow2", "edit").with_file("a.py");
    spec.timeout = Some(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let report = sessions.run(&spec, &target()).await.unwrap();
    assert_eq!(report.status, SessionStatus::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn failures_are_reports_with_a_status() {
    let fixture = Fixture::new(&["a.py"]);
    let failing =
        Settings { env: vec![("FAKE_AIDER".into(), "fail".into())], ..Settings::default() };
    let report = open(&fixture, failing)
        .await
        .run(&SessionSpec::new("f", "x").with_file("a.py"), &target())
        .await
        .unwrap();
    assert_eq!(report.status, SessionStatus::Exited { code: Some(3) });
    assert_eq!(report.status.as_str(), "aider_failed");
    assert!(log_of(&report).contains("something broke"));

    let unreachable =
        Settings { env: vec![("FAKE_AIDER".into(), "unreachable".into())], ..Settings::default() };
    let report = open(&fixture, unreachable)
        .await
        .run(&SessionSpec::new("u", "x").with_file("a.py"), &target())
        .await
        .unwrap();
    assert_eq!(report.status, SessionStatus::ModelUnreachable);
    assert_eq!(report.api_errors, 2);
    assert_eq!(report.exit_code, Some(0));
    let outcome = report.outcome(om_aider::Mode::Code, None);
    assert!(outcome.verdict.is_fault());
}

#[tokio::test]
async fn ids_and_files_that_would_escape_are_refused_before_anything_runs() {
    let fixture = Fixture::new(&["a.py"]);
    let sessions = open(&fixture, Settings::default()).await;
    for id in ["../escape", "a/b", "..", ".git", "-rf", "x y"] {
        let err = sessions.run(&SessionSpec::new(id, "x"), &target()).await.unwrap_err();
        assert!(matches!(err, SessionError::InvalidName(_)), "{id}: {err}");
        assert!(err.is_invalid_task());
        assert_eq!(err.kind_name(), "invalid_task");
    }
    for file in ["../outside.py", "/etc/passwd", "a/../../b.py"] {
        let err = sessions
            .run(&SessionSpec::new("ok", "x").with_file(file), &target())
            .await
            .unwrap_err();
        assert!(matches!(err, SessionError::InvalidPath(_)), "{file}: {err}");
        let err = sessions
            .run(&SessionSpec::new("ok", "x").with_read_only(file), &target())
            .await
            .unwrap_err();
        assert!(matches!(err, SessionError::InvalidPath(_)), "{file}: {err}");
    }
    assert!(!fixture.dir.path().join("escape").exists());
    assert_eq!(fixture.git(&["branch", "--list", "om/*"]), "", "no branch was made");
}

#[tokio::test]
async fn missing_aider_and_bad_repositories_are_typed_setup_errors() {
    let fixture = Fixture::new(&["a.py"]);
    let settings = Settings { program: "definitely-not-aider-xyz".into(), ..Settings::default() };
    let err = Sessions::open(&fixture.repo, "main", settings).await.unwrap_err();
    assert!(err.is_agent_not_found(), "{err}");
    assert!(err.to_string().contains("pip install aider-chat"), "{err}");

    let settings = Settings { program: fixture.aider.clone(), ..Settings::default() };
    let err = Sessions::open(fixture.dir.path(), "main", settings.clone()).await.unwrap_err();
    assert!(err.is_not_a_repository(), "{err}");
    let err = Sessions::open(&fixture.repo, "no-such-branch", settings).await.unwrap_err();
    assert!(matches!(err, SetupError::BadBase { .. }), "{err}");
}

#[tokio::test]
async fn a_long_message_goes_through_a_file() {
    let fixture = Fixture::new(&["a.py"]);
    let sessions = open(&fixture, Settings::default()).await;
    let message = "x".repeat(om_aider::MAX_MESSAGE_ARG + 1);
    let report = sessions
        .run(&SessionSpec::new("long", message.clone()).with_file("a.py"), &target())
        .await
        .unwrap();
    let log = log_of(&report);
    let file = fixture.repo.join(".om-worktrees/.logs/long.message.md");
    assert!(log.contains(&format!("arg: --message-file={}\n", file.display())), "{log}");
    assert_eq!(std::fs::read_to_string(file).unwrap(), message);
}

/// Ten sessions at once: ten worktrees, ten branches, each changing exactly
/// its own file, nothing of one in another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_sessions_do_not_cross_talk() {
    let files: Vec<String> = (0..10).map(|i| format!("f{i}.py")).collect();
    let names: Vec<&str> = files.iter().map(String::as_str).collect();
    let fixture = Fixture::new(&names);
    let sessions = open(&fixture, Settings::default()).await;
    let mut set = tokio::task::JoinSet::new();
    for (i, file) in files.iter().enumerate() {
        let sessions = Arc::clone(&sessions);
        let spec =
            SessionSpec::new(format!("task-{i}"), format!("edit {file}")).with_file(file.clone());
        set.spawn(async move { sessions.run(&spec, &target()).await });
    }
    let mut reports = Vec::new();
    while let Some(joined) = set.join_next().await {
        reports.push(joined.unwrap().unwrap());
    }
    assert_eq!(reports.len(), 10);
    for report in &reports {
        let i: usize = report.task.as_str().trim_start_matches("task-").parse().unwrap();
        assert_eq!(report.status, SessionStatus::Succeeded);
        assert_eq!(report.diff.files.len(), 1, "{report:?}");
        assert_eq!(report.diff.files[0].path, Path::new(&files[i]));
        let changed = git(&fixture.repo, &["diff", "--name-only", "main", &report.branch]);
        assert_eq!(changed.trim(), files[i]);
    }
    let branches = fixture.git(&["branch", "--list", "om/*"]);
    assert_eq!(branches.lines().count(), 10, "{branches}");
    assert_eq!(fixture.git(&["worktree", "list"]).lines().count(), 1, "all removed");
}
