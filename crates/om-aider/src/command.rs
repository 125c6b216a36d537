//! [`AiderCommand`]: the `aider` command line for one headless session, as
//! an argument vector and an environment — never a shell string.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use om_core::{EndpointUrl, ModelName};

use crate::edit_format::EditFormat;

/// The `LiteLLM` provider prefix for Ollama's native chat API, which Aider
/// recommends for Ollama models (`OLLAMA_API.md` §9.4).
pub const MODEL_PREFIX: &str = "ollama_chat/";

/// The flags every headless session gets: answer yes to every question,
/// plain output, no interactive input, and nothing that reaches beyond the
/// model endpoint (update checks, analytics, release notes, model-warning
/// pages, URL scraping, shell commands) or edits the repository behind the
/// session's back (`.gitignore`).
pub const HEADLESS_FLAGS: [&str; 10] = [
    "--yes-always",
    "--no-pretty",
    "--no-fancy-input",
    "--no-check-update",
    "--analytics-disable",
    "--no-show-release-notes",
    "--no-show-model-warnings",
    "--no-detect-urls",
    "--no-suggest-shell-commands",
    "--no-gitignore",
];

/// What Aider does with the message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Edits the files (`--edit-format` when one is set).
    #[default]
    Code,
    /// Answers without editing (`--chat-mode ask`).
    Ask,
    /// The main model plans, an editor model edits (`--architect`,
    /// `--editor-model`, `--editor-edit-format` when an edit format is set).
    Architect,
}

impl Mode {
    /// `code`, `ask` or `architect`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Ask => "ask",
            Self::Architect => "architect",
        }
    }

    /// True when the mode edits files.
    pub fn edits(self) -> bool {
        self != Self::Ask
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "code" => Ok(Self::Code),
            "ask" => Ok(Self::Ask),
            "architect" => Ok(Self::Architect),
            _ => Err(UnknownMode { name: s.to_owned() }),
        }
    }
}

/// The name is not a [`Mode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mode `{name}` (expected code, ask or architect)")]
pub struct UnknownMode {
    /// The name given.
    pub name: String,
}

/// Who commits the session's edits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Commits {
    /// Aider commits each edit with a message it writes (`--auto-commits`).
    #[default]
    Aider,
    /// Aider does not commit (`--no-auto-commits`); the session commits
    /// every change once, at the end, as `om: <task id>`.
    Session,
    /// Nobody commits (`--no-auto-commits`): the changes stay in the
    /// worktree, which is then kept whatever the cleanup setting says.
    Off,
}

impl Commits {
    /// True when Aider is asked to commit.
    pub fn by_aider(self) -> bool {
        self == Self::Aider
    }

    /// `aider`, `session` or `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aider => "aider",
            Self::Session => "session",
            Self::Off => "off",
        }
    }
}

impl fmt::Display for Commits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Commits {
    type Err = UnknownCommits;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "aider" => Ok(Self::Aider),
            "session" => Ok(Self::Session),
            "off" => Ok(Self::Off),
            _ => Err(UnknownCommits { name: s.to_owned() }),
        }
    }
}

/// The name is not a [`Commits`] choice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown commit control `{name}` (expected aider, session or off)")]
pub struct UnknownCommits {
    /// The name given.
    pub name: String,
}

/// The message a session sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Passed on the command line (`--message=…`).
    Text(String),
    /// Read by Aider from a file (`--message-file=…`).
    File(PathBuf),
}

/// An API key for the endpoint (`OLLAMA_API_KEY`, sent by `LiteLLM` as
/// `Authorization: Bearer …`). Its `Debug` form hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(..)")
    }
}

