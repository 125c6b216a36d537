//! Headless Aider sessions: one task, one worktree, one `aider` process,
//! one [`SessionReport`].

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use om_core::{EndpointId, EndpointUrl, ErrorKind, ModelName, TaskCategory, TaskId, TimeoutPhase};
use om_registry::{Outcome, Verdict};
use tokio::time::Instant;

use crate::agents::{AgentCommand, AgentKind};
use crate::command::{AiderCommand, ApiKey, Commits, Mode};
use crate::diffstat::DiffStat;
use crate::edit_format::EditFormat;
use crate::error::{SessionError, SetupError};
use crate::git::GIT_LOCATION_VARS;
use crate::locate::{AgentNotFound, DEFAULT_PROGRAM, find_program};
use crate::name::{RepoPath, SessionName};
use crate::output::{OutputScan, TokenUsage};
use crate::process::Running;
use crate::worktree::{Commit, Repository, Worktree};

/// How long a session may run, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_mins(30);

/// How long Aider gets to stop after SIGTERM before it is killed.
pub const TERMINATE_GRACE: Duration = Duration::from_secs(3);

/// Messages longer than this go to Aider in a file (`--message-file`)
/// rather than on the command line, well under Linux's 128 KiB limit for
/// one argument.
pub const MAX_MESSAGE_ARG: usize = 32 * 1024;

/// Settings shared by every session of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The coding agent every session runs.
    pub agent: AgentKind,
    /// The agent's executable: a bare name is looked up on `PATH`; the
    /// default, `aider`, means the agent's own name for another agent.
    pub program: PathBuf,
    /// Code, ask or architect.
    pub mode: Mode,
    /// The edit format (the editor's in architect mode), or Aider's default
    /// for the model.
    pub edit_format: Option<EditFormat>,
    /// The editor model of architect mode (default: the session's model).
    pub editor_model: Option<ModelName>,
    /// The model for commit messages and summaries (default: Aider's choice).
    pub weak_model: Option<ModelName>,
    /// Who commits.
    pub commits: Commits,
    /// Extra arguments for every session, after the built-in flags.
    pub extra_args: Vec<OsString>,
    /// How long a session may run before its process group is stopped.
    pub timeout: Duration,
    /// Keep worktrees after their session (they are always kept when they
    /// hold uncommitted changes).
    pub keep: bool,
    /// `OLLAMA_API_KEY` for Aider, when the endpoint wants one.
    pub api_key: Option<ApiKey>,
    /// Extra environment variables for Aider.
    pub env: Vec<(OsString, OsString)>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            agent: AgentKind::Aider,
            program: PathBuf::from(DEFAULT_PROGRAM),
            mode: Mode::Code,
            edit_format: None,
            editor_model: None,
            weak_model: None,
            commits: Commits::Aider,
            extra_args: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            keep: false,
            api_key: None,
            env: Vec::new(),
        }
    }
}

/// One task for Aider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSpec {
    /// The task id: names the worktree, the branch `om/<id>` and the logs.
    pub id: TaskId,
    /// What to ask.
    pub message: String,
    /// Files to add to the chat, relative to the repository root.
    pub files: Vec<PathBuf>,
    /// Read-only files (`--read`), relative to the repository root.
    pub read_only: Vec<PathBuf>,
    /// This task's timeout, instead of [`Settings::timeout`].
    pub timeout: Option<Duration>,
}

impl SessionSpec {
    /// A task with a message and no files.
    pub fn new(id: impl Into<TaskId>, message: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            message: message.into(),
            files: Vec::new(),
            read_only: Vec::new(),
            timeout: None,
        }
    }

    /// The same task with `path` added to the chat.
    #[must_use]
    pub fn with_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.push(path.into());
        self
    }

    /// The same task with `path` read-only.
    #[must_use]
    pub fn with_read_only(mut self, path: impl Into<PathBuf>) -> Self {
        self.read_only.push(path.into());
        self
    }
}

