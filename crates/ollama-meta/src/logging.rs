//! Tracing setup: `RUST_LOG` wins, else `-v`/`-q` pick the level.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber, writing to stderr so stdout stays data.
/// With `calm` (commands that show their own progress, such as `run`) the
/// default is warnings only, so lifecycle logs do not tear through the
/// progress display; `-v` brings them back.
pub(crate) fn init(verbose: u8, quiet: bool, calm: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) if calm => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // A second init (tests) is harmless; ignore the error it returns.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
