//! `ollama-meta completions SHELL` and `ollama-meta man`: shell completions
//! and the manual page, generated from the parser's own definitions.

use std::io::Write as _;
use std::process::ExitCode;

use clap::CommandFactory as _;
use clap_complete::Shell;

use crate::cli::Cli;

/// Writes the completion script for `shell` on stdout.
pub(crate) fn completions(shell: Shell) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    let mut stdout = std::io::stdout().lock();
    clap_complete::generate(shell, &mut command, "ollama-meta", &mut stdout);
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the manual page (roff) on stdout.
pub(crate) fn man() -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    clap_mangen::Man::new(Cli::command()).render(&mut stdout)?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}
