//! Where an Aider session's requests go: a gateway of its own, on a
//! loopback port, over the run's fleet. Aider talks to it as to an Ollama;
//! every request it sends is routed, queued for a permit, failed over
//! before its first byte and recorded like any request of `ollama-meta
//! run` or `serve`. The session's model is chosen once, by the `--select`
//! ranking; the endpoint, request by request, by the fleet. The gateway's
//! tally says afterwards which endpoints answered the session.

use std::net::{Ipv4Addr, SocketAddr};

use om_aider::{DEFAULT_CATEGORY, Lease, Place, Target, TaskFailure};
use om_core::{EndpointId, EndpointUrl};
use om_gateway::{Gateway, Served};
use om_orchestrator::Fleet;
use om_registry::Outcome;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;

use crate::cmd::aider::route::Ranking;

/// What sessions are placed "on": the fleet behind their gateway.
pub(crate) const FLEET: &str = "fleet";

/// Places each session on the fleet through a gateway of its own.
#[derive(Debug)]
pub(crate) struct FleetPlace {
    /// The fleet every session's gateway forwards to.
    pub(crate) fleet: Fleet,
    /// Chooses the session's model.
    pub(crate) ranking: Ranking,
    /// The sessions' gateways' settings; each listens on its own loopback
    /// port whatever `listen` says.
    pub(crate) gateway: om_gateway::Settings,
    /// Where the gateways run: the run's services, awaited before it
    /// reports, so a session dropped unfinished (Ctrl-C twice) leaves no
    /// gateway task behind.
    pub(crate) tracker: TaskTracker,
}

impl Place for FleetPlace {
    type Lease = SessionGateway;

    async fn place(&self, task: &om_aider::AiderTask) -> Result<SessionGateway, TaskFailure> {
        let category = task.category.unwrap_or(DEFAULT_CATEGORY);
        let model = {
            let snapshot = self.fleet.registry().snapshot();
            self.ranking.model(&snapshot, &task.models, category, Instant::now())
        }
        .map_err(TaskFailure::NoInstance)?;
        let settings = om_gateway::Settings {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            ..self.gateway.clone()
        };
        let served = Served::new();
        let gateway = Gateway::bind(self.fleet.clone(), settings)
            .await
            .map_err(|err| TaskFailure::Place(Box::new(err)))?
            .count_served(&served);
        let url: EndpointUrl = format!("http://{}", gateway.local_addr())
            .parse()
            .map_err(|err| TaskFailure::Place(Box::new(err)))?;
        let stop = CancellationToken::new();
        let serving = self.tracker.spawn(gateway.run(stop.clone()));
        Ok(SessionGateway {
            target: Target { model, endpoint: EndpointId::new(FLEET), url },
            served,
            fleet: self.fleet.clone(),
            serving,
            stop: stop.drop_guard(),
        })
    }
}

/// A session's gateway, stopped when the session ends (or, if the session
/// is dropped unfinished, when the lease is).
#[derive(Debug)]
pub(crate) struct SessionGateway {
    target: Target,
    served: Served,
    fleet: Fleet,
    serving: JoinHandle<()>,
    stop: DropGuard,
}

impl Lease for SessionGateway {
    fn target(&self) -> &Target {
        &self.target
    }

    async fn end(self, outcome: Option<&Outcome>) -> Vec<EndpointId> {
        let Self { target, served, fleet, serving, stop } = self;
        drop(stop);
        if let Err(err) = serving.await {
            tracing::warn!(error = %err, "a session's gateway ended badly");
        }
        // Each request's own outcome is already recorded; the session adds
        // how good its edit was to the model's affinity.
        if let Some(outcome) = outcome
            && let (Some(category), Some(reward)) = (outcome.category, outcome.reward())
            && let Err(err) = fleet.registry().record_reward(&target.model, category, reward)
        {
            tracing::debug!(error = %err, "the session's reward was not recorded");
        }
        served.endpoints().into_iter().map(|(id, _)| id).collect()
    }
}
