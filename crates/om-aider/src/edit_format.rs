//! [`EditFormat`]: how Aider asks the model to write its edits.

use std::fmt;
use std::str::FromStr;

/// How the model writes edits (`--edit-format`, or `--editor-edit-format`
/// for the editor model of architect mode).
///
/// The names are aider-chat's (`aider/coders/*`, the `edit_format` of each
/// coder); the pseudo-formats that are modes of their own (`ask`,
/// `architect`, `context`, `help`) are [`Mode`](crate::Mode)s here instead.
///
/// ```
/// use om_aider::EditFormat;
///
/// let diff: EditFormat = "diff".parse()?;
/// assert_eq!(diff, EditFormat::Diff);
/// assert_eq!(diff.as_str(), "diff");
/// assert!("ask".parse::<EditFormat>().is_err());
/// # Ok::<(), om_aider::UnknownEditFormat>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EditFormat {
    /// The whole file, rewritten (`whole`).
    Whole,
    /// SEARCH/REPLACE blocks after the file name (`diff`).
    Diff,
    /// SEARCH/REPLACE blocks with the file name inside the fence (`diff-fenced`).
    DiffFenced,
    /// Unified diffs (`udiff`).
    Udiff,
    /// Unified diffs, simpler prompt (`udiff-simple`).
    UdiffSimple,
    /// OpenAI-style patches (`patch`).
    Patch,
    /// The editor model's SEARCH/REPLACE (`editor-diff`).
    EditorDiff,
    /// The editor model's fenced SEARCH/REPLACE (`editor-diff-fenced`).
    EditorDiffFenced,
    /// The editor model's whole files (`editor-whole`).
    EditorWhole,
}

impl EditFormat {
    /// Every format, in aider's alphabetical order.
    pub const ALL: [Self; 9] = [
        Self::Diff,
        Self::DiffFenced,
        Self::EditorDiff,
        Self::EditorDiffFenced,
        Self::EditorWhole,
        Self::Patch,
        Self::Udiff,
        Self::UdiffSimple,
        Self::Whole,
    ];

    /// The name aider takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Whole => "whole",
            Self::Diff => "diff",
            Self::DiffFenced => "diff-fenced",
            Self::Udiff => "udiff",
            Self::UdiffSimple => "udiff-simple",
            Self::Patch => "patch",
            Self::EditorDiff => "editor-diff",
            Self::EditorDiffFenced => "editor-diff-fenced",
            Self::EditorWhole => "editor-whole",
        }
    }
}

impl fmt::Display for EditFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EditFormat {
    type Err = UnknownEditFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|format| format.as_str() == s)
            .ok_or_else(|| UnknownEditFormat { name: s.to_owned() })
    }
}

/// The name is not an edit format Aider knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown edit format `{name}` (expected one of: diff, diff-fenced, editor-diff, \
     editor-diff-fenced, editor-whole, patch, udiff, udiff-simple, whole)"
)]
pub struct UnknownEditFormat {
    /// The name given.
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for format in EditFormat::ALL {
            assert_eq!(format.as_str().parse::<EditFormat>(), Ok(format));
            assert_eq!(format.to_string(), format.as_str());
        }
    }

    #[test]
    fn modes_are_not_edit_formats() {
        for name in ["ask", "architect", "help", "context", "", "Diff"] {
            let err = name.parse::<EditFormat>().unwrap_err();
            assert_eq!(err.name, name);
            assert!(err.to_string().contains("udiff-simple"));
        }
    }
}
