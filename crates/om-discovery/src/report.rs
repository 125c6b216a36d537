//! The outcome of a one-shot probe of the whole fleet.

use std::time::Duration;

use om_core::{EndpointId, EndpointUrl};

use crate::event::Event;

/// What [`Discovery::probe_all`](crate::Discovery::probe_all) found: one
/// entry per endpoint, in the order the endpoints were given, and the
/// events the probes caused. The details (models, loaded state) are in the
/// registry.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetReport {
    /// Each endpoint's outcome.
    pub endpoints: Vec<EndpointReport>,
    /// What changed, in the order the probes finished.
    pub events: Vec<Event>,
}

/// The outcome of probing one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointReport {
    /// The endpoint's name (its `EndpointSpec::id`).
    pub endpoint: EndpointId,
    /// Where it listens.
    pub url: EndpointUrl,
    /// Whether it answered.
    pub status: ProbeStatus,
}

/// Whether an endpoint answered a probe.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ProbeStatus {
    /// It answered every request of the probe.
    Up {
        /// What `/api/version` said.
        version: String,
        /// How long `/api/version` took to answer.
        latency: Duration,
        /// Models in `/api/tags`.
        models: usize,
        /// Models in `/api/ps`.
        loaded: usize,
    },
    /// It did not.
    Down {
        /// Why, for people.
        reason: String,
    },
}

impl ProbeStatus {
    /// True for [`ProbeStatus::Up`].
    pub fn is_up(&self) -> bool {
        matches!(self, Self::Up { .. })
    }

    /// The reason, when down.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Down { reason } => Some(reason),
            Self::Up { .. } => None,
        }
    }
}

impl FleetReport {
    /// How many endpoints answered.
    pub fn up(&self) -> usize {
        self.endpoints.iter().filter(|e| e.status.is_up()).count()
    }

    /// How many endpoints did not answer.
    pub fn down(&self) -> usize {
        self.endpoints.len() - self.up()
    }

    /// True when at least one endpoint answered.
    pub fn is_any_up(&self) -> bool {
        self.endpoints.iter().any(|e| e.status.is_up())
    }
}
