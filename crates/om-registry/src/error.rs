//! Errors of the registry's write API.

use om_core::{EndpointId, ModelName};

use crate::instance::InstanceId;

/// Why a registry write was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No endpoint has this id.
    #[error("unknown endpoint {0}")]
    UnknownEndpoint(EndpointId),
    /// No endpoint has this model (boxed: an id is large).
    #[error("unknown instance {0}")]
    UnknownInstance(Box<InstanceId>),
    /// No endpoint has a model of this name (boxed: a name is large).
    #[error("unknown model {0}")]
    UnknownModel(Box<ModelName>),
    /// A weight that is not a finite number above 0.
    #[error(
        "invalid weight {weight} for endpoint {endpoint}: must be a finite number greater than 0"
    )]
    InvalidWeight {
        /// The endpoint.
        endpoint: EndpointId,
        /// The weight given.
        weight: f64,
    },
}

impl Error {
    /// True for [`Error::UnknownEndpoint`], [`Error::UnknownInstance`] and
    /// [`Error::UnknownModel`].
    pub fn is_unknown(&self) -> bool {
        matches!(self, Self::UnknownEndpoint(_) | Self::UnknownInstance(_) | Self::UnknownModel(_))
    }
}

/// A `Result` with the registry's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
