//! Where a session's model requests go: a [`Place`] decides it for each
//! task and hands out a [`Lease`], which the executor ends once the session
//! has ended.
//!
//! om-aider does not route requests itself: a session is one Aider process
//! that sends many requests, and those belong with every other request of
//! the fleet — permits, failover before the first byte, breakers, metrics.
//! The binary's place gives each session a gateway of its own over the
//! orchestrator's fleet; [`Fixed`] sends every session to one server.

use std::future::Future;

use om_core::{EndpointId, ModelChoice, ModelName};
use om_registry::Outcome;

use crate::executor::{AiderTask, TaskFailure};
use crate::session::Target;

/// No model can serve a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no model instance can serve the session: {reason}")]
pub struct NoInstance {
    /// Why, in words.
    pub reason: String,
    /// True when instances exist but are unhealthy, tripped or cooling
    /// down: waiting may help.
    pub temporary: bool,
}

/// Decides where each session's model requests go.
pub trait Place: Send + Sync + 'static {
    /// What a placed session holds until it ends.
    type Lease: Lease;

    /// Places `task`: which model its Aider talks to, and at what address.
    ///
    /// # Errors
    ///
    /// [`TaskFailure::NoInstance`] when no model may serve it,
    /// [`TaskFailure::Place`] when where it would go cannot be set up.
    fn place(
        &self,
        task: &AiderTask,
    ) -> impl Future<Output = Result<Self::Lease, TaskFailure>> + Send;
}

/// A placed session.
pub trait Lease: Send + 'static {
    /// The model, a name for where it runs, and Aider's `OLLAMA_API_BASE`.
    fn target(&self) -> &Target;

    /// Ends the placement after the session: `outcome` is the session's
    /// own (how good its edit was), `None` when Aider or git failed before
    /// the model could be judged. Returns the endpoints that answered the
    /// session's model requests, as far as the place knows them.
    fn end(self, outcome: Option<&Outcome>) -> impl Future<Output = Vec<EndpointId>> + Send;
}

/// Every session talks to one model on one server (an Ollama, or a
/// gateway in front of a fleet), and nothing is recorded. A task that
/// names other models (pinned, or an allow-list without this one) is
/// refused with [`NoInstance`].
///
/// ```
/// use om_aider::{Fixed, Target};
///
/// let place = Fixed::new(Target {
///     model: "qwen2.5-coder:7b".parse()?,
///     endpoint: "local".into(),
///     url: "http://127.0.0.1:11434".parse()?,
/// });
/// # let _ = place;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixed {
    target: Target,
}

impl Fixed {
    /// Sends every session to `target`.
    pub fn new(target: Target) -> Self {
        Self { target }
    }
}

impl Place for Fixed {
    type Lease = Target;

    async fn place(&self, task: &AiderTask) -> Result<Target, TaskFailure> {
        let model = &self.target.model;
        let allowed = match &task.models {
            ModelChoice::Any => true,
            ModelChoice::Pinned(pinned) => pinned == model,
            // A tagged entry names one model; an untagged one its `latest`
            // tag or any tag of that name.
            ModelChoice::AllowList(names) => names.iter().any(|name| {
                name.parse::<ModelName>().is_ok_and(|n| &n == model)
                    || (!name.contains(':') && name.trim() == model.model())
            }),
        };
        if allowed {
            Ok(self.target.clone())
        } else {
            let reason = format!("the task does not allow {model}");
            Err(TaskFailure::NoInstance(NoInstance { reason, temporary: false }))
        }
    }
}

impl Lease for Target {
    fn target(&self) -> &Target {
        self
    }

    async fn end(self, _outcome: Option<&Outcome>) -> Vec<EndpointId> {
        vec![self.endpoint]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::SessionSpec;

    fn task(models: ModelChoice) -> AiderTask {
        AiderTask { models, ..AiderTask::new(SessionSpec::new("t", "edit")) }
    }

    #[tokio::test]
    async fn fixed_refuses_tasks_for_other_models() {
        let place = Fixed::new(Target {
            model: "coder:7b".parse().unwrap(),
            endpoint: "local".into(),
            url: "http://127.0.0.1:11434".parse().unwrap(),
        });
        for allowed in [
            ModelChoice::Any,
            ModelChoice::Pinned("coder:7b".parse().unwrap()),
            ModelChoice::AllowList(vec!["other".to_owned(), "coder".to_owned()]),
            ModelChoice::AllowList(vec!["coder:7b".to_owned()]),
        ] {
            assert!(place.place(&task(allowed.clone())).await.is_ok(), "{allowed:?}");
        }
        for refused in [
            ModelChoice::Pinned("coder:1b".parse().unwrap()),
            ModelChoice::AllowList(vec!["coder:1b".to_owned(), "other".to_owned()]),
        ] {
            let Err(TaskFailure::NoInstance(err)) = place.place(&task(refused.clone())).await
            else {
                panic!("{refused:?} placed");
            };
            assert!(!err.temporary && err.reason.contains("coder:7b"), "{refused:?}: {err}");
        }
    }
}
