//! Task vocabulary: categories, priorities and model capabilities.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What kind of work a task is; routing learns per category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskCategory {
    /// Writing new code.
    Coding,
    /// Restructuring existing code.
    Refactoring,
    /// Writing or fixing tests.
    Testing,
    /// Docs, comments, READMEs.
    Documentation,
    /// Finding and fixing a bug.
    Debugging,
    /// Reviewing a change.
    CodeReview,
    /// Anything else.
    General,
}

impl TaskCategory {
    /// Every category, in declaration order.
    pub const ALL: [Self; 7] = [
        Self::Coding,
        Self::Refactoring,
        Self::Testing,
        Self::Documentation,
        Self::Debugging,
        Self::CodeReview,
        Self::General,
    ];

    /// The `snake_case` name used in files and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Coding => "coding",
            Self::Refactoring => "refactoring",
            Self::Testing => "testing",
            Self::Documentation => "documentation",
            Self::Debugging => "debugging",
            Self::CodeReview => "code_review",
            Self::General => "general",
        }
    }
}

/// How urgent a task is. Higher runs first; FIFO within a level.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Runs after everything else.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Runs first.
    High,
}

impl Priority {
    /// Every priority, highest first.
    pub const ALL: [Self; 3] = [Self::High, Self::Normal, Self::Low];

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
        }
    }
}

/// A value that is not one of a closed set of names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {input:?}; expected one of: {expected}")]
pub struct UnknownNameError {
    /// What kind of name it was meant to be.
    pub what: &'static str,
    /// The text given.
    pub input: String,
    /// The accepted names, comma separated.
    pub expected: String,
}

macro_rules! closed_name {
    ($ty:ident, $what:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownNameError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
                Self::ALL.into_iter().find(|v| v.as_str() == wanted).ok_or_else(|| {
                    UnknownNameError {
                        what: $what,
                        input: s.to_owned(),
                        expected: Self::ALL.map(Self::as_str).join(", "),
                    }
                })
            }
        }
    };
}

closed_name!(TaskCategory, "category");
closed_name!(Priority, "priority");
closed_name!(Capability, "capability");

/// One thing a model can do, as `/api/show` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    /// Text generation.
    Completion,
    /// Native tool calling.
    Tools,
    /// Fill-in-the-middle (`suffix`).
    Insert,
    /// Image input.
    Vision,
    /// Embeddings.
    Embedding,
    /// A reasoning trace (`think`).
    Thinking,
}

impl Capability {
    /// Every capability.
    pub const ALL: [Self; 6] = [
        Self::Completion,
        Self::Tools,
        Self::Insert,
        Self::Vision,
        Self::Embedding,
        Self::Thinking,
    ];

    /// The name Ollama uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completion => "completion",
            Self::Tools => "tools",
            Self::Insert => "insert",
            Self::Vision => "vision",
            Self::Embedding => "embedding",
            Self::Thinking => "thinking",
        }
    }

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of [`Capability`] values; cheap to copy and compare.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Capabilities(u8);

impl Capabilities {
    /// The empty set.
    pub const NONE: Self = Self(0);

    /// A set of the given capabilities.
    pub fn of(caps: &[Capability]) -> Self {
        caps.iter().copied().collect()
    }

    /// Parses Ollama's capability strings, ignoring ones we do not model
    /// (`image`, `audio`), so newer servers do not break discovery.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        names.into_iter().filter_map(|n| n.parse::<Capability>().ok()).collect()
    }

    /// True when `cap` is in the set.
    pub fn has(self, cap: Capability) -> bool {
        self.0 & cap.bit() != 0
    }

    /// True when every capability of `other` is in this set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The set with `cap` added.
    #[must_use]
    pub fn with(self, cap: Capability) -> Self {
        Self(self.0 | cap.bit())
    }

    /// The members, in [`Capability::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL.into_iter().filter(move |c| self.has(*c))
    }

    /// The members as Ollama's strings.
    pub fn names(self) -> Vec<String> {
        self.iter().map(|c| c.as_str().to_owned()).collect()
    }

    /// True when the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        iter.into_iter().fold(Self::NONE, Self::with)
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Serialize for Capabilities {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Capabilities {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        Ok(Self::from_names(names.iter().map(String::as_str)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_leniently() {
        assert_eq!("Code-Review".parse::<TaskCategory>().unwrap(), TaskCategory::CodeReview);
        assert_eq!("HIGH".parse::<Priority>().unwrap(), Priority::High);
        let err = "urgent".parse::<Priority>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown priority \"urgent\"; expected one of: high, normal, low"
        );
    }

    #[test]
    fn priority_orders_high_first() {
        assert!(Priority::High > Priority::Normal && Priority::Normal > Priority::Low);
    }

    #[test]
    fn capability_sets() {
        let caps = Capabilities::from_names(["completion", "tools", "audio"]);
        assert!(caps.has(Capability::Tools));
        assert!(!caps.has(Capability::Embedding));
        assert!(caps.contains(Capabilities::of(&[Capability::Tools])));
        assert!(!caps.contains(Capabilities::of(&[Capability::Tools, Capability::Vision])));
        assert_eq!(serde_json::to_string(&caps).unwrap(), r#"["completion","tools"]"#);
    }
}
