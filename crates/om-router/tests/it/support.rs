//! A small fleet description, its registry, and an independent oracle of
//! eligibility for checking the router against.

use std::time::Duration;

use om_core::{Capabilities, Capability, EndpointId, Error, ModelName};
use om_registry::{
    Config, EndpointSpec, Health, InstanceIdx, Loaded, LoadedModel, ModelInfo, Outcome, Registry,
    Snapshot,
};
use tokio::time::Instant;

pub(crate) fn name(text: &str) -> ModelName {
    text.parse().expect("valid model name")
}

/// One model on one endpoint, and the live state to put it in.
#[derive(Debug, Clone)]
pub(crate) struct ModelSpec {
    pub(crate) name: String,
    pub(crate) family: String,
    pub(crate) capabilities: Capabilities,
    pub(crate) context: Option<u64>,
    pub(crate) loaded: bool,
    /// Five faults: the breaker opens for 30 s.
    pub(crate) breaker_open: bool,
    /// A 503 with a long Retry-After: cooling down for a minute.
    pub(crate) cooling: bool,
}

impl ModelSpec {
    pub(crate) fn new(name: &str, family: &str) -> Self {
        Self {
            name: name.to_owned(),
            family: family.to_owned(),
            capabilities: Capabilities::of(&[Capability::Completion]),
            context: Some(8192),
            loaded: false,
            breaker_open: false,
            cooling: false,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct EndpointSpecT {
    pub(crate) name: String,
    pub(crate) healthy: bool,
    pub(crate) weight: f64,
    pub(crate) tags: Vec<String>,
    pub(crate) capacity: Option<u32>,
    pub(crate) models: Vec<ModelSpec>,
}

impl EndpointSpecT {
    pub(crate) fn new(name: &str, models: Vec<ModelSpec>) -> Self {
        Self {
            name: name.to_owned(),
            healthy: true,
            weight: 1.0,
            tags: vec![],
            capacity: None,
            models,
        }
    }
}

/// Builds the registry for `fleet`, with live state set as described, at `now`.
pub(crate) fn registry(fleet: &[EndpointSpecT], config: Config, now: Instant) -> Registry {
    let registry = Registry::new(config);
    let mut edit = registry.edit();
    for (i, e) in fleet.iter().enumerate() {
        let id = EndpointId::new(e.name.clone());
        let url = format!("127.0.0.1:{}", 30_000 + i).parse().expect("valid address");
        let mut spec = EndpointSpec::new(id.clone(), url);
        spec.weight = e.weight;
        spec.tags.clone_from(&e.tags);
        spec.max_concurrency = e.capacity.and_then(std::num::NonZeroU32::new);
        edit.upsert_endpoint(spec).expect("valid spec");
        let health = if e.healthy { Health::Healthy } else { Health::unhealthy("down", now) };
        edit.set_health(&id, health).expect("known endpoint");
        let infos = e
            .models
            .iter()
            .map(|m| {
                let mut info = ModelInfo::new(name(&m.name));
                m.family.clone_into(&mut info.family);
                info.families = vec![m.family.clone()];
                info.capabilities = m.capabilities;
                info.context_length = m.context;
                info
            })
            .collect();
        edit.replace_models(&id, infos).expect("known endpoint");
        let loaded = e
            .models
            .iter()
            .filter(|m| m.loaded)
            .map(|m| LoadedModel {
                name: name(&m.name),
                state: Loaded { expires_at: None, context_length: None, size_vram: 0 },
            })
            .collect();
        edit.set_loaded(&id, loaded).expect("known endpoint");
    }
    edit.publish();
    let snapshot = registry.snapshot();
    for e in fleet {
        for m in &e.models {
            let index = snapshot
                .find_instance(&EndpointId::new(e.name.clone()), &name(&m.name))
                .expect("instance exists");
            let live = &snapshot.instance(index).live;
            if m.breaker_open {
                for _ in 0..5 {
                    live.record(&Outcome::failure(&Error::from_status(500, "boom")), now);
                }
            }
            if m.cooling {
                let busy = Error::from_status(503, "server busy")
                    .with_retry_after(Duration::from_hours(1));
                live.record(&Outcome::failure(&busy), now);
            }
        }
    }
    registry
}

/// The spec of an instance of the snapshot.
pub(crate) fn spec_of<'a>(
    fleet: &'a [EndpointSpecT],
    snapshot: &Snapshot,
    index: InstanceIdx,
) -> (&'a EndpointSpecT, &'a ModelSpec) {
    let instance = snapshot.instance(index);
    let endpoint = fleet.iter().find(|e| e.name == instance.id().endpoint.as_str()).expect("known");
    let model =
        endpoint.models.iter().find(|m| name(&m.name) == instance.id().model).expect("known");
    (endpoint, model)
}