/// Where a session's model runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The model Aider is told to use (as `ollama_chat/<model>`).
    pub model: ModelName,
    /// Where it runs: an endpoint's name, or a name for the fleet behind a
    /// gateway.
    pub endpoint: EndpointId,
    /// The endpoint's URL (or the gateway's): Aider's `OLLAMA_API_BASE`.
    pub url: EndpointUrl,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// Aider exited 0 and the model answered.
    Succeeded,
    /// Aider exited unsuccessfully (`code` is `None` when a signal ended it).
    Exited {
        /// The exit code.
        code: Option<i32>,
    },
    /// The session ran past its timeout and was stopped.
    TimedOut,
    /// Aider exited 0 but every model call failed (it printed only
    /// `litellm.…Error` lines).
    ModelUnreachable,
}

impl SessionStatus {
    /// True for [`SessionStatus::Succeeded`].
    pub fn is_success(self) -> bool {
        self == Self::Succeeded
    }

    /// `ok`, `aider_failed`, `timeout` or `model_unreachable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "ok",
            Self::Exited { .. } => "aider_failed",
            Self::TimedOut => "timeout",
            Self::ModelUnreachable => "model_unreachable",
        }
    }
}

impl std::fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exited { code: Some(code) } => write!(f, "the agent exited with status {code}"),
            Self::Exited { code: None } => f.write_str("the agent was killed by a signal"),
            Self::TimedOut => f.write_str("timed out"),
            Self::ModelUnreachable => f.write_str("the model never answered"),
            Self::Succeeded => f.write_str("ok"),
        }
    }
}

/// What one session did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionReport {
    /// The task's id (its `SessionSpec::id`).
    pub task: TaskId,
    /// How it ended.
    pub status: SessionStatus,
    /// Aider's exit code (`None` when killed by a signal).
    pub exit_code: Option<i32>,
    /// The session's branch, `om/<task id>`.
    pub branch: String,
    /// The commit the branch started from.
    pub base_commit: String,
    /// The worktree folder.
    pub worktree: PathBuf,
    /// True when the worktree still exists (kept on request, or because it
    /// holds uncommitted changes).
    pub worktree_kept: bool,
    /// The model the session used (its [`Target::model`]).
    pub model: ModelName,
    /// Where it ran, as its [`Target`] named it.
    pub endpoint: EndpointId,
    /// The endpoints that answered the session's model requests, when the
    /// executor's [`Place`](crate::Place) knows them (empty from
    /// [`Sessions::run`] alone).
    pub served_by: Vec<EndpointId>,
    /// The files changed since the base commit, committed or not.
    pub diff: DiffStat,
    /// The commits on the branch, oldest first.
    pub commits: Vec<Commit>,
    /// Tokens, from Aider's usage lines.
    pub tokens: TokenUsage,
    /// Model replies (usage lines).
    pub replies: u32,
    /// Model API errors Aider printed.
    pub api_errors: u32,
    /// The last of them.
    pub last_api_error: Option<String>,
    /// From making the worktree to the end of the report.
    pub duration: Duration,
    /// Aider's output (stdout and stderr).
    pub log: PathBuf,
}

impl SessionReport {
    /// True when the session changed a file.
    pub fn changed(&self) -> bool {
        !self.diff.is_empty()
    }

