//! Command-line arguments of the `ollama-meta` binary (clap derive).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// One dependable place to send LLM work across a fleet of Ollama servers.
#[derive(Debug, Parser)]
#[command(name = "ollama-meta", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags every subcommand accepts.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Configuration file (TOML, YAML or JSON, by extension).
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// An Ollama endpoint URL; repeat for several. Replaces configured endpoints.
    #[arg(long = "endpoint", global = true, value_name = "URL")]
    pub(crate) endpoints: Vec<String>,
    /// More log output (-v debug, -vv trace). `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Less log output (errors only).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    /// Print data as JSON instead of tables, and logs (on stderr) as one
    /// JSON object per line.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a batch of LLM tasks across the fleet, with progress, a
    /// crash-safe results journal, a summary and an optional HTML report.
    #[command(long_about = RUN_ABOUT)]
    Run(RunArgs),
    /// Serve a simulated Ollama fleet (for demos, tests and capacity planning).
    Sim(SimArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Show the fleet: each endpoint's health, version and probe latency,
    /// and each model's details and loaded state.
    #[command(long_about = MODELS_ABOUT)]
    Models(ModelsArgs),
    /// Serve the Ollama API (and the OpenAI-compatible one) in front of the
    /// whole fleet: every client gets routing, failover, queueing and metrics.
    #[command(long_about = SERVE_ABOUT)]
    Serve(ServeArgs),
    /// Run Aider coding sessions in parallel, each in its own git worktree
    /// on its own branch, with progress, a results journal and a summary.
    #[command(long_about = AIDER_ABOUT)]
    Aider(AiderArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    /// on stdout, e.g. `ollama-meta completions bash > ~/.local/share/bash-completion/completions/ollama-meta`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff) on stdout, e.g.
    /// `ollama-meta man > ollama-meta.1`.
    Man,
}

/// `ollama-meta completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

/// The long help of `ollama-meta models`, with its output and exit codes.
const MODELS_ABOUT: &str = "\
Show the fleet: each endpoint's health (with the reason when down), version and
probe latency, and each model's family, parameters, quantization, context
length, capabilities and loaded state (until when).

Endpoints come from --endpoint flags, else the configuration (--config,
OLLAMA_META_*, OLLAMA_HOST). Every endpoint is probed once (/api/version,
/api/tags, /api/show, /api/ps); one that does not answer is shown as down with
the reason. With --watch the discovery loop keeps running ([discovery] settings)
and the fleet is shown again every --interval until Ctrl-C: on a terminal the
screen is redrawn, otherwise snapshots follow each other separated by a blank
line (with --json: one compact document per line).

With --from URL it asks a running gateway instead (its /api/meta/status): what
it has learned from the traffic it served — each endpoint's capacity, its
learned concurrency limit and the reason for its last change (initial, raised,
eased, cut on latency or on 503 busy, ceiling), requests in flight, and each
model's time to first token and tokens per second. --json prints the status
document as the gateway sent it.

--json prints a stable document (fields are only ever added):
  {\"schema_version\": 1, \"generated_at\": RFC 3339,
   \"summary\": {\"endpoints\", \"up\", \"down\", \"unknown\", \"models\", \"loaded\"},
   \"endpoints\": [{\"name\", \"url\", \"health\": \"up\"|\"down\"|\"unknown\",
     \"reason\": string|null, \"version\": string|null, \"latency_ms\": number|null,
     \"models\": [{\"name\", \"family\", \"families\", \"parameter_size\",
       \"parameters\": number|null, \"quantization\", \"context_length\": number|null,
       \"capabilities\": [string], \"size\", \"digest\",
       \"loaded\": null|{\"expires_at\": RFC 3339|null, \"context_length\": number|null,
                     \"size_vram\"}}]}]}

Exit status: 0 when at least one endpoint answered (with --watch: at the last
redraw), 1 when none did, 2 for invalid configuration.";

/// `ollama-meta models`.
#[derive(Debug, Args)]
pub(crate) struct ModelsArgs {
    /// Keep probing and show the fleet again every interval until Ctrl-C.
    #[arg(long)]
    pub(crate) watch: bool,
    /// How often --watch redraws (`2s`, `500ms`, or seconds).
    #[arg(
        long,
        default_value = "2s",
        value_name = "DURATION",
        value_parser = crate::cmd::models::parse_interval
    )]
    pub(crate) interval: Duration,
    /// Show what a running gateway (`ollama-meta serve`) has learned instead
    /// of probing: each endpoint's capacity, learned concurrency limit and
    /// why, requests in flight, and its models' measured speed.
    #[arg(long, value_name = "URL", conflicts_with = "watch")]
    pub(crate) from: Option<om_core::EndpointUrl>,
    /// The gateway's bearer token, for --from (read from the environment).
    #[arg(long, env = "OLLAMA_META_GATEWAY__AUTH_TOKEN", hide_env_values = true, hide = true)]
    pub(crate) token: Option<String>,
}

