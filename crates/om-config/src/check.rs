//! Rule checks on values that already parsed: each section reports what it
//! finds under its own key path, and the loader adds where each value came
//! from.

use crate::path::KeyPath;

/// A rule a value breaks, at a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    /// Where the offending value is.
    pub(crate) path: KeyPath,
    /// What is wrong with it.
    pub(crate) message: String,
}

/// The findings of one validation pass.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    items: Vec<Finding>,
}

impl Findings {
    /// Records that the value at `path` breaks a rule.
    pub(crate) fn push(&mut self, path: KeyPath, message: impl Into<String>) {
        self.items.push(Finding { path, message: message.into() });
    }

    /// Records a problem at `path` unless `ok` holds.
    pub(crate) fn require(&mut self, ok: bool, path: impl FnOnce() -> KeyPath, message: &str) {
        if !ok {
            self.push(path(), message);
        }
    }

    /// Everything found, in the order it was found.
    pub(crate) fn into_vec(self) -> Vec<Finding> {
        self.items
    }
}
