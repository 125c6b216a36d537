//! Command-line arguments of the `ollama-meta` binary (clap derive).

use std::net::SocketAddr;
use std::path::PathBuf;

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
