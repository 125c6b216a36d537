//! The registry handle: publishes snapshots, takes catalog edits from
//! discovery and outcomes from the orchestrator.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use om_core::{EndpointId, ModelName, TaskCategory};
use parking_lot::{Mutex, MutexGuard};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::catalog::Catalog;
use crate::change::Change;
use crate::clock::Clock;
use crate::config::Config;
use crate::endpoint::{EndpointSpec, Health};
use crate::error::{Error, Result};
use crate::instance::InstanceId;
use crate::live::{Recorded, Shared};
use crate::model::{LoadedModel, ModelInfo};
use crate::outcome::Outcome;
use crate::snapshot::Snapshot;

/// The fleet catalog and live state: one per process, cheap to clone (clones
/// share everything).
///
/// - Readers call [`snapshot`](Self::snapshot) and get an `Arc<Snapshot>`:
///   one atomic increment under a read lock that writers hold only for a
///   pointer swap. Clone the `Arc` out and let go of anything else before
///   an `.await`.
/// - Discovery writes the catalog with [`edit`](Self::edit) (several changes,
///   one publication) or the one-change shortcuts. Each write returns the
///   [`Change`]s it made; a write that changes nothing publishes nothing.
/// - The orchestrator starts requests with
///   [`Instance::begin`](crate::Instance::begin) and reports them through the
///   returned guard, or with [`record_outcome`](Self::record_outcome); these
///   touch live atomics only and never rebuild the snapshot.
#[derive(Debug, Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Writers serialise here; readers never take it.
    catalog: Mutex<State>,
    snapshots: watch::Sender<Arc<Snapshot>>,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct State {
    catalog: Catalog,
    generation: u64,
}

impl Registry {
    /// An empty registry whose clock starts now.
    pub fn new(config: Config) -> Self {
        let shared = Arc::new(Shared::new(config, Clock::new(Instant::now())));
        let catalog = Catalog::default();
        let first = Arc::new(Snapshot::build(0, &shared, &catalog));
        let (snapshots, _) = watch::channel(first);
        Self {
            inner: Arc::new(Inner {
                catalog: Mutex::new(State { catalog, generation: 0 }),
                snapshots,
                shared,
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.inner.shared.config
    }

    /// A new ticket with `priority`: its place among requests waiting for
    /// capacity (see [`Ticket`](crate::Ticket)). Numbered in call order.
    pub fn ticket(&self, priority: om_core::Priority) -> crate::Ticket {
        let seq = self.inner.shared.tickets.fetch_add(1, Ordering::Relaxed) + 1;
        crate::Ticket { priority, seq }
    }

    /// The latest published snapshot (an `Arc` clone: later edits publish
    /// a new one and leave this one as it is).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.inner.snapshots.borrow())
    }

    /// A receiver that sees every new snapshot (for `--watch` displays and
    /// anything else that reacts to catalog changes). Clone the `Arc` out of
    /// `borrow()` at once: the borrow holds a read lock.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.inner.snapshots.subscribe()
    }

    /// Starts a batch of catalog changes, published together when the
    /// [`Edit`] is dropped or [`published`](Edit::publish).
    ///
    /// The edit holds the writers' lock (readers are not affected): make the
    /// changes and let it go; it cannot be held across an `.await` in a
    /// spawned task, as it is not `Send`.
    pub fn edit(&self) -> Edit<'_> {
        Edit {
            inner: &self.inner,
            state: self.inner.catalog.lock(),
            changes: Vec::new(),
            dirty: false,
        }
    }

    /// Adds an endpoint or updates its settings; see [`Edit::upsert_endpoint`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidWeight`].
    pub fn upsert_endpoint(&self, spec: EndpointSpec) -> Result<Vec<Change>> {
        let mut edit = self.edit();
        edit.upsert_endpoint(spec)?;
        Ok(edit.publish())
    }

    /// Removes an endpoint and its instances; see [`Edit::remove_endpoint`].
    pub fn remove_endpoint(&self, id: &EndpointId) -> Vec<Change> {
        let mut edit = self.edit();
        edit.remove_endpoint(id);
        edit.publish()
    }

    /// Sets an endpoint's health; see [`Edit::set_health`].
    ///
    /// # Errors
    ///
    /// [`Error::UnknownEndpoint`].
    pub fn set_health(&self, id: &EndpointId, health: Health) -> Result<Vec<Change>> {
        let mut edit = self.edit();
        edit.set_health(id, health)?;
        Ok(edit.publish())
    }

    /// Sets what `/api/version` said; see [`Edit::set_version`].
    ///
    /// # Errors
    ///
    /// [`Error::UnknownEndpoint`].
    pub fn set_version(&self, id: &EndpointId, version: impl Into<String>) -> Result<Vec<Change>> {
        let mut edit = self.edit();
        edit.set_version(id, version)?;
        Ok(edit.publish())
    }

    /// Replaces an endpoint's models; see [`Edit::replace_models`].
    ///
    /// # Errors
    ///
    /// [`Error::UnknownEndpoint`].
    pub fn replace_models(&self, id: &EndpointId, models: Vec<ModelInfo>) -> Result<Vec<Change>> {
        let mut edit = self.edit();
        edit.replace_models(id, models)?;
        Ok(edit.publish())
    }

    /// Replaces an endpoint's loaded models; see [`Edit::set_loaded`].
    ///
    /// # Errors
    ///
    /// [`Error::UnknownEndpoint`].
    pub fn set_loaded(&self, id: &EndpointId, loaded: Vec<LoadedModel>) -> Result<Vec<Change>> {
        let mut edit = self.edit();
        edit.set_loaded(id, loaded)?;
        Ok(edit.publish())
    }

