//! What a request needs from an instance: the router's input.
//!
//! `om-core` has no `Task` type yet; when it does, a `Task` converts into a
//! [`RouteRequest`].

use om_core::{Capabilities, EndpointId, ModelName, TaskCategory};
use om_registry::{InstanceId, Ticket};

/// Which models may serve a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ModelSelector {
    /// Any model of the fleet (the other constraints still apply).
    #[default]
    Any,
    /// Exactly this model (normalised: `x` is `x:latest`).
    Model(ModelName),
    /// Any model that matches one of these.
    OneOf(Vec<ModelMatch>),
}

/// One entry of an allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelMatch {
    /// This model.
    Name(ModelName),
    /// Any model of this family (`llama`, `qwen2`), compared without case.
    Family(String),
}

/// The router's input: what the request needs, and where it may not go.
///
/// ```
/// use om_core::{Capability, Capabilities, TaskCategory};
/// use om_router::RouteRequest;
///
/// let request = RouteRequest::for_model("qwen2.5-coder:7b".parse()?)
///     .with_capabilities(Capabilities::of(&[Capability::Tools]))
///     .with_tokens(3_000, Some(1_024))
///     .with_category(TaskCategory::Coding);
/// assert_eq!(request.context_needed(), 4_024);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteRequest {
    /// Which models may serve it.
    pub models: ModelSelector,
    /// What the model must be able to do (tools, embedding, vision, …).
    pub capabilities: Capabilities,
    /// Estimated prompt size in tokens (see [`estimate_tokens`]).
    pub prompt_tokens: u64,
    /// The request's `num_predict`, when it sets one.
    pub num_predict: Option<u64>,
    /// The task category; picks the strategy and the affinity record. Fill
    /// it with [`detect_category`](crate::detect_category) when the task
    /// has none.
    pub category: Option<TaskCategory>,
    /// Tags the endpoint must carry, all of them.
    pub tags: Vec<String>,
    /// When not empty, only these endpoints may serve it.
    pub endpoints: Vec<EndpointId>,
    /// Endpoints to avoid (failover after a failure there).
    pub exclude_endpoints: Vec<EndpointId>,
    /// Instances to avoid.
    pub exclude_instances: Vec<InstanceId>,
    /// The request's place among requests waiting for capacity; requests
    /// held ahead of it count as work ahead of it
    /// ([`CompletionTime`](crate::CompletionTime)). `None`: behind all.
    pub ticket: Option<Ticket>,
}

impl RouteRequest {
    /// A request any model may serve.
    pub fn any() -> Self {
        Self::default()
    }

    /// A request for exactly `model`.
    pub fn for_model(model: ModelName) -> Self {
        Self { models: ModelSelector::Model(model), ..Self::default() }
    }

    /// A request any of `models` may serve.
    pub fn one_of(models: Vec<ModelMatch>) -> Self {
        Self { models: ModelSelector::OneOf(models), ..Self::default() }
    }

    /// Sets the required capabilities.
    #[must_use]
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Sets the prompt size and `num_predict` for the context-window check.
    #[must_use]
    pub fn with_tokens(mut self, prompt_tokens: u64, num_predict: Option<u64>) -> Self {
        self.prompt_tokens = prompt_tokens;
        self.num_predict = num_predict;
        self
    }

    /// Sets the category.
    #[must_use]
    pub fn with_category(mut self, category: TaskCategory) -> Self {
        self.category = Some(category);
        self
    }

    /// Requires an endpoint tag.
    #[must_use]
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Avoids an instance, for failover.
    #[must_use]
    pub fn excluding(mut self, instance: InstanceId) -> Self {
        self.exclude_instances.push(instance);
        self
    }

    /// Avoids an endpoint, for failover.
    #[must_use]
    pub fn excluding_endpoint(mut self, endpoint: EndpointId) -> Self {
        self.exclude_endpoints.push(endpoint);
        self
    }

    /// The context window the request needs: prompt plus `num_predict`.
    pub fn context_needed(&self) -> u64 {
        self.prompt_tokens.saturating_add(self.num_predict.unwrap_or(0))
    }
}

/// A rough token count for the context check: one token per four
/// characters, rounded up, the usual rule of thumb for English and code
/// with Llama-family tokenizers.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_estimate_rounds_up() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abc"), 1);
        assert_eq!(estimate_tokens("abcdefghi"), 3);
        assert_eq!(estimate_tokens("äöüß"), 1);
    }

    #[test]
    fn context_needed_saturates() {
        let r = RouteRequest::any().with_tokens(u64::MAX, Some(5));
        assert_eq!(r.context_needed(), u64::MAX);
    }
}
