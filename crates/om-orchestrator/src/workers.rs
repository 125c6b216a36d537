//! The fleet's background work, returned to the caller to run: library
//! crates never spawn.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use futures_util::future::join_all;
use tokio_util::sync::CancellationToken;

type Worker = Box<dyn FnOnce(CancellationToken) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// The background workers of a [`Fleet`](crate::Fleet): discovery, which
/// keeps the registry true, and any added with
/// [`FleetBuilder::worker`](crate::FleetBuilder::worker).
///
/// Spawn [`Workers::run`] once and await it after cancelling its token.
#[must_use = "the fleet's catalog stays empty unless its workers run"]
pub struct Workers {
    workers: Vec<(&'static str, Worker)>,
}

impl Workers {
    pub(crate) fn new() -> Self {
        Self { workers: Vec::new() }
    }

    pub(crate) fn push<F, Fut>(&mut self, name: &'static str, worker: F)
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.workers.push((name, Box::new(move |token| Box::pin(worker(token)))));
    }

    /// The workers' names (`discovery`, …).
    pub fn names(&self) -> Vec<&'static str> {
        self.workers.iter().map(|(name, _)| *name).collect()
    }

    /// True when there is nothing to run.
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// Runs every worker until `shutdown` is cancelled, and returns when all
    /// of them have stopped.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops every worker at its current await point;
    /// cancel `shutdown` and await the future instead to let them finish
    /// cleanly.
    pub async fn run(self, shutdown: CancellationToken) {
        let running = self.workers.into_iter().map(|(name, worker)| {
            let shutdown = shutdown.clone();
            async move {
                tracing::debug!(worker = name, "starting");
                worker(shutdown).await;
                tracing::debug!(worker = name, "stopped");
            }
        });
        join_all(running).await;
        // With no workers, still behave like one: run until told to stop.
        shutdown.cancelled().await;
    }
}

impl fmt::Debug for Workers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workers").field("workers", &self.names()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn every_worker_runs_until_shutdown() {
        let stopped = Arc::new(AtomicU32::new(0));
        let mut workers = Workers::new();
        for name in ["a", "b"] {
            let stopped = Arc::clone(&stopped);
            workers.push(name, move |token: CancellationToken| async move {
                token.cancelled().await;
                stopped.fetch_add(1, Ordering::Relaxed);
            });
        }
        assert_eq!(workers.names(), ["a", "b"]);
        let shutdown = CancellationToken::new();
        let run = tokio::spawn(workers.run(shutdown.clone()));
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        assert_eq!(stopped.load(Ordering::Relaxed), 0);
        shutdown.cancel();
        run.await.unwrap();
        assert_eq!(stopped.load(Ordering::Relaxed), 2);
    }
}
