//! Shared helpers: fast simulators, a fleet over them with a fixed
//! preference order, and a virtual clock that lets loopback I/O keep up
//! with paused time.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use om_client::Timeouts;
use om_core::{EndpointId, ModelChoice, ModelName, Task};
use om_orchestrator::{Fleet, Settings};
use om_registry::{EndpointSpec, Health, ModelInfo, Registry};
use om_router::{Candidate, Context, Strategy};
use om_sim::reply::ReplyMode;
use om_sim::{Faults, ModelSpec, SimHandle};
use tokio::task::JoinHandle;

/// The model every test task is pinned to.
pub(crate) const MODEL: &str = "llama3.2:latest";

/// A prompt the echo simulators answer verbatim, in twelve pieces.
pub(crate) const PROMPT: &str = "one two three four five six seven eight nine ten eleven twelve";

/// An endpoint of a test fleet.
pub(crate) enum Node {
    /// A simulator with these faults.
    Sim(Faults),
    /// A simulator as specified.
    Spec(Box<om_sim::EndpointSpec>),
    /// A simulator without `MODEL`, though the catalog says it has it.
    SimWithout(&'static str),
    /// A port where nothing listens.
    Refused,
}

/// A fleet over simulators named `a`, `b`, … in preference order, and what
/// keeps them running.
pub(crate) struct Harness {
    pub(crate) fleet: Fleet,
    pub(crate) registry: Registry,
    pub(crate) sims: Vec<Option<SimHandle>>,
    _clock: VirtualClock,
}

impl Harness {
    /// Starts `nodes` and a fleet over them with `settings`, and a registry
    /// whose busy cooldown is 200 ms.
    pub(crate) fn start(nodes: Vec<Node>, settings: Settings) -> Self {
        Self::start_with(nodes, settings, registry_config())
    }

    /// As [`start`](Self::start), with these registry settings.
    pub(crate) fn start_with(
        nodes: Vec<Node>,
        settings: Settings,
        registry: om_registry::Config,
    ) -> Self {
        let clock = VirtualClock::start(Duration::from_millis(5));
        let registry = Registry::new(registry);
        let mut sims = Vec::new();
        let mut builder =
            Fleet::builder().registry(registry.clone()).settings(settings).timeouts(timeouts());
        let mut order = Vec::new();
        let mut catalogs = Vec::new();
        for (i, node) in nodes.into_iter().enumerate() {
            let id = EndpointId::new(((b'a' + i as u8) as char).to_string());
            let (url, models) = match node {
                Node::Sim(faults) => {
                    let sim = om_sim::spawn(fast().with_faults(faults));
                    let url = sim.url();
                    sims.push(Some(sim));
                    (url, om_sim::default_models())
                }
                Node::Spec(spec) => {
                    let sim = om_sim::spawn(*spec);
                    let url = sim.url();
                    sims.push(Some(sim));
                    (url, om_sim::default_models())
                }
                Node::SimWithout(model) => {
                    let all = om_sim::default_models();
                    let served: Vec<ModelSpec> =
                        all.iter().filter(|m| m.name.to_string() != model).cloned().collect();
                    let sim = om_sim::spawn(fast().with_models(served));
                    let url = sim.url();
                    sims.push(Some(sim));
                    (url, all)
                }
                Node::Refused => {
                    sims.push(None);
                    (format!("http://{}", refused_addr()), om_sim::default_models())
                }
            };
            builder =
                builder.endpoint(EndpointSpec::new(id.clone(), url.parse().expect("sim URL")));
            order.push(id.clone());
            catalogs.push((id, models));
        }
        let builder = builder.strategy(Arc::new(Preference(order)));
        let (fleet, _workers) = builder.build().expect("fleet");
        let mut edit = registry.edit();
        for (id, models) in catalogs {
            edit.set_health(&id, Health::Healthy).expect("endpoint");
            edit.replace_models(&id, models.iter().map(model_info).collect()).expect("endpoint");
        }
        edit.publish();
        Self { fleet, registry, sims, _clock: clock }
    }