/// The long help of `ollama-meta run`.
const RUN_ABOUT: &str = "\
Run a batch of LLM tasks across the fleet: each task is routed to a model
instance, retried elsewhere when an instance fails, and its outcome appended
to the results file as soon as it ends.

TASKS is YAML (.yaml/.yml), JSON (.json) or JSONL (.jsonl): a list of tasks, or
`tasks:` holding one. A task has `prompt` or `messages`, and optionally `id`,
`system`, `category`, `priority` (high|normal|low), `model` or `models`,
`requires`, `options`, `timeout` (\"90s\") and `format`. Every problem in the
file is reported with its line and column, and then nothing runs.

The results file (--out, JSON lines) is also the journal: with --resume, tasks
recorded `ok` are skipped and the rest run again; the last line per task id
wins. An existing file is not replaced without --force, and two runs cannot
write one file at once. Ctrl-C once stops starting tasks and lets running ones finish; twice
cancels them (journaled `cancelled`).

Without --sim the configured endpoints (or OLLAMA_HOST) are used; when none is
configured and the default endpoint does not answer, a simulated fleet is used
and the output says so.

Exit status: 0 when every task succeeded, 1 when some did not, 2 for invalid
input (task file, configuration, flags).";

/// `ollama-meta run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The task file: YAML (.yaml, .yml), JSON (.json) or JSONL (.jsonl).
    #[arg(value_name = "TASKS")]
    pub(crate) tasks: PathBuf,
    /// Tasks running at once.
    #[arg(long, default_value = "10", value_name = "N")]
    pub(crate) concurrency: std::num::NonZeroUsize,
    /// Routing strategy (default: the configuration's, else
    /// completion-time).
    #[arg(long, value_name = "S", value_parser = strategies())]
    pub(crate) strategy: Option<String>,
    /// The results file (one JSON line per finished task); an existing one
    /// needs --resume or --force.
    #[arg(long, default_value = "results.jsonl", value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Continue an earlier run: skip the tasks --out records as ok.
    #[arg(long)]
    pub(crate) resume: bool,
    /// Replace an existing results file (refused otherwise, unless
    /// --resume continues it).
    #[arg(long, conflicts_with = "resume")]
    pub(crate) force: bool,
    /// Also write a self-contained HTML report here.
    #[arg(long, value_name = "FILE")]
    pub(crate) report: Option<PathBuf>,
    /// Run against a simulated fleet of three endpoints started in this
    /// process.
    #[arg(long)]
    pub(crate) sim: bool,
}

/// `ollama-meta sim`.
#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// Address to listen on: IP:PORT, localhost:PORT or :PORT (loopback);
    /// port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:11434", value_name = "ADDR", value_parser = parse_listen)]
    pub(crate) listen: SocketAddr,
    /// Models to serve, comma separated: any Ollama model names (details of
    /// names outside the built-in set are derived from the name).
    #[arg(long, value_delimiter = ',', value_name = "A,B,C")]
    pub(crate) models: Vec<String>,
    /// Generation speed of a request running alone, in tokens per second
    /// (concurrent requests share it: see --batch-exponent).
    #[arg(long, value_name = "N")]
    pub(crate) tokens_per_sec: Option<f64>,
    /// Time to first token once the model is loaded, in milliseconds.
    #[arg(long, value_name = "MS")]
    pub(crate) ttft_ms: Option<u64>,
    #[command(flatten)]
    pub(crate) compute: crate::cmd::sim::ComputeArgs,
    /// Model load time, in milliseconds.
    #[arg(long, value_name = "MS")]
    pub(crate) load_ms: Option<u64>,
    /// Parallel request slots per loaded model.
    #[arg(long, value_name = "N")]
    pub(crate) parallel: Option<usize>,
    /// Seed for the deterministic replies and fault dice.
    #[arg(long, value_name = "N")]
    pub(crate) seed: Option<u64>,
    /// How the simulated models answer.
    #[arg(long, value_name = "MODE", value_parser = ReplyParser)]
    pub(crate) reply: Option<Reply>,
    /// A fleet file (TOML) describing several endpoints; the other flags are
    /// then defaults for what the file leaves out.
    #[arg(long, value_name = "FILE")]
    pub(crate) fleet: Option<PathBuf>,
}