    /// The outcome a session hands to its place's
    /// [`Lease::end`](crate::Lease::end): a success (quality 1 when a code session changed files or an ask
    /// session answered, 0 when a code session changed nothing); a fault
    /// when the model never answered (or the session timed out without an
    /// answer); neutral when Aider itself failed. A whole session is many
    /// requests, so no latency is recorded; the binary's place adds only
    /// its reward to the model's learned affinity for the category.
    pub fn outcome(&self, mode: Mode, category: Option<TaskCategory>) -> Outcome {
        let mut outcome = match self.status {
            SessionStatus::Succeeded => {
                let quality = if !mode.edits() || self.changed() { 1.0 } else { 0.0 };
                let mut outcome = Outcome::success();
                outcome.quality = Some(quality);
                outcome.tokens = Some(self.tokens.received);
                outcome
            }
            SessionStatus::ModelUnreachable => Outcome::new(Verdict::Fault(ErrorKind::Connect)),
            SessionStatus::TimedOut if self.replies == 0 => {
                Outcome::new(Verdict::Fault(ErrorKind::Timeout(TimeoutPhase::Total)))
            }
            SessionStatus::TimedOut | SessionStatus::Exited { .. } => {
                Outcome::new(Verdict::Neutral(ErrorKind::Internal))
            }
        };
        outcome.category = category;
        outcome
    }
}

/// Runs sessions on one repository: the validated [`Settings`] and the
/// opened [`Repository`]. Shared (`Arc`) by every agent of a pool.
#[derive(Debug)]
pub struct Sessions {
    settings: Settings,
    repository: Repository,
}

impl Sessions {
    /// Finds Aider (the settings' program, on `PATH` when it is a bare
    /// name) and opens the repository at `repo` with `base` as the base ref.
    ///
    /// # Errors
    ///
    /// [`SetupError::AgentNotFound`] (with how to install it), or the
    /// repository's errors ([`Repository::open`]).
    pub async fn open(
        repo: &Path,
        base: &str,
        mut settings: Settings,
    ) -> Result<Arc<Self>, SetupError> {
        if settings.agent != AgentKind::Aider && settings.program == Path::new(DEFAULT_PROGRAM) {
            settings.program = PathBuf::from(settings.agent.default_program());
        }
        settings.program = find_program(settings.agent, &settings.program)?;
        let repository = Repository::open(repo, base).await?;
        Ok(Arc::new(Self { settings, repository }))
    }

    /// The settings (the program resolved to a path).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The repository.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// The command line a session of `spec` on `target` would run, with
    /// its history files in the log folder.
    ///
    /// # Errors
    ///
    /// [`SessionError::InvalidName`] or [`SessionError::InvalidPath`] when
    /// the task's id or files cannot be confined to the repository.
    pub fn command(
        &self,
        spec: &SessionSpec,
        target: &Target,
    ) -> Result<SessionCommand, SessionError> {
        let name = SessionName::new(&spec.id)?;
        let files = confine(&spec.files)?;
        let read_only = confine(&spec.read_only)?;
        let s = &self.settings;
        let logs = self.repository.log_folder();
        let long = spec.message.len() > MAX_MESSAGE_ARG || spec.message.contains('\0');
        if s.agent != AgentKind::Aider {
            let mut command = match s.agent {
                AgentKind::Claude => AgentCommand::claude(&s.program, target.model.clone()),
                _ => AgentCommand::codex(&s.program, target.model.clone()),
            }
            .mode(s.mode)
            .base(target.url.clone());
            command = if long {
                command.message_file(message_file(logs, &name))
            } else {
                // The agents find files themselves; name the ones the task
                // lists so the model starts from them.
                command.message(with_files(&spec.message, &files, &read_only))
            };
            if let Some(key) = &s.api_key {
                command = command.api_key(key.clone());
            }
            return Ok(SessionCommand::Agent(command.args_extra(s.extra_args.iter().cloned())));
        }
        let mut command = AiderCommand::new(&s.program, target.model.clone())
            .mode(s.mode)
            .commits(s.commits)
            .chat_history_file(logs.join(format!("{name}.chat.md")))
            .input_history_file(logs.join(format!("{name}.input.history")))
            .api_base(target.url.clone())
            .files(files);
        if long {
            command = command.message_file(message_file(logs, &name));
        } else {
            command = command.message(spec.message.clone());
        }
        for path in read_only {
            command = command.read_only(path);
        }
        if let Some(format) = s.edit_format {
            command = command.edit_format(format);
        }
        if let Some(model) = &s.editor_model {
            command = command.editor_model(model.clone());
        }
        if let Some(model) = &s.weak_model {
            command = command.weak_model(model.clone());
        }
        if let Some(key) = &s.api_key {
            command = command.api_key(key.clone());
        }
        Ok(SessionCommand::Aider(command.args_extra(s.extra_args.iter().cloned())))
    }

