//! The immutable view of the fleet that readers share, with the indexes the
//! router needs precomputed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use om_core::{EndpointId, ModelName, TaskCategory};
use tokio::time::Instant;

use crate::catalog::Catalog;
use crate::clock::Ticks;
use crate::config::Config;
use crate::endpoint::Endpoint;
use crate::instance::{EndpointIdx, Instance, InstanceIdx, ModelIdx, RouteFacts};
use crate::live::{ModelLive, Shared};
use crate::tags::{TagInterner, TagSet};

/// One distinct model of the fleet, over every endpoint that has it.
#[derive(Debug)]
pub struct FleetModel {
    /// The normalised name.
    pub name: ModelName,
    /// What it has shown per task category.
    pub live: Arc<ModelLive>,
    /// The instances of the model, in snapshot order.
    pub instances: Vec<InstanceIdx>,
    /// The instances where `/api/ps` lists the model as loaded, in snapshot
    /// order: a router sampling a large fleet looks at these first.
    pub loaded: Vec<InstanceIdx>,
    /// The highest endpoint weight among the instances: the bound a
    /// weighted draw or rotation over them scales to.
    pub max_weight: f64,
}

/// The fleet at one moment: endpoints, instances and indexes.
///
/// **Immutable** (published whole, never changed): endpoints with their
/// settings, version and health; instances with their model details and
/// loaded state; the indexes by endpoint id, model name, family and tag.
///
/// **Live** (shared with later snapshots through `Arc`s, changing as
/// requests run): [`Instance::live`](crate::Instance::live) — in flight,
/// latency/TTFT/tokens-per-second estimates, success rate, breaker,
/// cooldown —, [`Endpoint::live`](crate::Endpoint::live) — in flight and
/// probe latency — and [`FleetModel::live`] — learned affinity.
///
/// Instances are ordered by endpoint id, then model name; index lists are in
/// that order too. An [`InstanceIdx`] (or other index) is valid only for the
/// snapshot that gave it; [`generation`](Self::generation) tells snapshots
/// apart.
#[derive(Debug)]
pub struct Snapshot {
    generation: u64,
    shared: Arc<Shared>,
    endpoints: Vec<Endpoint>,
    instances: Vec<Instance>,
    facts: Vec<RouteFacts>,
    models: Vec<FleetModel>,
    all: Vec<InstanceIdx>,
    loaded: Vec<InstanceIdx>,
    max_weight: f64,
    by_endpoint: HashMap<EndpointId, EndpointIdx>,
    by_model: HashMap<ModelName, ModelIdx>,
    by_family: HashMap<String, Vec<InstanceIdx>>,
    tags: TagInterner,
}

impl Snapshot {
    pub(crate) fn build(generation: u64, shared: &Arc<Shared>, catalog: &Catalog) -> Self {
        let mut tags = TagInterner::default();
        let mut endpoints = Vec::with_capacity(catalog.endpoints.len());
        let mut instances = Vec::new();
        let mut models: Vec<FleetModel> = Vec::new();
        let mut by_endpoint = HashMap::with_capacity(catalog.endpoints.len());
        let mut by_model: HashMap<ModelName, ModelIdx> = HashMap::new();
        let mut by_family: HashMap<String, Vec<InstanceIdx>> = HashMap::new();
        let mut loaded = Vec::new();
        for (e, (id, state)) in catalog.endpoints.iter().enumerate() {
            let endpoint = EndpointIdx(e as u32);
            by_endpoint.insert(id.clone(), endpoint);
            let spec = &state.spec;
            endpoints.push(Endpoint {
                id: id.clone(),
                url: spec.url.clone(),
                api: spec.api,
                api_key_env: spec.api_key_env.clone(),
                weight: spec.weight,
                tags: spec.tags.clone(),
                max_concurrency: spec.max_concurrency,
                capabilities: spec.capabilities.clone(),
                version: state.version.clone(),
                health: state.health.clone(),
                live: Arc::clone(&state.live),
                tag_set: tags.intern(spec.tags.iter().map(String::as_str)),
            });
            for (name, slot) in &state.models {
                let index = InstanceIdx(instances.len() as u32);
                let model = *by_model.entry(name.clone()).or_insert_with(|| {
                    let live = catalog.models_live.get(name).cloned().unwrap_or_default();
                    models.push(FleetModel {
                        name: name.clone(),
                        live,
                        instances: Vec::new(),
                        loaded: Vec::new(),
                        max_weight: 0.0,
                    });
                    ModelIdx(models.len() as u32 - 1)
                });
                let fleet_model = &mut models[model.index()];
                fleet_model.instances.push(index);
                fleet_model.max_weight = fleet_model.max_weight.max(spec.weight);
                if state.loaded.contains_key(name) {
                    fleet_model.loaded.push(index);
                    loaded.push(index);
                }
                for family in families(&slot.info.family, &slot.info.families) {
                    let list = by_family.entry(family.to_ascii_lowercase()).or_default();
                    if list.last() != Some(&index) {
                        list.push(index);
                    }
                }
                instances.push(Instance {
                    endpoint,
                    model,
                    info: Arc::clone(&slot.info),
                    loaded: state.loaded.get(name).copied(),
                    live: Arc::clone(&slot.live),
                });
            }
        }
        let all = (0..instances.len() as u32).map(InstanceIdx).collect();
        let max_weight = models.iter().map(|m| m.max_weight).fold(0.0, f64::max);
        let facts = instances
            .iter()
            .map(|i: &Instance| {
                let e = &endpoints[i.endpoint.index()];
                RouteFacts {
                    endpoint: i.endpoint,
                    model: i.model,
                    capabilities: i.info.capabilities,
                    routable: e.health.is_routable(),
                    loaded: i.loaded.is_some(),
                    capacity: e.capacity(),
                    context_length: i.info.context_length.unwrap_or(u64::MAX),
                    weight: e.weight,
                    live: Arc::clone(&i.live),
                    endpoint_live: Arc::clone(&e.live),
                }
            })
            .collect();
        Self {
            generation,
            shared: Arc::clone(shared),
            endpoints,
            instances,
            facts,
            models,
            all,
            loaded,
            max_weight,
            by_endpoint,
            by_model,
            by_family,
            tags,
        }
    }