/// `ollama-meta config …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print the effective configuration and where each value came from.
    Show,
}

/// The long help of `ollama-meta aider`.
const AIDER_ABOUT: &str = "\
Run coding agents in parallel across the fleet: Aider by default, or Claude
Code (--agent claude) or Codex (--agent codex). Each task gets its own git
worktree (REPO/.om-worktrees/<task id>) on its own branch (om/<task id>) made
from --base, and a headless agent process there talking to the model chosen
for it through a gateway of its own (Aider through the Ollama API, Claude Code
through /v1/messages, Codex through /v1/responses); what it changed stays on
the branch (Claude Code's and Codex's edits are committed at the end).

TASKS is the task file format of `run` (YAML, JSON or JSONL) where a task has a
`prompt`, and optionally `id`, `files` (to edit) and `read` (to read), both
relative to --repo, `model` or `models`, `category`, `priority` and `timeout`.
Task ids name branches: letters, digits, '-', '_' and '.'.

Models are chosen per task by --select through the router (health, breakers and
allow-lists apply): fastest (measured time to first token and tokens/s),
capable (parameters, context length, learned affinity for the category) or
round-robin. Endpoints come from --endpoint or the configuration (a gateway
works too). The agent must be installed (`pipx install aider-chat`,
`npm install -g @anthropic-ai/claude-code`, `npm install -g @openai/codex`), or
pass its path with --agent-bin.

The results file (--out) is the journal, as for `run`: --resume skips tasks
recorded ok. Worktrees are removed after their session unless --keep (or
uncommitted changes remain); logs stay in REPO/.om-worktrees/.logs.

Exit status: 0 when every task succeeded, 1 when some did not, 2 for invalid
input (task file, flags, repository, Aider missing).";

/// `ollama-meta aider`.
#[derive(Debug, Args)]
pub(crate) struct AiderArgs {
    /// The task file: YAML (.yaml, .yml), JSON (.json) or JSONL (.jsonl).
    #[arg(value_name = "TASKS")]
    pub(crate) tasks: PathBuf,
    /// The git repository the sessions work on.
    #[arg(long, value_name = "PATH")]
    pub(crate) repo: PathBuf,
    /// Sessions running at once.
    #[arg(long, default_value = "10", value_name = "N")]
    pub(crate) concurrency: std::num::NonZeroUsize,
    /// The ref every session's branch starts from.
    #[arg(long, default_value = "HEAD", value_name = "REF")]
    pub(crate) base: String,
    /// What Aider does: code (edit), ask (answer only) or architect (plan,
    /// then an editor model edits).
    #[arg(long, default_value = "code", value_name = "MODE")]
    pub(crate) mode: om_aider::Mode,
    /// How each session's model is chosen: fastest, capable or round-robin.
    #[arg(long, default_value = "fastest", value_name = "S")]
    pub(crate) select: om_aider::Select,
    /// Aider's edit format (whole, diff, udiff, …; the editor's in
    /// architect mode). Default: Aider's choice for the model.
    #[arg(long, value_name = "F")]
    pub(crate) edit_format: Option<om_aider::EditFormat>,
    /// The editor model in architect mode (default: the session's model).
    #[arg(long, value_name = "MODEL")]
    pub(crate) editor_model: Option<om_core::ModelName>,
    /// Who commits: aider (each edit), session (one commit at the end) or
    /// off (changes stay uncommitted in the kept worktree).
    #[arg(long, default_value = "aider", value_name = "WHO")]
    pub(crate) commits: om_aider::Commits,
    /// The most time one session may take (`30m`, `90s`, or seconds); a
    /// task's `timeout` wins.
    #[arg(long, default_value = "30m", value_name = "DURATION", value_parser = crate::cmd::models::parse_interval)]
    pub(crate) timeout: Duration,
    /// The results file (one JSON line per finished task); an existing one
    /// needs --resume or --force.
    #[arg(long, default_value = "aider-results.jsonl", value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Continue an earlier run: skip the tasks --out records as ok.
    #[arg(long)]
    pub(crate) resume: bool,
    /// Replace an existing results file (refused otherwise, unless
    /// --resume continues it).
    #[arg(long, conflicts_with = "resume")]
    pub(crate) force: bool,
    /// Keep every worktree after its session.
    #[arg(long)]
    pub(crate) keep: bool,
    /// The coding agent each session runs: aider, claude (Claude Code,
    /// through the gateway's /v1/messages) or codex (the Codex CLI, through
    /// /v1/responses).
    #[arg(long, default_value = "aider", value_name = "AGENT")]
    pub(crate) agent: om_aider::AgentKind,
    /// The agent's executable (a path, or a name looked up on PATH;
    /// default: the agent's name).
    #[arg(
        long,
        visible_alias = "agent-bin",
        default_value = "aider",
        value_name = "PATH",
        env = "OLLAMA_META_AIDER_BIN"
    )]
    pub(crate) aider_bin: PathBuf,
    /// An extra argument for every aider process (repeat it; values that
    /// start with '-' need the `--aider-arg=--flag` form).
    #[arg(long = "aider-arg", value_name = "ARG")]
    pub(crate) extra_args: Vec<String>,
    /// An API key Aider sends to the endpoint (`OLLAMA_API_KEY`), for a
    /// gateway that wants one. Read from the environment only.
    #[arg(long, env = "OLLAMA_META_API_KEY", hide_env_values = true, hide = true)]
    pub(crate) api_key: Option<String>,
}

