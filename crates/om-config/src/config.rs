//! The effective configuration: one public field per section.

use std::collections::{BTreeMap, HashMap};

use om_core::{EndpointUrl, ModelName};
use serde::{Deserialize, Serialize};

use crate::breaker::Breaker;
use crate::check::{Finding, Findings};
use crate::discovery::Discovery;
use crate::endpoint::Endpoint;
use crate::gateway::Gateway;
use crate::limits::Limits;
use crate::model::ModelSettings;
use crate::orchestrator::Orchestrator;
use crate::path::KeyPath;
use crate::retry::Retry;
use crate::routing::Routing;
use crate::timeouts::Timeouts;
use crate::tls::Tls;

/// The whole configuration of ollama-meta, validated.
///
/// Each concern is one section: a plain struct with public fields, its own
/// defaults and `deny_unknown_fields`. Adding a section is one struct (with
/// `Default`, `Serialize`, `Deserialize` and, if it has rules, a `check`
/// method) plus one field here; loading, error reporting and provenance
/// pick it up from serde.
///
/// Values from [`Loader::load`](crate::Loader::load) have passed every rule:
/// at least one endpoint, unique endpoint names, weights above 0,
/// `retry.max_attempts` at least 1, `retry.initial_backoff` at most
/// `retry.max_backoff`, timeouts above 0, discovery intervals above 0 and
/// `discovery.backoff_initial` at most `discovery.backoff_max`, known
/// routing strategies, routing shares in `(0, 1]` and counts at least 1,
/// `routing.cooldown` at most `routing.max_cooldown`, breaker counts at
/// least 1, `breaker.failure_ratio` in `(0, 1]` and `breaker.open_timeout`
/// at most `breaker.max_open_timeout`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The Ollama servers to use. Defaults to the one at `OLLAMA_HOST`, or
    /// `http://127.0.0.1:11434` when that is unset.
    pub endpoints: Vec<Endpoint>,
    /// Settings per model, by name (`llama3.2` and `llama3.2:latest` are one
    /// model).
    pub models: BTreeMap<ModelName, ModelSettings>,
    /// Retry policy.
    pub retry: Retry,
    /// Per-phase timeouts.
    pub timeouts: Timeouts,
    /// What `https` endpoints are trusted with.
    pub tls: Tls,
    /// How much of an answer is held in memory.
    pub limits: Limits,
    /// How the fleet is probed.
    pub discovery: Discovery,
    /// Routing strategy, loaded-model preference and live-state learning.
    pub routing: Routing,
    /// The circuit breaker of every instance.
    pub breaker: Breaker,
    /// Per-endpoint concurrency, task deadlines and backoff jitter.
    pub orchestrator: Orchestrator,
    /// The HTTP gateway (`ollama-meta serve`).
    pub gateway: Gateway,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            endpoints: vec![Endpoint::new(EndpointUrl::default_local())],
            models: BTreeMap::new(),
            retry: Retry::default(),
            timeouts: Timeouts::default(),
            tls: Tls::default(),
            limits: Limits::default(),
            discovery: Discovery::default(),
            routing: Routing::default(),
            breaker: Breaker::default(),
            orchestrator: Orchestrator::default(),
            gateway: Gateway::default(),
        }
    }
}

impl Config {
    /// The configuration as TOML, in the same shape a file is written in,
    /// for `ollama-meta config show`. Unset optional values are left out.
    ///
    /// # Errors
    ///
    /// Fails only if a value has no TOML form; every value in the schema has
    /// one, so in practice this returns `Ok`.
    pub fn to_toml_string(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(self)
    }

    /// The configuration as pretty-printed JSON (unset optional values are
    /// `null`), for `ollama-meta config show --json`.
    ///
    /// # Errors
    ///
    /// As for [`Config::to_toml_string`]: every value has a JSON form.
    pub fn to_json_string(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// Every rule the values break, with the key path of each.
    pub(crate) fn check(&self) -> Vec<Finding> {
        let mut out = Findings::default();
        let root = KeyPath::root();

        let endpoints = root.key("endpoints");
        if self.endpoints.is_empty() {
            out.push(
                endpoints.clone(),
                "at least one endpoint is required (leave the key out to use OLLAMA_HOST or \
                 http://127.0.0.1:11434)",
            );
        }
        let mut first_with_name: HashMap<&str, usize> = HashMap::new();
        for (i, endpoint) in self.endpoints.iter().enumerate() {
            let at = endpoints.index(i);
            endpoint.check(&at, &mut out);
            if let Some(&first) = first_with_name.get(endpoint.name.as_str()) {
                out.push(
                    at.key("name"),
                    format!(
                        "duplicate endpoint name {:?}, also used by {} (names default to \
                         host:port; set `name` to tell them apart)",
                        endpoint.name.as_str(),
                        endpoints.index(first)
                    ),
                );
            } else {
                first_with_name.insert(endpoint.name.as_str(), i);
            }
        }

        self.retry.check(&root.key("retry"), &mut out);
        self.timeouts.check(&root.key("timeouts"), &mut out);
        self.limits.check(&root.key("limits"), &mut out);
        self.tls.check(&root.key("tls"), &mut out);
        self.routing.check(&root.key("routing"), &mut out);
        self.breaker.check(&root.key("breaker"), &mut out);
        self.orchestrator.check(&root.key("orchestrator"), &mut out);
        self.discovery.check(&root.key("discovery"), &mut out);
        self.gateway.check(&root.key("gateway"), &mut out);
        out.into_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Config::default().check(), vec![]);
    }

    #[test]
    fn toml_round_trips() {
        let mut config = Config::default();
        config.timeouts.total = Some(std::time::Duration::from_mins(10));
        config.models.insert(
            "llama3.2".parse().unwrap(),
            ModelSettings {
                options: om_core::wire::Options::default().with("num_ctx", 8192),
                keep_alive: Some(om_core::wire::KeepAlive::Text("10m".into())),
            },
        );
        let text = config.to_toml_string().unwrap();
        assert!(text.contains("first_byte = \"2m\""), "{text}");
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn toml_leaves_out_unset_values() {
        let text = Config::default().to_toml_string().unwrap();
        assert!(!text.contains("total"), "{text}");
        assert!(!text.contains("max_concurrency"), "{text}");
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back, Config::default());
    }

    #[test]
    fn json_shows_unset_values_as_null() {
        let json: serde_json::Value =
            serde_json::from_str(&Config::default().to_json_string().unwrap()).unwrap();
        assert_eq!(json["timeouts"]["total"], serde_json::Value::Null);
        assert_eq!(json["endpoints"][0]["url"], "http://127.0.0.1:11434");
        assert_eq!(json["retry"]["initial_backoff"], "200ms");
    }
}
