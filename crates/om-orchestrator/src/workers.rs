//! The fleet's background work, returned to the caller to run: library
//! crates never spawn.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use futures_util::future::join_all;
use om_discovery::{Discovery, FleetReport};
use om_metrics::Metrics;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

type Worker = Box<dyn FnOnce(CancellationToken) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// The background workers of a [`Fleet`](crate::Fleet): discovery, which
/// keeps the registry true, the forwarding of its events to the metrics'
/// event stream, and any added with
/// [`FleetBuilder::worker`](crate::FleetBuilder::worker).
///
/// Spawn [`Workers::run`] once and await it after cancelling its token.
#[must_use = "the fleet's catalog stays empty unless its workers run"]
pub struct Workers {
    discovery: Option<(Discovery, broadcast::Receiver<om_discovery::Event>, Metrics)>,
    workers: Vec<(&'static str, Worker)>,
}

impl Workers {
    pub(crate) fn new() -> Self {
        Self { discovery: None, workers: Vec::new() }
    }

    /// Adds discovery; its events go to `metrics` from now on.
    pub(crate) fn set_discovery(&mut self, discovery: Discovery, metrics: Metrics) {
        let events = discovery.subscribe();
        self.discovery = Some((discovery, events, metrics));
    }

    pub(crate) fn push<F, Fut>(&mut self, name: &'static str, worker: F)
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.workers.push((name, Box::new(move |token| Box::pin(worker(token)))));
    }

    /// The workers' names (`discovery`, `discovery_events`, then the added
    /// ones).
    pub fn names(&self) -> Vec<&'static str> {
        let discovery = self.discovery.iter().flat_map(|_| ["discovery", "discovery_events"]);
        discovery.chain(self.workers.iter().map(|(name, _)| *name)).collect()
    }

    /// True when there is nothing to run.
    pub fn is_empty(&self) -> bool {
        self.discovery.is_none() && self.workers.is_empty()
    }

    /// Probes every endpoint once, now, and writes the results to the
    /// registry: call it before the first task to start with a known fleet
    /// (and to tell the user what is up). [`run`](Self::run) then carries on
    /// from this probe. `None` without discovery.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the probes under way; each endpoint whose
    /// probe had finished is fully written.
    pub async fn probe_all(&self) -> Option<FleetReport> {
        match &self.discovery {
            Some((discovery, ..)) => Some(discovery.probe_all().await),
            None => None,
        }
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
        let Self { discovery, workers } = self;
        let mut running: Vec<Pin<Box<dyn Future<Output = ()> + Send>>> = Vec::new();
        if let Some((discovery, events, metrics)) = discovery {
            running.push(Box::pin(discovery.run(shutdown.clone())));
            running.push(Box::pin(forward(events, metrics, shutdown.clone())));
        }
        for (name, worker) in workers {
            let shutdown = shutdown.clone();
            running.push(Box::pin(async move {
                tracing::debug!(worker = name, "starting");
                worker(shutdown).await;
                tracing::debug!(worker = name, "stopped");
            }));
        }
        join_all(running).await;
        // With no workers, still behave like one: run until told to stop.
        shutdown.cancelled().await;
    }
}

/// Forwards discovery's events to the metrics' event stream until shutdown.
async fn forward(
    mut events: broadcast::Receiver<om_discovery::Event>,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            event = events.recv() => event,
        };
        match event {
            // Both crates share om-core's fleet event type.
            Ok(event) => {
                metrics.publish(om_metrics::Event::Fleet(event));
            }
            // Subscribers of the metrics stream re-read snapshots when they
            // miss events; so can we.
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "discovery events skipped");
            }
            Err(RecvError::Closed) => return,
        }
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
