//! The `[[endpoints]]` list: the Ollama servers of the fleet.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use om_core::{ApiKind, DeclaredCapabilities, EndpointId, EndpointUrl};
use serde::{Deserialize, Serialize};

use crate::check::Findings;
use crate::path::KeyPath;

/// One Ollama server.
///
/// In a file only `url` is required:
///
/// ```toml
/// [[endpoints]]
/// url = "http://gpu-box:11434"
/// weight = 2.0
/// tags = ["gpu"]
///
/// [[endpoints]]
/// url = "http://llama-box:8080/v1"
/// kind = "openai"                 # llama.cpp, vLLM, LM Studio, OpenAI
/// api_key_env = "LLAMA_BOX_KEY"   # optional: sent as a bearer token
/// # optional: what its models can do (the OpenAI API does not say)
/// capabilities = ["completion", "tools", "vision"]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "EndpointSpec")]
pub struct Endpoint {
    /// A unique name; defaults to the URL's `host:port`.
    pub name: EndpointId,
    /// Where the server listens, parsed by Ollama's `OLLAMA_HOST` rules
    /// (`gpu-box` means `http://gpu-box:11434`).
    pub url: EndpointUrl,
    /// The API the server speaks: `ollama` (the default) or `openai`
    /// (an OpenAI-compatible server, asked through `/v1`).
    pub kind: ApiKind,
    /// The environment variable holding the server's API key, sent as
    /// `Authorization: Bearer`; it must be set when the configuration
    /// loads.
    pub api_key_env: Option<String>,
    /// Relative share of the traffic (greater than 0; default 1.0).
    pub weight: f64,
    /// The most requests to send at once; `None` means as many as the
    /// endpoint runs in parallel (learnt from the endpoint itself).
    pub max_concurrency: Option<NonZeroUsize>,
    /// Free-form labels (`gpu`, `laptop`) that routing rules can match.
    pub tags: Vec<String>,
    /// What the models of an OpenAI-compatible endpoint can do, which its
    /// API does not say: without it, embedding models are told by name
    /// and every other model completes text and calls tools.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<CapabilityNames>,
}

/// Capability names as written (`completion`, `tools`, `insert`, `vision`,
/// `embedding`, `thinking`): a list for every model of the endpoint, or a
/// table by model id, where `"*"` stands for every model not named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CapabilityNames {
    /// `capabilities = ["completion", "vision"]`.
    All(Vec<String>),
    /// `capabilities = { "qwen2.5-vl" = ["completion", "vision"], "*" = ["completion"] }`.
    Models(BTreeMap<String, Vec<String>>),
}

/// The key of a [`CapabilityNames::Models`] table for every other model.
const EVERY_OTHER_MODEL: &str = "*";

impl CapabilityNames {
    /// The declaration these names make; names that are not capabilities
    /// (the configuration check reports them) are left out.
    pub fn declared(&self) -> DeclaredCapabilities {
        let set =
            |names: &[String]| om_core::Capabilities::from_names(names.iter().map(String::as_str));
        match self {
            Self::All(names) => DeclaredCapabilities::all(set(names)),
            Self::Models(models) => {
                models.iter().fold(DeclaredCapabilities::default(), |declared, (model, names)| {
                    if model == EVERY_OTHER_MODEL {
                        DeclaredCapabilities { all: Some(set(names)), ..declared }
                    } else {
                        declared.with_model(model.clone(), set(names))
                    }
                })
            }
        }
    }

    fn check(&self, at: &KeyPath, out: &mut Findings) {
        let names = |names: &[String], at: &KeyPath, out: &mut Findings| {
            for (i, name) in names.iter().enumerate() {
                if let Err(error) = name.parse::<om_core::Capability>() {
                    out.push(at.index(i), error.to_string());
                }
            }
        };
        match self {
            Self::All(list) => names(list, at, out),
            Self::Models(models) => {
                for (model, list) in models {
                    out.require(!model.trim().is_empty(), || at.clone(), "names an empty model");
                    names(list, &at.key(model), out);
                }
            }
        }
    }
}

impl Endpoint {
    /// An endpoint at `url` with every other setting at its default.
    pub fn new(url: EndpointUrl) -> Self {
        EndpointSpec {
            url,
            name: None,
            kind: ApiKind::default(),
            api_key_env: None,
            weight: default_weight(),
            max_concurrency: None,
            tags: vec![],
            capabilities: None,
        }
        .into()
    }

    pub(crate) fn check(&self, at: &KeyPath, out: &mut Findings) {
        out.require(!self.name.as_str().trim().is_empty(), || at.key("name"), "must not be empty");
        out.require(
            self.weight.is_finite() && self.weight > 0.0,
            || at.key("weight"),
            "must be a number greater than 0",
        );
        if let Some(name) = &self.api_key_env {
            let message = format!("names {name:?}, which is not set in the environment");
            out.require(
                !name.trim().is_empty() && std::env::var_os(name).is_some(),
                || at.key("api_key_env"),
                &message,
            );
        }
        for (i, tag) in self.tags.iter().enumerate() {
            out.require(!tag.trim().is_empty(), || at.key("tags").index(i), "must not be empty");
        }
        if let Some(capabilities) = &self.capabilities {
            out.require(
                self.kind == ApiKind::OpenAi,
                || at.key("capabilities"),
                "applies to `kind = \"openai\"` endpoints only: an Ollama server reports its \
                 models' capabilities itself",
            );
            capabilities.check(&at.key("capabilities"), out);
        }
    }
}

