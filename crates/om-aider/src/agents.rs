//! The coding agents a session can run besides Aider — Claude Code and
//! Codex — and their headless command lines, pointed at a gateway: Claude
//! Code speaks the Anthropic Messages API (`ANTHROPIC_BASE_URL`), Codex the
//! OpenAI Responses API (a model provider whose `base_url` is the
//! gateway's `/v1`). As with Aider, every value is its own argument, never a
//! shell string.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use om_core::{EndpointUrl, ModelName};

use crate::command::{ApiKey, Message, Mode};

/// A coding agent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum AgentKind {
    /// aider-chat, through the Ollama API.
    #[default]
    Aider,
    /// Anthropic's Claude Code (`claude -p`), through `/v1/messages`.
    Claude,
    /// OpenAI's Codex CLI (`codex exec`), through `/v1/responses`.
    Codex,
}

impl AgentKind {
    /// `aider`, `claude` or `codex`: the name on the command line, and the
    /// program looked up on `PATH` by default.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aider => "aider",
            Self::Claude => "claude",
            Self::Codex => "codex",
        }
    }

    /// The executable looked up on `PATH` when none is given.
    pub fn default_program(self) -> &'static str {
        self.as_str()
    }

    /// How to install it.
    pub fn install_hint(self) -> &'static str {
        match self {
            Self::Aider => {
                "install aider-chat with `pipx install aider-chat` (or `python3 -m pip install aider-chat`)"
            }
            Self::Claude => "install Claude Code with `npm install -g @anthropic-ai/claude-code`",
            Self::Codex => "install the Codex CLI with `npm install -g @openai/codex`",
        }
    }

    /// True when the agent commits its own edits (only Aider does; the
    /// others' sessions are committed by the session at the end).
    pub fn commits_itself(self) -> bool {
        self == Self::Aider
    }
}

impl fmt::Display for AgentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AgentKind {
    type Err = UnknownAgent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "aider" => Ok(Self::Aider),
            "claude" | "claude-code" => Ok(Self::Claude),
            "codex" => Ok(Self::Codex),
            _ => Err(UnknownAgent { name: s.to_owned() }),
        }
    }
}

/// The name is not an [`AgentKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown agent `{name}` (expected aider, claude or codex)")]
pub struct UnknownAgent {
    /// The name given.
    pub name: String,
}

/// The name of the model provider Codex is given for the gateway.
pub const CODEX_PROVIDER: &str = "ollama-meta";

/// The variable Codex reads the gateway's key from.
pub const CODEX_KEY_VAR: &str = "OLLAMA_META_CODEX_KEY";

/// The command line of one headless Claude Code or Codex session.
///
/// - Claude Code (2.1): `claude -p --output-format json --model M
///   --permission-mode acceptEdits|plan [extra] -- MESSAGE`, with
///   `ANTHROPIC_BASE_URL` at the gateway, a token (the gateway's key, or a
///   placeholder: Claude Code insists on one), every model role set to the
///   session's model, and non-essential traffic (updates, telemetry) off.
/// - Codex: `codex exec --json --sandbox workspace-write|read-only
///   --skip-git-repo-check -m M -c approval_policy="never" -c
///   model_provider=… -c
///   model_providers.ollama-meta.{name,base_url,wire_api,env_key}=… [extra]
///   -- MESSAGE`, the provider's `base_url` the gateway's `/v1` and its
///   wire API the Responses API (flags of codex-cli 0.171).
///
/// A message from a file is given on standard input (Claude Code reads
/// its prompt there when none is given; Codex when the prompt is `-`).
///
/// ```
/// use om_aider::{AgentCommand, Mode};
///
/// let command = AgentCommand::claude("claude", "qwen2.5-coder:7b".parse()?)
///     .mode(Mode::Code)
///     .message("-v should print the version")
///     .base("http://127.0.0.1:41000".parse()?);
/// let args = command.args();
/// assert_eq!(args[..3], ["-p", "--output-format", "json"]);
/// assert!(args.ends_with(&["--".into(), "-v should print the version".into()]));
/// assert!(command.envs().contains(&("ANTHROPIC_BASE_URL", "http://127.0.0.1:41000".into())));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a command does nothing until it is run"]
pub struct AgentCommand {
    kind: Cli,
    program: PathBuf,
    model: ModelName,
    mode: Mode,
    message: Option<Message>,
    base: Option<EndpointUrl>,
    api_key: Option<ApiKey>,
    extra: Vec<OsString>,
}

