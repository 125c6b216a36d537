//! [`SessionName`]: a task id that is safe as a folder name under the
//! worktree folder and as the last part of the branch `om/<name>`, and
//! [`RepoPath`]: a file path that stays inside the worktree.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use om_core::TaskId;

/// The longest name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 100;

/// A task id checked to be one plain path component and a valid git branch
/// name part, so that `<worktrees>/<name>` never leaves the worktree folder
/// and `om/<name>` is a branch.
///
/// Allowed: ASCII letters, digits, `-`, `_` and `.`, at most
/// [`MAX_NAME_LEN`] bytes, not starting with `.` or `-`, not ending with `.`
/// or `.lock`, and no `..` anywhere (git's `check-ref-format` rules for
/// these characters). `..`, `/`, `\`, spaces and the empty string are
/// rejected.
///
/// ```
/// use om_aider::SessionName;
/// use om_core::TaskId;
///
/// let name = SessionName::new(&TaskId::new("fix-parser.1"))?;
/// assert_eq!(name.branch(), "om/fix-parser.1");
/// assert!(SessionName::new(&TaskId::new("../escape")).is_err());
/// assert!(SessionName::new(&TaskId::new("a/b")).is_err());
/// # Ok::<(), om_aider::InvalidName>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionName(String);

impl SessionName {
    /// The prefix of every session branch.
    pub const BRANCH_PREFIX: &'static str = "om/";

    /// Checks `id`.
    ///
    /// # Errors
    ///
    /// [`InvalidName`] saying which rule the id breaks.
    pub fn new(id: &TaskId) -> Result<Self, InvalidName> {
        let text = id.as_str();
        let reason = if text.is_empty() {
            Some("is empty")
        } else if text.len() > MAX_NAME_LEN {
            Some("is longer than 100 bytes")
        } else if let Some(bad) =
            text.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(InvalidName {
                id: text.to_owned(),
                reason: format!(
                    "contains {bad:?}; only letters, digits, '-', '_' and '.' are allowed"
                ),
            });
        } else if text.starts_with('.') || text.starts_with('-') {
            Some("starts with '.' or '-'")
        } else if text.ends_with('.') || text.to_ascii_lowercase().ends_with(".lock") {
            Some("ends with '.' or '.lock'")
        } else if text.contains("..") {
            Some("contains '..'")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(InvalidName { id: text.to_owned(), reason: reason.to_owned() }),
            None => Ok(Self(text.to_owned())),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The session's branch, `om/<name>`.
    pub fn branch(&self) -> String {
        format!("{}{}", Self::BRANCH_PREFIX, self.0)
    }
}

impl fmt::Display for SessionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The task id cannot name a worktree and a branch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("task id {id:?} cannot name a worktree: it {reason}")]
pub struct InvalidName {
    /// The task id as given.
    pub id: String,
    /// The rule it breaks.
    pub reason: String,
}

/// A path relative to the repository root that cannot leave it: no root,
/// no drive prefix, no `..`, not empty. `.` components are dropped.
///
/// ```
/// use om_aider::RepoPath;
///
/// assert_eq!(RepoPath::new("./src/lib.rs")?.as_path(), std::path::Path::new("src/lib.rs"));
/// assert!(RepoPath::new("../secrets").is_err());
/// assert!(RepoPath::new("/etc/passwd").is_err());
/// # Ok::<(), om_aider::InvalidPath>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoPath(PathBuf);

impl RepoPath {
    /// Checks `path`.
    ///
    /// # Errors
    ///
    /// [`InvalidPath`] when the path is empty, absolute or climbs out with
    /// `..`.
    pub fn new(path: impl AsRef<Path>) -> Result<Self, InvalidPath> {
        let path = path.as_ref();
        let invalid = |reason: &'static str| InvalidPath { path: path.to_path_buf(), reason };
        let mut clean = PathBuf::new();
        for component in path.components() {
            match component {
                Component::Normal(part) => clean.push(part),
                Component::CurDir => {}
                Component::ParentDir => return Err(invalid("climbs out with '..'")),
                Component::RootDir | Component::Prefix(_) => {
                    return Err(invalid("is absolute; give it relative to the repository"));
                }
            }
        }
        if clean.as_os_str().is_empty() {
            return Err(invalid("is empty"));
        }
        Ok(Self(clean))
    }

    /// The path, relative to the repository root.
    pub fn as_path(&self) -> &Path {
        &self.0
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.display().fmt(f)
    }
}

/// The path cannot be confined to the repository.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("file {path:?} {reason}")]
pub struct InvalidPath {
    /// The path as given.
    pub path: PathBuf,
    /// Why.
    pub reason: &'static str,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn name(id: &str) -> Result<SessionName, InvalidName> {
        SessionName::new(&TaskId::new(id))
    }

    #[test]
    fn plain_ids_are_accepted() {
        for id in ["a", "fix-1", "task_02", "v1.2", "A.b-c_d", &"x".repeat(100)] {
            let n = name(id).unwrap();
            assert_eq!(n.as_str(), id);
            assert_eq!(n.branch(), format!("om/{id}"));
        }
    }

    #[test]
    fn escaping_or_odd_ids_are_rejected() {
        for id in [
            "",
            ".",
            "..",
            "../x",
            "x/..",
            "a/b",
            "a\\b",
            "/abs",
            ".hidden",
            "-flag",
            "x.",
            "x.lock",
            "a..b",
            "with space",
            "tab\t",
            "new\nline",
            "é",
            "a:b",
            "a~1",
            "a^",
            "a?",
            "a*",
            "a[b",
            "@{u}",
            &"x".repeat(101),
        ] {
            let err = name(id).unwrap_err();
            assert_eq!(err.id, id);
            assert!(err.to_string().contains("cannot name a worktree"), "{err}");
        }
    }

    #[test]
    fn repo_paths_stay_inside() {
        assert_eq!(RepoPath::new("a/./b.rs").unwrap().as_path(), Path::new("a/b.rs"));
        assert_eq!(
            RepoPath::new("dir with space/q\"uote.py").unwrap().to_string(),
            "dir with space/q\"uote.py"
        );
        for bad in ["", ".", "./", "..", "a/../../b", "a/..", "/etc/passwd"] {
            assert!(RepoPath::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    proptest! {
        /// Whatever the id, an accepted name is exactly one normal path
        /// component: joined to a folder it stays directly inside it.
        #[test]
        fn accepted_names_are_one_component(id in "\\PC{0,12}") {
            if let Ok(n) = name(&id) {
                let joined = Path::new("/w").join(n.as_str());
                prop_assert_eq!(joined.parent(), Some(Path::new("/w")));
                let components: Vec<_> = Path::new(n.as_str()).components().collect();
                prop_assert_eq!(components.len(), 1);
                prop_assert!(matches!(components[0], Component::Normal(_)));
            }
        }

        /// An accepted repository path never has a component that climbs out.
        #[test]
        fn accepted_paths_never_climb(parts in proptest::collection::vec("(\\.\\.|\\.|[a-z]{1,3}|/)", 0..6)) {
            let path: String = parts.concat();
            if let Ok(p) = RepoPath::new(&path) {
                prop_assert!(p.as_path().components().all(|c| matches!(c, Component::Normal(_))));
            }
        }
    }
}
