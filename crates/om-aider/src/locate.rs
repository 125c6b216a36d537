//! Finding the agent's executable (`aider`, `claude`, `codex`), and the
//! error that says how to install it.

use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::agents::AgentKind;

/// The program name looked up on `PATH` when none is given.
pub const DEFAULT_PROGRAM: &str = "aider";

/// The agent is not installed where it was looked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{agent} not found: `{program}` is not an executable {where_}; {hint}, or give the path of \
     its executable (--agent-bin)",
    program = .program.display(),
    where_ = if *.searched_path { "on PATH" } else { "file" },
    hint = .agent.install_hint()
)]
pub struct AgentNotFound {
    /// The agent looked for.
    pub agent: AgentKind,
    /// The program looked for.
    pub program: PathBuf,
    /// True when it was looked up on `PATH` (a bare name).
    pub searched_path: bool,
}

/// Finds `program`: a path (anything with a directory part) must be an
/// executable file; a bare name is looked up in the directories of `PATH`.
/// Returns the path to run, absolute (sessions run in their worktrees, so a
/// path relative to the current directory would not resolve there).
///
/// A few `stat` calls; cheap enough to make before starting a batch.
///
/// # Errors
///
/// [`AgentNotFound`], which says how to install `agent`.
pub fn find_program(agent: AgentKind, program: &Path) -> Result<PathBuf, AgentNotFound> {
    let bare = program.components().count() == 1 && program.parent() == Some(Path::new(""));
    let found = if bare {
        find_on_path(program.as_os_str(), env::var_os("PATH").as_deref())
    } else {
        is_executable(program).then(|| program.to_path_buf())
    };
    found.and_then(|path| std::path::absolute(path).ok()).ok_or_else(|| AgentNotFound {
        agent,
        program: program.to_path_buf(),
        searched_path: bare,
    })
}

/// Looks `name` up in `path` (a `PATH`-style list).
fn find_on_path(name: &OsStr, path: Option<&OsStr>) -> Option<PathBuf> {
    let path = path?;
    env::split_paths(path).filter(|dir| !dir.as_os_str().is_empty()).find_map(|dir| {
        let candidate = dir.join(name);
        if is_executable(&candidate) {
            return Some(candidate);
        }
        if cfg!(windows) {
            let exe = candidate.with_extension("exe");
            if is_executable(&exe) {
                return Some(exe);
            }
        }
        None
    })
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_programs_say_how_to_install() {
        let err =
            find_program(AgentKind::Aider, Path::new("definitely-not-aider-xyz")).unwrap_err();
        assert!(err.searched_path);
        let text = err.to_string();
        assert!(text.contains("pipx install aider-chat"), "{text}");
        assert!(text.contains("on PATH"), "{text}");
        let err = find_program(AgentKind::Aider, Path::new("/nonexistent/bin/aider")).unwrap_err();
        assert!(!err.searched_path);
        assert!(err.to_string().contains("executable file"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn names_are_found_on_path_and_paths_must_be_executable() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("aider");
        std::fs::write(&program, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(find_program(AgentKind::Aider, &program).is_err(), "not executable yet");
        assert_eq!(find_on_path(OsStr::new("aider"), Some(dir.path().as_os_str())), None);
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_program(AgentKind::Aider, &program).unwrap(), program);
        let path = env::join_paths(["/nonexistent".as_ref(), dir.path()]).unwrap();
        assert_eq!(find_on_path(OsStr::new("aider"), Some(&path)), Some(program.clone()));
        assert_eq!(find_on_path(OsStr::new("aider"), None), None);

        // A path relative to the current directory comes back absolute.
        let cwd = env::current_dir().unwrap();
        let up: PathBuf = cwd.components().skip(1).map(|_| "..").collect();
        let relative = up.join(program.strip_prefix("/").unwrap());
        assert!(relative.is_relative());
        let found = find_program(AgentKind::Aider, &relative).unwrap();
        assert!(found.is_absolute(), "{}", found.display());
        assert!(is_executable(&found));
    }
}
