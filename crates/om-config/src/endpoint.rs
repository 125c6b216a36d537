//! The `[[endpoints]]` list: the Ollama servers of the fleet.

use std::num::NonZeroUsize;

use om_core::{EndpointId, EndpointUrl};
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
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "EndpointSpec")]
pub struct Endpoint {
    /// A unique name; defaults to the URL's `host:port`.
    pub name: EndpointId,
    /// Where the server listens, parsed by Ollama's `OLLAMA_HOST` rules
    /// (`gpu-box` means `http://gpu-box:11434`).
    pub url: EndpointUrl,
    /// Relative share of the traffic (greater than 0; default 1.0).
    pub weight: f64,
    /// The most requests to send at once; `None` means as many as the
    /// endpoint runs in parallel (learnt from the endpoint itself).
    pub max_concurrency: Option<NonZeroUsize>,
    /// Free-form labels (`gpu`, `laptop`) that routing rules can match.
    pub tags: Vec<String>,
}

impl Endpoint {
    /// An endpoint at `url` with every other setting at its default.
    pub fn new(url: EndpointUrl) -> Self {
        EndpointSpec {
            url,
            name: None,
            weight: default_weight(),
            max_concurrency: None,
            tags: vec![],
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
        for (i, tag) in self.tags.iter().enumerate() {
            out.require(!tag.trim().is_empty(), || at.key("tags").index(i), "must not be empty");
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
    #[serde(default = "default_weight")]
    weight: f64,
    #[serde(default)]
    max_concurrency: Option<NonZeroUsize>,
    #[serde(default)]
    tags: Vec<String>,
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
            weight: spec.weight,
            max_concurrency: spec.max_concurrency,
            tags: spec.tags,
        }
    }
}

#[cfg(test)]
mod tests {
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
