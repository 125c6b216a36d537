//! Test fixtures: a temporary git repository and a fake `aider` program.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The fake Aider: a POSIX shell script run as a program with arguments. It
/// prints every argument on its own line (`arg: <value>`), the endpoint it
/// was given, and a usage line; appends `# edited-by: <model>` to every file
/// after `--`; leaves a repository-map cache behind as Aider does; and
/// commits the files when asked to (`--auto-commits`). The
/// `FAKE_AIDER` variable makes it misbehave: `sleep` (hang, in a child
/// process), `fail` (exit 3) or `unreachable` (only API errors, exit 0).
const FAKE_AIDER: &str = r#"#!/bin/sh
for a in "$@"; do printf 'arg: %s\n' "$a"; done
echo "api base: $OLLAMA_API_BASE"
echo "api key: ${OLLAMA_API_KEY:-none}"
case "${FAKE_AIDER:-edit}" in
  sleep) sleep 600 ;;
  fail) echo "something broke" >&2; exit 3 ;;
  unreachable)
    echo "litellm.APIConnectionError: Ollama_chatException - [Errno 111] Connection"
    echo "refused"
    echo "Retrying in 0.2 seconds..."
    echo "litellm.APIConnectionError: Ollama_chatException - [Errno 111] Connection refused"
    exit 0 ;;
esac
commit=0
model=""
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    --auto-commits) commit=1 ;;
    --model) shift; model="$1" ;;
  esac
  shift
done
for f in "$@"; do
  printf '# edited-by: %s\n' "${model#ollama_chat/}" >> "$f"
done
# Aider's repository-map cache, which must never count as a change.
mkdir -p .aider.tags.cache.v4 && echo cache > .aider.tags.cache.v4/cache.db
echo "Tokens: 1.2k sent, 34 received."
if [ "$commit" = 1 ] && [ $# -gt 0 ]; then
  git add -- "$@" && git commit -q -m "fake aider: edit" && echo "Commit done"
fi
echo "Tokens: 5 sent, 6 received."
"#;

/// A temporary repository with `files` committed on `main`, and a fake
/// Aider beside it.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) repo: PathBuf,
    pub(crate) aider: PathBuf,
}

impl Fixture {
    pub(crate) fn new(files: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = dir.path().join("repo");
        std::fs::create_dir(&repo).expect("repo dir");
        git(&repo, &["init", "--quiet", "--initial-branch=main"]);
        git(&repo, &["config", "user.name", "om-aider tests"]);
        git(&repo, &["config", "user.email", "tests@om-aider.invalid"]);
        git(&repo, &["config", "commit.gpgsign", "false"]);
        for file in files {
            let path = repo.join(file);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("file dir");
            }
            std::fs::write(
                &path,
                format!("def {}():\n    return 1\n", file.replace(['/', '.', ' ', '-'], "_")),
            )
            .expect("write file");
        }
        git(&repo, &["add", "--all"]);
        git(&repo, &["commit", "--quiet", "--message", "initial"]);
        let aider = dir.path().join("fake-aider");
        std::fs::write(&aider, FAKE_AIDER).expect("write fake aider");
        make_executable(&aider);
        Self { dir, repo, aider }
    }

    /// `git <args>` in the repository; stdout.
    pub(crate) fn git(&self, args: &[&str]) -> String {
        git(&self.repo, args)
    }
}

#[cfg(unix)]
pub(crate) fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[cfg(not(unix))]
pub(crate) fn make_executable(_path: &Path) {}

/// `git <args>` in `dir`, which must succeed; stdout.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(dir).output().expect("git runs");
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
