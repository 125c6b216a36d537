//! The fleet as a front end shows it: the union of its models (`/api/tags`),
//! of its loaded models (`/api/ps`), and a status document of every
//! endpoint and instance.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use futures_util::future::join_all;
use om_core::time::{format_rfc3339, parse_rfc3339};
use om_core::wire::{ListResponse, ModelDetails, ModelEntry, PsResponse, RunningModel};
use om_core::{Capability, ModelName};
use om_registry::{BreakerState, Health, Instance, Snapshot};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::fleet::Fleet;

impl Fleet {
    /// Every model the fleet can serve now, as `/api/tags` lists models:
    /// one entry per model (names compared as Ollama does: `x` is
    /// `x:latest`, case aside), from the endpoints that are not down, taking
    /// the newest copy's `modified_at`, size, digest and details; newest
    /// first. Read from the registry, so as fresh as discovery's last probe.
    pub fn list_models(&self) -> ListResponse {
        let snapshot = self.inner.registry.snapshot();
        let mut newest: HashMap<&ModelName, &Instance> = HashMap::new();
        for instance in snapshot.instances() {
            if !snapshot.endpoint(instance.endpoint).health.is_routable() {
                continue;
            }
            newest
                .entry(&instance.info.name)
                .and_modify(|kept| {
                    if instance.info.modified_at > kept.info.modified_at {
                        *kept = instance;
                    }
                })
                .or_insert(instance);
        }
        let mut models: Vec<(Option<SystemTime>, ModelEntry)> =
            newest.into_values().map(|i| (i.info.modified_at, model_entry(i))).collect();
        models.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
        ListResponse { models: models.into_iter().map(|(_, entry)| entry).collect() }
    }

    /// Whether some instance of `model` has `capability`; `None` when no
    /// endpoint lists the model.
    pub fn model_has(&self, model: &ModelName, capability: Capability) -> Option<bool> {
        let snapshot = self.inner.registry.snapshot();
        let index = snapshot.find_model(model)?;
        let instances = &snapshot.model(index).instances;
        Some(instances.iter().any(|&i| snapshot.instance(i).info.capabilities.has(capability)))
    }

    /// The models loaded on the fleet's endpoints now, as `/api/ps` lists
    /// them: each endpoint that is not down is asked (at most `timeout`
    /// each, all at once; one that does not answer in time is left out),
    /// and a model loaded on several is listed once, with the latest
    /// `expires_at`. Sorted by `expires_at`, latest first.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the requests under way.
    pub async fn running_models(&self, timeout: Duration) -> PsResponse {
        let clients: Vec<_> = {
            let snapshot = self.inner.registry.snapshot();
            snapshot
                .endpoints()
                .iter()
                .filter(|e| e.health.is_routable())
                .map(|e| (e.id.clone(), self.inner.backends.client(e)))
                .collect()
        };
        let answers = join_all(clients.iter().map(|(id, client)| async move {
            match tokio::time::timeout(timeout, client.ps()).await {
                Ok(Ok(ps)) => ps.models,
                Ok(Err(error)) => {
                    tracing::debug!(endpoint = %id, error = %error, "ps failed");
                    Vec::new()
                }
                Err(_) => {
                    tracing::debug!(endpoint = %id, "ps timed out");
                    Vec::new()
                }
            }
        }))
        .await;
        let mut merged: HashMap<String, (Option<i128>, RunningModel)> = HashMap::new();
        for model in answers.into_iter().flatten() {
            let text = if model.model.is_empty() { &model.name } else { &model.model };
            let key = text.parse::<ModelName>().map_or_else(|_| text.clone(), |n| n.to_string());
            let expires = parse_rfc3339(&model.expires_at);
            match merged.get(&key) {
                Some((kept, _)) if *kept >= expires => {}
                _ => {
                    merged.insert(key, (expires, model));
                }
            }
        }
        let mut models: Vec<(Option<i128>, RunningModel)> = merged.into_values().collect();
        models.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
        PsResponse { models: models.into_iter().map(|(_, model)| model).collect() }
    }

