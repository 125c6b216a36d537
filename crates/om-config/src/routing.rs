//! The `[routing]` section: which strategy picks the instance for a task,
//! how it weighs loaded models and learnt quality, and how the live
//! estimates it reads are learnt.

use std::collections::BTreeMap;
use std::time::Duration;

use om_core::{TaskCategory, format_duration};
use serde::{Deserialize, Serialize};

use crate::check::Findings;
use crate::path::KeyPath;

/// The strategies `om-router` has built in, by the names files use.
pub const STRATEGIES: [&str; 7] = [
    "round_robin",
    "least_loaded",
    "random",
    "performance",
    "affinity",
    "hybrid",
    "completion_time",
];

/// The most fallbacks a routing decision can rank (`om-router` ranks at
/// most 16 instances).
pub const MAX_FALLBACKS: u32 = 15;

/// Routing settings: the router's (`om_router::RouterConfig`, same field
/// names) and the registry's live-state learning (`om_registry::Config`,
/// same field names; its breaker is [`Breaker`](crate::Breaker)).
///
/// ```toml
/// [routing]
/// strategy = "least_loaded"
/// categories = { code_review = "affinity" }
/// cold_penalty = 0.5             # a cold instance's weight / (1 + this)
/// max_fallbacks = 3
/// exploration = 1.0              # UCB1 constant of affinity learning
/// min_samples = 10               # hybrid trusts affinity after this many
/// default_output_tokens = 256    # for requests without num_predict, before any is learnt
/// # seed = 7                     # default: a fixed seed
/// ewma_alpha = 0.25
/// success_window = 50
/// cold_load_threshold = "500ms"  # a load this long is kept out of latency
/// cold_load_fraction = 0.5       # ... or this share of the request
/// cooldown = "2s"                # after 503/429 without Retry-After
/// max_cooldown = "1m"
/// warm_window = "5m"             # served this recently counts as loaded
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Routing {
    /// The strategy for every task category without its own (default
    /// `completion_time`): one of [`STRATEGIES`], case and `-` for `_` aside.
    pub strategy: String,
    /// Strategies for particular task categories.
    pub categories: BTreeMap<TaskCategory, String>,
    /// How much an instance whose model is not loaded is held back: its
    /// endpoint weight is divided by `1 + cold_penalty` (default 0.5; 0
    /// turns the preference off; at least 0).
    pub cold_penalty: f64,
    /// Fallbacks ranked after the chosen instance, for failover (default 3,
    /// at most [`MAX_FALLBACKS`]).
    pub max_fallbacks: u32,
    /// UCB1's exploration constant in affinity learning (default 1; at
    /// least 0; 0 never explores).
    pub exploration: f64,
    /// Trials of a model in a category before the hybrid strategy trusts
    /// affinity over performance (default 10, at least 1).
    pub min_samples: u64,
    /// Output tokens assumed for a request without `num_predict`, in
    /// performance estimates (default 256, at least 1).
    pub default_output_tokens: u64,
    /// Seed of random routing, tie-breaks and exploration; `None` uses the
    /// router's fixed default, so runs are reproducible either way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Weight of a new sample in the latency, time-to-first-token and
    /// tokens-per-second moving averages (default 0.25, in `(0, 1]`).
    pub ewma_alpha: f64,
    /// Recent outcomes the success rate covers (default 50, at least 1).
    pub success_window: u32,
    /// A `load_duration` above this means the request loaded the model; its
    /// latency is kept out of the estimates (default 500 ms, above 0).
    #[serde(with = "crate::duration")]
    pub cold_load_threshold: Duration,
    /// A `load_duration` above this share of the request's latency counts as
    /// a cold load too (default 0.5, in `(0, 1]`).
    pub cold_load_fraction: f64,
    /// How long a 503 "server busy" or 429 without `Retry-After` keeps an
    /// instance out of routing (default 2 s).
    #[serde(with = "crate::duration")]
    pub cooldown: Duration,
    /// The longest cooldown, whatever `Retry-After` says (default 1 min, at
    /// least `cooldown`).
    #[serde(with = "crate::duration")]
    pub max_cooldown: Duration,
    /// An instance that served a request this recently counts as loaded
    /// before `/api/ps` says so (default 5 min, Ollama's keep-alive).
    #[serde(with = "crate::duration")]
    pub warm_window: Duration,
}

