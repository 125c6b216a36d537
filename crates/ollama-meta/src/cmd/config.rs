//! `ollama-meta config show`: the effective configuration and its sources.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::GlobalArgs;

/// Exit code for invalid input (configuration, task files).
pub(crate) const EXIT_BAD_INPUT: u8 = 2;

/// Loads the configuration the way every command does: defaults, then the
/// `--config` file, then `OLLAMA_META_*`, then flags.
pub(crate) fn load(global: &GlobalArgs) -> Result<om_config::Loaded, om_config::Error> {
    let mut flags = om_config::Overrides::default();
    flags.endpoints.clone_from(&global.endpoints);
    let mut loader = om_config::Loader::new().overrides(flags);
    if let Some(path) = &global.config {
        loader = loader.file(path);
    }
    loader.load()
}

/// Prints the effective configuration, one `key = value  # source` line per
/// setting (or a JSON document with `--json`). Invalid configuration prints
/// every problem and exits with code 2.
pub(crate) fn show(global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let loaded = match load(global) {
        Ok(loaded) => loaded,
        Err(err) => {
            let mut stderr = std::io::stderr().lock();
            writeln!(stderr, "{err}")?;
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let mut stdout = std::io::stdout().lock();
    if global.json {
        let doc = serde_json::json!({
            "config": loaded.config,
            "sources": loaded.provenance.iter().collect::<Vec<_>>(),
        });
        writeln!(stdout, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        write!(stdout, "{}", loaded.provenance)?;
    }
    Ok(ExitCode::SUCCESS)
}
