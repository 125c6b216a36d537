//! Parallel Aider sessions on a temporary repository, against a simulated
//! Ollama that answers in Aider's edit formats.
//!
//! Run with: `cargo run -p ollama-meta --example aider --features full`
//!
//! It starts om-sim in its Aider reply mode (each reply edits the file named
//! in the request by appending `# edited-by: <model>`), makes a git
//! repository with three small files in a temporary folder, and shows the
//! `aider` command line a session would run. If Aider is installed (on
//! `PATH`, or at `$OLLAMA_META_AIDER_BIN`) it then runs three sessions at
//! once through the dispatcher and the agent pool, each in its own worktree
//! on its own branch, and prints what each changed. Without Aider it says
//! how to install it and stops there (successfully).

#![allow(clippy::print_stdout, reason = "an example prints what it does")]

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ollama_meta::EndpointId;
use ollama_meta::aider::{
    AgentKind, AiderExecutor, AiderFactory, AiderTask, EditFormat, Fixed, SessionSpec, Sessions,
    Settings, Target, find_program,
};
use ollama_meta::dispatch::{Dispatcher, Task};
use ollama_meta::pool::Pool;
use ollama_meta::sim::EndpointSpec as SimSpec;
use ollama_meta::sim::reply::ReplyMode;
use tokio_util::sync::CancellationToken;

const FILES: [&str; 3] = ["greet.py", "math_utils.py", "strings.py"];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = ollama_meta::sim::spawn(
        SimSpec::default()
            .with_name("sim")
            .with_reply(ReplyMode::Aider)
            .with_tokens_per_sec(2000.0)
            .with_ttft(Duration::from_millis(5))
            .with_load_time(Duration::from_millis(20))
            .with_num_parallel(8),
    );
    println!("SIMULATED Ollama (Aider reply mode) at {}", sim.url());

    let dir = tempfile::tempdir()?;
    let repo = dir.path().join("repo");
    make_repository(&repo)?;
    println!("repository: {}", repo.display());

    // The command line of one session: an argument vector, never a shell
    // string, and the endpoint in the environment.
    let model = "qwen2.5-coder:7b".parse()?;
    let program = std::env::var_os("OLLAMA_META_AIDER_BIN")
        .map_or_else(|| PathBuf::from("aider"), PathBuf::from);
    let preview = ollama_meta::aider::AiderCommand::new(&program, model)
        .edit_format(EditFormat::Diff)
        .message("append a marker line to greet.py")
        .file("greet.py")
        .api_base(sim.url().parse()?);
    println!("\na session runs:\n  {}", program.display());
    for arg in preview.args() {
        println!("    {}", arg.to_string_lossy());
    }
    for (key, value) in preview.envs() {
        println!("  with {key}={}", value.to_string_lossy());
    }

    let program = match find_program(AgentKind::Aider, &program) {
        Ok(program) => program,
        Err(missing) => {
            println!("\n{missing}");
            println!("(the command builder works without it; install Aider to run the sessions)");
            sim.stop().await;
            return Ok(());
        }
    };

    // Every session talks to the simulator. `ollama-meta aider` places
    // sessions on a whole fleet instead, through a gateway per session.
    let place = Fixed::new(Target {
        model: "qwen2.5-coder:7b".parse()?,
        endpoint: EndpointId::new("sim"),
        url: sim.url().parse()?,
    });

    let settings = Settings {
        program,
        // Faster for tiny repositories; any Aider flag can go here.
        extra_args: vec!["--map-tokens".into(), "0".into()],
        timeout: Duration::from_mins(5),
        ..Settings::default()
    };
    let sessions = Sessions::open(&repo, "HEAD", settings).await?;
    let pool = Pool::builder(AiderFactory::new(sessions.clone())).min(0).max(3).build()?;
    let executor = AiderExecutor::new(sessions.clone(), pool.clone(), place);
    let (dispatcher, runner) =
        Dispatcher::builder(executor).workers(NonZeroUsize::new(3).ok_or("zero")?).build();
    let shutdown = CancellationToken::new();
    let pool_worker = tokio::spawn(pool.run(shutdown.clone()));
    let running = tokio::spawn(runner.run(shutdown.clone()));

    let handles = dispatcher.submit_batch(FILES.iter().enumerate().map(|(i, file)| {
        let spec =
            SessionSpec::new(format!("edit-{i}"), format!("Append a marker line to {file}."))
                .with_file(*file);
        Task::new(format!("edit-{i}"), AiderTask::new(spec))
    }))?;
    println!("\nrunning {} Aider sessions in parallel…", handles.len());
    for handle in handles {
        match handle.await {
            Ok(report) => println!(
                "{:<8} {} on {}@{}: {} file(s) +{}/-{}, {} commit(s), {} tokens, {:.1?}",
                report.task,
                report.branch,
                report.model,
                report.endpoint,
                report.diff.files.len(),
                report.diff.added(),
                report.diff.deleted(),
                report.commits.len(),
                report.tokens.total(),
                report.duration
            ),
            Err(err) => println!("a session failed: {err:?}"),
        }
    }
    let branch = git(&repo, &["show", "om/edit-0:greet.py"])?;
    println!("\nom/edit-0:greet.py now ends with: {}", branch.lines().last().unwrap_or_default());

    dispatcher.shutdown(Duration::from_secs(30)).await;
    running.await?;
    shutdown.cancel();
    pool_worker.await??;
    sim.stop().await;
    Ok(())
}

/// A repository with a committed file per entry of [`FILES`].
fn make_repository(repo: &Path) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(repo)?;
    git(repo, &["init", "--quiet", "--initial-branch=main"])?;
    git(repo, &["config", "user.name", "ollama-meta example"])?;
    git(repo, &["config", "user.email", "example@ollama-meta.invalid"])?;
    for file in FILES {
        let name = file.trim_end_matches(".py");
        std::fs::write(repo.join(file), format!("def {name}():\n    return {name:?}\n"))?;
    }
    git(repo, &["add", "--all"])?;
    git(repo, &["commit", "--quiet", "--message", "three small files"])?;
    Ok(())
}

fn git(dir: &Path, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let out = Command::new("git").args(args).current_dir(dir).output()?;
    if !out.status.success() {
        return Err(format!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
