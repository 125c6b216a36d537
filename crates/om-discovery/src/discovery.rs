//! [`Discovery`]: probes every endpoint, writes what it hears to the
//! registry and broadcasts what changed.

use std::collections::{BTreeSet, HashSet};

use futures_util::StreamExt;
use futures_util::stream::{self, FuturesUnordered};
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use om_client::{Client, HttpClient, Timeouts};
use om_registry::{Edit, EndpointSpec, Health, Registry};

use crate::error::Error;
use crate::event::Event;
use crate::probe::{self, Failure, Observation};
use crate::report::{EndpointReport, FleetReport, ProbeStatus};
use crate::settings::Settings;
use crate::target::{ProbeKind, Target};

/// Keeps the registry's catalog true for a fixed set of endpoints.
///
/// - [`probe_all`](Self::probe_all) probes every endpoint once (what
///   `ollama-meta models` does) and returns a [`FleetReport`].
/// - [`run`](Self::run) probes forever: each healthy endpoint fully every
///   [`Settings::interval`] and `/api/ps` every [`Settings::ps_interval`],
///   each failed one again after a backoff, at most
///   [`Settings::concurrency`] at once, until shutdown.
///
/// Each probe writes its endpoint in one registry edit (version, health,
/// models, loaded models) and broadcasts the [`Event`]s that edit reports to
/// every [`subscribe`](Self::subscribe)r. A probe that fails marks the
/// endpoint [`Health::Unhealthy`] with the reason; its models and loaded
/// state are kept as last seen (routers skip an unhealthy endpoint), and the
/// next successful probe corrects them.
///
/// Every request has its own time limit ([`Settings::probe_timeout`]) and
/// probes run side by side, so a dead, slow or garbage-speaking endpoint
/// holds one slot for at most a few timeouts and never delays the others.
#[derive(Debug)]
pub struct Discovery {
    targets: Vec<Target>,
    settings: Settings,
    registry: Registry,
    events: broadcast::Sender<Event>,
}

impl Discovery {
    /// Discovery of `endpoints`, writing to `registry`, over the shared
    /// `http` pool. The endpoints are added to the registry now (health
    /// unknown, no models) and are all due for a probe at once.
    ///
    /// Each endpoint gets an `om-client` [`Client`] without retries (the
    /// backoff here replaces them) whose every time limit is
    /// [`Settings::probe_timeout`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSettings`], [`Error::DuplicateEndpoint`], or
    /// [`Error::Registry`] when the registry refuses an endpoint (a weight
    /// that is not above 0); endpoints before the refused one stay
    /// registered.
    pub fn try_new(
        registry: Registry,
        http: &HttpClient,
        endpoints: Vec<EndpointSpec>,
        settings: Settings,
    ) -> Result<Self, Error> {
        settings.validate()?;
        let mut seen = HashSet::with_capacity(endpoints.len());
        if let Some(twice) = endpoints.iter().find(|spec| !seen.insert(&spec.id)) {
            return Err(Error::DuplicateEndpoint(twice.id.clone()));
        }
        {
            let mut edit = registry.edit();
            for spec in &endpoints {
                edit.upsert_endpoint(spec.clone()).map_err(Error::Registry)?;
            }
        }
        let limit = Some(settings.probe_timeout);
        let timeouts = Timeouts { connect: limit, first_byte: limit, idle: limit, total: limit };
        let now = Instant::now();
        let targets = endpoints
            .into_iter()
            .map(|spec| {
                let client = Client::new(http.clone(), spec.url.clone())
                    .with_api(spec.api)
                    .with_api_key_from_env(spec.api_key_env.as_deref())
                    .with_capabilities(spec.capabilities.clone())
                    .with_endpoint_id(&spec.id)
                    .with_timeouts(timeouts);
                Target::new(spec, client, now)
            })
            .collect();
        let (events, _) = broadcast::channel(settings.event_capacity);
        Ok(Self { targets, settings, registry, events })
    }

    /// A receiver of every [`Event`] from now on.
    ///
    /// The channel is bounded ([`Settings::event_capacity`]): a subscriber
    /// that falls further behind gets
    /// [`RecvError::Lagged`](broadcast::error::RecvError::Lagged) once and
    /// then continues with the oldest event still buffered; the registry
    /// snapshot is the state to re-read then. Publishing never waits for
    /// subscribers. Subscribe before calling [`run`](Self::run), which
    /// consumes the discovery.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Probes every endpoint once, fully, at most
    /// [`Settings::concurrency`] at a time, and writes the results to the
    /// registry. Afterwards [`run`](Self::run) schedules each endpoint from
    /// this probe (next full probe an interval later, or a backoff later for
    /// one that failed) instead of probing it again at once.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the probes under way; each endpoint whose
    /// probe had finished is fully written, the others are untouched.
    pub async fn probe_all(&self) -> FleetReport {
        let limit = self.settings.concurrency.get();
        let mut results: Vec<(usize, ProbeStatus, Vec<Event>)> =
            stream::iter(self.targets.iter().enumerate())
                .map(|(index, target)| async move {
                    let (status, events) = self.probe(target, ProbeKind::Full).await;
                    (index, status, events)
                })
                .buffer_unordered(limit)
                .collect()
                .await;
        let events = results.iter_mut().flat_map(|(_, _, events)| events.drain(..)).collect();
        results.sort_by_key(|(index, _, _)| *index);
        let endpoints = results
            .into_iter()
            .map(|(index, status, _)| {
                let spec = &self.targets[index].spec;
                EndpointReport { endpoint: spec.id.clone(), url: spec.url.clone(), status }
            })
            .collect();
        FleetReport { endpoints, events }
    }

