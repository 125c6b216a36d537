//! Why a [`Discovery`](crate::Discovery) could not be built.

use om_core::EndpointId;

/// Why [`Discovery::try_new`](crate::Discovery::try_new) refused.
///
/// Probing itself never fails: an endpoint that does not answer is marked
/// unhealthy in the registry with the reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two endpoints have one id.
    #[error("duplicate endpoint {0}")]
    DuplicateEndpoint(EndpointId),
    /// A setting the loop cannot run with.
    #[error("invalid discovery settings: {0}")]
    InvalidSettings(&'static str),
    /// The registry refused an endpoint (an invalid weight).
    #[error("the registry refused an endpoint")]
    Registry(#[source] om_registry::Error),
}

impl Error {
    /// True for [`Error::DuplicateEndpoint`].
    pub fn is_duplicate_endpoint(&self) -> bool {
        matches!(self, Self::DuplicateEndpoint(_))
    }

    /// True for [`Error::InvalidSettings`].
    pub fn is_invalid_settings(&self) -> bool {
        matches!(self, Self::InvalidSettings(_))
    }

    /// True for [`Error::Registry`].
    pub fn is_registry(&self) -> bool {
        matches!(self, Self::Registry(_))
    }
}
