//! Where a configuration value came from: the built-in defaults, a file, an
//! environment variable or the command line.

use std::fmt;
use std::path::PathBuf;

use figment::Metadata;
use serde::{Serialize, Serializer};

/// Metadata name of the built-in defaults layer.
pub(crate) const DEFAULTS_NAME: &str = "default";
/// Metadata name of the command-line layer.
pub(crate) const COMMAND_LINE_NAME: &str = "command line";
/// Metadata names of environment layers start with this, then the variable.
pub(crate) const ENV_NAME_PREFIX: &str = "environment variable ";

/// The origin of one configuration value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// The built-in default (or a value derived from other settings, such as
    /// an endpoint name derived from its URL).
    Default,
    /// A configuration file.
    File(PathBuf),
    /// An environment variable, by name (`OLLAMA_META_RETRY__MAX_ATTEMPTS`,
    /// `OLLAMA_HOST`).
    Env(String),
    /// A command-line flag.
    CommandLine,
}

impl Source {
    /// Reads the source back from the metadata of a figment provider built by
    /// this crate. Providers are labelled when they are added, so the name is
    /// enough; a file is recognised by its path.
    pub(crate) fn from_metadata(metadata: &Metadata) -> Self {
        if let Some(figment::Source::File(path)) = &metadata.source {
            return Self::File(path.clone());
        }
        if let Some(var) = metadata.name.strip_prefix(ENV_NAME_PREFIX) {
            return Self::Env(var.to_owned());
        }
        if metadata.name == COMMAND_LINE_NAME {
            return Self::CommandLine;
        }
        // Only the defaults layer is left: every provider the loader adds is
        // labelled as one of the above.
        Self::Default
    }

    /// True for the built-in defaults.
    pub fn is_default(&self) -> bool {
        matches!(self, Self::Default)
    }

    /// True for a configuration file.
    pub fn is_file(&self) -> bool {
        matches!(self, Self::File(_))
    }

    /// True for an environment variable.
    pub fn is_env(&self) -> bool {
        matches!(self, Self::Env(_))
    }

    /// True for the command line.
    pub fn is_command_line(&self) -> bool {
        matches!(self, Self::CommandLine)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Env(var) => write!(f, "{ENV_NAME_PREFIX}{var}"),
            Self::CommandLine => f.write_str(COMMAND_LINE_NAME),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_labels_back() {
        let file = Metadata::from("TOML file", std::path::Path::new("/etc/om.toml"));
        assert_eq!(Source::from_metadata(&file), Source::File("/etc/om.toml".into()));
        let env = Metadata::named(format!("{ENV_NAME_PREFIX}OLLAMA_HOST"));
        assert_eq!(Source::from_metadata(&env), Source::Env("OLLAMA_HOST".into()));
        assert_eq!(Source::from_metadata(&Metadata::named(COMMAND_LINE_NAME)), Source::CommandLine);
        assert_eq!(Source::from_metadata(&Metadata::named(DEFAULTS_NAME)), Source::Default);
    }

    #[test]
    fn displays_for_people() {
        assert_eq!(
            Source::Env("OLLAMA_META_RETRY__MAX_ATTEMPTS".into()).to_string(),
            "environment variable OLLAMA_META_RETRY__MAX_ATTEMPTS"
        );
        assert_eq!(Source::CommandLine.to_string(), "command line");
        assert_eq!(Source::File("a/b.toml".into()).to_string(), "a/b.toml");
    }
}
