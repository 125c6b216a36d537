//! Key paths into the configuration tree, printed the way a user writes them
//! (`endpoints[1].url`, `models."llama3.2".keep_alive`).

use std::fmt;

use serde::{Serialize, Serializer};

/// One step of a [`KeyPath`]: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    /// A key in a table.
    Key(String),
    /// A position in an array.
    Index(usize),
}

/// The location of a value in the configuration, from the root.
///
/// Displays with dots between keys and brackets around indices; keys that are
/// not plain identifiers are quoted, as in TOML: `models."llama3.2:8b".options`.
/// Ordering is segment by segment, so `endpoints[2]` sorts before
/// `endpoints[10]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyPath(Vec<Segment>);

impl KeyPath {
    /// The root of the configuration (displays as an empty string).
    pub fn root() -> Self {
        Self::default()
    }

    /// Builds a path from its segments.
    pub fn from_segments(segments: Vec<Segment>) -> Self {
        Self(segments)
    }

    /// The segments, from the root.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// This path extended by a table key.
    #[must_use]
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Key(key.into()));
        next
    }

    /// This path extended by an array index.
    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }

    /// True for the root path.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `self` is `other` or lies inside it.
    pub fn starts_with(&self, other: &Self) -> bool {
        self.0.starts_with(&other.0)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Index(n) => write!(f, "[{n}]")?,
                Segment::Key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if is_bare_key(key) {
                        f.write_str(key)?;
                    } else {
                        write!(f, "{key:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl Serialize for KeyPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// TOML's bare-key alphabet; anything else is printed quoted.
fn is_bare_key(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_a_user_writes_it() {
        let path = KeyPath::root().key("endpoints").index(1).key("url");
        assert_eq!(path.to_string(), "endpoints[1].url");
        let path = KeyPath::root().key("models").key("llama3.2:8b").key("keep_alive");
        assert_eq!(path.to_string(), "models.\"llama3.2:8b\".keep_alive");
        assert_eq!(KeyPath::root().to_string(), "");
    }

    #[test]
    fn orders_indices_numerically() {
        let two = KeyPath::root().key("endpoints").index(2);
        let ten = KeyPath::root().key("endpoints").index(10);
        assert!(two < ten);
    }

    #[test]
    fn prefix_test() {
        let endpoints = KeyPath::root().key("endpoints");
        let url = endpoints.index(0).key("url");
        assert!(url.starts_with(&endpoints));
        assert!(!endpoints.starts_with(&url));
    }
}
