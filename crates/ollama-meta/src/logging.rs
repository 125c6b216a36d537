//! Tracing setup: `RUST_LOG` wins, else `-v`/`-q` pick the level; `--json`
//! writes one JSON object per event; colours only on a terminal.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber, writing to stderr so stdout stays data.
/// With `calm` (commands that show their own progress, such as `run`) the
/// default is warnings only, so lifecycle logs do not tear through the
/// progress display; `-v` brings them back. With `json` each event is one
/// JSON line (for log collectors in front of `serve` and `sim`).
pub(crate) fn init(verbose: u8, quiet: bool, calm: bool, json: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) if calm => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        // Escape codes in a file or a pipe are noise.
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (tests) is harmless; ignore the error it returns.
    let _ = if json {
        builder.json().flatten_event(true).with_current_span(true).try_init()
    } else {
        builder.try_init()
    };
}