    /// Counts publications: each new snapshot has a higher number.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The registry's settings.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// `now` in registry time, for [`InstanceLive::view`](crate::InstanceLive::view).
    #[inline]
    pub fn ticks(&self, now: Instant) -> Ticks {
        self.shared.clock.ticks(now)
    }

    /// Every endpoint, ordered by id.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The endpoint at `index`.
    ///
    /// # Panics
    ///
    /// When `index` comes from another snapshot with fewer endpoints.
    #[inline]
    pub fn endpoint(&self, index: EndpointIdx) -> &Endpoint {
        &self.endpoints[index.index()]
    }

    /// The index of the endpoint with this id.
    pub fn find_endpoint(&self, id: &EndpointId) -> Option<EndpointIdx> {
        self.by_endpoint.get(id).copied()
    }

    /// Every instance, ordered by endpoint id then model name.
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// The routing facts of the instance at `index` (see [`RouteFacts`]).
    ///
    /// # Panics
    ///
    /// When `index` comes from another snapshot with fewer instances.
    #[inline]
    pub fn facts(&self, index: InstanceIdx) -> &RouteFacts {
        &self.facts[index.index()]
    }

    /// Every instance index, in order (a ready-made candidate list).
    pub fn all_instances(&self) -> &[InstanceIdx] {
        &self.all
    }

    /// Every instance whose model `/api/ps` lists as loaded, in order
    /// (per model: [`FleetModel::loaded`]).
    pub fn loaded_instances(&self) -> &[InstanceIdx] {
        &self.loaded
    }

    /// The highest weight of an endpoint with at least one model (0 for an
    /// empty fleet; per model: [`FleetModel::max_weight`]).
    #[inline]
    pub fn max_weight(&self) -> f64 {
        self.max_weight
    }

    /// The instance at `index`.
    ///
    /// # Panics
    ///
    /// When `index` comes from another snapshot with fewer instances.
    #[inline]
    pub fn instance(&self, index: InstanceIdx) -> &Instance {
        &self.instances[index.index()]
    }

    /// The index of `model` on `endpoint`.
    pub fn find_instance(&self, endpoint: &EndpointId, model: &ModelName) -> Option<InstanceIdx> {
        let e = self.find_endpoint(endpoint)?;
        let m = self.find_model(model)?;
        self.models[m.index()]
            .instances
            .iter()
            .copied()
            .find(|i| self.instances[i.index()].endpoint == e)
    }

    /// The instances of an endpoint, in model-name order.
    pub fn endpoint_instances(&self, endpoint: EndpointIdx) -> &[Instance] {
        let start = self.instances.partition_point(|i| i.endpoint < endpoint);
        let end = self.instances.partition_point(|i| i.endpoint <= endpoint);
        &self.instances[start..end]
    }

    /// The distinct models of the fleet.
    pub fn models(&self) -> &[FleetModel] {
        &self.models
    }

    /// The model at `index`.
    ///
    /// # Panics
    ///
    /// When `index` comes from another snapshot with fewer models.
    #[inline]
    pub fn model(&self, index: ModelIdx) -> &FleetModel {
        &self.models[index.index()]
    }

    /// The index of the model with this (normalised) name.
    pub fn find_model(&self, name: &ModelName) -> Option<ModelIdx> {
        self.by_model.get(name).copied()
    }

    /// The instances of every model of `family` (compared without case).
    pub fn family_instances(&self, family: &str) -> &[InstanceIdx] {
        let found = self.by_family.get(family).or_else(|| {
            let lower = family.to_ascii_lowercase();
            self.by_family.get(&lower)
        });
        found.map_or(&[], Vec::as_slice)
    }

    /// The tag set of `tags`, to test endpoints with
    /// [`Endpoint::has_tags`](crate::Endpoint::has_tags); `None` when no
    /// endpoint carries one of them.
    pub fn tag_set<'a>(&self, tags: impl IntoIterator<Item = &'a str>) -> Option<TagSet> {
        self.tags.lookup(tags)
    }

    /// Outcomes with an affinity reward recorded in `category`, over all
    /// models (the `N` of UCB-style exploration).
    #[inline]
    pub fn category_trials(&self, category: TaskCategory) -> u64 {
        self.shared.category_trials[category as usize].load(Ordering::Relaxed)
    }

    /// The mean output length (tokens) of successful requests in
    /// `category` over the whole fleet, `None` before the first.
    pub fn mean_output(&self, category: TaskCategory) -> Option<f64> {
        self.shared.category_outputs[category as usize].mean()
    }
}

/// `family` and `families`, lower-cased already, without repeats.
fn families<'a>(family: &'a str, all: &'a [String]) -> impl Iterator<Item = &'a str> {
    let first = (!family.is_empty()).then_some(family);
    first.into_iter().chain(all.iter().map(String::as_str).filter(move |f| *f != family))
}
