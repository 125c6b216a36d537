//! The simulated fleet every strategy runs on: three heterogeneous om-sim
//! endpoints, started fresh for each run, with the planned models loaded
//! and the planned faults switched on once they are.

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
use om_sim::{EndpointSpec, Faults, SimServer};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::workload::MAX_TOKENS;

/// The coding model.
pub(crate) const CODER: &str = "qwen2.5-coder:7b";
/// The general model.
pub(crate) const LLAMA: &str = "llama3.2:latest";

/// One simulated machine.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub(crate) name: &'static str,
    /// Generation speed of every slot.
    pub(crate) tokens_per_sec: f64,
    /// Prompt evaluation before the first token.
    pub(crate) ttft: Duration,
    /// Requests generated at once (`OLLAMA_NUM_PARALLEL`), and the
    /// orchestrator's permits for the endpoint.
    pub(crate) slots: usize,
    /// Time to load a model that is not loaded.
    pub(crate) load_time: Duration,
    /// Models not loaded when the batch starts (the others are).
    pub(crate) cold: &'static [&'static str],
    /// Share of requests answered 500 before the first byte.
    pub(crate) error_rate: f64,
}

/// The fleet: 20, 60 and 120 tokens/s with 1, 2 and 4 slots; llama cold on
/// the fast machine behind a 5 s load; the middle one flaky (5 % of requests
/// fail with a 500).
pub(crate) fn machines() -> [Machine; 3] {
    [
        Machine {
            name: "fast",
            tokens_per_sec: 120.0,
            ttft: Duration::from_millis(30),
            slots: 4,
            load_time: Duration::from_secs(5),
            cold: &[LLAMA],
            error_rate: 0.0,
        },
        Machine {
            name: "medium",
            tokens_per_sec: 60.0,
            ttft: Duration::from_millis(60),
            slots: 2,
            load_time: Duration::from_millis(1500),
            cold: &[],
            error_rate: 0.05,
        },
        Machine {
            name: "slow",
            tokens_per_sec: 20.0,
            ttft: Duration::from_millis(150),
            slots: 1,
            load_time: Duration::from_secs(3),
            cold: &[],
            error_rate: 0.0,
        },
    ]
}

impl Machine {
    /// What it says in the table's header.
    pub(crate) fn describe(&self) -> String {
        let mut text = format!(
            "{} {} tok/s × {} slot{} (ttft {} ms)",
            self.name,
            self.tokens_per_sec,
            self.slots,
            if self.slots == 1 { "" } else { "s" },
            self.ttft.as_millis()
        );
        for model in self.cold {
            let _ = write!(text, ", {model} cold (load {:.1} s)", self.load_time.as_secs_f64());
        }
        if self.error_rate > 0.0 {
            let _ = write!(text, ", flaky: {:.0} % HTTP 500", self.error_rate * 100.0);
        }
        text
    }

    fn spec(&self, seed: u64) -> Result<EndpointSpec, Box<dyn std::error::Error>> {
        let models = [CODER, LLAMA]
            .into_iter()
            .map(|name| om_sim::default_model(name).ok_or_else(|| format!("no sim model {name}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EndpointSpec::default()
            .with_name(self.name)
            .with_models(models)
            .with_tokens_per_sec(self.tokens_per_sec)
            .with_ttft(self.ttft)
            .with_load_time(self.load_time)
            .with_num_parallel(self.slots)
            .with_keep_alive(Duration::MAX)
            .with_reply(long_reply()?)
            .with_seed(seed))
    }
}

/// Replies longer than any `num_predict`, so that every task generates
/// exactly its `num_predict` tokens wherever it runs (om-sim's lorem
/// replies stop at 40–160 tokens).
fn long_reply() -> Result<ReplyMode, Box<dyn std::error::Error>> {
    let words = " token".repeat(MAX_TOKENS as usize + 100);
    let rules = RuleSet::parse(&format!("default = \"{words}\"\n"), Path::new("scheduling"))?;
    Ok(ReplyMode::Rules(rules))
}

/// Starts `machines` on loopback ports (served on `tracker` until `shutdown`),
/// loads every model that is not planned cold, then switches the faults on,
/// and returns the endpoints as configured endpoints with `permits` = slots.
pub(crate) async fn start(
    machines: &[Machine],
    seed: u64,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<Vec<Endpoint>, Box<dyn std::error::Error>> {
    let mut endpoints = Vec::new();
    for (i, machine) in machines.iter().enumerate() {
        let server = SimServer::bind(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            machine.spec(seed.wrapping_add(i as u64))?,
        )
        .await?;
        let url: EndpointUrl = format!("http://{}", server.local_addr()).parse()?;
        let control = server.control();
        tracker.spawn(server.run(shutdown.clone()));
        let client = Client::new(om_client::http_client(), url.clone());
        for model in [CODER, LLAMA].into_iter().filter(|m| !machine.cold.contains(m)) {
            // An empty prompt only loads the model, as with Ollama.
            client.generate_once(GenerateRequest::new(model, "")).await?;
        }
        control.replace_faults(Faults::default().with_error_rate(machine.error_rate));
        let mut endpoint = Endpoint::new(url);
        endpoint.name = EndpointId::new(machine.name);
        endpoint.max_concurrency = NonZeroUsize::new(machine.slots);
        endpoints.push(endpoint);
    }
    Ok(endpoints)
}

/// The configuration of one run: the endpoints, `strategy`, and seeds for
/// the router and the backoff jitter; every other setting at its default.
pub(crate) fn config(endpoints: Vec<Endpoint>, strategy: StrategyKind, seed: u64) -> Config {
    let mut config = Config { endpoints, ..Config::default() };
    strategy.as_str().clone_into(&mut config.routing.strategy);
    config.routing.seed = Some(seed);
    config.orchestrator.seed = Some(seed);
    config
}
