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
    /// Print data as JSON instead of tables.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve a simulated Ollama fleet (for demos, tests and capacity planning).
    Sim(SimArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Show the fleet: each endpoint's health, version and probe latency,
    /// and each model's details and loaded state.
    #[command(long_about = MODELS_ABOUT)]
    Models(ModelsArgs),
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
}

/// `ollama-meta sim`.
#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:11434", value_name = "ADDR")]
    pub(crate) listen: SocketAddr,
    /// Models to serve, comma separated, from the built-in set.
    #[arg(long, value_delimiter = ',', value_name = "A,B,C")]
    pub(crate) models: Vec<String>,
    /// Generation speed in tokens per second.
    #[arg(long, value_name = "N")]
    pub(crate) tokens_per_sec: Option<f64>,
    /// Time to first token once the model is loaded, in milliseconds.
    #[arg(long, value_name = "MS")]
    pub(crate) ttft_ms: Option<u64>,
    /// Model load time, in milliseconds.
    #[arg(long, value_name = "MS")]
    pub(crate) load_ms: Option<u64>,
    /// Parallel request slots per loaded model.
    #[arg(long, value_name = "N")]
    pub(crate) parallel: Option<usize>,
    /// Seed for the deterministic replies and fault dice.
    #[arg(long, value_name = "N")]
    pub(crate) seed: Option<u64>,
    /// Reply mode: lorem, echo, aider or rules:FILE.
    #[arg(long, value_name = "MODE")]
    pub(crate) reply: Option<String>,
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
