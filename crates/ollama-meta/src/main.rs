//! The `ollama-meta` binary: parse arguments, set up logging, run a command.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a CLI writes to its terminal")]

mod batch;
mod cli;
mod cmd;
mod logging;
mod shutdown;

use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command, ConfigCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `models` prints the fleet it discovered; discovery's own log would
    // only repeat it, so unless asked for (-v) only errors are logged.
    let quiet =
        cli.global.quiet || (matches!(cli.command, Command::Models(_)) && cli.global.verbose == 0);
    // `run` draws its own progress; lifecycle logs would tear through it.
    logging::init(
        cli.global.verbose,
        quiet,
        matches!(cli.command, Command::Run(_)),
        cli.global.json,
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        // `ollama-meta … | head`: the reader has all it wanted.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) if err.is::<cmd::bad_input::BadInput>() => {
            eprintln!("error: {err}");
            ExitCode::from(cmd::bad_input::EXIT_BAD_INPUT)
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// True when the error comes from writing to a pipe whose reader left.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let shutdown = CancellationToken::new();
    let signals = tokio::spawn(shutdown::cancel_on_signal(shutdown.clone()));
    let result = match &cli.command {
        Command::Run(args) => cmd::run::run(&cli.global, args).await,
        Command::Sim(args) => cmd::sim::run(args, shutdown.clone()).await,
        Command::Config(ConfigCommand::Show) => cmd::config::show(&cli.global),
        Command::Models(args) => cmd::models::run(&cli.global, args, shutdown.clone()).await,
        Command::Serve(args) => cmd::serve::run(&cli.global, args, shutdown.clone()).await,
        Command::Aider(args) => cmd::aider::run(&cli.global, args).await,
        Command::Completions(args) => cmd::docs::completions(args.shell),
        Command::Man => cmd::docs::man(),
    };
    signals.abort();
    result
}
