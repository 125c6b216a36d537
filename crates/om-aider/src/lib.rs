//! Aider integration for ollama-meta: run many headless
//! [Aider](https://aider.chat) sessions at once over the fleet, each in its
//! own git worktree on its own branch.
//!
//! `om-aider` depends on `om-core`, `om-registry` (the measurements its
//! [`cost`] ranks by, the [`Outcome`](om_registry::Outcome) a session
//! ends with), `om-dispatch` (it is an [`Executor`](om_dispatch::Executor))
//! and `om-pool` (its sessions run on pooled [`Agent`](om_pool::Agent)s).
//!
//! - [`AiderCommand`]: the `aider` command line of one session as an
//!   argument vector and an environment (`OLLAMA_API_BASE`,
//!   `OLLAMA_API_KEY`) — never a shell string. [`Mode`] ask / code /
//!   architect, [`EditFormat`], [`Commits`], files, read-only files, extra
//!   flags, and the [`HEADLESS_FLAGS`] every session gets.
//! - [`Sessions`]: a repository opened for sessions ([`Repository`]) and the
//!   shared [`Settings`]. [`Sessions::run`] makes the worktree
//!   `<repo>/.om-worktrees/<task id>` on branch `om/<task id>` from the base
//!   commit, runs Aider there with a timeout (its whole process group is
//!   stopped on timeout or cancellation), and returns a [`SessionReport`]:
//!   status, exit code, diff stat, commits, tokens (parsed from Aider's
//!   `Tokens: … sent, … received.` lines), duration and log file. Task ids
//!   and files are confined to the repository ([`SessionName`],
//!   [`RepoPath`]); a missing Aider is [`AgentNotFound`], which says how to
//!   install it.
//! - [`Place`]: where a session's model requests go, as a [`Lease`] that
//!   ends with the session's outcome and names the endpoints that answered.
//!   om-aider routes no request itself: the binary's place gives each
//!   session a gateway of its own over the orchestrator's fleet (permits,
//!   failover, breakers, metrics, like every other request); [`Fixed`]
//!   sends every session to one server.
//! - [`Select`]: fastest, most capable or round-robin, and its [`cost`],
//!   from the registry's measurements and learned affinity, for the
//!   router's ranking of a session's model.
//! - [`AiderAgent`] and [`AiderFactory`] put sessions in an
//!   [`om_pool::Pool`]; [`AiderExecutor`] runs [`AiderTask`]s for an
//!   [`om_dispatch::Dispatcher`]. The dispatcher decides what runs next,
//!   the place where, the pool who runs it.
//!
//! ```
//! use om_aider::{AiderCommand, Commits, EditFormat, Mode};
//!
//! let command = AiderCommand::new("aider", "qwen2.5-coder:7b".parse()?)
//!     .mode(Mode::Code)
//!     .edit_format(EditFormat::Diff)
//!     .commits(Commits::Aider)
//!     .message("rename `parse` to `parse_line` in src/lib.rs")
//!     .file("src/lib.rs")
//!     .read_only("README.md")
//!     .api_base("http://127.0.0.1:11434".parse()?);
//! let args = command.args();
//! assert!(args.iter().any(|a| a == "--edit-format"));
//! assert!(args.iter().any(|a| a == "--read=README.md"));
//! assert!(args.iter().any(|a| a == "--yes-always"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Running a batch
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use om_aider::{AiderExecutor, AiderFactory, AiderTask, Fixed, SessionSpec, Sessions, Settings, Target};
//! use om_dispatch::{Dispatcher, Task};
//! use om_pool::Pool;
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let sessions = Sessions::open("/src/project".as_ref(), "main", Settings::default()).await?;
//! let pool = Pool::builder(AiderFactory::new(sessions.clone())).min(0).max(10).build()?;
//! // One server for every session: an Ollama, or `ollama-meta serve`.
//! let place = Fixed::new(Target {
//!     model: "qwen2.5-coder:7b".parse()?,
//!     endpoint: "gateway".into(),
//!     url: "http://127.0.0.1:11435".parse()?,
//! });
//! let executor = AiderExecutor::new(sessions, pool.clone(), place);
//! let (dispatcher, runner) = Dispatcher::new(executor);
//! let shutdown = CancellationToken::new();
//! let pool_worker = tokio::spawn(pool.run(shutdown.clone()));
//! let running = tokio::spawn(runner.run(shutdown.clone()));
//!
//! let spec = SessionSpec::new("fix-1", "fix the off-by-one in src/range.py").with_file("src/range.py");
//! let report = dispatcher.submit(Task::new("fix-1", AiderTask::new(spec)))?.await?;
//! println!("{}: {} files on {}", report.task, report.diff.files.len(), report.branch);
//!
//! dispatcher.shutdown(Duration::from_secs(60)).await;
//! running.await?;
//! shutdown.cancel();
//! pool_worker.await??;
//! # Ok(())
//! # }
//! ```
//!
//! # Headless needs
//!
//! Aider must be on `PATH` (or given as [`Settings::program`]); install it
//! with `pipx install aider-chat` or `python3 -m pip install aider-chat`
//! (the end-to-end tests pin aider-chat 0.86.2). Commits need a git
//! identity (`user.name`, `user.email`) in the repository or globally.
//! Aider keeps its own caches under `$HOME/.aider`. The session's chat and
//! input history go to the log folder, `<repo>/.om-worktrees/.logs/`, next
//! to `<task id>.log`, so worktrees only ever hold the task's edits.

mod agent;
mod agents;
mod command;
mod diffstat;
mod edit_format;
mod error;
mod executor;
mod git;
mod locate;
mod name;
mod output;
mod place;
mod process;
mod select;
mod session;
mod worktree;

pub use agent::{AgentTask, AiderAgent, AiderFactory};
pub use agents::{AgentCommand, AgentKind, CODEX_KEY_VAR, CODEX_PROVIDER, UnknownAgent};
pub use command::{
    AiderCommand, ApiKey, Commits, HEADLESS_FLAGS, MODEL_PREFIX, Message, Mode, UnknownCommits,
    UnknownMode, aider_model,
};
pub use diffstat::{BadNumstat, DiffStat, FileChange};
pub use edit_format::{EditFormat, UnknownEditFormat};
pub use error::{SessionError, SetupError};
pub use executor::{AiderExecutor, AiderTask, DEFAULT_CATEGORY, Progress, TaskFailure};
pub use git::{GitError, GitFailure};
pub use locate::{AgentNotFound, DEFAULT_PROGRAM, find_program};
pub use name::{InvalidName, InvalidPath, MAX_NAME_LEN, RepoPath, SessionName};
pub use output::{OutputScan, TokenLine, TokenUsage, parse_token_line};
pub use place::{Fixed, Lease, NoInstance, Place};
pub use select::{
    COLD_LOAD, PRIOR_TOKENS_PER_SEC, PRIOR_TTFT, REFERENCE_TOKENS, Select, UnknownSelect,
    capability, cost,
};
pub use session::{
    DEFAULT_TIMEOUT, MAX_MESSAGE_ARG, SessionCommand, SessionReport, SessionSpec, SessionStatus,
    Sessions, Settings, TERMINATE_GRACE, Target,
};
pub use worktree::{Commit, EXCLUDES, LOG_FOLDER, Repository, WORKTREE_FOLDER, Worktree};
