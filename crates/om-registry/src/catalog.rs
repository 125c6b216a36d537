//! The writer's side of the registry: the mutable catalog behind the
//! registry's lock, and the diffing that turns each write into [`Change`]s.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use om_core::{EndpointId, ModelName};

use crate::change::Change;
use crate::endpoint::{EndpointLive, EndpointSpec, Health};
use crate::error::{Error, Result};
use crate::instance::InstanceId;
use crate::live::{InstanceLive, ModelLive, Shared};
use crate::model::{Loaded, LoadedModel, ModelInfo};

/// Everything discovery has told the registry.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub(crate) endpoints: BTreeMap<EndpointId, EndpointState>,
    /// Learned affinity per model, kept while models come and go so that
    /// what was learnt survives a model being removed and pulled again.
    pub(crate) models_live: HashMap<ModelName, Arc<ModelLive>>,
}

#[derive(Debug)]
pub(crate) struct EndpointState {
    pub(crate) spec: EndpointSpec,
    pub(crate) version: Option<String>,
    pub(crate) health: Health,
    pub(crate) live: Arc<EndpointLive>,
    pub(crate) models: BTreeMap<ModelName, Slot>,
    pub(crate) loaded: BTreeMap<ModelName, Loaded>,
}

#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) info: Arc<ModelInfo>,
    pub(crate) live: Arc<InstanceLive>,
}

impl Catalog {
    fn endpoint_mut(&mut self, id: &EndpointId) -> Result<&mut EndpointState> {
        self.endpoints.get_mut(id).ok_or_else(|| Error::UnknownEndpoint(id.clone()))
    }

    /// Adds the endpoint, or updates its settings.
    pub(crate) fn upsert_endpoint(
        &mut self,
        spec: EndpointSpec,
        out: &mut Vec<Change>,
    ) -> Result<bool> {
        if !(spec.weight.is_finite() && spec.weight > 0.0) {
            return Err(Error::InvalidWeight { endpoint: spec.id, weight: spec.weight });
        }
        if let Some(state) = self.endpoints.get_mut(&spec.id) {
            if state.spec == spec {
                return Ok(false);
            }
            out.push(Change::EndpointUpdated { endpoint: spec.id.clone() });
            state.live.configure(&spec);
            state.spec = spec;
            return Ok(true);
        }
        out.push(Change::EndpointAdded { endpoint: spec.id.clone() });
        let live = Arc::<EndpointLive>::default();
        live.configure(&spec);
        self.endpoints.insert(
            spec.id.clone(),
            EndpointState {
                spec,
                version: None,
                health: Health::Unknown,
                live,
                models: BTreeMap::new(),
                loaded: BTreeMap::new(),
            },
        );
        Ok(true)
    }

    pub(crate) fn remove_endpoint(&mut self, id: &EndpointId, out: &mut Vec<Change>) -> bool {
        let removed = self.endpoints.remove(id).is_some();
        if removed {
            out.push(Change::EndpointRemoved { endpoint: id.clone() });
        }
        removed
    }

    /// Sets the health; an endpoint that stays down keeps its first `since`.
    pub(crate) fn set_health(
        &mut self,
        id: &EndpointId,
        health: Health,
        out: &mut Vec<Change>,
    ) -> Result<bool> {
        let state = self.endpoint_mut(id)?;
        let health = match (&state.health, health) {
            (Health::Unhealthy { since, .. }, Health::Unhealthy { reason, .. }) => {
                Health::Unhealthy { reason, since: *since }
            }
            (_, health) => health,
        };
        if state.health == health {
            return Ok(false);
        }
        match &health {
            Health::Healthy => out.push(Change::EndpointUp { endpoint: id.clone() }),
            Health::Unhealthy { reason, .. } if state.health.is_routable() => {
                out.push(Change::EndpointDown { endpoint: id.clone(), reason: reason.clone() });
            }
            _ => {}
        }
        state.health = health;
        Ok(true)
    }

    pub(crate) fn set_version(
        &mut self,
        id: &EndpointId,
        version: String,
        out: &mut Vec<Change>,
    ) -> Result<bool> {
        let state = self.endpoint_mut(id)?;
        if state.version.as_deref() == Some(version.as_str()) {
            return Ok(false);
        }
        state.version = Some(version);
        out.push(Change::EndpointUpdated { endpoint: id.clone() });
        Ok(true)
    }

    /// Replaces the endpoint's models. Instances that stay keep their live
    /// state; a later duplicate name wins over an earlier one.
    pub(crate) fn replace_models(
        &mut self,
        id: &EndpointId,
        models: Vec<ModelInfo>,
        shared: &Arc<Shared>,
        out: &mut Vec<Change>,
    ) -> Result<bool> {
        let Self { endpoints, models_live } = self;
        let state = endpoints.get_mut(id).ok_or_else(|| Error::UnknownEndpoint(id.clone()))?;
        let mut incoming: BTreeMap<ModelName, ModelInfo> = BTreeMap::new();
        for info in models {
            incoming.insert(info.name.clone(), info);
        }
        let mut changed = false;
        let old = std::mem::take(&mut state.models);
        for (name, slot) in old {
            if incoming.contains_key(&name) {
                state.models.insert(name, slot);
            } else {
                out.push(Change::ModelRemoved { instance: InstanceId::new(id.clone(), name) });
                changed = true;
            }
        }
        for (name, info) in incoming {
            let instance = || InstanceId::new(id.clone(), name.clone());
            match state.models.get_mut(&name) {
                Some(slot) if *slot.info == info => {}
                Some(slot) => {
                    slot.info = Arc::new(info);
                    out.push(Change::ModelUpdated { instance: instance() });
                    changed = true;
                }
                None => {
                    let model = Arc::clone(models_live.entry(name.clone()).or_default());
                    let live = InstanceLive::new(
                        instance(),
                        Arc::clone(&state.live),
                        model,
                        Arc::clone(shared),
                    );
                    out.push(Change::ModelAdded { instance: instance() });
                    state.models.insert(name, Slot { info: Arc::new(info), live: Arc::new(live) });
                    changed = true;
                }
            }
        }
        Ok(changed)
    }

    /// Replaces the set of loaded models of the endpoint.
    pub(crate) fn set_loaded(
        &mut self,
        id: &EndpointId,
        loaded: Vec<LoadedModel>,
        out: &mut Vec<Change>,
    ) -> Result<bool> {
        let state = self.endpoint_mut(id)?;
        let incoming: BTreeMap<ModelName, Loaded> =
            loaded.into_iter().map(|l| (l.name, l.state)).collect();
        if incoming == state.loaded {
            return Ok(false);
        }
        for name in state.loaded.keys().filter(|n| !incoming.contains_key(*n)) {
            out.push(Change::ModelUnloaded { instance: InstanceId::new(id.clone(), name.clone()) });
        }
        for name in incoming.keys().filter(|n| !state.loaded.contains_key(*n)) {
            out.push(Change::ModelLoaded { instance: InstanceId::new(id.clone(), name.clone()) });
        }
        state.loaded = incoming;
        Ok(true)
    }
}
