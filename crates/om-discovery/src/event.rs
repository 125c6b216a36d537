//! What discovery saw change, as plain data for whoever listens.

use om_core::{EndpointId, ModelName};
use om_registry::Change;

/// A change discovery saw in the fleet.
///
/// Events are the registry's own [`Change`]s from each probe's write
/// (the registry diffs the previous and the new view of the endpoint), so
/// what subscribers hear and what routers read never disagree. They are
/// broadcast on a bounded channel ([`Discovery::subscribe`](crate::Discovery::subscribe));
/// `om-orchestrator` forwards them to `om-metrics`' event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// An endpoint answered after being unknown or down.
    EndpointUp {
        /// The endpoint.
        endpoint: EndpointId,
        /// What `/api/version` said.
        version: Option<String>,
    },
    /// An endpoint stopped answering, or answered with something that is
    /// not the Ollama protocol.
    EndpointDown {
        /// The endpoint.
        endpoint: EndpointId,
        /// Why, for people (`connection refused`, `timeout: …`,
        /// `invalid response from /api/tags: …`).
        reason: String,
    },
    /// A model appeared on an endpoint.
    ModelAdded {
        /// The endpoint.
        endpoint: EndpointId,
        /// The model.
        model: ModelName,
    },
    /// A model disappeared from an endpoint.
    ModelRemoved {
        /// The endpoint.
        endpoint: EndpointId,
        /// The model.
        model: ModelName,
    },
    /// A model changed on an endpoint (new digest or new details).
    ModelUpdated {
        /// The endpoint.
        endpoint: EndpointId,
        /// The model.
        model: ModelName,
    },
    /// `/api/ps` lists a model it did not list before.
    ModelLoaded {
        /// The endpoint.
        endpoint: EndpointId,
        /// The model.
        model: ModelName,
    },
    /// `/api/ps` no longer lists a model.
    ModelUnloaded {
        /// The endpoint.
        endpoint: EndpointId,
        /// The model.
        model: ModelName,
    },
}

impl Event {
    /// The endpoint the event is about.
    pub fn endpoint(&self) -> &EndpointId {
        match self {
            Self::EndpointUp { endpoint, .. }
            | Self::EndpointDown { endpoint, .. }
            | Self::ModelAdded { endpoint, .. }
            | Self::ModelRemoved { endpoint, .. }
            | Self::ModelUpdated { endpoint, .. }
            | Self::ModelLoaded { endpoint, .. }
            | Self::ModelUnloaded { endpoint, .. } => endpoint,
        }
    }

    /// The model the event is about, for the `Model*` events.
    pub fn model(&self) -> Option<&ModelName> {
        match self {
            Self::ModelAdded { model, .. }
            | Self::ModelRemoved { model, .. }
            | Self::ModelUpdated { model, .. }
            | Self::ModelLoaded { model, .. }
            | Self::ModelUnloaded { model, .. } => Some(model),
            Self::EndpointUp { .. } | Self::EndpointDown { .. } => None,
        }
    }

    /// The event for a registry change, when there is one; `version` is
    /// what the probe that made the change heard from `/api/version`.
    pub(crate) fn from_change(change: Change, version: Option<&str>) -> Option<Self> {
        let model = |instance: om_registry::InstanceId| (instance.endpoint, instance.model);
        Some(match change {
            Change::EndpointUp { endpoint } => {
                Self::EndpointUp { endpoint, version: version.map(str::to_owned) }
            }
            Change::EndpointDown { endpoint, reason } => Self::EndpointDown { endpoint, reason },
            Change::ModelAdded { instance } => {
                let (endpoint, model) = model(instance);
                Self::ModelAdded { endpoint, model }
            }
            Change::ModelRemoved { instance } => {
                let (endpoint, model) = model(instance);
                Self::ModelRemoved { endpoint, model }
            }
            Change::ModelUpdated { instance } => {
                let (endpoint, model) = model(instance);
                Self::ModelUpdated { endpoint, model }
            }
            Change::ModelLoaded { instance } => {
                let (endpoint, model) = model(instance);
                Self::ModelLoaded { endpoint, model }
            }
            Change::ModelUnloaded { instance } => {
                let (endpoint, model) = model(instance);
                Self::ModelUnloaded { endpoint, model }
            }
            // Endpoints are added when discovery is built and their settings
            // never change afterwards; nothing to tell.
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use om_registry::InstanceId;

    use super::*;

    #[test]
    fn changes_map_to_events() {
        let endpoint = EndpointId::new("gpu");
        let model: ModelName = "llama3.2".parse().unwrap();
        let instance = InstanceId::new(endpoint.clone(), model.clone());
        let up = Event::from_change(Change::EndpointUp { endpoint: endpoint.clone() }, Some("0.9"));
        assert_eq!(
            up,
            Some(Event::EndpointUp { endpoint: endpoint.clone(), version: Some("0.9".into()) })
        );
        let loaded = Event::from_change(Change::ModelLoaded { instance }, None).unwrap();
        assert_eq!(loaded.endpoint(), &endpoint);
        assert_eq!(loaded.model(), Some(&model));
        assert_eq!(Event::from_change(Change::EndpointAdded { endpoint }, None), None);
    }
}