/// The long help of `ollama-meta serve`.
const SERVE_ABOUT: &str = "\
Serve the Ollama API (and the OpenAI /v1 API) in front of the whole fleet, so
that any client — the ollama Python and JS libraries, ollama-rs, Aider/LiteLLM,
Open WebUI, OpenAI SDKs — gets routing, failover, queueing and metrics without
changing anything but its base URL.

Requests are routed by the model they name; bodies are forwarded unchanged and
answers streamed back line by line as they come. Failover happens before the
first byte; a stream that breaks later ends with an {\"error\": ...} line.
pull/push/create/copy/delete go to the endpoint named by ?endpoint=NAME or the
X-Ollama-Meta-Endpoint header. /metrics serves Prometheus text and
/api/meta/status the fleet as JSON.

Endpoints come from --endpoint flags, else the configuration (--config,
OLLAMA_META_*, OLLAMA_HOST); the [gateway] section sets the listen address
(127.0.0.1:11435), the bearer token (OLLAMA_META_GATEWAY__AUTH_TOKEN is safer
than --auth-token, which other users can see in the process list), the body
limit and the shutdown grace. Prints `listening on http://ADDR` once ready.
Ctrl-C or SIGTERM stops accepting, lets streams finish within the grace, then
exits.

Point clients at it:
  OLLAMA_HOST=http://127.0.0.1:11435 ollama list
  OLLAMA_API_BASE=http://127.0.0.1:11435 aider --model ollama_chat/qwen2.5-coder:7b
  OLLAMA_BASE_URL=http://127.0.0.1:11435 (Open WebUI)
  OpenAI SDKs: base_url=http://127.0.0.1:11435/v1
  Anthropic SDKs, Claude Code: ANTHROPIC_BASE_URL=http://127.0.0.1:11435
  Codex and other Responses clients: base_url=http://127.0.0.1:11435/v1

With --tls-cert and --tls-key it serves HTTPS. Endpoints may be https
(trusted through the platform's roots and [tls].ca_file) and OpenAI-compatible
servers (llama.cpp, vLLM, LM Studio: kind = \"openai\" in [[endpoints]]).

Exit status: 0 after a clean shutdown, 1 when the address cannot be bound, 2
for invalid configuration.";

/// `ollama-meta serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on: IP:PORT, localhost:PORT or :PORT (loopback)
    /// (default: [gateway].listen, 127.0.0.1:11435).
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub(crate) listen: Option<SocketAddr>,
    /// Require `Authorization: Bearer TOKEN` on every route but `/`
    /// (default: the token of the [gateway] configuration, if any).
    #[arg(long, value_name = "TOKEN")]
    pub(crate) auth_token: Option<String>,
    /// Serve a non-loopback --listen address without a token (refused
    /// otherwise: anyone who can reach it could pull, push and delete).
    #[arg(long)]
    pub(crate) insecure_no_auth: bool,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key;
    /// default: the tls cert of the [gateway] section).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (default: the tls key of the
    /// [gateway] section).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
}

/// `sim --reply`: how the simulated models answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Plausible filler text.
    Lorem,
    /// The last user message.
    Echo,
    /// Edits in Aider's formats.
    Aider,
    /// Scripted replies from this rules file.
    Rules(PathBuf),
}

/// Parses `--reply`; its fixed values (and `rules:FILE`) show in the help
/// and the shell completions.
#[derive(Debug, Clone, Copy)]
struct ReplyParser;

impl clap::builder::TypedValueParser for ReplyParser {
    type Value = Reply;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Reply, clap::Error> {
        let text = value.to_string_lossy();
        match text.as_ref() {
            "lorem" => Ok(Reply::Lorem),
            "echo" => Ok(Reply::Echo),
            "aider" => Ok(Reply::Aider),
            other => match other.strip_prefix("rules:") {
                Some(path) if !path.is_empty() => Ok(Reply::Rules(PathBuf::from(path))),
                _ => {
                    let mut err =
                        clap::Error::new(clap::error::ErrorKind::InvalidValue).with_cmd(cmd);
                    let flag = arg.map_or_else(|| "--reply".to_owned(), ToString::to_string);
                    err.insert(
                        clap::error::ContextKind::InvalidArg,
                        clap::error::ContextValue::String(flag),
                    );
                    err.insert(
                        clap::error::ContextKind::InvalidValue,
                        clap::error::ContextValue::String(other.to_owned()),
                    );
                    err.insert(
                        clap::error::ContextKind::ValidValue,
                        clap::error::ContextValue::Strings(
                            ["lorem", "echo", "aider", "rules:FILE"].map(str::to_owned).to_vec(),
                        ),
                    );
                    Err(err)
                }
            },
        }
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        let values = [
            clap::builder::PossibleValue::new("lorem").help("plausible filler text"),
            clap::builder::PossibleValue::new("echo").help("the last user message"),
            clap::builder::PossibleValue::new("aider").help("edits in Aider's formats"),
            clap::builder::PossibleValue::new("rules:FILE").help("scripted replies from FILE"),
        ];
        Some(Box::new(values.into_iter()))
    }
}

/// The router's strategies as `--strategy` values: written with `-`, the
/// configuration's `_` spelling accepted too.
fn strategies() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(om_router::StrategyKind::ALL.map(|kind| {
        clap::builder::PossibleValue::new(kind.as_str().replace('_', "-")).alias(kind.as_str())
    }))
}