    /// Every endpoint and instance now, as a JSON document for a status
    /// page: per endpoint its health (and why it is down), version, probe
    /// latency, concurrency limit now (`capacity`), its ceiling, the learned
    /// limit and why it last changed (`raised`, `slower`, `busy`,
    /// `ceiling`, `initial`) when it adapts, and requests in flight; per instance its
    /// loaded state, requests in flight, breaker state, cooldown, moving
    /// averages and success rate. Fields are only ever added:
    ///
    /// ```text
    /// {"endpoints": [{"name", "url", "kind": "ollama"|"openai",
    ///   "health": "up"|"down"|"unknown",
    ///   "reason", "version", "probe_latency_ms", "capacity", "max_concurrency",
    ///   "limit": null|{"learned", "reason"}, "in_flight",
    ///   "models": [{"name", "capabilities", "context_length",
    ///     "loaded": null|{"expires_at", "context_length", "size_vram"},
    ///     "in_flight", "breaker": "closed"|"open"|"half_open",
    ///     "breaker_retry_in_ms": null|n, "cooldown_ms": null|n,
    ///     "latency_ms", "ttft_ms", "tokens_per_sec", "success_rate"}]}],
    ///  "models": ["llama3.2:latest", …], "in_flight": n}
    /// ```
    pub fn status(&self) -> Value {
        let snapshot = self.inner.registry.snapshot();
        let now = Instant::now();
        let endpoints: Vec<Value> = snapshot
            .endpoints()
            .iter()
            .filter_map(|endpoint| {
                let index = snapshot.find_endpoint(&endpoint.id)?;
                let (health, reason) = match &endpoint.health {
                    Health::Healthy => ("up", None),
                    Health::Unhealthy { reason, .. } => ("down", Some(reason.as_str())),
                    Health::Unknown => ("unknown", None),
                };
                let models: Vec<Value> = snapshot
                    .endpoint_instances(index)
                    .iter()
                    .map(|instance| instance_status(instance, now))
                    .collect();
                Some(json!({
                    "name": endpoint.id.as_str(),
                    "url": endpoint.url.to_string(),
                    "kind": endpoint.api.as_str(),
                    "health": health,
                    "reason": reason,
                    "version": endpoint.version,
                    "probe_latency_ms": endpoint.live.probe_latency().map(millis),
                    "capacity": self.capacity(endpoint).get(),
                    "max_concurrency": endpoint.max_concurrency.map(std::num::NonZeroU32::get),
                    "limit": endpoint.live.learned_limit().map(|(learned, reason)| json!({
                        "learned": learned,
                        "reason": reason.as_str(),
                    })),
                    "in_flight": endpoint.live.in_flight(),
                    "models": models,
                }))
            })
            .collect();
        json!({
            "endpoints": endpoints,
            "models": model_names(&snapshot),
            "in_flight": snapshot.instances().iter().map(|i| u64::from(i.live.in_flight())).sum::<u64>(),
        })
    }
}

fn model_entry(instance: &Instance) -> ModelEntry {
    let info = &instance.info;
    let name = info.name.to_string();
    ModelEntry {
        model: name.clone(),
        name,
        modified_at: info.modified_at.map(format_rfc3339).unwrap_or_default(),
        size: info.size,
        digest: info.digest.clone(),
        details: ModelDetails {
            parent_model: String::new(),
            format: info.format.clone(),
            family: info.family.clone(),
            families: (!info.families.is_empty()).then(|| info.families.clone()),
            parameter_size: info.parameter_size.clone(),
            quantization_level: info.quantization.clone(),
            context_length: info.context_length,
            embedding_length: None,
        },
        capabilities: Some(info.capabilities.names()),
    }
}

fn instance_status(instance: &Instance, now: Instant) -> Value {
    let stats = instance.live.stats();
    let (breaker, retry_in) = match stats.breaker {
        BreakerState::Open { until } => ("open", Some(until.saturating_duration_since(now))),
        state => (state.name(), None),
    };
    let cooldown = stats.cooldown_until.filter(|t| *t > now).map(|t| t - now);
    let loaded = instance.loaded.map(|l| {
        json!({
            "expires_at": l.expires_at.map(format_rfc3339),
            "context_length": l.context_length,
            "size_vram": l.size_vram,
        })
    });
    json!({
        "name": instance.info.name.to_string(),
        "capabilities": instance.info.capabilities.names(),
        "context_length": instance.info.context_length,
        "loaded": loaded,
        "in_flight": stats.in_flight,
        "breaker": breaker,
        "breaker_retry_in_ms": retry_in.map(millis),
        "cooldown_ms": cooldown.map(millis),
        "latency_ms": stats.latency.map(millis),
        "ttft_ms": stats.ttft.map(millis),
        "tokens_per_sec": stats.tokens_per_sec,
        "success_rate": stats.success_rate,
    })
}

/// The fleet's model names, sorted, once each.
fn model_names(snapshot: &Snapshot) -> Vec<String> {
    let mut names: Vec<String> = snapshot.models().iter().map(|m| m.name.to_string()).collect();
    names.sort();
    names.dedup();
    names
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
