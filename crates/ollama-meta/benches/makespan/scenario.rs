//! The fleets the strategies run on: three heterogeneous scenarios of
//! om-sim endpoints, started fresh for each run with the planned models
//! loaded and the others cold.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Duration;

use om_client::Client;
use om_config::{Config, Endpoint};
use om_core::wire::GenerateRequest;
use om_core::{EndpointId, EndpointUrl};
use om_router::StrategyKind;
use om_sim::reply::{ReplyMode, RuleSet};
use om_sim::{EndpointSpec, SimServer};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::workload::{Mix, Workload};

/// The coding model.
pub(crate) const CODER: &str = "qwen2.5-coder:7b";
/// The general model.
pub(crate) const LLAMA: &str = "llama3.2:latest";

/// One simulated machine.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub(crate) name: &'static str,
    /// Generation speed of a lone request; concurrent requests share the
    /// box (om-sim's default batching: aggregate `min(n^0.5, 2)` times a
    /// lone request's).
    pub(crate) tokens_per_sec: f64,
    /// A lone request's prompt evaluation before the first token.
    pub(crate) ttft: Duration,
    /// Requests generated at once (`OLLAMA_NUM_PARALLEL`), and the
    /// orchestrator's permits for the endpoint.
    pub(crate) slots: usize,
    /// Time to load a model that is not loaded.
    pub(crate) load_time: Duration,
    /// Models not loaded when the batch starts (the others are).
    pub(crate) cold: &'static [&'static str],
    /// How the box shares its compute: `n` requests at once generate
    /// `min(n^exponent, max_speedup)` times a lone request's tokens.
    pub(crate) batching: Batching,
    /// The orchestrator's permits: `slots` (as configured), or learned from
    /// the answers (no `max_concurrency` configured).
    pub(crate) permits: Permits,
}

/// A box's batching: om-sim's `batch_exponent` and `max_speedup`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batching {
    pub(crate) exponent: f64,
    pub(crate) max_speedup: f64,
}

impl Batching {
    /// om-sim's default: throughput grows as the square root of the load,
    /// up to twice a lone request's.
    pub(crate) const SHARED: Self = Self { exponent: 0.5, max_speedup: 2.0 };
}

/// Where an endpoint's concurrency limit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Permits {
    /// Configured: `max_concurrency = slots`.
    Slots,
    /// Learned by the orchestrator from its answers.
    Learned,
}

/// One fleet and the kind of batch sent to it.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    /// Short name, for the table and the command line.
    pub(crate) name: &'static str,
    pub(crate) machines: Vec<Machine>,
    /// Models every machine serves.
    pub(crate) models: &'static [&'static str],
    pub(crate) mix: Mix,
}

/// A 1:3:9 machine set, two slots each, everything loaded.
fn one_three_nine(cold: &'static [&'static str]) -> Vec<Machine> {
    let machine = |name, tokens_per_sec, ttft_ms, cold| Machine {
        name,
        tokens_per_sec,
        ttft: Duration::from_millis(ttft_ms),
        slots: 2,
        load_time: Duration::from_secs(5),
        cold,
        batching: Batching::SHARED,
        permits: Permits::Slots,
    };
    vec![
        machine("slow", 150.0, 80, &[]),
        machine("medium", 450.0, 40, &[]),
        machine("fast", 1350.0, 20, cold),
    ]
}

/// The three scenarios, in the order the report shows them.
pub(crate) fn all() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "1:3:9",
            machines: one_three_nine(&[]),
            models: &[CODER],
            mix: Mix::Sized,
        },
        Scenario {
            name: "cold",
            machines: one_three_nine(&[LLAMA]),
            models: &[CODER, LLAMA],
            mix: Mix::TwoModels,
        },
        Scenario {
            name: "mixed",
            machines: vec![
                Machine {
                    name: "gpu-box",
                    tokens_per_sec: 1350.0,
                    ttft: Duration::from_millis(20),
                    slots: 2,
                    load_time: Duration::from_secs(3),
                    cold: &[],
                    batching: Batching::SHARED,
                    permits: Permits::Slots,
                },
                Machine {
                    name: "laptop-a",
                    tokens_per_sec: 150.0,
                    ttft: Duration::from_millis(80),
                    slots: 2,
                    load_time: Duration::from_secs(8),
                    cold: &[],
                    batching: Batching::SHARED,
                    permits: Permits::Slots,
                },
                Machine {
                    name: "laptop-b",
                    tokens_per_sec: 150.0,
                    ttft: Duration::from_millis(80),
                    slots: 1,
                    load_time: Duration::from_secs(8),
                    cold: &[],
                    batching: Batching::SHARED,
                    permits: Permits::Slots,
                },
            ],
            models: &[CODER],
            mix: Mix::Mixed,
        },
    ]
}

