//! What a catalog edit changed, so discovery can emit events without
//! diffing on its own.

use om_core::EndpointId;

use crate::instance::InstanceId;

/// One change to the catalog, as returned by the registry's write methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A new endpoint.
    EndpointAdded {
        /// The endpoint.
        endpoint: EndpointId,
    },
    /// An endpoint's settings or version changed.
    EndpointUpdated {
        /// The endpoint.
        endpoint: EndpointId,
    },
    /// An endpoint left the fleet (with its models).
    EndpointRemoved {
        /// The endpoint.
        endpoint: EndpointId,
    },
    /// An endpoint became healthy.
    EndpointUp {
        /// The endpoint.
        endpoint: EndpointId,
    },
    /// An endpoint became unhealthy.
    EndpointDown {
        /// The endpoint.
        endpoint: EndpointId,
        /// Why.
        reason: String,
    },
    /// An endpoint has a model it did not have.
    ModelAdded {
        /// The new instance.
        instance: InstanceId,
    },
    /// A model changed (new digest, or new details from `/api/show`).
    ModelUpdated {
        /// The instance.
        instance: InstanceId,
    },
    /// An endpoint no longer has a model.
    ModelRemoved {
        /// The instance that is gone.
        instance: InstanceId,
    },
    /// A model was loaded into memory (`/api/ps`).
    ModelLoaded {
        /// The instance.
        instance: InstanceId,
    },
    /// A model left memory.
    ModelUnloaded {
        /// The instance.
        instance: InstanceId,
    },
}