/// The command line of one headless Aider session: program, arguments and
/// environment.
///
/// Every flag is its own argument and every value is passed verbatim, so a
/// message or a path with spaces, quotes or a leading dash stays one
/// argument; values that may start with a dash use the `--flag=value` form
/// and the files come after `--`. Extra user flags come after the built-in
/// ones, so they win where they repeat one (argparse keeps the last).
///
/// The flag names are aider-chat 0.86's (`aider/args.py`).
///
/// ```
/// use om_aider::{AiderCommand, EditFormat, Mode};
///
/// let command = AiderCommand::new("aider", "qwen2.5-coder:7b".parse()?)
///     .mode(Mode::Architect)
///     .edit_format(EditFormat::Diff)
///     .message("add a \"--verbose\" flag")
///     .file("src/main.py")
///     .api_base("http://127.0.0.1:11434".parse()?);
/// let args = command.args();
/// assert_eq!(args[..2], ["--model", "ollama_chat/qwen2.5-coder:7b"]);
/// assert!(args.iter().any(|a| a == "--message=add a \"--verbose\" flag"));
/// assert!(args.ends_with(&["--".into(), "src/main.py".into()]));
/// assert_eq!(command.envs()[0], ("OLLAMA_API_BASE", "http://127.0.0.1:11434".into()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a command does nothing until it is run"]
pub struct AiderCommand {
    program: PathBuf,
    model: ModelName,
    mode: Mode,
    editor_model: Option<ModelName>,
    weak_model: Option<ModelName>,
    edit_format: Option<EditFormat>,
    message: Option<Message>,
    commits: Commits,
    files: Vec<PathBuf>,
    read_only: Vec<PathBuf>,
    chat_history: Option<PathBuf>,
    input_history: Option<PathBuf>,
    extra: Vec<OsString>,
    api_base: Option<EndpointUrl>,
    api_key: Option<ApiKey>,
}

impl AiderCommand {
    /// `program` (the `aider` executable) talking to `model`, in code mode,
    /// Aider committing, no message or files yet.
    pub fn new(program: impl Into<PathBuf>, model: ModelName) -> Self {
        Self {
            program: program.into(),
            model,
            mode: Mode::Code,
            editor_model: None,
            weak_model: None,
            edit_format: None,
            message: None,
            commits: Commits::Aider,
            files: Vec::new(),
            read_only: Vec::new(),
            chat_history: None,
            input_history: None,
            extra: Vec::new(),
            api_base: None,
            api_key: None,
        }
    }

    /// The mode.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The editor model of architect mode (default: the main model).
    pub fn editor_model(mut self, model: ModelName) -> Self {
        self.editor_model = Some(model);
        self
    }

    /// The model for commit messages and history summaries (default:
    /// Aider's choice for the main model).
    pub fn weak_model(mut self, model: ModelName) -> Self {
        self.weak_model = Some(model);
        self
    }

    /// The edit format: `--edit-format` in code mode, `--editor-edit-format`
    /// in architect mode, nothing in ask mode.
    pub fn edit_format(mut self, format: EditFormat) -> Self {
        self.edit_format = Some(format);
        self
    }

    /// The message, on the command line.
    pub fn message(mut self, text: impl Into<String>) -> Self {
        self.message = Some(Message::Text(text.into()));
        self
    }

