//! What discovery saw change: the registry's diff of each probe, turned into
//! [`Event`]s for whoever listens.
//!
//! Events are the registry's own [`Change`]s from each probe's write (the
//! registry diffs the previous and the new view of the endpoint), so what
//! subscribers hear and what routers read never disagree. They are broadcast
//! on a bounded channel ([`Discovery::subscribe`](crate::Discovery::subscribe));
//! `om-orchestrator` forwards them to `om-metrics`' event stream.

use om_registry::Change;

/// A change discovery saw in the fleet (the fleet-wide event type of
/// `om-core`, so metrics and subscribers share it).
pub use om_core::FleetEvent as Event;

/// The event for a registry change, when there is one; `version` is
/// what the probe that made the change heard from `/api/version`.
pub(crate) fn from_change(change: Change, version: Option<&str>) -> Option<Event> {
    let model = |instance: om_registry::InstanceId| (instance.endpoint, instance.model);
    Some(match change {
        Change::EndpointUp { endpoint } => {
            Event::EndpointUp { endpoint, version: version.map(str::to_owned) }
        }
        Change::EndpointDown { endpoint, reason } => Event::EndpointDown { endpoint, reason },
        Change::ModelAdded { instance } => {
            let (endpoint, model) = model(instance);
            Event::ModelAdded { endpoint, model }
        }
        Change::ModelRemoved { instance } => {
            let (endpoint, model) = model(instance);
            Event::ModelRemoved { endpoint, model }
        }
        Change::ModelUpdated { instance } => {
            let (endpoint, model) = model(instance);
            Event::ModelUpdated { endpoint, model }
        }
        Change::ModelLoaded { instance } => {
            let (endpoint, model) = model(instance);
            Event::ModelLoaded { endpoint, model }
        }
        Change::ModelUnloaded { instance } => {
            let (endpoint, model) = model(instance);
            Event::ModelUnloaded { endpoint, model }
        }
        // Endpoints are added when discovery is built and their settings
        // never change afterwards; nothing to tell.
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use om_core::{EndpointId, ModelName};
    use om_registry::InstanceId;

    use super::*;

    #[test]
    fn changes_map_to_events() {
        let endpoint = EndpointId::new("gpu");
        let model: ModelName = "llama3.2".parse().unwrap();
        let instance = InstanceId::new(endpoint.clone(), model.clone());
        let up = from_change(Change::EndpointUp { endpoint: endpoint.clone() }, Some("0.9"));
        assert_eq!(
            up,
            Some(Event::EndpointUp { endpoint: endpoint.clone(), version: Some("0.9".into()) })
        );
        let loaded = from_change(Change::ModelLoaded { instance }, None).unwrap();
        assert_eq!(loaded.endpoint(), &endpoint);
        assert_eq!(loaded.model(), Some(&model));
        assert_eq!(from_change(Change::EndpointAdded { endpoint }, None), None);
    }
}