    /// Runs one session: makes the worktree, runs Aider there headless until
    /// it exits or the timeout, commits if the settings say the session
    /// commits, reads the result, and removes the worktree unless it is
    /// kept.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the session could not run (invalid task, Aider
    /// missing, git failing, log not writable). A session that ran and
    /// failed is a report with a failed [`status`](SessionReport::status).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops Aider's whole process group at once; the
    /// worktree is left for inspection and replaced by the next session of
    /// the same task.
    #[tracing::instrument(skip_all, fields(task = %spec.id, model = %target.model, endpoint = %target.endpoint))]
    pub async fn run(
        &self,
        spec: &SessionSpec,
        target: &Target,
    ) -> Result<SessionReport, SessionError> {
        let started = Instant::now();
        let command = self.command(spec, target)?;
        let name = SessionName::new(&spec.id)?;
        let logs = self.repository.log_folder();
        let log = logs.join(format!("{name}.log"));
        for stale in [format!("{name}.chat.md"), format!("{name}.input.history")] {
            remove_if_exists(&logs.join(stale)).await?;
        }
        if spec.message.len() > MAX_MESSAGE_ARG || spec.message.contains('\0') {
            let path = message_file(logs, &name);
            tokio::fs::write(&path, &spec.message)
                .await
                .map_err(|source| SessionError::Io { path, source })?;
        }
        let worktree = self.repository.add(&name).await?;
        let timeout = spec.timeout.unwrap_or(self.settings.timeout);
        let (status, exit_code) = self.run_aider(&command, &worktree, &log, timeout).await?;
        let text = tokio::fs::read(&log)
            .await
            .map_err(|source| SessionError::Io { path: log.clone(), source })?;
        let text = String::from_utf8_lossy(&text);
        let scan = match self.settings.agent {
            AgentKind::Aider => OutputScan::scan(&text),
            AgentKind::Claude | AgentKind::Codex => OutputScan::scan_json(&text),
        };
        let status = match status {
            SessionStatus::Succeeded if scan.model_unreachable() => SessionStatus::ModelUnreachable,
            other => other,
        };
        // Only Aider commits its own edits; another agent's are committed
        // once at the end unless commits are off.
        let session_commits = match self.settings.commits {
            Commits::Session => true,
            Commits::Aider => !self.settings.agent.commits_itself(),
            Commits::Off => false,
        };
        if status.is_success() && session_commits {
            worktree.commit_all(&format!("om: {}", spec.id)).await?;
        }
        let commits = worktree.commits().await?;
        // Before the diffstat, which marks untracked files intent-to-add.
        let dirty = worktree.is_dirty().await?;
        let diff = worktree.diffstat().await?;
        let worktree_kept =
            self.settings.keep || dirty || self.repository.remove(&worktree).await.is_err();
        tracing::debug!(
            status = status.as_str(),
            files = diff.files.len(),
            commits = commits.len(),
            "session ended"
        );
        Ok(SessionReport {
            task: spec.id.clone(),
            status,
            exit_code,
            branch: worktree.branch.clone(),
            base_commit: worktree.base_commit.clone(),
            worktree: worktree.path.clone(),
            worktree_kept,
            model: target.model.clone(),
            endpoint: target.endpoint.clone(),
            served_by: Vec::new(),
            diff,
            commits,
            tokens: scan.tokens,
            replies: scan.replies,
            api_errors: scan.api_errors,
            last_api_error: scan.last_api_error,
            duration: started.elapsed(),
            log,
        })
    }

