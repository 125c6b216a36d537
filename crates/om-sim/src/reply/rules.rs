//! Scripted replies: a TOML file of `[[rule]]` regex → reply pairs.
//!
//! ```toml
//! default = "I have no scripted answer for that."
//!
//! [[rule]]
//! pattern = "(?i)sky.*blue"
//! reply = "Rayleigh scattering."
//! ```
//!
//! The first rule whose `pattern` matches the last user message wins.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;

/// A loaded rules file.
#[derive(Debug, Clone)]
pub struct RuleSet {
    path: PathBuf,
    rules: Vec<Rule>,
    default: Option<String>,
}

#[derive(Debug, Clone)]
struct Rule {
    pattern: Regex,
    reply: String,
}

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    pattern: toml::Spanned<String>,
    reply: String,
}

impl RuleSet {
    /// Reads and compiles the rules file at `path`.
    ///
    /// # Errors
    ///
    /// [`ReplyModeError`] naming the file: it cannot be read, it is not valid
    /// TOML of the expected shape (with the line), or a pattern is not a valid
    /// regex (with the rule's number, its line and the regex error).
    pub fn load(path: &Path) -> Result<Self, ReplyModeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ReplyModeError::Read { path: path.to_owned(), source })?;
        Self::parse(&text, path)
    }

    /// Compiles rules from `text`; `path` only names the origin in errors.
    ///
    /// # Errors
    ///
    /// As [`RuleSet::load`], except reading.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ReplyModeError> {
        let file: RulesFile = toml::from_str(text).map_err(|e| ReplyModeError::Syntax {
            path: path.to_owned(),
            line: e.span().map(|span| line_of(text, &span)),
            message: e.message().trim_end().to_owned(),
        })?;
        let mut rules = Vec::with_capacity(file.rule.len());
        for (i, raw) in file.rule.into_iter().enumerate() {
            let pattern = Regex::new(raw.pattern.get_ref()).map_err(|e| ReplyModeError::Regex {
                path: path.to_owned(),
                rule: i + 1,
                line: line_of(text, &raw.pattern.span()),
                message: e.to_string(),
            })?;
            rules.push(Rule { pattern, reply: raw.reply });
        }
        Ok(Self { path: path.to_owned(), rules, default: file.default })
    }

    /// The reply of the first rule matching `text`, else the default.
    pub fn reply_for(&self, text: &str) -> Option<&str> {
        self.rules
            .iter()
            .find(|rule| rule.pattern.is_match(text))
            .map(|rule| rule.reply.as_str())
            .or(self.default.as_deref())
    }

    /// Where the rules came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when the file holds no rule (only, perhaps, a default).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// The 1-based line of a byte span's start.
fn line_of(text: &str, span: &Range<usize>) -> usize {
    let end = span.start.min(text.len());
    text.get(..end).unwrap_or(text).matches('\n').count() + 1
}

/// Why a reply mode could not be set up.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReplyModeError {
    /// Not `lorem`, `echo`, `aider` or `rules:PATH`.
    UnknownMode(String),
    /// The rules file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The rules file is not TOML of the expected shape.
    Syntax {
        /// The file.
        path: PathBuf,
        /// The 1-based line, when the parser knows it.
        line: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// A rule's pattern is not a valid regex.
    Regex {
        /// The file.
        path: PathBuf,
        /// The rule's 1-based position among the `[[rule]]` tables.
        rule: usize,
        /// The 1-based line of the pattern.
        line: usize,
        /// The regex error.
        message: String,
    },
}

impl ReplyModeError {
    /// True when the mode name itself is unknown.
    pub fn is_unknown_mode(&self) -> bool {
        matches!(self, Self::UnknownMode(_))
    }

    /// True when the rules file could not be read.
    pub fn is_io(&self) -> bool {
        matches!(self, Self::Read { .. })
    }

    /// True when the rules file is malformed.
    pub fn is_syntax(&self) -> bool {
        matches!(self, Self::Syntax { .. })
    }

    /// True when a pattern does not compile.
    pub fn is_regex(&self) -> bool {
        matches!(self, Self::Regex { .. })
    }
}

impl fmt::Display for ReplyModeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownMode(mode) => write!(
                f,
                "unknown reply mode {mode:?} (expected \"lorem\", \"echo\", \"aider\" or \"rules:PATH\")"
            ),
            Self::Read { path, .. } => write!(f, "cannot read rules file {}", path.display()),
            Self::Syntax { path, line: Some(line), message } => {
                write!(f, "{}:{line}: {message}", path.display())
            }
            Self::Syntax { path, line: None, message } => {
                write!(f, "{}: {message}", path.display())
            }
            // The regex error is part of this message rather than a source:
            // it is the whole explanation, and the regex crate's error type
            // prints the pattern with a caret under the fault.
            Self::Regex { path, rule, line, message } => {
                write!(f, "{}:{line}: rule {rule}: invalid regex: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for ReplyModeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RuleSet, ReplyModeError> {
        RuleSet::parse(text, Path::new("replies.toml"))
    }

    #[test]
    fn first_match_wins_then_default() {
        let rules = parse(
            "default = \"no idea\"\n\n[[rule]]\npattern = \"(?i)sky\"\nreply = \"blue\"\n\n\
             [[rule]]\npattern = 'sky|sea'\nreply = \"\"\"\nwet\nor blue\"\"\"\n",
        )
        .unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules.reply_for("Why is the SKY blue?"), Some("blue"));
        assert_eq!(rules.reply_for("the sea"), Some("wet\nor blue"));
        assert_eq!(rules.reply_for("hello"), Some("no idea"));
        let no_default = parse("[[rule]]\npattern = \"x\"\nreply = \"y\"\n").unwrap();
        assert_eq!(no_default.reply_for("z"), None);
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn invalid_regex_names_file_rule_and_error() {
        let err = parse("[[rule]]\npattern = \"ok\"\nreply = \"a\"\n\n[[rule]]\npattern = \"(unclosed\"\nreply = \"b\"\n")
            .unwrap_err();
        assert!(err.is_regex());
        let text = err.to_string();
        assert!(text.starts_with("replies.toml:6: rule 2: invalid regex: "), "{text}");
        assert!(text.contains("unclosed group"), "{text}");
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let err = parse("[[rule]]\npattern = \"a\"\nreply = \"b\"\n\n[[rule]]\npattern = \"c\"\nrepyl = \"d\"\n")
            .unwrap_err();
        assert!(err.is_syntax());
        let text = err.to_string();
        assert!(text.starts_with("replies.toml:7: "), "{text}");
        assert!(text.contains("repyl"), "{text}");

        let err = parse("[[rule]]\npattern = \"a\"\n").unwrap_err();
        assert!(err.to_string().starts_with("replies.toml:"), "{err}");
        assert!(err.to_string().contains("reply"), "{err}");

        let err = parse("default = 3\n").unwrap_err();
        assert!(err.to_string().starts_with("replies.toml:1: "), "{err}");
    }

    #[test]
    fn missing_file_names_the_file() {
        let err = RuleSet::load(Path::new("/nonexistent/replies.toml")).unwrap_err();
        assert!(err.is_io());
        assert_eq!(err.to_string(), "cannot read rules file /nonexistent/replies.toml");
        assert!(std::error::Error::source(&err).is_some());
    }
}
