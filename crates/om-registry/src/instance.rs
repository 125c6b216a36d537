//! Instances — one model on one endpoint, the unit routing chooses — and
//! the index types of a snapshot.

use std::fmt;
use std::sync::Arc;

use om_core::{Capabilities, EndpointId, ModelName};
use tokio::time::Instant;

use crate::endpoint::EndpointLive;
use crate::live::{InFlight, InstanceLive, Rejected};
use crate::model::{Loaded, ModelInfo};

/// The identity of an instance across snapshots: which model on which
/// endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId {
    /// The endpoint.
    pub endpoint: EndpointId,
    /// The model.
    pub model: ModelName,
}

impl InstanceId {
    /// The instance of `model` on `endpoint`.
    pub fn new(endpoint: EndpointId, model: ModelName) -> Self {
        Self { endpoint, model }
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {}", self.model, self.endpoint)
    }
}

macro_rules! index_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        ///
        /// Valid only for the [`Snapshot`](crate::Snapshot) it came from.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(crate) u32);

        impl $name {
            /// The position in the snapshot's list.
            #[inline]
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

index_newtype!(
    /// The position of an endpoint in a snapshot.
    EndpointIdx
);
index_newtype!(
    /// The position of an instance in a snapshot.
    InstanceIdx
);
index_newtype!(
    /// The position of a distinct model of the fleet in a snapshot.
    ModelIdx
);

/// One model on one endpoint, in a [`Snapshot`](crate::Snapshot).
///
/// Everything but `live` is the catalog as of the snapshot; `live` is shared
/// with every other snapshot that has this instance and changes as requests
/// run.
#[derive(Debug)]
pub struct Instance {
    /// Its endpoint.
    pub endpoint: EndpointIdx,
    /// Its model, fleet-wide.
    pub model: ModelIdx,
    /// What the endpoint says about the model.
    pub info: Arc<ModelInfo>,
    /// Present while `/api/ps` lists the model as loaded.
    pub loaded: Option<Loaded>,
    /// Live counters, estimates and breaker.
    pub live: Arc<InstanceLive>,
}

impl Instance {
    /// The identity of the instance.
    pub fn id(&self) -> &InstanceId {
        self.live.id()
    }

    /// Starts a request on the instance; see [`InstanceLive::begin`].
    ///
    /// # Errors
    ///
    /// [`Rejected`] when the breaker refuses.
    pub fn begin(&self, now: Instant) -> Result<InFlight, Rejected> {
        self.live.begin(now)
    }
}

/// What routing filters and ranks on, for one instance, copied from its
/// endpoint and model into one small record: a snapshot keeps them in one
/// dense array ([`Snapshot::facts`](crate::Snapshot::facts)), so a routing
/// decision reads 64 bytes per candidate plus its live atomics.
#[derive(Debug, Clone)]
pub struct RouteFacts {
    /// The endpoint.
    pub endpoint: EndpointIdx,
    /// The model, fleet-wide.
    pub model: ModelIdx,
    /// What the model can do.
    pub capabilities: Capabilities,
    /// The endpoint is not unhealthy.
    pub routable: bool,
    /// `/api/ps` lists the model as loaded.
    pub loaded: bool,
    /// The endpoint's concurrency limit when the snapshot was made (1 when
    /// unset); see [`RouteFacts::capacity_now`] for the one in force.
    pub capacity: u32,
    /// The context window; `u64::MAX` when unknown.
    pub context_length: u64,
    /// The endpoint's weight.
    pub weight: f64,
    /// The instance's live state.
    pub live: Arc<InstanceLive>,
    /// The endpoint's live counters.
    pub endpoint_live: Arc<EndpointLive>,
}

impl RouteFacts {
    /// The endpoint's concurrency limit now: the learned one when it adapts
    /// (it moves between snapshots), else the configured one.
    #[inline]
    pub fn capacity_now(&self) -> u32 {
        self.endpoint_live.limit_or(self.capacity)
    }
}
