//! Where an agent runs ([`Placement`]), which agent it is ([`AgentId`]) and
//! what a checkout asks for ([`Request`]).

use std::fmt;

use om_core::{EndpointId, ModelName, TaskId};
use serde::{Deserialize, Serialize};

/// The id of one agent, unique for the life of a pool and kept across a
/// save and restore (a restored agent keeps its id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AgentId(u64);

impl AgentId {
    /// Wraps a number as an agent id.
    pub const fn new(id: u64) -> Self {
        Self(id)
    }

    /// The id as a number.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "agent-{}", self.0)
    }
}

/// Where an agent runs: one model on one endpoint.
///
/// Quotas count agents per [`model`](Self::model) and per
/// [`endpoint`](Self::endpoint); the pool asks its
/// [`AgentFactory`](crate::AgentFactory) for an agent at a placement.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Placement {
    /// The model the agent talks to.
    pub model: ModelName,
    /// The endpoint that serves it.
    pub endpoint: EndpointId,
}

impl Placement {
    /// The placement of `model` on `endpoint`.
    pub fn new(model: ModelName, endpoint: impl Into<EndpointId>) -> Self {
        Self { model, endpoint: endpoint.into() }
    }
}

impl fmt::Display for Placement {
    /// `model@endpoint`, the model in its short form (`llama3.2:latest@gpu`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.model, self.endpoint)
    }
}

/// What a checkout asks for: optionally a model, an endpoint or both, and the
/// id of the task the agent will run (recorded in the saved state while the
/// agent is out, and in the finished log afterwards).
///
/// An empty request takes any agent. A request naming both model and
/// endpoint may be served by a new agent at that placement even when the
/// pool's configured placements do not list it; otherwise a new agent is
/// placed on one of the configured placements that matches.
///
/// ```
/// use om_pool::{Placement, Request};
///
/// let gpu = Placement::new("qwen2.5-coder".parse()?, "gpu");
/// let request = Request::any().with_model("qwen2.5-coder".parse()?).with_task("fix-1");
/// assert!(request.matches(&gpu));
/// assert!(!Request::placement(gpu.clone()).with_endpoint("laptop").matches(&gpu));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// Only agents of this model.
    pub model: Option<ModelName>,
    /// Only agents on this endpoint.
    pub endpoint: Option<EndpointId>,
    /// The task the agent is checked out for.
    pub task: Option<TaskId>,
}

impl Request {
    /// Any agent, for no named task.
    pub fn any() -> Self {
        Self::default()
    }

    /// An agent at exactly `placement`.
    pub fn placement(placement: Placement) -> Self {
        Self { model: Some(placement.model), endpoint: Some(placement.endpoint), task: None }
    }

    /// The same request, restricted to `model`.
    #[must_use]
    pub fn with_model(mut self, model: ModelName) -> Self {
        self.model = Some(model);
        self
    }

    /// The same request, restricted to `endpoint`.
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl Into<EndpointId>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The same request, for the task `id`.
    #[must_use]
    pub fn with_task(mut self, id: impl Into<TaskId>) -> Self {
        self.task = Some(id.into());
        self
    }

    /// True when an agent at `placement` satisfies this request.
    pub fn matches(&self, placement: &Placement) -> bool {
        self.model.as_ref().is_none_or(|model| *model == placement.model)
            && self.endpoint.as_ref().is_none_or(|endpoint| *endpoint == placement.endpoint)
    }

    /// The exact placement this request names, when it names both parts.
    pub(crate) fn exact(&self) -> Option<Placement> {
        match (&self.model, &self.endpoint) {
            (Some(model), Some(endpoint)) => Some(Placement::new(model.clone(), endpoint.clone())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement(model: &str, endpoint: &str) -> Placement {
        Placement::new(model.parse().unwrap(), endpoint)
    }

    #[test]
    fn matching_follows_each_part() {
        let p = placement("llama3.2", "gpu");
        assert!(Request::any().matches(&p));
        assert!(Request::any().with_model("Llama3.2:latest".parse().unwrap()).matches(&p));
        assert!(!Request::any().with_model("qwen".parse().unwrap()).matches(&p));
        assert!(Request::any().with_endpoint("gpu").matches(&p));
        assert!(!Request::any().with_endpoint("cpu").matches(&p));
        assert!(Request::placement(p.clone()).matches(&p));
        assert_eq!(Request::placement(p.clone()).exact(), Some(p.clone()));
        assert_eq!(Request::any().with_endpoint("gpu").exact(), None);
    }

    #[test]
    fn display_forms() {
        assert_eq!(placement("llama3.2", "gpu").to_string(), "llama3.2:latest@gpu");
        assert_eq!(AgentId::new(7).to_string(), "agent-7");
    }
}
