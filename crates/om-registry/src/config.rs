//! Settings of the live state: how estimates learn, what counts as a cold
//! load, how long backpressure cools an instance down.

use std::time::Duration;

use crate::breaker::BreakerConfig;

/// Settings of the registry's live state. Plain data; `om-config`'s
/// `routing` and `breaker` sections carry the same values.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Weight of a new sample in the latency, time-to-first-token and
    /// tokens-per-second moving averages (in `(0, 1]`; default 0.25).
    pub ewma_alpha: f64,
    /// How many recent outcomes the success rate is computed over
    /// (at least 1; default 50).
    pub success_window: u32,
    /// A `load_duration` above this means the model was loaded for the
    /// request; such an outcome does not move the latency or
    /// time-to-first-token estimates (default 500 ms).
    pub cold_load_threshold: Duration,
    /// A `load_duration` above this share of the request's latency also
    /// counts as a cold load (in `(0, 1]`; default 0.5).
    pub cold_load_fraction: f64,
    /// How long a 503 "server busy" or 429 without `Retry-After` keeps the
    /// instance out of routing (default 2 s).
    pub cooldown: Duration,
    /// The longest cooldown, whatever `Retry-After` says (default 60 s).
    pub max_cooldown: Duration,
    /// An instance that served a request this recently counts as loaded even
    /// before `/api/ps` says so (default 5 min, Ollama's default keep-alive).
    pub warm_window: Duration,
    /// The circuit breaker of every instance.
    pub breaker: BreakerConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            ewma_alpha: 0.25,
            success_window: 50,
            cold_load_threshold: Duration::from_millis(500),
            cold_load_fraction: 0.5,
            cooldown: Duration::from_secs(2),
            max_cooldown: Duration::from_mins(1),
            warm_window: Duration::from_mins(5),
            breaker: BreakerConfig::default(),
        }
    }
}