/// A listen address as people write it: `IP:PORT`, `[::1]:PORT`,
/// `localhost:PORT` or `:PORT`. The two short forms bind loopback only
/// (`127.0.0.1`), never every interface: exposing a server is spelled out.
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let port = |p: &str| {
        p.parse::<u16>().map_err(|_| format!("{p:?} is not a port number (0-65535) in {text:?}"))
    };
    if let Some(p) = text.strip_prefix(':') {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port(p)?)));
    }
    if let Some(p) = text.strip_prefix("localhost:") {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port(p)?)));
    }
    text.parse().map_err(|_| {
        format!("{text:?} is not an address; expected IP:PORT, localhost:PORT or :PORT")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_in_every_usual_form() {
        let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
        assert_eq!(parse_listen(":11435"), Ok(loopback(11435)));
        assert_eq!(parse_listen("localhost:0"), Ok(loopback(0)));
        assert_eq!(parse_listen("127.0.0.1:8080"), Ok(loopback(8080)));
        assert_eq!(parse_listen("0.0.0.0:1").map(|a| a.ip().is_unspecified()), Ok(true));
        assert_eq!(parse_listen("[::1]:9").map(|a| a.port()), Ok(9));
        assert!(parse_listen(":99999").unwrap_err().contains("not a port number"));
        assert!(parse_listen("localhost").unwrap_err().contains("localhost:PORT"));
        assert!(parse_listen("example.com:80").is_err());
    }
}
