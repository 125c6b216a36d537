//! A child process in its own process group, ended with the whole group on
//! timeout, cancellation or drop — and, on Linux, killed when its parent
//! dies, even by SIGKILL (a parent-death signal).
//!
//! Aider runs git (through `GitPython`) and may run linters; killing only the
//! Python process would leave those behind. On Unix the child leads a new
//! process group, and ending it signals the group. Elsewhere only the child
//! is killed.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::process::{Child, Command};

/// A spawned process; dropping it before it was waited for kills its group.
#[derive(Debug)]
pub(crate) struct Running {
    child: Child,
    /// The process group (the child's pid), when known.
    #[cfg_attr(not(unix), expect(dead_code, reason = "process groups are a Unix concept"))]
    group: Option<i32>,
    /// The child was reaped: its pid (and group id) may be reused, so no
    /// signal may be sent to them any more.
    reaped: bool,
}

impl Running {
    /// Spawns `command` as the leader of a new process group (that dies
    /// with this process, on Linux).
    pub(crate) fn spawn(mut command: Command) -> io::Result<Self> {
        #[cfg(unix)]
        command.process_group(0);
        #[cfg(target_os = "linux")]
        die_with_parent(&mut command);
        command.kill_on_drop(true);
        let child = command.spawn()?;
        let group = child.id().and_then(|id| i32::try_from(id).ok());
        Ok(Self { child, group, reaped: false })
    }

    /// Waits for the process to exit.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future leaves the process running (and the
    /// [`Running`] still owns it).
    pub(crate) async fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait().await?;
        self.reaped = true;
        Ok(status)
    }

    /// Asks the group to stop (SIGTERM), and kills it (SIGKILL) if the
    /// leader has not exited within `grace`; then reaps the leader and kills
    /// what is left of its group.
    pub(crate) async fn terminate(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        if self.reaped {
            return self.child.wait().await;
        }
        self.signal_group(Signal::Term);
        let status = if let Ok(status) = tokio::time::timeout(grace, self.child.wait()).await {
            status?
        } else {
            self.signal_group(Signal::Kill);
            // The group signal covers the leader on Unix; elsewhere it is
            // the only way. An error means it is already gone.
            let _ = self.child.start_kill();
            self.child.wait().await?
        };
        // Children of the leader that ignored SIGTERM; the group id stays
        // reserved while any member lives, so this cannot hit a stranger.
        self.signal_group(Signal::Kill);
        self.reaped = true;
        Ok(status)
    }

    #[cfg(unix)]
    fn signal_group(&mut self, signal: Signal) {
        use rustix::process::{Pid, Signal as Sig, kill_process_group};
        let Some(pid) = self.group.and_then(Pid::from_raw) else {
            return;
        };
        let sig = match signal {
            Signal::Term => Sig::TERM,
            Signal::Kill => Sig::KILL,
        };
        // ESRCH (the group is gone already) is the expected failure.
        if let Err(err) = kill_process_group(pid, sig) {
            tracing::trace!(group = pid.as_raw_pid(), %err, "signalling the process group");
        }
    }

    #[cfg(not(unix))]
    fn signal_group(&mut self, signal: Signal) {
        if signal == Signal::Kill {
            let _ = self.child.start_kill();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.reaped {
            self.signal_group(Signal::Kill);
        }
        // `kill_on_drop` covers the leader; tokio reaps it in the background.
    }
}

/// Makes the child get SIGKILL when this process dies, however it dies:
/// an `ollama-meta aider` killed with SIGKILL must not leave Aider
/// processes editing worktrees that a later run would reset.
///
/// The signal follows the thread that forked; the sessions are spawned
/// from the runtime's worker threads, which live as long as the process.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use rustix::process::{Signal as Sig, getpid, getppid, set_parent_process_death_signal};
    let parent = getpid();
    #[allow(unsafe_code, reason = "pre_exec is the only way to run code in the child before exec")]
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe calls are allowed. It makes two system calls
    // (prctl, getppid) through rustix, which neither allocates nor locks,
    // and its errors are bare errno values (no allocation either).
    unsafe {
        command.pre_exec(move || {
            set_parent_process_death_signal(Some(Sig::KILL))?;
            // The parent may have died before the prctl: then nothing would
            // ever send the signal.
            if getppid() == Some(parent) { Ok(()) } else { Err(rustix::io::Errno::SRCH.into()) }
        });
    }
}

/// The signals sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Term,
    Kill,
}

#[cfg(all(test, unix))]
mod tests {
    use std::process::Stdio;

    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    use tokio::process::ChildStdout;

    use super::*;

    /// A shell that starts a grandchild sleeping, prints its pid and waits.
    /// The grandchild holds the stdout pipe, so the pipe reaches end of file
    /// only once both are dead.
    fn tree() -> (Running, BufReader<ChildStdout>) {
        let mut command = Command::new("sh");
        command
            .args(["-c", "sleep 600 & echo $! ; wait"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut running = Running::spawn(command).expect("sh starts");
        let stdout = BufReader::new(running.child.stdout.take().expect("stdout is piped"));
        (running, stdout)
    }

    /// Reads the grandchild's pid, then waits for every writer of the pipe
    /// to be gone (bounded, so a survivor fails the test instead of hanging).
    async fn pid_then_eof(stdout: &mut BufReader<ChildStdout>) -> Option<i32> {
        let mut line = String::new();
        stdout.read_line(&mut line).await.expect("read the pid line");
        line.trim().parse().ok()
    }

    async fn all_writers_gone(stdout: &mut BufReader<ChildStdout>) -> bool {
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), stdout.read_to_end(&mut rest)).await.is_ok()
    }

    #[tokio::test]
    async fn terminate_ends_the_whole_group() {
        let (mut running, mut stdout) = tree();
        assert!(pid_then_eof(&mut stdout).await.is_some());
        let status = running.terminate(Duration::from_secs(5)).await.unwrap();
        assert!(!status.success());
        assert!(all_writers_gone(&mut stdout).await, "the grandchild survived");
    }

    #[tokio::test]
    async fn dropping_kills_the_whole_group() {
        let (running, mut stdout) = tree();
        assert!(pid_then_eof(&mut stdout).await.is_some());
        drop(running);
        assert!(all_writers_gone(&mut stdout).await, "the grandchild survived");
    }

    #[tokio::test]
    async fn a_normal_exit_is_waited_for() {
        let mut command = Command::new("sh");
        command.args(["-c", "exit 3"]).stdin(Stdio::null());
        let mut running = Running::spawn(command).unwrap();
        assert_eq!(running.wait().await.unwrap().code(), Some(3));
        // After the reap no signal is sent: terminate just reports.
        assert_eq!(running.terminate(Duration::from_secs(1)).await.unwrap().code(), Some(3));
    }
}
