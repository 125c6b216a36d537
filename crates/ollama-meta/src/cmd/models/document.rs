//! The fleet as `ollama-meta models` shows it, taken from a registry
//! snapshot, and its JSON document.
//!
//! The document (`--json`) is a stable interface; fields are only ever
//! added. Its schema, version 1:
//!
//! ```text
//! {
//!   "schema_version": 1,
//!   "generated_at": "2025-10-26T17:21:21Z",        // RFC 3339, UTC
//!   "summary": {"endpoints": 3, "up": 2, "down": 1, "unknown": 0,
//!               "models": 8, "loaded": 1},
//!   "endpoints": [{
//!     "name": "gpu-box",                            // configured name
//!     "url": "http://10.0.0.2:11434",
//!     "kind": "ollama" | "openai",                  // the API it speaks
//!     "health": "up" | "down" | "unknown",
//!     "reason": null | "connection refused",        // why it is down
//!     "version": null | "0.12.3",                   // from /api/version
//!     "latency_ms": null | 1.25,                    // the /api/version round trip
//!     "models": [{
//!       "name": "llama3.2:latest",
//!       "family": "llama", "families": ["llama"],
//!       "parameter_size": "3.2B", "parameters": null | 3212749888,
//!       "quantization": "Q4_K_M",
//!       "context_length": null | 131072,            // trained context, tokens
//!       "capabilities": ["completion", "tools"],
//!       "size": 2019393189,                         // bytes on disk
//!       "digest": "a80c4f17…",
//!       "loaded": null | {"expires_at": null | "2025-10-26T17:26:21Z",
//!                         "context_length": null | 4096, "size_vram": 0}
//!     }]
//!   }]
//! }
//! ```
//!
//! A down endpoint keeps the models last seen on it (none when it never
//! answered).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use om_registry::{Health, Instance, Snapshot};
use serde_json::{Value, json};

/// The version of the JSON document's shape.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// The fleet at one moment.
#[derive(Debug)]
pub(crate) struct FleetView {
    pub(crate) generated_at: SystemTime,
    pub(crate) endpoints: Vec<EndpointView>,
}

/// One endpoint.
#[derive(Debug)]
pub(crate) struct EndpointView {
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) kind: om_core::ApiKind,
    pub(crate) health: HealthView,
    pub(crate) version: Option<String>,
    pub(crate) latency: Option<Duration>,
    pub(crate) models: Vec<ModelView>,
}

/// Whether an endpoint answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HealthView {
    Up,
    Down(String),
    Unknown,
}

/// One model on one endpoint.
#[derive(Debug)]
pub(crate) struct ModelView {
    pub(crate) name: String,
    pub(crate) family: String,
    pub(crate) families: Vec<String>,
    pub(crate) parameter_size: String,
    pub(crate) parameters: Option<u64>,
    pub(crate) quantization: String,
    pub(crate) context_length: Option<u64>,
    pub(crate) capabilities: Vec<String>,
    pub(crate) size: u64,
    pub(crate) digest: String,
    pub(crate) loaded: Option<LoadedView>,
}

/// How a model is loaded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoadedView {
    pub(crate) expires_at: Option<SystemTime>,
    pub(crate) context_length: Option<u64>,
    pub(crate) size_vram: u64,
}

impl FleetView {
    /// The view of `snapshot`, endpoints in id order, models by name.
    pub(crate) fn from_snapshot(snapshot: &Snapshot) -> Self {
        let endpoints = snapshot
            .endpoints()
            .iter()
            .filter_map(|endpoint| {
                let index = snapshot.find_endpoint(&endpoint.id)?;
                Some(EndpointView {
                    name: endpoint.id.to_string(),
                    url: endpoint.url.to_string(),
                    kind: endpoint.api,
                    health: match &endpoint.health {
                        Health::Healthy => HealthView::Up,
                        Health::Unhealthy { reason, .. } => HealthView::Down(reason.clone()),
                        Health::Unknown => HealthView::Unknown,
                    },
                    version: endpoint.version.clone(),
                    latency: endpoint.live.probe_latency(),
                    models: snapshot.endpoint_instances(index).iter().map(model).collect(),
                })
            })
            .collect();
        Self { generated_at: SystemTime::now(), endpoints }
    }

    /// Endpoints that answered their last probe.
    pub(crate) fn up(&self) -> usize {
        self.endpoints.iter().filter(|e| e.health == HealthView::Up).count()
    }

    /// Endpoints whose last probe failed.
    pub(crate) fn down(&self) -> usize {
        self.endpoints.iter().filter(|e| matches!(e.health, HealthView::Down(_))).count()
    }

    /// Models over all endpoints.
    pub(crate) fn models(&self) -> usize {
        self.endpoints.iter().map(|e| e.models.len()).sum()
    }

    /// Loaded models over all endpoints.
    pub(crate) fn loaded(&self) -> usize {
        self.endpoints.iter().flat_map(|e| &e.models).filter(|m| m.loaded.is_some()).count()
    }

