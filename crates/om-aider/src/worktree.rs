//! The repository sessions work on, and one session's git worktree in it.
//!
//! Every session gets its own worktree at `<repo>/.om-worktrees/<task id>`
//! on its own branch `om/<task id>`, made from the base commit the
//! repository resolved when it was opened, so sessions never see each
//! other's files and all start from the same commit even if the base branch
//! moves meanwhile. The repository's `.git/info/exclude` (a local, untracked
//! file shared by every worktree) lists the worktree folder, so the main
//! checkout does not show it as untracked, and Aider's own files (`.aider*`:
//! its repository-map cache, histories), so they never count as a
//! session's changes, get committed, or keep a worktree from being removed.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::diffstat::DiffStat;
use crate::error::{SessionError, SetupError};
use crate::git::{GitError, git, git_line};
use crate::name::SessionName;

/// The folder, inside the repository, that holds the session worktrees.
pub const WORKTREE_FOLDER: &str = ".om-worktrees";

/// The folder, inside [`WORKTREE_FOLDER`], that holds session logs. Task ids
/// cannot start with `.`, so it never collides with a worktree.
pub const LOG_FOLDER: &str = ".logs";

/// One commit a session made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The full hash.
    pub id: String,
    /// The first line of its message.
    pub summary: String,
}

/// A git repository opened for sessions: its top folder, the base commit,
/// and the worktree and log folders.
#[derive(Debug)]
pub struct Repository {
    top: PathBuf,
    worktrees: PathBuf,
    logs: PathBuf,
    base: String,
    base_commit: String,
    /// Serialises `git worktree add/remove/prune`: they edit the shared
    /// `.git/worktrees` metadata and take git's own lock files, which make a
    /// concurrent second call fail instead of wait. Held across the git
    /// process's `.await` on purpose, hence a tokio mutex.
    admin: tokio::sync::Mutex<()>,
}

