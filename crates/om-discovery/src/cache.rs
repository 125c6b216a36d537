//! The `/api/show` cache of one endpoint: details are fetched again only
//! for a model that is new, has another digest, or whose details are older
//! than the TTL.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use om_core::ModelName;
use om_core::wire::ShowResponse;
use serde_json::{Map, Value};
use tokio::time::Instant;

/// What the cache has for a model with a given digest.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lookup {
    /// Details younger than the TTL: use them, ask nothing.
    Fresh(Arc<ShowResponse>),
    /// Details of the same digest but past the TTL: ask again, and fall
    /// back to these if asking fails.
    Stale(Arc<ShowResponse>),
    /// Nothing for this digest.
    Miss,
}

/// Cached `/api/show` details per model of one endpoint.
#[derive(Debug, Default)]
pub(crate) struct ShowCache {
    entries: HashMap<ModelName, Cached>,
}

#[derive(Debug)]
struct Cached {
    digest: String,
    fetched_at: Instant,
    show: Arc<ShowResponse>,
}

impl ShowCache {
    /// What is cached for `name` at `digest`, judged at `now`.
    pub(crate) fn lookup(
        &self,
        name: &ModelName,
        digest: &str,
        now: Instant,
        ttl: Duration,
    ) -> Lookup {
        match self.entries.get(name) {
            Some(cached) if cached.digest == digest => {
                if now.saturating_duration_since(cached.fetched_at) < ttl {
                    Lookup::Fresh(Arc::clone(&cached.show))
                } else {
                    Lookup::Stale(Arc::clone(&cached.show))
                }
            }
            _ => Lookup::Miss,
        }
    }

    /// Keeps what routing needs of `show` for `name` at `digest`, fetched at
    /// `now`, and returns it.
    pub(crate) fn insert(
        &mut self,
        name: ModelName,
        digest: String,
        show: ShowResponse,
        now: Instant,
    ) -> Arc<ShowResponse> {
        let show = Arc::new(slim(show));
        self.entries.insert(name, Cached { digest, fetched_at: now, show: Arc::clone(&show) });
        show
    }

    /// Forgets every model not in `present` (removed from the endpoint).
    pub(crate) fn retain(&mut self, present: &HashSet<ModelName>) {
        self.entries.retain(|name, _| present.contains(name));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// `show` without what the registry does not read: the license, Modelfile,
/// template and parameters text, and every `model_info` key but the
/// architecture, the parameter count and the context length. A fleet of a
/// thousand endpoints keeps kilobytes per model instead of the template and
/// license texts.
fn slim(show: ShowResponse) -> ShowResponse {
    let keep = |key: &str| {
        key == "general.architecture"
            || key == "general.parameter_count"
            || key.ends_with(".context_length")
    };
    let model_info: Map<String, Value> =
        show.model_info.into_iter().filter(|(key, _)| keep(key)).collect();
    ShowResponse {
        details: show.details,
        model_info,
        capabilities: show.capabilities,
        ..ShowResponse::default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn show() -> ShowResponse {
        serde_json::from_value(json!({
            "license": "a long license",
            "template": "{{ .Prompt }}",
            "details": {"family": "llama"},
            "model_info": {
                "general.architecture": "llama",
                "general.parameter_count": 3_212_749_888_u64,
                "llama.context_length": 131_072,
                "llama.embedding_length": 3072,
                "tokenizer.ggml.tokens": []
            },
            "capabilities": ["completion", "tools"]
        }))
        .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn fresh_then_stale_then_miss_on_a_new_digest() {
        let ttl = Duration::from_mins(1);
        let name: ModelName = "llama3.2".parse().unwrap();
        let mut cache = ShowCache::default();
        let start = Instant::now();
        assert_eq!(cache.lookup(&name, "d1", start, ttl), Lookup::Miss);
        let kept = cache.insert(name.clone(), "d1".into(), show(), start);
        assert_eq!(cache.lookup(&name, "d1", start, ttl), Lookup::Fresh(Arc::clone(&kept)));
        let later = start + ttl;
        assert_eq!(cache.lookup(&name, "d1", later, ttl), Lookup::Stale(kept));
        assert_eq!(cache.lookup(&name, "d2", start, ttl), Lookup::Miss);
        cache.retain(&HashSet::new());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn slim_keeps_what_the_registry_reads() {
        let slim = slim(show());
        assert_eq!(slim.context_length(), Some(131_072));
        assert_eq!(slim.model_info.len(), 3);
        assert_eq!(slim.details.family, "llama");
        assert_eq!(slim.capabilities.as_deref(), Some(&["completion".into(), "tools".into()][..]));
        assert_eq!(slim.license, None);
        assert_eq!(slim.template, None);
    }
}