    /// The JSON document (see the module docs).
    pub(crate) fn to_json(&self) -> Value {
        let endpoints: Vec<Value> = self.endpoints.iter().map(EndpointView::to_json).collect();
        json!({
            "schema_version": SCHEMA_VERSION,
            "generated_at": rfc3339(self.generated_at),
            "summary": {
                "endpoints": self.endpoints.len(),
                "up": self.up(),
                "down": self.down(),
                "unknown": self.endpoints.len() - self.up() - self.down(),
                "models": self.models(),
                "loaded": self.loaded(),
            },
            "endpoints": endpoints,
        })
    }
}

impl EndpointView {
    fn to_json(&self) -> Value {
        let (health, reason) = match &self.health {
            HealthView::Up => ("up", None),
            HealthView::Down(reason) => ("down", Some(reason.as_str())),
            HealthView::Unknown => ("unknown", None),
        };
        let models: Vec<Value> = self.models.iter().map(ModelView::to_json).collect();
        json!({
            "name": self.name,
            "url": self.url,
            "kind": self.kind.as_str(),
            "health": health,
            "reason": reason,
            "version": self.version,
            "latency_ms": self.latency.map(|l| l.as_secs_f64() * 1000.0),
            "models": models,
        })
    }
}

impl ModelView {
    fn to_json(&self) -> Value {
        let loaded = self.loaded.map(|l| {
            json!({
                "expires_at": l.expires_at.map(rfc3339),
                "context_length": l.context_length,
                "size_vram": l.size_vram,
            })
        });
        json!({
            "name": self.name,
            "family": self.family,
            "families": self.families,
            "parameter_size": self.parameter_size,
            "parameters": self.parameters,
            "quantization": self.quantization,
            "context_length": self.context_length,
            "capabilities": self.capabilities,
            "size": self.size,
            "digest": self.digest,
            "loaded": loaded,
        })
    }
}

fn model(instance: &Instance) -> ModelView {
    let info = &instance.info;
    ModelView {
        name: info.name.to_string(),
        family: info.family.clone(),
        families: info.families.clone(),
        parameter_size: info.parameter_size.clone(),
        parameters: info.parameters,
        quantization: info.quantization.clone(),
        context_length: info.context_length,
        capabilities: info.capabilities.names(),
        size: info.size,
        digest: info.digest.clone(),
        loaded: instance.loaded.map(|l| LoadedView {
            expires_at: l.expires_at,
            context_length: l.context_length,
            size_vram: l.size_vram,
        }),
    }
}

/// RFC 3339 in UTC to the second, as people read it.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs();
    om_core::time::format_unix_nanos(i128::from(seconds) * 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use om_core::EndpointId;
    use om_registry::{Config, EndpointSpec, Loaded, LoadedModel, ModelInfo, Registry};

    use super::*;

    #[test]
    fn a_snapshot_becomes_the_documented_shape() {
        let registry = Registry::new(Config::default());
        let (up, down) = (EndpointId::new("up"), EndpointId::new("down"));
        let mut edit = registry.edit();
        for id in [&up, &down] {
            edit.upsert_endpoint(EndpointSpec::new(id.clone(), "127.0.0.1:1".parse().unwrap()))
                .unwrap();
        }
        edit.set_health(&up, Health::Healthy).unwrap();
        edit.set_version(&up, "0.33.0").unwrap();
        edit.set_health(
            &down,
            Health::unhealthy("connection refused", tokio::time::Instant::now()),
        )
        .unwrap();
        let mut info = ModelInfo::new("llama3.2".parse().unwrap());
        info.context_length = Some(131_072);
        edit.replace_models(&up, vec![info]).unwrap();
        let expires_at = Some(UNIX_EPOCH + Duration::from_secs(1_761_499_281));
        let state = Loaded { expires_at, context_length: Some(4096), size_vram: 5 };
        edit.set_loaded(&up, vec![LoadedModel { name: "llama3.2".parse().unwrap(), state }])
            .unwrap();
        edit.publish();

        let view = FleetView::from_snapshot(&registry.snapshot());
        let doc = view.to_json();
        assert_eq!(doc["schema_version"], 1);
        assert_eq!(
            doc["summary"],
            json!({"endpoints": 2, "up": 1, "down": 1, "unknown": 0, "models": 1, "loaded": 1})
        );
        let down = &doc["endpoints"][0];
        assert_eq!((down["name"].as_str(), down["health"].as_str()), (Some("down"), Some("down")));
        assert_eq!(down["reason"], "connection refused");
        assert_eq!(down["models"], json!([]));
        let up = &doc["endpoints"][1];
        assert_eq!(up["version"], "0.33.0");
        assert_eq!(up["reason"], Value::Null);
        let model = &up["models"][0];
        assert_eq!(model["name"], "llama3.2:latest");
        assert_eq!(model["context_length"], 131_072);
        assert_eq!(model["capabilities"], json!(["completion"]));
        assert_eq!(
            model["loaded"],
            json!({"expires_at": "2025-10-26T17:21:21Z", "context_length": 4096, "size_vram": 5})
        );
    }
}