impl Repository {
    /// Opens the repository that contains `path`, resolves `base` to a
    /// commit, creates the worktree and log folders, and lists the worktree
    /// folder in `.git/info/exclude`.
    ///
    /// # Errors
    ///
    /// [`SetupError::NotARepository`], [`SetupError::BadBase`] or
    /// [`SetupError::Io`].
    pub async fn open(path: &Path, base: &str) -> Result<Self, SetupError> {
        let not_repo = |source| SetupError::NotARepository { path: path.to_path_buf(), source };
        let top = PathBuf::from(
            git_line(path, ["rev-parse", "--show-toplevel"]).await.map_err(not_repo)?,
        );
        let common = git_line(&top, ["rev-parse", "--path-format=absolute", "--git-common-dir"])
            .await
            .map_err(not_repo)?;
        let base_commit = git_line(
            &top,
            ["rev-parse", "--verify", "--quiet", "--end-of-options", &format!("{base}^{{commit}}")],
        )
        .await
        .map_err(|source| SetupError::BadBase { base: base.to_owned(), source })?;
        let worktrees = top.join(WORKTREE_FOLDER);
        let logs = worktrees.join(LOG_FOLDER);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SetupError::Io { path, source }
        };
        tokio::fs::create_dir_all(&logs).await.map_err(io(&logs))?;
        let exclude = PathBuf::from(common).join("info").join("exclude");
        let (dir, file) = (exclude.parent().map(Path::to_path_buf), exclude.clone());
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = dir {
                std::fs::create_dir_all(dir)?;
            }
            exclude_folder(&file)
        })
        .await
        .map_err(|join| SetupError::Io { path: exclude.clone(), source: join.into() })?
        .map_err(io(&exclude))?;
        Ok(Self {
            top,
            worktrees,
            logs,
            base: base.to_owned(),
            base_commit,
            admin: tokio::sync::Mutex::new(()),
        })
    }

    /// The repository's top folder.
    pub fn top(&self) -> &Path {
        &self.top
    }

    /// The folder holding the worktrees.
    pub fn worktree_folder(&self) -> &Path {
        &self.worktrees
    }

    /// The folder holding the session logs.
    pub fn log_folder(&self) -> &Path {
        &self.logs
    }

    /// The base ref as given.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The commit the base ref named when the repository was opened.
    pub fn base_commit(&self) -> &str {
        &self.base_commit
    }

    /// Where the worktree of `name` lives: always directly inside the
    /// worktree folder (a [`SessionName`] is one plain path component).
    pub fn worktree_path(&self, name: &SessionName) -> PathBuf {
        let path = self.worktrees.join(name.as_str());
        debug_assert_eq!(path.parent(), Some(self.worktrees.as_path()));
        path
    }

    /// Makes the worktree of `name` on branch `om/<name>` at the base
    /// commit. A worktree left by an earlier run of the same task is
    /// removed first, and the branch is reset to the base commit — unless
    /// that would destroy work: a process still working in the old
    /// worktree, or commits on the branch that the base does not have.
    ///
    /// # Errors
    ///
    /// [`SessionError::WorktreeInUse`], [`SessionError::UnmergedBranch`],
    /// or [`SessionError::Git`] when git fails.
    pub async fn add(&self, name: &SessionName) -> Result<Worktree, SessionError> {
        let path = self.worktree_path(name);
        let branch = name.branch();
        let _admin = self.admin.lock().await;
        let pids = processes_in(&path);
        if !pids.is_empty() {
            return Err(SessionError::WorktreeInUse { path, pids });
        }
        let reference = format!("refs/heads/{branch}");
        if git(&self.top, ["rev-parse", "--verify", "--quiet", &reference]).await.is_ok() {
            let range = format!("{}..{reference}", self.base);
            let count = git_line(&self.top, ["rev-list", "--count", &range]).await?;
            let commits = count.trim().parse::<u64>().unwrap_or(u64::MAX);
            if commits > 0 {
                return Err(SessionError::UnmergedBranch {
                    branch,
                    commits,
                    base: self.base.clone(),
                });
            }
        }
        if tokio::fs::try_exists(&path).await.unwrap_or(true) {
            // Leftovers: a kept or interrupted earlier session. A folder
            // git does not know is removed by hand.
            let removed = git(
                &self.top,
                [os("worktree"), os("remove"), os("--force"), path.as_os_str().to_owned()],
            )
            .await;
            if removed.is_err() {
                tokio::fs::remove_dir_all(&path)
                    .await
                    .map_err(|source| SessionError::Io { path: path.clone(), source })?;
            }
        }
        git(&self.top, ["worktree", "prune"]).await?;
        git(
            &self.top,
            [
                os("worktree"),
                os("add"),
                os("--quiet"),
                os("-B"),
                os(&branch),
                path.as_os_str().to_owned(),
                os(&self.base_commit),
            ],
        )
        .await?;
        Ok(Worktree { name: name.clone(), path, branch, base_commit: self.base_commit.clone() })
    }

    /// Removes a worktree (its branch stays).
    ///
    /// # Errors
    ///
    /// The [`GitError`] when git cannot remove it.
    pub async fn remove(&self, worktree: &Worktree) -> Result<(), GitError> {
        let _admin = self.admin.lock().await;
        git(
            &self.top,
            [os("worktree"), os("remove"), os("--force"), worktree.path.as_os_str().to_owned()],
        )
        .await
        .map(drop)
    }
}

fn os(text: &str) -> std::ffi::OsString {
    text.into()
}

/// The processes whose working folder is `path` or inside it (Linux: from
/// `/proc/*/cwd`; those of other users cannot be seen and do not count).
#[cfg(target_os = "linux")]
fn processes_in(path: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut pids: Vec<u32> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(path))
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// Elsewhere there is no portable way to ask: nothing is found.
#[cfg(not(target_os = "linux"))]
fn processes_in(_path: &Path) -> Vec<u32> {
    Vec::new()
}

