//! The loading error: every problem found, each naming its key and source.

use std::fmt;

use serde::Serialize;

use crate::path::KeyPath;
use crate::source::Source;

/// What sort of problem a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProblemKind {
    /// The configuration file could not be read or parsed, or its extension
    /// names no supported format.
    File,
    /// A key that the schema does not have.
    UnknownKey,
    /// A required key is absent.
    MissingKey,
    /// A value of the wrong type or that does not parse (a duration, a URL,
    /// a model name).
    InvalidValue,
    /// Values that parse but break a rule (a weight of zero, two endpoints
    /// with one name, a backoff above its maximum).
    Constraint,
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The key, from the root (`endpoints[1].url`); the root itself for
    /// problems with a whole file.
    pub path: KeyPath,
    /// Where the offending value came from.
    pub source: Source,
    /// What is wrong, for a person.
    pub message: String,
    /// The category, for code.
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    /// `source: path: message`, like a compiler diagnostic.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_root() {
            write!(f, "{}: {}", self.source, self.message)
        } else {
            write!(f, "{}: {}: {}", self.source, self.path, self.message)
        }
    }
}

/// The configuration could not be loaded. Holds every problem found, not
/// just the first, so that one run shows everything there is to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", DisplayProblems(&self.problems))]
pub struct Error {
    problems: Vec<Problem>,
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps a non-empty list of problems.
    pub(crate) fn new(problems: Vec<Problem>) -> Self {
        debug_assert!(!problems.is_empty(), "an error needs at least one problem");
        Self { problems }
    }

    /// Every problem, ordered by key path.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// True when the file itself is the problem (unreadable, unparsable, or
    /// of an unknown format).
    pub fn is_file(&self) -> bool {
        self.has(ProblemKind::File)
    }

    /// True when some key is not in the schema.
    pub fn has_unknown_key(&self) -> bool {
        self.has(ProblemKind::UnknownKey)
    }

    /// True when some value has the wrong type, does not parse or breaks a
    /// rule.
    pub fn has_invalid_value(&self) -> bool {
        self.has(ProblemKind::InvalidValue)
            || self.has(ProblemKind::Constraint)
            || self.has(ProblemKind::MissingKey)
    }

    fn has(&self, kind: ProblemKind) -> bool {
        self.problems.iter().any(|p| p.kind == kind)
    }
}

impl IntoIterator for Error {
    type Item = Problem;
    type IntoIter = std::vec::IntoIter<Problem>;

    fn into_iter(self) -> Self::IntoIter {
        self.problems.into_iter()
    }
}

/// Lists problems one per line.
struct DisplayProblems<'a>(&'a [Problem]);

impl fmt::Display for DisplayProblems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [first, rest @ ..] = self.0 else {
            return f.write_str("invalid configuration");
        };
        // A single problem reads as one line; several get a header so the
        // first problem is not mistaken for the whole story.
        if rest.is_empty() {
            return write!(f, "invalid configuration: {first}");
        }
        write!(f, "invalid configuration ({} problems):", self.0.len())?;
        for problem in self.0 {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(path: KeyPath, source: Source, message: &str) -> Problem {
        Problem { path, source, message: message.to_owned(), kind: ProblemKind::Constraint }
    }

    #[test]
    fn lists_one_problem_per_line() {
        let error = Error::new(vec![
            problem(
                KeyPath::root().key("retry").key("max_attempts"),
                Source::Env("OLLAMA_META_RETRY__MAX_ATTEMPTS".into()),
                "must be at least 1",
            ),
            problem(
                KeyPath::root().key("endpoints").index(1).key("weight"),
                Source::File("om.toml".into()),
                "must be greater than 0",
            ),
        ]);
        assert_eq!(
            error.to_string(),
            "invalid configuration (2 problems):\n  \
             environment variable OLLAMA_META_RETRY__MAX_ATTEMPTS: retry.max_attempts: must be at least 1\n  \
             om.toml: endpoints[1].weight: must be greater than 0"
        );
        assert!(error.has_invalid_value());
        assert!(!error.has_unknown_key());
    }

    #[test]
    fn a_single_problem_is_one_line() {
        let error = Error::new(vec![problem(KeyPath::root(), Source::CommandLine, "bad")]);
        assert_eq!(error.to_string(), "invalid configuration: command line: bad");
    }
}
