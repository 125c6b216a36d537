//! `ollama-meta config show`: the effective configuration and its sources.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::GlobalArgs;

use crate::cmd::bad_input::BadInput;

/// Loads the configuration the way every command does: defaults, then the
/// `--config` file, then `OLLAMA_META_*`, then flags — `--endpoint`, and
/// the command's own flags as `settings` (`key`, value) pairs.
pub(crate) fn load(
    global: &GlobalArgs,
    settings: Vec<(String, String)>,
) -> Result<om_config::Loaded, om_config::Error> {
    let mut flags = om_config::Overrides::default();
    flags.endpoints.clone_from(&global.endpoints);
    flags.settings = settings;
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
    let loaded = load(global, Vec::new()).map_err(BadInput::from_error)?;
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