/// The patterns sessions add to `.git/info/exclude`: the worktree folder,
/// and Aider's own files.
pub const EXCLUDES: [&str; 2] = ["/.om-worktrees/", ".aider*"];

/// Adds the [`EXCLUDES`] lines an exclude file lacks.
fn exclude_folder(file: &Path) -> std::io::Result<()> {
    let existing = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(err),
    };
    let missing: Vec<&str> =
        EXCLUDES.into_iter().filter(|line| !existing.lines().any(|l| l.trim() == *line)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut out = std::fs::OpenOptions::new().create(true).append(true).open(file)?;
    if !existing.is_empty() && !existing.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    writeln!(out, "# ollama-meta aider: session worktrees and Aider's own files")?;
    for line in missing {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// One session's worktree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worktree {
    /// The session.
    pub name: SessionName,
    /// The folder.
    pub path: PathBuf,
    /// The branch checked out there, `om/<name>`.
    pub branch: String,
    /// The commit it started from.
    pub base_commit: String,
}

impl Worktree {
    /// True when the worktree has changes not committed (untracked files
    /// included).
    ///
    /// # Errors
    ///
    /// The [`GitError`].
    pub async fn is_dirty(&self) -> Result<bool, GitError> {
        Ok(!git(&self.path, ["status", "--porcelain", "-z", "--untracked-files=all"])
            .await?
            .is_empty())
    }

    /// Commits every change (untracked files included) with `message`;
    /// false when there was nothing to commit.
    ///
    /// # Errors
    ///
    /// The [`GitError`] (for example, no committer identity configured).
    pub async fn commit_all(&self, message: &str) -> Result<bool, GitError> {
        if !self.is_dirty().await? {
            return Ok(false);
        }
        git(&self.path, ["add", "--all"]).await?;
        git(&self.path, ["commit", "--quiet", "--no-verify", "--message", message]).await?;
        Ok(true)
    }

    /// The commits on the branch since the base commit, oldest first.
    ///
    /// # Errors
    ///
    /// The [`GitError`].
    pub async fn commits(&self) -> Result<Vec<Commit>, GitError> {
        let range = format!("{}..HEAD", self.base_commit);
        let out = git(&self.path, ["log", "--reverse", "--format=%H%x00%s", &range, "--"]).await?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .filter_map(|line| line.split_once('\0'))
            .map(|(id, summary)| Commit { id: id.to_owned(), summary: summary.to_owned() })
            .collect())
    }

    /// What changed since the base commit: committed and uncommitted
    /// changes, untracked files included (they are marked intent-to-add in
    /// the worktree's own index so that the diff sees them).
    ///
    /// # Errors
    ///
    /// [`SessionError::Git`] or [`SessionError::Numstat`].
    pub async fn diffstat(&self) -> Result<DiffStat, SessionError> {
        if self.is_dirty().await? {
            git(&self.path, ["add", "--all", "--intent-to-add"]).await?;
        }
        let out =
            git(&self.path, ["diff", "--numstat", "-z", "--no-renames", &self.base_commit, "--"])
                .await?;
        Ok(DiffStat::parse_numstat(&out)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exclude_line_is_added_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("exclude");
        std::fs::write(&file, "*.tmp").unwrap();
        exclude_folder(&file).unwrap();
        exclude_folder(&file).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text.matches("/.om-worktrees/").count(), 1, "{text}");
        assert_eq!(text.matches(".aider*").count(), 1, "{text}");
        assert!(text.starts_with("*.tmp\n"), "{text}");
        // A file that has one line already gets only the other.
        std::fs::write(&file, ".aider*\n").unwrap();
        exclude_folder(&file).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text.matches(".aider*").count(), 1, "{text}");
        assert_eq!(text.matches("/.om-worktrees/").count(), 1, "{text}");
    }
}