    /// The message, read from a file.
    pub fn message_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.message = Some(Message::File(path.into()));
        self
    }

    /// Who commits.
    pub fn commits(mut self, commits: Commits) -> Self {
        self.commits = commits;
        self
    }

    /// A file to add to the chat (editable).
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.push(path.into());
        self
    }

    /// Several [`file`](Self::file)s.
    pub fn files<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.files.extend(paths.into_iter().map(Into::into));
        self
    }

    /// A read-only file (`--read`).
    pub fn read_only(mut self, path: impl Into<PathBuf>) -> Self {
        self.read_only.push(path.into());
        self
    }

    /// Where Aider appends the chat transcript (`--chat-history-file`);
    /// default `.aider.chat.history.md` in the working directory.
    pub fn chat_history_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.chat_history = Some(path.into());
        self
    }

    /// Where Aider appends its input history (`--input-history-file`);
    /// default `.aider.input.history` in the working directory.
    pub fn input_history_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.input_history = Some(path.into());
        self
    }

    /// An extra argument, passed as is after the built-in flags.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.extra.push(arg.into());
        self
    }

    /// Several extra [`arg`](Self::arg)s.
    pub fn args_extra<A: Into<OsString>>(mut self, args: impl IntoIterator<Item = A>) -> Self {
        self.extra.extend(args.into_iter().map(Into::into));
        self
    }

    /// The Ollama endpoint (or gateway) Aider talks to: `OLLAMA_API_BASE`.
    pub fn api_base(mut self, url: EndpointUrl) -> Self {
        self.api_base = Some(url);
        self
    }

    /// The API key: `OLLAMA_API_KEY`.
    pub fn api_key(mut self, key: ApiKey) -> Self {
        self.api_key = Some(key);
        self
    }

    /// The program.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The main model.
    pub fn model(&self) -> &ModelName {
        &self.model
    }

    /// The arguments, in order: model, mode, edit format, weak model,
    /// message, headless flags, commit control, history files, read-only
    /// files, extra flags, `--`, files.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::with_capacity(24 + self.files.len());
        args.push("--model".into());
        args.push(aider_model(&self.model).into());
        match self.mode {
            Mode::Code => {
                if let Some(format) = self.edit_format {
                    args.push("--edit-format".into());
                    args.push(format.as_str().into());
                }
            }
            Mode::Ask => {
                args.push("--chat-mode".into());
                args.push("ask".into());
            }
            Mode::Architect => {
                args.push("--architect".into());
                args.push("--auto-accept-architect".into());
                args.push("--editor-model".into());
                args.push(aider_model(self.editor_model.as_ref().unwrap_or(&self.model)).into());
                if let Some(format) = self.edit_format {
                    args.push("--editor-edit-format".into());
                    args.push(format.as_str().into());
                }
            }
        }
        if let Some(weak) = &self.weak_model {
            args.push("--weak-model".into());
            args.push(aider_model(weak).into());
        }
        match &self.message {
            Some(Message::Text(text)) => args.push(joined("--message=", text)),
            Some(Message::File(path)) => args.push(joined("--message-file=", path)),
            None => {}
        }
        args.extend(HEADLESS_FLAGS.iter().map(OsString::from));
        args.push(
            if self.commits.by_aider() { "--auto-commits" } else { "--no-auto-commits" }.into(),
        );
        if let Some(path) = &self.chat_history {
            args.push(joined("--chat-history-file=", path));
        }
        if let Some(path) = &self.input_history {
            args.push(joined("--input-history-file=", path));
        }
        for path in &self.read_only {
            args.push(joined("--read=", path));
        }
        args.extend(self.extra.iter().cloned());
        if !self.files.is_empty() {
            args.push("--".into());
            args.extend(self.files.iter().map(|path| path.as_os_str().to_owned()));
        }
        args
    }

    /// The environment variables to set: `OLLAMA_API_BASE` and
    /// `OLLAMA_API_KEY`, when configured.
    pub fn envs(&self) -> Vec<(&'static str, OsString)> {
        let mut envs = Vec::with_capacity(2);
        if let Some(url) = &self.api_base {
            envs.push(("OLLAMA_API_BASE", url.to_string().into()));
        }
        if let Some(key) = &self.api_key {
            envs.push(("OLLAMA_API_KEY", key.expose().into()));
        }
        envs
    }

    /// A [`tokio::process::Command`] with the program, the arguments and
    /// the environment; the caller sets the working directory and stdio.
    pub fn command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.program);
        command.args(self.args()).envs(self.envs());
        command
    }
}

/// `ollama_chat/<model>`, the model in its short form.
pub fn aider_model(model: &ModelName) -> String {
    format!("{MODEL_PREFIX}{model}")
}

/// `flag` and `value` as one argument, the value byte for byte.
fn joined(flag: &str, value: impl AsRef<OsStr>) -> OsString {
    let value = value.as_ref();
    let mut arg = OsString::with_capacity(flag.len() + value.len());
    arg.push(flag);
    arg.push(value);
    arg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print() {
        for mode in [Mode::Code, Mode::Ask, Mode::Architect] {
            assert_eq!(mode.as_str().parse::<Mode>(), Ok(mode));
            assert_eq!(mode.to_string(), mode.as_str());
        }
        assert_eq!("Code".parse::<Mode>().unwrap_err().name, "Code");
        assert!(!Mode::Ask.edits() && Mode::Code.edits() && Mode::Architect.edits());
    }

    #[test]
    fn commit_controls_parse_and_print() {
        for commits in [Commits::Aider, Commits::Session, Commits::Off] {
            assert_eq!(commits.as_str().parse::<Commits>(), Ok(commits));
            assert_eq!(commits.to_string(), commits.as_str());
        }
        assert!("none".parse::<Commits>().unwrap_err().to_string().contains("session"));
    }

    #[test]
    fn api_keys_are_hidden() {
        let key = ApiKey::new("sk-secret");
        assert_eq!(format!("{key:?}"), "ApiKey(..)");
        assert_eq!(key.expose(), "sk-secret");
    }

    #[test]
    fn models_get_the_ollama_chat_prefix_in_short_form() {
        let model: ModelName = "llama3.2".parse().unwrap();
        assert_eq!(aider_model(&model), "ollama_chat/llama3.2:latest");
        let model: ModelName = "hf.co/bartowski/Qwen:Q4_K_M".parse().unwrap();
        assert_eq!(aider_model(&model), "ollama_chat/hf.co/bartowski/Qwen:Q4_K_M");
    }
}
