//! The router's answer: the chosen instance, ranked fallbacks, and why.

use std::fmt;

use om_core::{Error, ErrorKind, TaskCategory};
use om_registry::InstanceIdx;

/// One ranked instance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    /// The instance, in the snapshot the decision was made on.
    pub instance: InstanceIdx,
    /// The strategy's cost (lower is better; comparable within one decision).
    pub cost: f64,
    /// The model was loaded there (or served a request recently).
    pub warm: bool,
    /// Seconds until a slot frees there for this request, as the strategy
    /// estimates it (0 from strategies that do not model queueing): a
    /// chosen instance with a wait is worth queueing for.
    pub wait: f64,
    /// Seconds the request is expected to run there, when the strategy
    /// estimates it.
    pub service: Option<f64>,
}

/// How many candidates each eligibility filter removed. A candidate counts
/// under the first filter it fails, in this order. In a sampled decision
/// ([`Why::sampled`]) only the candidates of the sample are counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    /// Excluded by the request (endpoint allow-list, excluded endpoints or
    /// instances).
    pub excluded: u32,
    /// Missing a required capability.
    pub capabilities: u32,
    /// Context window smaller than prompt plus `num_predict`.
    pub context: u32,
    /// Endpoint without a required tag.
    pub tags: u32,
    /// Endpoint unhealthy.
    pub unhealthy: u32,
    /// Breaker open (or half-open with every probe slot taken).
    pub breaker: u32,
    /// Cooling down after a 503/429.
    pub cooldown: u32,
}

impl Removed {
    /// Removed for reasons that pass with time (health, breaker, cooldown).
    pub fn transient(&self) -> u32 {
        self.unhealthy + self.breaker + self.cooldown
    }

    /// Removed in total.
    pub fn total(&self) -> u32 {
        self.excluded
            + self.capabilities
            + self.context
            + self.tags
            + self.unhealthy
            + self.breaker
            + self.cooldown
    }
}

/// Why the router decided as it did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Why {
    /// The strategy that ranked the candidates.
    pub strategy: &'static str,
    /// The category used (the request's, or general).
    pub category: TaskCategory,
    /// Instances of the selected models.
    pub considered: u32,
    /// What the filters removed.
    pub removed: Removed,
    /// Instances left for the strategy.
    pub eligible: u32,
    /// The decision filtered a sample of the `considered` instances, not
    /// every one (more than [`RouterConfig::exact_limit`](crate::RouterConfig::exact_limit)
    /// of them; see [`Sampling`](crate::Sampling)): `removed` and `eligible`
    /// then count within the sample, `removed.total() + eligible` of them,
    /// and more instances may be eligible. When `false` the counts are
    /// exact, as they always are in a [`NoRoute`].
    pub sampled: bool,
    /// The snapshot the indexes refer to.
    pub generation: u64,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.removed;
        if self.sampled {
            let filtered = r.total() + self.eligible;
            write!(f, "{} of {filtered} instances eligible", self.eligible)?;
            write!(f, ", sampled from {}", self.considered)?;
        } else {
            write!(f, "{} of {} instances eligible", self.eligible, self.considered)?;
        }
        let parts = [
            ("excluded", r.excluded),
            ("missing capability", r.capabilities),
            ("context too small", r.context),
            ("missing tag", r.tags),
            ("unhealthy", r.unhealthy),
            ("breaker open", r.breaker),
            ("cooling down", r.cooldown),
        ];
        let mut first = true;
        for (what, n) in parts.into_iter().filter(|(_, n)| *n > 0) {
            f.write_str(if first { " (" } else { ", " })?;
            write!(f, "{what}: {n}")?;
            first = false;
        }
        if !first {
            f.write_str(")")?;
        }
        write!(f, "; strategy {}, category {}", self.strategy, self.category)
    }
}

/// The chosen instance and what to try next.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The best instance.
    pub chosen: Choice,
    /// The next best, in order (at most `max_fallbacks`), for failover.
    pub fallbacks: Vec<Choice>,
    /// The explanation.
    pub why: Why,
}

impl Decision {
    /// The chosen instance, then the fallbacks.
    pub fn ranked(&self) -> impl Iterator<Item = &Choice> {
        std::iter::once(&self.chosen).chain(&self.fallbacks)
    }
}

/// No instance can serve the request.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("no instance can serve the request: {why}")]
pub struct NoRoute {
    /// What the filters removed.
    pub why: Why,
}

impl NoRoute {
    /// True when no instance of the selected models exists at all.
    pub fn is_unknown_model(&self) -> bool {
        self.why.considered == 0
    }

    /// True when some instance would qualify but for health, breaker or
    /// cooldown: waiting may help.
    pub fn is_temporary(&self) -> bool {
        self.why.removed.transient() > 0
    }
}

impl From<NoRoute> for Error {
    fn from(no_route: NoRoute) -> Self {
        Error::new(ErrorKind::NoBackend, no_route.to_string())
    }
}
