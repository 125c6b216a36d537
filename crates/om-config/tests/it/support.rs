//! Helpers: loading inside a `figment::Jail` and reading problems.

use figment::Jail;
use om_config::{Error, Loaded, Loader, Problem};

/// Loads inside a jail, turning our error into figment's so `?` works in
/// `Jail::expect_with` closures.
pub(crate) fn load(loader: &Loader) -> figment::error::Result<Loaded> {
    loader.load().map_err(|e| figment::Error::from(e.to_string()))
}

/// Loads and expects failure.
pub(crate) fn load_err(loader: &Loader) -> figment::error::Result<Error> {
    match loader.load() {
        Ok(loaded) => Err(format!("expected an error, loaded {:?}", loaded.config).into()),
        Err(error) => Ok(error),
    }
}

/// The problem at `path`, or an error listing what there is.
pub(crate) fn problem_at<'a>(error: &'a Error, path: &str) -> figment::error::Result<&'a Problem> {
    error
        .problems()
        .iter()
        .find(|p| p.path.to_string() == path)
        .ok_or_else(|| format!("no problem at {path}; problems:\n{error}").into())
}

/// A jail with an empty environment, so the machine's own `OLLAMA_HOST` or
/// `OLLAMA_META_*` cannot leak into a test.
pub(crate) fn clean_jail(f: impl FnOnce(&mut Jail) -> figment::error::Result<()>) {
    Jail::expect_with(|jail| {
        jail.clear_env();
        f(jail)
    });
}