    /// Records how long a health probe of the endpoint took. Live state:
    /// publishes nothing.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownEndpoint`].
    pub fn record_probe_latency(&self, id: &EndpointId, latency: Duration) -> Result<()> {
        let snapshot = self.snapshot();
        let index = snapshot.find_endpoint(id).ok_or_else(|| Error::UnknownEndpoint(id.clone()))?;
        snapshot.endpoint(index).live.set_probe_latency(latency);
        Ok(())
    }

    /// Records the outcome of a request that was not started with
    /// [`Instance::begin`](crate::Instance::begin) (prefer
    /// [`InFlight::finish`](crate::InFlight::finish) when it was).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownInstance`] when the current snapshot has no such
    /// instance.
    pub fn record_outcome(
        &self,
        instance: &InstanceId,
        outcome: &Outcome,
        now: Instant,
    ) -> Result<Recorded> {
        let snapshot = self.snapshot();
        let index = snapshot
            .find_instance(&instance.endpoint, &instance.model)
            .ok_or_else(|| Error::UnknownInstance(Box::new(instance.clone())))?;
        Ok(snapshot.instance(index).live.record(outcome, now))
    }

    /// Adds `reward` to `model`'s learned affinity for `category`; see
    /// [`InstanceLive::reward`](crate::InstanceLive::reward).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownModel`] when no endpoint has the model now.
    pub fn record_reward(
        &self,
        model: &ModelName,
        category: TaskCategory,
        reward: f64,
    ) -> Result<()> {
        let snapshot = self.snapshot();
        let found = snapshot.find_model(model).and_then(|m| snapshot.model(m).instances.first());
        let index = *found.ok_or_else(|| Error::UnknownModel(Box::new(model.clone())))?;
        snapshot.instance(index).live.reward(category, reward);
        Ok(())
    }
}

/// A batch of catalog changes under the writers' lock; see
/// [`Registry::edit`]. Dropping it publishes what changed, like
/// [`publish`](Self::publish).
#[derive(Debug)]
pub struct Edit<'a> {
    inner: &'a Inner,
    state: MutexGuard<'a, State>,
    changes: Vec<Change>,
    dirty: bool,
}

impl Edit<'_> {
    /// Adds the endpoint (health [`Health::Unknown`], no models) or updates
    /// its settings, keeping its models and live state.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidWeight`] for a weight that is not a finite number
    /// above 0.
    pub fn upsert_endpoint(&mut self, spec: EndpointSpec) -> Result<()> {
        self.dirty |= self.state.catalog.upsert_endpoint(spec, &mut self.changes)?;
        Ok(())
    }

    /// Removes the endpoint with its instances; false when there was none.
    pub fn remove_endpoint(&mut self, id: &EndpointId) -> bool {
        let removed = self.state.catalog.remove_endpoint(id, &mut self.changes);
        self.dirty |= removed;
        removed
    }

    /// Sets the endpoint's health. Going down reports
    /// [`Change::EndpointDown`], coming up [`Change::EndpointUp`]; an
    /// endpoint that stays down keeps the `since` of its first failure (the
    /// reason is updated).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownEndpoint`].
    pub fn set_health(&mut self, id: &EndpointId, health: Health) -> Result<()> {
        self.dirty |= self.state.catalog.set_health(id, health, &mut self.changes)?;
        Ok(())
    }

    /// Sets what `/api/version` said.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownEndpoint`].
    pub fn set_version(&mut self, id: &EndpointId, version: impl Into<String>) -> Result<()> {
        self.dirty |= self.state.catalog.set_version(id, version.into(), &mut self.changes)?;
        Ok(())
    }

    /// Replaces the endpoint's models with `models` (from `/api/tags`, with
    /// `/api/show` details): reports added, removed and updated (different
    /// details or digest) models. Instances that stay keep their live state
    /// (estimates, breaker); removed ones lose it.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownEndpoint`].
    pub fn replace_models(&mut self, id: &EndpointId, models: Vec<ModelInfo>) -> Result<()> {
        let shared = &self.inner.shared;
        self.dirty |= self.state.catalog.replace_models(id, models, shared, &mut self.changes)?;
        Ok(())
    }

    /// Replaces the endpoint's loaded models with `loaded` (from
    /// `/api/ps`): reports models loaded and unloaded. A model may be listed
    /// before `/api/tags` has shown it; it counts once it is an instance.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownEndpoint`].
    pub fn set_loaded(&mut self, id: &EndpointId, loaded: Vec<LoadedModel>) -> Result<()> {
        self.dirty |= self.state.catalog.set_loaded(id, loaded, &mut self.changes)?;
        Ok(())
    }

    /// Publishes a new snapshot if anything changed and returns the changes.
    pub fn publish(mut self) -> Vec<Change> {
        self.publish_now();
        std::mem::take(&mut self.changes)
    }

    fn publish_now(&mut self) {
        if !std::mem::take(&mut self.dirty) {
            return;
        }
        self.state.generation += 1;
        let snapshot =
            Snapshot::build(self.state.generation, &self.inner.shared, &self.state.catalog);
        // `send_replace` publishes even when nobody subscribed.
        self.inner.snapshots.send_replace(Arc::new(snapshot));
    }
}

impl Drop for Edit<'_> {
    fn drop(&mut self) {
        self.publish_now();
    }
}
