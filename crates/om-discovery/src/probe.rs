//! The HTTP side of a probe: what one endpoint says, turned into registry
//! values, or why it could not be heard.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use om_core::wire::{ModelEntry, ShowRequest, ShowResponse};
use om_core::{ErrorKind, ModelName};
use om_registry::{LoadedModel, ModelInfo};

use crate::cache::Lookup;
use crate::reason;
use crate::settings::Settings;
use crate::target::{ProbeKind, Target};

/// What a successful probe heard.
#[derive(Debug)]
pub(crate) struct Observation {
    /// `/api/version` and how long it took to answer (full probes only).
    pub(crate) version: Option<(String, Duration)>,
    /// `/api/tags` with `/api/show` details (full probes only).
    pub(crate) models: Option<Vec<ModelInfo>>,
    /// `/api/ps`.
    pub(crate) loaded: Vec<LoadedModel>,
}

/// Why a probe failed, for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) reason: String,
}

/// Probes `target`. Each request is bounded by `settings.probe_timeout`.
///
/// A transport failure (nothing answers, a timeout, bytes that are not the
/// Ollama protocol) or a non-success status on `/api/version`, `/api/tags`
/// or `/api/ps` fails the probe. `/api/show` is asked one model at a time;
/// a status there (the model was deleted in between, or is broken) only
/// leaves that model with its `/api/tags` details, while a transport
/// failure fails the probe like any other.
pub(crate) async fn probe(
    target: &Target,
    kind: ProbeKind,
    settings: &Settings,
) -> Result<Observation, Failure> {
    let fail = |path: &str, error: &om_core::Error| Failure {
        reason: reason::describe(path, error, settings.probe_timeout),
    };
    let client = &target.client;
    let (version, models) = if kind == ProbeKind::Full {
        let start = Instant::now();
        let version = client.version().await.map_err(|e| fail("/api/version", &e))?;
        let latency = start.elapsed();
        let tags = client.list().await.map_err(|e| fail("/api/tags", &e))?;
        let models = models(target, tags.models, settings).await?;
        (Some((version.version, latency)), Some(models))
    } else {
        (None, None)
    };
    let ps = client.ps().await.map_err(|e| fail("/api/ps", &e))?;
    let loaded = ps
        .models
        .iter()
        .filter_map(|running| match LoadedModel::from_wire(running) {
            Ok(loaded) => Some(loaded),
            Err(error) => {
                tracing::debug!(endpoint = %target.spec.id, %error, "skipping an /api/ps entry");
                None
            }
        })
        .collect();
    Ok(Observation { version, models, loaded })
}

/// The models of `/api/tags` with their `/api/show` details, from the cache
/// where it is fresh.
async fn models(
    target: &Target,
    entries: Vec<ModelEntry>,
    settings: &Settings,
) -> Result<Vec<ModelInfo>, Failure> {
    let mut models = Vec::with_capacity(entries.len());
    let mut present = HashSet::with_capacity(entries.len());
    for entry in entries {
        let text = if entry.model.is_empty() { &entry.name } else { &entry.model };
        let name: ModelName = match text.parse() {
            Ok(name) => name,
            Err(error) => {
                tracing::debug!(endpoint = %target.spec.id, %error, "skipping an /api/tags entry");
                continue;
            }
        };
        let show = details(target, &entry, &name, settings).await?;
        // The name parsed above, so this cannot fail on it; skip rather
        // than trust that.
        if let Ok(info) = ModelInfo::from_wire(&entry, show.as_deref()) {
            models.push(info);
            present.insert(name);
        }
    }
    target.with_cache(|cache| cache.retain(&present));
    Ok(models)
}

/// The `/api/show` details of `name`: cached while fresh, else asked for;
/// `None` when the endpoint answered with an error status and nothing of
/// this digest is cached.
async fn details(
    target: &Target,
    entry: &ModelEntry,
    name: &ModelName,
    settings: &Settings,
) -> Result<Option<Arc<ShowResponse>>, Failure> {
    let ttl = settings.show_cache_ttl;
    let stale =
        match target.with_cache(|cache| cache.lookup(name, &entry.digest, Instant::now(), ttl)) {
            Lookup::Fresh(show) => return Ok(Some(show)),
            Lookup::Stale(show) => Some(show),
            Lookup::Miss => None,
        };
    let text = if entry.model.is_empty() { &entry.name } else { &entry.model };
    match target.client.show(&ShowRequest::new(text.clone())).await {
        Ok(show) => {
            let digest = entry.digest.clone();
            let kept =
                target.with_cache(|cache| cache.insert(name.clone(), digest, show, Instant::now()));
            Ok(Some(kept))
        }
        Err(error) if is_transport(error.kind()) => {
            Err(Failure { reason: reason::describe("/api/show", &error, settings.probe_timeout) })
        }
        Err(error) => {
            tracing::debug!(
                endpoint = %target.spec.id,
                model = %name,
                %error,
                "/api/show failed; keeping the /api/tags details",
            );
            Ok(stale)
        }
    }
}

/// True for failures that say the endpoint itself is not serving.
fn is_transport(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Connect
            | ErrorKind::Timeout(_)
            | ErrorKind::Disconnected
            | ErrorKind::Protocol
            | ErrorKind::Stream
    )
}