/// Which command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cli {
    Claude,
    Codex,
}

impl AgentCommand {
    /// `program` (Claude Code's `claude`) on `model`, in code mode.
    pub fn claude(program: impl Into<PathBuf>, model: ModelName) -> Self {
        Self::new(Cli::Claude, program.into(), model)
    }

    /// `program` (the Codex CLI's `codex`) on `model`, in code mode.
    pub fn codex(program: impl Into<PathBuf>, model: ModelName) -> Self {
        Self::new(Cli::Codex, program.into(), model)
    }

    fn new(kind: Cli, program: PathBuf, model: ModelName) -> Self {
        Self {
            kind,
            program,
            model,
            mode: Mode::Code,
            message: None,
            base: None,
            api_key: None,
            extra: Vec::new(),
        }
    }

    /// Code (edits allowed) or ask (read-only); architect is Aider's alone
    /// and runs as code.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The message, on the command line.
    pub fn message(mut self, text: impl Into<String>) -> Self {
        self.message = Some(Message::Text(text.into()));
        self
    }

    /// The message, from a file given on standard input.
    pub fn message_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.message = Some(Message::File(path.into()));
        self
    }

    /// The gateway (its root URL).
    pub fn base(mut self, url: EndpointUrl) -> Self {
        self.base = Some(url);
        self
    }

    /// The gateway's key.
    pub fn api_key(mut self, key: ApiKey) -> Self {
        self.api_key = Some(key);
        self
    }

    /// Extra arguments, after the built-in ones and before the message.
    pub fn args_extra<A: Into<OsString>>(mut self, args: impl IntoIterator<Item = A>) -> Self {
        self.extra.extend(args.into_iter().map(Into::into));
        self
    }

    /// The program.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The file to give on standard input, for a message from a file.
    pub fn stdin_file(&self) -> Option<&Path> {
        match &self.message {
            Some(Message::File(path)) => Some(path),
            _ => None,
        }
    }

    /// The arguments, in order.
    pub fn args(&self) -> Vec<OsString> {
        let model = self.model.to_string();
        let edits = self.mode.edits();
        let mut args: Vec<OsString> = match self.kind {
            Cli::Claude => {
                let permission = if edits { "acceptEdits" } else { "plan" };
                [
                    "-p",
                    "--output-format",
                    "json",
                    "--model",
                    &model,
                    "--permission-mode",
                    permission,
                ]
                .map(OsString::from)
                .to_vec()
            }
            Cli::Codex => {
                let base = self.base.as_ref().map(|b| b.join("/v1")).unwrap_or_default();
                let sandbox = if edits { "workspace-write" } else { "read-only" };
                let mut args: Vec<OsString> =
                    ["exec", "--json", "--sandbox", sandbox].map(OsString::from).to_vec();
                args.extend(["--skip-git-repo-check".into(), "-m".into(), model.into()]);
                for setting in [
                    // Headless: nobody is there to approve a command.
                    "approval_policy=\"never\"".to_owned(),
                    format!("model_provider=\"{CODEX_PROVIDER}\""),
                    format!("model_providers.{CODEX_PROVIDER}.name=\"{CODEX_PROVIDER}\""),
                    format!("model_providers.{CODEX_PROVIDER}.base_url=\"{base}\""),
                    format!("model_providers.{CODEX_PROVIDER}.wire_api=\"responses\""),
                    format!("model_providers.{CODEX_PROVIDER}.env_key=\"{CODEX_KEY_VAR}\""),
                ] {
                    args.push("-c".into());
                    args.push(setting.into());
                }
                args
            }
        };
        args.extend(self.extra.iter().cloned());
        match &self.message {
            Some(Message::Text(text)) => {
                args.push("--".into());
                args.push(text.into());
            }
            // Codex reads a prompt of `-` from standard input; Claude Code
            // reads it there when no prompt is given.
            Some(Message::File(_)) if self.kind == Cli::Codex => args.push("-".into()),
            Some(Message::File(_)) | None => {}
        }
        args
    }

    /// The environment the agent needs to talk to the gateway.
    pub fn envs(&self) -> Vec<(&'static str, OsString)> {
        let key: OsString = self.api_key.as_ref().map_or("ollama-meta", ApiKey::expose).into();
        let mut envs = Vec::new();
        match self.kind {
            Cli::Claude => {
                if let Some(base) = &self.base {
                    envs.push(("ANTHROPIC_BASE_URL", base.to_string().into()));
                }
                envs.push(("ANTHROPIC_AUTH_TOKEN", key));
                let model: OsString = self.model.to_string().into();
                for role in [
                    "ANTHROPIC_MODEL",
                    "ANTHROPIC_SMALL_FAST_MODEL",
                    "ANTHROPIC_DEFAULT_HAIKU_MODEL",
                    "ANTHROPIC_DEFAULT_SONNET_MODEL",
                    "ANTHROPIC_DEFAULT_OPUS_MODEL",
                ] {
                    envs.push((role, model.clone()));
                }
                envs.push(("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()));
                envs.push(("DISABLE_AUTOUPDATER", "1".into()));
                envs.push(("DISABLE_TELEMETRY", "1".into()));
            }
            Cli::Codex => envs.push((CODEX_KEY_VAR, key)),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> ModelName {
        "qwen2.5-coder:7b".parse().unwrap()
    }

    #[test]
    fn kinds_parse_and_name_their_install() {
        assert_eq!("claude".parse::<AgentKind>().unwrap(), AgentKind::Claude);
        assert_eq!("codex".parse::<AgentKind>().unwrap().to_string(), "codex");
        assert!(
            "cursor"
                .parse::<AgentKind>()
                .unwrap_err()
                .to_string()
                .contains("aider, claude or codex")
        );
        assert!(AgentKind::Claude.install_hint().contains("@anthropic-ai/claude-code"));
        assert!(AgentKind::Codex.install_hint().contains("@openai/codex"));
        assert!(AgentKind::Aider.commits_itself() && !AgentKind::Codex.commits_itself());
    }

    #[test]
    fn codex_is_pointed_at_the_gateways_responses_api() {
        let command = AgentCommand::codex("codex", model())
            .base("http://127.0.0.1:4000".parse().unwrap())
            .message("--fix it");
        let args: Vec<String> =
            command.args().into_iter().map(|a| a.into_string().unwrap()).collect();
        assert_eq!(args[..4], ["exec", "--json", "--sandbox", "workspace-write"]);
        assert!(args.contains(
            &"model_providers.ollama-meta.base_url=\"http://127.0.0.1:4000/v1\"".to_owned()
        ));
        assert!(args.contains(&"model_providers.ollama-meta.wire_api=\"responses\"".to_owned()));
        assert_eq!(args[args.len() - 2..], ["--", "--fix it"]);
        assert_eq!(command.envs(), [(CODEX_KEY_VAR, OsString::from("ollama-meta"))]);
        let ask = AgentCommand::codex("codex", model()).mode(Mode::Ask).message_file("/m");
        let args = ask.args();
        assert!(args.iter().any(|a| a == "read-only"));
        assert_eq!(args.last().unwrap(), "-");
        assert_eq!(ask.stdin_file(), Some(Path::new("/m")));
    }

    #[test]
    fn claude_gets_every_model_role_and_a_token() {
        let command = AgentCommand::claude("claude", model())
            .api_key(ApiKey::new("k"))
            .mode(Mode::Ask)
            .message_file("/m");
        let args = command.args();
        assert!(args.iter().any(|a| a == "plan"));
        assert!(!args.iter().any(|a| a == "--"), "the prompt comes on stdin");
        let envs = command.envs();
        assert!(envs.contains(&("ANTHROPIC_AUTH_TOKEN", "k".into())));
        assert!(envs.contains(&("ANTHROPIC_SMALL_FAST_MODEL", "qwen2.5-coder:7b".into())));
    }
}
