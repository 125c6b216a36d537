//! Aider sessions as pool agents: [`AiderAgent`] runs sessions at one
//! placement (a model on an endpoint), [`AiderFactory`] makes them.
//!
//! Aider's headless mode answers one `--message` per process, so an agent is
//! not one long-lived Aider process: it is a slot bound to its placement
//! that starts one Aider process in a fresh worktree per task, counts the
//! tokens its sessions used, and reports itself unhealthy once Aider cannot
//! be started. The pool's quotas, budget, recycling and state file apply to
//! these slots.

use std::convert::Infallible;
use std::sync::Arc;

use om_core::EndpointUrl;
use om_pool::{Agent, AgentFactory, AgentId, Placement};

use crate::error::SessionError;
use crate::session::{SessionReport, SessionSpec, Sessions, Target};

/// One run of an [`AiderAgent`]: the task, and the URL its Aider is pointed
/// at (the lease's [`Target::url`](crate::Target::url): an Ollama, or the
/// session's own gateway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentTask {
    /// The task.
    pub spec: SessionSpec,
    /// Where the agent's endpoint listens (or the gateway in front of it).
    pub url: EndpointUrl,
}

/// Runs Aider sessions for one placement.
#[derive(Debug)]
pub struct AiderAgent {
    sessions: Arc<Sessions>,
    id: AgentId,
    placement: Placement,
    tokens: u64,
    healthy: bool,
}

impl AiderAgent {
    /// An agent `id` running sessions at `placement`.
    pub fn new(sessions: Arc<Sessions>, id: AgentId, placement: Placement) -> Self {
        Self { sessions, id, placement, tokens: 0, healthy: true }
    }

    /// The agent's id.
    pub fn id(&self) -> AgentId {
        self.id
    }

    /// Where it runs.
    pub fn placement(&self) -> &Placement {
        &self.placement
    }
}

impl Agent for AiderAgent {
    type Task = AgentTask;
    type Output = SessionReport;
    type Error = SessionError;

    async fn run(&mut self, task: AgentTask) -> Result<SessionReport, SessionError> {
        let target = Target {
            model: self.placement.model.clone(),
            endpoint: self.placement.endpoint.clone(),
            url: task.url,
        };
        let result = self.sessions.run(&task.spec, &target).await;
        match &result {
            Ok(report) => self.tokens = self.tokens.saturating_add(report.tokens.total()),
            Err(err) if err.is_agent_unavailable() => self.healthy = false,
            Err(_) => {}
        }
        result
    }

    fn is_healthy(&self) -> bool {
        self.healthy
    }

    fn tokens_used(&self) -> u64 {
        self.tokens
    }
}

/// Makes [`AiderAgent`]s that share one [`Sessions`].
#[derive(Debug, Clone)]
pub struct AiderFactory {
    sessions: Arc<Sessions>,
}

impl AiderFactory {
    /// A factory for agents running sessions of `sessions`.
    pub fn new(sessions: Arc<Sessions>) -> Self {
        Self { sessions }
    }
}

impl AgentFactory for AiderFactory {
    type Agent = AiderAgent;
    type Error = Infallible;

    async fn spawn(&self, id: AgentId, placement: &Placement) -> Result<AiderAgent, Infallible> {
        Ok(AiderAgent::new(Arc::clone(&self.sessions), id, placement.clone()))
    }
}