    /// Probes until `shutdown` is cancelled.
    ///
    /// Each endpoint has at most one probe under way; at most
    /// [`Settings::concurrency`] run at once, started in the order they fall
    /// due. Everything runs inside this future (no task is spawned), on
    /// `tokio::time`, so it can be tested with paused time.
    ///
    /// # Cancel safety
    ///
    /// Cancelling `shutdown` (or dropping the future) drops the probes
    /// under way, which closes their connections. Registry writes are never
    /// half done: each probe writes in one synchronous edit after its last
    /// request.
    pub async fn run(self, shutdown: CancellationToken) {
        let limit = self.settings.concurrency.get();
        tracing::info!(endpoints = self.targets.len(), concurrency = limit, "discovery started");
        // Each idle target is in the queue exactly once, under its due time.
        let mut queue: BTreeSet<(Instant, usize)> =
            self.targets.iter().enumerate().map(|(index, target)| (target.due(), index)).collect();
        let mut running = FuturesUnordered::new();
        loop {
            let now = Instant::now();
            while running.len() < limit {
                let Some(&(due, index)) = queue.first() else { break };
                if due > now {
                    break;
                }
                queue.pop_first();
                let target = &self.targets[index];
                let kind = target.kind_at(now);
                let this = &self;
                running.push(async move {
                    this.probe(target, kind).await;
                    index
                });
            }
            // With every slot taken, only a finished probe can start another.
            let next = queue.first().map(|&(due, _)| due).filter(|_| running.len() < limit);
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                Some(index) = running.next(), if !running.is_empty() => {
                    queue.insert((self.targets[index].due(), index));
                }
                () = sleep_until(next) => {}
            }
        }
        tracing::info!("discovery stopped");
    }

    /// Probes one target, writes the result and schedules the next probe.
    async fn probe(&self, target: &Target, kind: ProbeKind) -> (ProbeStatus, Vec<Event>) {
        let result = probe::probe(target, kind, &self.settings).await;
        let now = Instant::now();
        match &result {
            Ok(_) => target.succeeded(kind, now, &self.settings),
            Err(_) => target.failed(now, &self.settings),
        }
        self.apply(target, result, now)
    }

    /// Writes a probe's result to the registry in one edit and publishes
    /// the events it caused.
    fn apply(
        &self,
        target: &Target,
        result: Result<Observation, Failure>,
        now: Instant,
    ) -> (ProbeStatus, Vec<Event>) {
        let id = &target.spec.id;
        let (status, version) = match &result {
            Ok(observation) => {
                let (version, latency) = observation.version.clone().unwrap_or_default();
                let status = ProbeStatus::Up {
                    version: version.clone(),
                    latency,
                    models: observation.models.as_ref().map_or(0, Vec::len),
                    loaded: observation.loaded.len(),
                };
                (status, observation.version.as_ref().map(|(v, _)| v.clone()))
            }
            Err(failure) => (ProbeStatus::Down { reason: failure.reason.clone() }, None),
        };
        let latency = result.as_ref().ok().and_then(|o| o.version.as_ref().map(|(_, l)| *l));
        let changes = {
            let mut edit = self.registry.edit();
            if let Err(error) = write(&mut edit, target, result, now) {
                // Only possible when something else removed the endpoint
                // from the registry; there is nothing to keep true then.
                tracing::warn!(endpoint = %id, %error, "cannot record a probe");
            }
            edit.publish()
        };
        if let Some(latency) = latency
            && let Err(error) = self.registry.record_probe_latency(id, latency)
        {
            tracing::warn!(endpoint = %id, %error, "cannot record the probe latency");
        }
        let events: Vec<Event> = changes
            .into_iter()
            .filter_map(|change| crate::event::from_change(change, version.as_deref()))
            .collect();
        for event in &events {
            log(event);
            // An error only means nobody listens right now.
            let _ = self.events.send(event.clone());
        }
        (status, events)
    }
}

/// The registry writes of one probe.
fn write(
    edit: &mut Edit<'_>,
    target: &Target,
    result: Result<Observation, Failure>,
    now: Instant,
) -> om_registry::Result<()> {
    let id = &target.spec.id;
    match result {
        Ok(observation) => {
            if let Some((version, _)) = observation.version {
                edit.set_version(id, version)?;
            }
            edit.set_health(id, Health::Healthy)?;
            if let Some(models) = observation.models {
                edit.replace_models(id, models)?;
            }
            edit.set_loaded(id, observation.loaded)
        }
        Err(failure) => edit.set_health(id, Health::unhealthy(failure.reason, now)),
    }
}

/// Discovery changes are lifecycle events: `info`, and `warn` for an
/// endpoint going down (degraded, still working).
fn log(event: &Event) {
    match event {
        Event::EndpointUp { endpoint, version } => {
            tracing::info!(%endpoint, version = version.as_deref().unwrap_or(""), "endpoint up");
        }
        Event::EndpointDown { endpoint, reason } => {
            tracing::warn!(%endpoint, reason = reason.as_str(), "endpoint down");
        }
        Event::ModelAdded { endpoint, model } => tracing::info!(%endpoint, %model, "model added"),
        Event::ModelRemoved { endpoint, model } => {
            tracing::info!(%endpoint, %model, "model removed");
        }
        Event::ModelUpdated { endpoint, model } => {
            tracing::info!(%endpoint, %model, "model updated");
        }
        Event::ModelLoaded { endpoint, model } => tracing::info!(%endpoint, %model, "model loaded"),
        Event::ModelUnloaded { endpoint, model } => {
            tracing::info!(%endpoint, %model, "model unloaded");
        }
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
