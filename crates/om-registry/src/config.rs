//! Settings of the live state: how estimates learn, what counts as a cold
//! load, how long backpressure cools an instance down.

use std::time::Duration;

use crate::breaker::BreakerConfig;

/// Settings of the registry's live state: plain data, taken from
/// `om-config`'s `routing` and `breaker` sections, where the defaults live.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Weight of a new sample in the latency, time-to-first-token and
    /// tokens-per-second moving averages (in `(0, 1]`).
    pub ewma_alpha: f64,
    /// How many recent outcomes the success rate is computed over
    /// (at least 1).
    pub success_window: u32,
    /// A `load_duration` above this means the model was loaded for the
    /// request; such an outcome does not move the latency or
    /// time-to-first-token estimates.
    pub cold_load_threshold: Duration,
    /// A `load_duration` above this share of the request's latency also
    /// counts as a cold load (in `(0, 1]`).
    pub cold_load_fraction: f64,
    /// How long a 503 "server busy" or 429 without `Retry-After` keeps the
    /// instance out of routing.
    pub cooldown: Duration,
    /// The longest cooldown, whatever `Retry-After` says.
    pub max_cooldown: Duration,
    /// An instance that served a request this recently counts as loaded even
    /// before `/api/ps` says so.
    pub warm_window: Duration,
    /// The circuit breaker of every instance.
    pub breaker: BreakerConfig,
}

impl Config {
    /// The settings `[routing]` and `[breaker]` give.
    pub fn from_config(routing: &om_config::Routing, breaker: &om_config::Breaker) -> Self {
        Self {
            ewma_alpha: routing.ewma_alpha,
            success_window: routing.success_window,
            cold_load_threshold: routing.cold_load_threshold,
            cold_load_fraction: routing.cold_load_fraction,
            cooldown: routing.cooldown,
            max_cooldown: routing.max_cooldown,
            warm_window: routing.warm_window,
            breaker: BreakerConfig::from(breaker),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::from_config(&om_config::Routing::default(), &om_config::Breaker::default())
    }
}