impl Default for Routing {
    fn default() -> Self {
        Self {
            strategy: "completion_time".to_owned(),
            categories: BTreeMap::new(),
            cold_penalty: 0.5,
            max_fallbacks: 3,
            exploration: 1.0,
            min_samples: 10,
            default_output_tokens: 256,
            seed: None,
            ewma_alpha: 0.25,
            success_window: 50,
            cold_load_threshold: Duration::from_millis(500),
            cold_load_fraction: 0.5,
            cooldown: Duration::from_secs(2),
            max_cooldown: Duration::from_mins(1),
            warm_window: Duration::from_mins(5),
        }
    }
}

impl Routing {
    pub(crate) fn check(&self, at: &KeyPath, out: &mut Findings) {
        let known = |name: &str| {
            let name = name.trim().to_ascii_lowercase().replace('-', "_");
            STRATEGIES.contains(&name.as_str())
        };
        let message = |name: &str| {
            format!("unknown strategy {name:?}; expected one of: {}", STRATEGIES.join(", "))
        };
        if !known(&self.strategy) {
            out.push(at.key("strategy"), message(&self.strategy));
        }
        for (category, name) in &self.categories {
            if !known(name) {
                out.push(at.key("categories").key(category.as_str()), message(name));
            }
        }
        let finite_at_least_0 = |v: f64| v.is_finite() && v >= 0.0;
        let share = |v: f64| v > 0.0 && v <= 1.0;
        out.require(finite_at_least_0(self.cold_penalty), || at.key("cold_penalty"), AT_LEAST_0);
        out.require(
            self.max_fallbacks <= MAX_FALLBACKS,
            || at.key("max_fallbacks"),
            "must be at most 15",
        );
        out.require(finite_at_least_0(self.exploration), || at.key("exploration"), AT_LEAST_0);
        out.require(self.min_samples >= 1, || at.key("min_samples"), AT_LEAST_1);
        out.require(
            self.default_output_tokens >= 1,
            || at.key("default_output_tokens"),
            AT_LEAST_1,
        );
        out.require(share(self.ewma_alpha), || at.key("ewma_alpha"), SHARE);
        out.require(self.success_window >= 1, || at.key("success_window"), AT_LEAST_1);
        out.require(
            !self.cold_load_threshold.is_zero(),
            || at.key("cold_load_threshold"),
            "must be greater than 0",
        );
        out.require(share(self.cold_load_fraction), || at.key("cold_load_fraction"), SHARE);
        if self.cooldown > self.max_cooldown {
            out.push(
                at.key("cooldown"),
                format!(
                    "{} is longer than {} = {}",
                    format_duration(self.cooldown),
                    at.key("max_cooldown"),
                    format_duration(self.max_cooldown)
                ),
            );
        }
    }
}

const AT_LEAST_0: &str = "must be a number of at least 0";
const AT_LEAST_1: &str = "must be at least 1";
const SHARE: &str = "must be greater than 0 and at most 1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_leniently() {
        let mut routing = Routing { strategy: "Least-Loaded".to_owned(), ..Routing::default() };
        routing.categories.insert(TaskCategory::Coding, "fastest".to_owned());
        let mut out = Findings::default();
        routing.check(&KeyPath::root().key("routing"), &mut out);
        let found: Vec<String> =
            out.into_vec().iter().map(|f| format!("{}: {}", f.path, f.message)).collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("routing.categories.coding: unknown strategy \"fastest\""));
    }

    #[test]
    fn defaults_pass_and_each_bound_is_checked() {
        let mut out = Findings::default();
        Routing::default().check(&KeyPath::root().key("routing"), &mut out);
        assert_eq!(out.into_vec(), vec![]);

        let bad = Routing {
            cold_penalty: -0.1,
            max_fallbacks: 16,
            exploration: f64::NAN,
            min_samples: 0,
            default_output_tokens: 0,
            ewma_alpha: 1.5,
            success_window: 0,
            cold_load_threshold: Duration::ZERO,
            cold_load_fraction: 0.0,
            cooldown: Duration::from_mins(2),
            ..Routing::default()
        };
        let mut out = Findings::default();
        bad.check(&KeyPath::root().key("routing"), &mut out);
        let paths: Vec<String> = out.into_vec().iter().map(|f| f.path.to_string()).collect();
        assert_eq!(
            paths,
            [
                "routing.cold_penalty",
                "routing.max_fallbacks",
                "routing.exploration",
                "routing.min_samples",
                "routing.default_output_tokens",
                "routing.ewma_alpha",
                "routing.success_window",
                "routing.cold_load_threshold",
                "routing.cold_load_fraction",
                "routing.cooldown",
            ]
        );
    }
}