/// The endpoint as written: the name is optional because it derives from the
/// URL, which serde's field defaults cannot express.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointSpec {
    url: EndpointUrl,
    #[serde(default)]
    name: Option<EndpointId>,
    #[serde(default)]
    kind: ApiKind,
    #[serde(default)]
    api_key_env: Option<String>,
    #[serde(default = "default_weight")]
    weight: f64,
    #[serde(default)]
    max_concurrency: Option<NonZeroUsize>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    capabilities: Option<CapabilityNames>,
}

fn default_weight() -> f64 {
    1.0
}

impl From<EndpointSpec> for Endpoint {
    fn from(spec: EndpointSpec) -> Self {
        let name = spec.name.unwrap_or_else(|| EndpointId::new(spec.url.authority()));
        Self {
            name,
            url: spec.url,
            kind: spec.kind,
            api_key_env: spec.api_key_env,
            weight: spec.weight,
            max_concurrency: spec.max_concurrency,
            tags: spec.tags,
            capabilities: spec.capabilities,
        }
    }
}

#[cfg(test)]
mod tests {
    use om_core::{Capabilities, Capability};

    use super::*;

    #[test]
    fn name_derives_from_host_and_port() {
        let e = Endpoint::new(EndpointUrl::parse("gpu-box").unwrap());
        assert_eq!(e.name.as_str(), "gpu-box:11434");
        assert_eq!(e.url.to_string(), "http://gpu-box:11434");
        assert!((e.weight - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn explicit_name_wins() {
        let e: Endpoint =
            serde_json::from_str(r#"{"url": "http://a:1", "name": "alpha", "weight": 2}"#).unwrap();
        assert_eq!(e.name.as_str(), "alpha");
        assert!((e.weight - 2.0).abs() < f64::EPSILON);
    }

    #[test]
    fn openai_kind_and_its_key_variable() {
        let e: Endpoint = serde_json::from_str(
            r#"{"url": "http://box:8080/v1", "kind": "openai", "api_key_env": "OM_TEST_SURELY_UNSET_KEY"}"#,
        )
        .unwrap();
        assert_eq!(e.kind, ApiKind::OpenAi);
        assert_eq!(e.url.path(), "/v1");
        let mut out = Findings::default();
        e.check(&KeyPath::root().key("endpoints").index(2), &mut out);
        let found = out.into_vec();
        assert_eq!(found[0].path.to_string(), "endpoints[2].api_key_env");
        assert!(found[0].message.contains("not set in the environment"), "{:?}", found[0]);
        let wrong = serde_json::from_str::<Endpoint>(r#"{"url": "http://a:1", "kind": "vllm"}"#);
        assert!(wrong.unwrap_err().to_string().contains("unknown variant"));
    }

    #[test]
    fn declared_capabilities_for_every_model_or_by_model() {
        let e: Endpoint = serde_json::from_str(
            r#"{"url": "http://box:8080", "kind": "openai", "capabilities": ["completion", "vision"]}"#,
        )
        .unwrap();
        let vision = Capabilities::of(&[Capability::Completion, Capability::Vision]);
        assert_eq!(e.capabilities.unwrap().declared().of("any"), Some(vision));

        let e: Endpoint = serde_json::from_str(
            r#"{"url": "http://box:8080", "kind": "openai", "capabilities":
                {"qwen2.5-vl": ["completion", "vision"], "*": ["completion"]}}"#,
        )
        .unwrap();
        let declared = e.capabilities.clone().unwrap().declared();
        assert_eq!(declared.of("qwen2.5-vl"), Some(vision));
        assert_eq!(declared.of("other"), Some(Capabilities::of(&[Capability::Completion])));
        let mut out = Findings::default();
        e.check(&KeyPath::root().key("endpoints").index(0), &mut out);
        assert!(out.into_vec().is_empty());
    }

    #[test]
    fn bad_capabilities_are_named_where_they_are() {
        let e: Endpoint = serde_json::from_str(
            r#"{"url": "http://box:8080", "capabilities": {"llava": ["completion", "image"]}}"#,
        )
        .unwrap();
        let mut out = Findings::default();
        e.check(&KeyPath::root().key("endpoints").index(1), &mut out);
        let found = out.into_vec();
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].path.to_string(), "endpoints[1].capabilities");
        assert!(found[0].message.contains("`kind = \"openai\"` endpoints only"), "{found:?}");
        assert_eq!(found[1].path.to_string(), "endpoints[1].capabilities.llava[1]");
        assert!(found[1].message.contains("unknown capability \"image\""), "{found:?}");
    }

    #[test]
    fn checks_weight_and_tags() {
        let mut e = Endpoint::new(EndpointUrl::default_local());
        e.weight = 0.0;
        e.tags = vec![" ".into()];
        let mut out = Findings::default();
        e.check(&KeyPath::root().key("endpoints").index(0), &mut out);
        let paths: Vec<String> = out.into_vec().iter().map(|f| f.path.to_string()).collect();
        assert_eq!(paths, ["endpoints[0].weight", "endpoints[0].tags[0]"]);
    }
}
