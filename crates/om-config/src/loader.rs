//! Layered loading: defaults ← `OLLAMA_HOST` ← file ← `OLLAMA_META_*`
//! environment ← command line, then extraction and checks.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::providers::Serialized;
use figment::value::Value;
use figment::{Figment, Provider};

use crate::config::Config;
use crate::error::{Error, Problem, ProblemKind, Result};
use crate::extract::{extract, layer_problems};
use crate::path::KeyPath;
use crate::provenance::Provenance;
use crate::providers::{
    CONFIG_FILE_VAR, EnvVar, FileFormat, Labeled, OLLAMA_HOST_VAR, ollama_host,
};
use crate::source::Source;

/// Builds the layered configuration and validates it.
///
/// Layers, weakest first; each one overrides the keys it sets and leaves the
/// rest alone (an array, such as `endpoints`, is replaced whole):
///
/// 1. the built-in defaults ([`Config::default`]);
/// 2. `OLLAMA_HOST`, when set, as the single endpoint: so it counts only
///    while no later layer configures endpoints;
/// 3. the file given to [`Loader::file`], or else the one named by
///    `OLLAMA_META_CONFIG`; its format follows its extension (`.toml`,
///    `.yaml`/`.yml`, `.json`);
/// 4. every `OLLAMA_META_*` variable, `__` separating nested keys
///    (`OLLAMA_META_RETRY__MAX_ATTEMPTS=5` sets `retry.max_attempts`);
/// 5. the command-line overrides given to [`Loader::overrides`], in order.
///
/// The environment is read when [`Loader::load`] runs, unless
/// [`Loader::env_vars`] supplied one.
pub struct Loader {
    file: Option<PathBuf>,
    env: Option<Vec<(String, String)>>,
    overrides: Vec<Labeled>,
}

/// A loaded configuration and where each of its values came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated configuration.
    pub config: Config,
    /// The source of every leaf, for `ollama-meta config show`.
    pub provenance: Provenance,
}

impl Loader {
    /// A loader with no file, the process environment and no overrides.
    pub fn new() -> Self {
        Self { file: None, env: None, overrides: Vec::new() }
    }

    /// Reads the configuration file at `path`. The file must exist; a
    /// missing or unreadable file is an error, not an empty layer.
    #[must_use]
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// Uses these variables instead of the process environment, for tests
    /// and embedding. Only these are seen, `OLLAMA_HOST` and
    /// `OLLAMA_META_CONFIG` included.
    #[must_use]
    pub fn env_vars<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env = Some(vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
        self
    }

    /// Adds a command-line layer above everything else: an
    /// [`Overrides`](crate::Overrides), or any figment provider (for example
    /// `figment::providers::Serialized::defaults(flags)` for a `Serialize`
    /// struct of flags). Its values are reported as coming from the command
    /// line. Later calls override earlier ones.
    #[must_use]
    pub fn overrides(mut self, provider: impl Provider + Send + Sync + 'static) -> Self {
        self.overrides.push(Labeled::command_line(provider));
        self
    }

    /// Merges the layers, then extracts and checks the configuration.
    ///
    /// # Errors
    ///
    /// Every problem found, each with its key path and source: a file that
    /// cannot be read or parsed or has an unknown extension, unknown keys
    /// (with a suggestion when one is close), values of the wrong type or
    /// that do not parse (durations, URLs, model names), missing required
    /// keys, and broken rules (see [`Config`]).
    pub fn load(&self) -> Result<Loaded> {
        let env = self.env.clone().unwrap_or_else(process_env);
        let lookup = |name: &str| {
            env.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.trim().is_empty())
        };
        let mut problems = Vec::new();

        let mut figment =
            Figment::new().merge(Labeled::defaults(Serialized::defaults(Config::default())));
        if let Some(host) = lookup(OLLAMA_HOST_VAR) {
            figment = figment.merge(ollama_host(host));
        }
        let file = self.file.clone().or_else(|| lookup(CONFIG_FILE_VAR).map(PathBuf::from));
        if let Some(path) = &file {
            match file_layer(path) {
                Ok(layer) => figment = figment.merge(layer),
                // Go on without the file, so the other layers are checked too.
                Err(problem) => problems.push(problem),
            }
        }
        let mut vars: Vec<EnvVar> =
            env.iter().filter_map(|(k, v)| EnvVar::from_var(k, v)).collect();
        vars.sort_by(|a, b| a.name().cmp(b.name()));
        for var in vars {
            figment = figment.merge(var);
        }
        for layer in &self.overrides {
            figment = figment.merge(layer);
        }

        let mut root: Value = match figment.extract() {
            Ok(root) => root,
            Err(error) => {
                problems.extend(layer_problems(error));
                return Err(finish(problems));
            }
        };
        let extracted = extract(&figment, &mut root);
        problems.extend(extracted.problems);
        match extracted.config {
            Some(config) if problems.is_empty() => {
                let provenance = Provenance::collect(&config, &figment, &root);
                Ok(Loaded { config, provenance })
            }
            _ => Err(finish(problems)),
        }
    }
}

impl Default for Loader {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Loader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loader")
            .field("file", &self.file)
            .field("env", &self.env.as_ref().map(Vec::len))
            .field("overrides", &self.overrides)
            .finish()
    }
}

/// The process environment; variables that are not UTF-8 cannot be
/// configuration and are skipped.
fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// The file as a layer, or the problem that keeps it from being one.
fn file_layer(path: &Path) -> std::result::Result<Labeled, Problem> {
    let problem = |message: String| Problem {
        path: KeyPath::root(),
        source: Source::File(path.to_owned()),
        message,
        kind: ProblemKind::File,
    };
    let format = FileFormat::from_path(path).ok_or_else(|| {
        problem(
            "unknown configuration file format: the name must end in .toml, .yaml, .yml or .json"
                .to_owned(),
        )
    })?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| problem(format!("cannot read the configuration file: {e}")))?;
    Ok(format.provider(path, &text))
}

/// Orders the problems by key path (file-level problems first) and wraps
/// them.
fn finish(mut problems: Vec<Problem>) -> Error {
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    Error::new(problems)
}