    /// The simulator of endpoint number `i`.
    pub(crate) fn sim(&self, i: usize) -> &SimHandle {
        self.sims[i].as_ref().expect("a simulator at this position")
    }

    /// Stops the simulators.
    pub(crate) async fn stop(self) {
        let Self { fleet, sims, .. } = self;
        drop(fleet);
        for sim in sims.into_iter().flatten() {
            sim.stop().await;
        }
    }
}

/// Registry settings for tests: a 200 ms busy cooldown.
pub(crate) fn registry_config() -> om_registry::Config {
    om_registry::Config { cooldown: Duration::from_millis(200), ..om_registry::Config::default() }
}

/// Settings for tests: three attempts, short seeded backoff.
pub(crate) fn settings() -> Settings {
    Settings {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        jitter: true,
        seed: Some(1),
        ..Settings::default()
    }
}

/// Limits that catch a hang in two virtual seconds.
pub(crate) fn timeouts() -> Timeouts {
    Timeouts {
        connect: Some(Duration::from_secs(1)),
        first_byte: Some(Duration::from_secs(2)),
        idle: Some(Duration::from_secs(1)),
        total: None,
    }
}

/// A fast simulator that echoes the prompt, ten pieces per second of
/// virtual time per request (each piece flushed before the next).
pub(crate) fn fast() -> om_sim::EndpointSpec {
    om_sim::EndpointSpec::default()
        .with_load_time(Duration::from_millis(5))
        .with_ttft(Duration::from_millis(5))
        .with_tokens_per_sec(100.0)
        .with_reply(ReplyMode::Echo)
}

/// A task pinned to [`MODEL`] asking for [`PROMPT`].
pub(crate) fn task(id: &str) -> Task {
    let mut task = Task::new(id, PROMPT);
    task.model = ModelChoice::Pinned(MODEL.parse().expect("model name"));
    task
}

/// The model as the fleet names it.
pub(crate) fn model() -> ModelName {
    MODEL.parse().expect("model name")
}

/// `n` as a concurrency limit.
pub(crate) fn limit(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("non-zero")
}

fn model_info(spec: &ModelSpec) -> ModelInfo {
    let mut info = ModelInfo::new(spec.name.clone());
    info.family.clone_from(&spec.family);
    info.families = vec![spec.family.clone()];
    info.capabilities = spec.capabilities;
    info.context_length = Some(spec.context_length);
    info.parameter_size.clone_from(&spec.parameter_size);
    info
}

/// An address where nothing listens: bound, then released.
pub(crate) fn refused_addr() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

/// Prefers endpoints in a fixed order, so a test decides which instance is
/// tried first and which one the fleet fails over to.
#[derive(Debug)]
pub(crate) struct Preference(pub(crate) Vec<EndpointId>);

impl Strategy for Preference {
    fn name(&self) -> &'static str {
        "preference"
    }

    fn rank(&self, ctx: &Context<'_>, candidates: &mut [Candidate]) {
        for c in candidates {
            let endpoint = &ctx.snapshot.endpoint(ctx.snapshot.instance(c.instance).endpoint).id;
            let position = self.0.iter().position(|e| e == endpoint).unwrap_or(self.0.len());
            c.cost = position as f64;
        }
    }
}

/// Drives paused time while loopback I/O happens: tokio's auto-advance
/// would jump to the next timer in the same turn that a socket becomes
/// readable, before the reading task runs. This ticker keeps a task always
/// ready, which stops auto-advance, and advances the clock by `step` after
/// many yields, each of which polls the I/O driver; loopback data written in
/// one yield is read in the next. Timers fire in order and I/O takes no
/// virtual time. (The same clock as om-client's tests.)
pub(crate) struct VirtualClock {
    task: JoinHandle<()>,
}

impl VirtualClock {
    pub(crate) fn start(step: Duration) -> Self {
        let task = tokio::spawn(async move {
            loop {
                for _ in 0..64 {
                    tokio::task::yield_now().await;
                }
                tokio::time::advance(step).await;
            }
        });
        Self { task }
    }
}

impl Drop for VirtualClock {
    fn drop(&mut self) {
        self.task.abort();
    }
}
