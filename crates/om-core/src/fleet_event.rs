//! Fleet events: what changed in the fleet, as plain data.

use serde::Serialize;

use crate::name::{EndpointId, ModelName};

/// A change in the fleet: an endpoint going up or down, a model appearing,
/// changing, loading or unloading.
///
/// `om-discovery` emits these (from the registry's own diff of each probe)
/// and `om-metrics` carries them in its event stream, so the type lives here,
/// below both. Serialized with a `type` tag in `snake_case`, e.g.
/// `{"type":"model_loaded","endpoint":"gpu-box","model":"llama3.2"}`.
/// Exhaustive on purpose: every crate of the workspace that matches on it
/// should be told by the compiler when a kind of change is added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FleetEvent {
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

impl FleetEvent {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_with_a_type_tag() {
        let event = FleetEvent::ModelLoaded {
            endpoint: EndpointId::new("gpu"),
            model: "llama3.2".parse().unwrap(),
        };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"type":"model_loaded","endpoint":"gpu","model":"llama3.2"}"#
        );
        assert_eq!(event.endpoint().as_str(), "gpu");
        assert!(event.model().is_some());
    }
}