    /// Runs the agent's process in the worktree with its output in `log`.
    async fn run_aider(
        &self,
        command: &SessionCommand,
        worktree: &Worktree,
        log: &Path,
        timeout: Duration,
    ) -> Result<(SessionStatus, Option<i32>), SessionError> {
        let io = |source| SessionError::Io { path: log.to_path_buf(), source };
        let out = tokio::fs::File::create(log).await.map_err(io)?.into_std().await;
        let err = out.try_clone().map_err(io)?;
        let stdin = match command.stdin_file() {
            Some(path) => Stdio::from(
                std::fs::File::open(path)
                    .map_err(|source| SessionError::Io { path: path.to_path_buf(), source })?,
            ),
            None => Stdio::null(),
        };
        let mut process = command.command();
        process
            .current_dir(&worktree.path)
            .stdin(stdin)
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .envs(self.settings.env.iter().map(|(k, v)| (k, v)));
        for var in GIT_LOCATION_VARS {
            process.env_remove(var);
        }
        let program = command.program().to_path_buf();
        let mut running = Running::spawn(process).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                SessionError::AgentNotFound(AgentNotFound {
                    agent: self.settings.agent,
                    program: program.clone(),
                    searched_path: false,
                })
            } else {
                SessionError::Spawn { program: program.clone(), source }
            }
        })?;
        let spawn_error = |source| SessionError::Spawn { program: program.clone(), source };
        let (status, timed_out) = tokio::select! {
            status = running.wait() => (status.map_err(spawn_error)?, false),
            () = tokio::time::sleep(timeout) => {
                (running.terminate(TERMINATE_GRACE).await.map_err(spawn_error)?, true)
            }
        };
        let code = status.code();
        let status = if timed_out {
            SessionStatus::TimedOut
        } else if status.success() {
            SessionStatus::Succeeded
        } else {
            SessionStatus::Exited { code }
        };
        Ok((status, code))
    }
}

/// The command line of one session: Aider's, or another agent's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(clippy::large_enum_variant, reason = "one per session, made once before it runs")]
pub enum SessionCommand {
    /// Aider.
    Aider(AiderCommand),
    /// Claude Code or Codex.
    Agent(AgentCommand),
}

impl SessionCommand {
    /// The program.
    pub fn program(&self) -> &Path {
        match self {
            Self::Aider(command) => command.program(),
            Self::Agent(command) => command.program(),
        }
    }

    /// The arguments.
    pub fn args(&self) -> Vec<OsString> {
        match self {
            Self::Aider(command) => command.args(),
            Self::Agent(command) => command.args(),
        }
    }

    /// The file to give on standard input (another agent's long message).
    pub fn stdin_file(&self) -> Option<&Path> {
        match self {
            Self::Aider(_) => None,
            Self::Agent(command) => command.stdin_file(),
        }
    }

    /// The process to start, without working directory and stdio.
    pub fn command(&self) -> tokio::process::Command {
        match self {
            Self::Aider(command) => command.command(),
            Self::Agent(command) => command.command(),
        }
    }
}

/// The message with the task's files named after it.
fn with_files(message: &str, files: &[PathBuf], read_only: &[PathBuf]) -> String {
    let list = |paths: &[PathBuf]| {
        paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    };
    let mut text = message.to_owned();
    if !files.is_empty() {
        text.push_str("\n\nFiles to edit: ");
        text.push_str(&list(files));
    }
    if !read_only.is_empty() {
        text.push_str("\nFiles to read (do not edit): ");
        text.push_str(&list(read_only));
    }
    text
}

fn confine(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SessionError> {
    paths.iter().map(|p| Ok(RepoPath::new(p)?.as_path().to_path_buf())).collect()
}

fn message_file(logs: &Path, name: &SessionName) -> PathBuf {
    logs.join(format!("{name}.message.md"))
}

async fn remove_if_exists(path: &Path) -> Result<(), SessionError> {
    match tokio::fs::remove_file(path).await {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(SessionError::Io { path: path.to_path_buf(), source: err })
        }
        _ => Ok(()),
    }
}
