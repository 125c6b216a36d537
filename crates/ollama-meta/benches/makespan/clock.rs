//! Virtual time for real loopback sockets: the paused tokio clock, advanced
//! in small steps while I/O settles between them.

use std::time::Duration;

use tokio::task::JoinHandle;

/// Scheduler rounds between two clock steps. Each round polls the I/O
/// driver once; a request's whole chain (a line written by a simulator,
/// read by the client, handed to the orchestrator, a permit released, the
/// next request written and read by a simulator) takes a handful of rounds,
/// so 64 leaves it ample room to settle inside one step.
const ROUNDS_PER_STEP: usize = 64;

/// Drives a paused clock: a task that always has a yield pending (which
/// stops tokio from auto-advancing the clock when the runtime parks — it
/// parks to poll I/O, so an auto-advance could fire a timer in the same
/// turn a socket became readable, before the reader ran) and advances the
/// clock by `step` after every [`ROUNDS_PER_STEP`] yields. Timers thus fire
/// in order and loopback I/O takes no virtual time; a step is the
/// resolution of every measurement (tokio's timers have 1 ms anyway).
#[derive(Debug)]
pub(crate) struct VirtualClock {
    task: JoinHandle<()>,
}

impl VirtualClock {
    /// Starts the ticker on the current (paused, current-thread) runtime;
    /// it stops when dropped.
    pub(crate) fn start(step: Duration) -> Self {
        let task = tokio::spawn(async move {
            loop {
                for _ in 0..ROUNDS_PER_STEP {
                    tokio::task::yield_now().await;
                }
                tokio::time::advance(step).await;
            }
        });
        Self { task }
    }
}

impl Drop for VirtualClock {
    fn drop(&mut self) {
        self.task.abort();
    }
}