impl Machine {
    /// What it says in the report's header.
    pub(crate) fn describe(&self) -> String {
        let mut text = format!(
            "{} {} tok/s, {} slot{} (ttft {} ms)",
            self.name,
            self.tokens_per_sec,
            self.slots,
            if self.slots == 1 { "" } else { "s" },
            self.ttft.as_millis()
        );
        for model in self.cold {
            let _ = write!(text, ", {model} cold (load {:.0} s)", self.load_time.as_secs_f64());
        }
        text
    }

    /// The simulator's spec: its batching, replies from the workload's
    /// rules.
    pub(crate) fn spec(
        &self,
        models: &[&str],
        replies: Option<ReplyMode>,
        seed: u64,
    ) -> EndpointSpec {
        let models = models.iter().map(|name| om_sim::ModelSpec::from_name(parse(name))).collect();
        let spec = EndpointSpec::default()
            .with_name(self.name)
            .with_models(models)
            .with_tokens_per_sec(self.tokens_per_sec)
            .with_ttft(self.ttft)
            .with_load_time(self.load_time)
            .with_num_parallel(self.slots)
            .with_batch_exponent(self.batching.exponent)
            .with_max_speedup(self.batching.max_speedup)
            .with_keep_alive(Duration::MAX)
            .with_seed(seed);
        match replies {
            Some(replies) => spec.with_reply(replies),
            None => spec,
        }
    }
}

fn parse(name: &str) -> om_core::ModelName {
    name.parse().expect("the scenarios' model names are valid")
}

/// Replies of exactly the planned length: a prompt ending in `len=N`
/// is answered with `N` tokens, so that every task generates what the
/// workload (and the offline schedule) says wherever it runs.
fn replies(workload: &Workload) -> Result<ReplyMode, Box<dyn std::error::Error>> {
    let mut lengths: Vec<u64> = workload.tasks.iter().map(|t| t.tokens).collect();
    lengths.sort_unstable();
    lengths.dedup();
    let mut rules = String::new();
    for length in lengths {
        let words = " token".repeat(length as usize);
        let _ = writeln!(rules, "[[rule]]\npattern = \"len={length}$\"\nreply = \"{words}\"\n");
    }
    Ok(ReplyMode::Rules(RuleSet::parse(&rules, Path::new("makespan"))?))
}

/// Starts the scenario's machines on loopback ports (served on `tracker`
/// until `shutdown`), loads every model that is not planned cold, and
/// returns them as configured endpoints (with `max_concurrency` = slots
/// unless the limit is to be learned).
pub(crate) async fn start(
    scenario: &Scenario,
    workload: &Workload,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<Vec<Endpoint>, Box<dyn std::error::Error>> {
    let replies = replies(workload)?;
    let mut endpoints = Vec::new();
    for (i, machine) in scenario.machines.iter().enumerate() {
        let spec = machine.spec(
            scenario.models,
            Some(replies.clone()),
            workload.seed.wrapping_add(i as u64),
        );
        let server = SimServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), spec).await?;
        let url: EndpointUrl = format!("http://{}", server.local_addr()).parse()?;
        tracker.spawn(server.run(shutdown.clone()));
        let client = Client::new(om_client::http_client(), url.clone());
        for model in scenario.models.iter().filter(|m| !machine.cold.contains(m)) {
            // An empty prompt only loads the model, as with Ollama.
            client.generate_once(GenerateRequest::new(*model, "")).await?;
        }
        let mut endpoint = Endpoint::new(url);
        endpoint.name = EndpointId::new(machine.name);
        if machine.permits == Permits::Slots {
            endpoint.max_concurrency = NonZeroUsize::new(machine.slots);
        }
        endpoints.push(endpoint);
    }
    Ok(endpoints)
}

/// The configuration of one run: the endpoints, `strategy`, hedging on or
/// off, and seeds for the router and the backoff jitter; every other
/// setting at its default.
pub(crate) fn config(
    endpoints: Vec<Endpoint>,
    strategy: StrategyKind,
    hedge: bool,
    seed: u64,
) -> Config {
    let mut config = Config { endpoints, ..Config::default() };
    config.orchestrator.hedge = hedge;
    strategy.as_str().clone_into(&mut config.routing.strategy);
    config.routing.seed = Some(seed);
    config.orchestrator.seed = Some(seed);
    config
}
