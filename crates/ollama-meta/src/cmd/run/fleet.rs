//! Which fleet a batch runs on: the configured endpoints (or `OLLAMA_HOST`),
//! or a simulated fleet started in this process with `--sim`, or when
//! nothing is configured and the default endpoint does not answer.

use std::net::{Ipv4Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::time::Duration;

use anyhow::Context as _;
use om_config::{Config, Endpoint, Loaded};
use om_core::{EndpointId, EndpointUrl};
use om_sim::{EndpointSpec, SimServer};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The fleet a batch will use.
#[derive(Debug)]
pub(crate) struct Chosen {
    /// The configuration, its endpoints replaced by the simulated ones when
    /// simulated.
    pub(crate) config: Config,
    /// Set when the fleet is simulated: the banner saying so, and why.
    pub(crate) simulated: Option<String>,
}

/// How long the default endpoint gets to answer `/api/version`.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Picks the fleet. The simulated endpoints are spawned on `tracker` and
/// serve until `shutdown` is cancelled.
pub(crate) async fn choose(
    sim: bool,
    loaded: Loaded,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> anyhow::Result<Chosen> {
    let mut config = loaded.config;
    if sim {
        config.endpoints = start_simulated(tracker, shutdown).await?;
        let banner = format!(
            "SIMULATED fleet (--sim): {} om-sim endpoints in this process ({}); outputs are \
             generated text and timings are simulated, not real models",
            config.endpoints.len(),
            names(&config.endpoints)
        );
        return Ok(Chosen { config, simulated: Some(banner) });
    }
    // Only the built-in default endpoint falls back: endpoints the user
    // chose (a file, OLLAMA_HOST, --endpoint) are used as they are, down or
    // not, so a typo never silently turns into a simulation.
    let defaulted = loaded
        .provenance
        .iter()
        .filter(|s| s.path.to_string().starts_with("endpoints"))
        .all(|s| s.source.is_default());
    if defaulted
        && let [only] = config.endpoints.as_slice()
        && let Err(reason) = probe(&only.url).await
    {
        let url = only.url.to_string();
        config.endpoints = start_simulated(tracker, shutdown).await?;
        let banner = format!(
            "SIMULATED fleet: no Ollama answered at {url} ({reason}) and no endpoints are \
                 configured, so {} om-sim endpoints run in this process ({}). Set OLLAMA_HOST, \
                 --endpoint or a config file to use real servers; pass --sim to choose the \
                 simulation explicitly",
            config.endpoints.len(),
            names(&config.endpoints)
        );
        return Ok(Chosen { config, simulated: Some(banner) });
    }
    Ok(Chosen { config, simulated: None })
}

fn names(endpoints: &[Endpoint]) -> String {
    endpoints.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// Asks `url` for its version, once, quickly.
async fn probe(url: &EndpointUrl) -> Result<(), String> {
    let client = om_client::Client::new(om_client::http_client(), url.clone()).with_timeouts(
        om_client::Timeouts {
            connect: Some(PROBE_TIMEOUT),
            first_byte: Some(PROBE_TIMEOUT),
            idle: Some(PROBE_TIMEOUT),
            total: Some(PROBE_TIMEOUT),
        },
    );
    client.version().await.map(drop).map_err(|err| err.to_string())
}

/// The embedded fleet: three heterogeneous machines.
///
/// - `gpu-box`: all of om-sim's default models (the embedding model too, as
///   on a real install: routing must keep chat tasks off it), fast (300
///   tokens/s), 4 parallel slots per model, quick loads;
/// - `workstation`: two coding models, 120 tokens/s, 2 slots;
/// - `laptop`: two models but room for only one in memory, so switching
///   models means a cold load (1.5 s), 40 tokens/s, one slot.
fn simulated_specs() -> Vec<(EndpointSpec, usize)> {
    let model = |name: &str| om_sim::default_model(name).expect("a model of om-sim's default set");
    vec![
        (
            EndpointSpec::default()
                .with_name("gpu-box")
                .with_models(vec![
                    model("qwen2.5-coder:7b"),
                    model("llama3.2"),
                    model("qwen3:8b"),
                    model("nomic-embed-text"),
                ])
                .with_tokens_per_sec(300.0)
                .with_ttft(Duration::from_millis(25))
                .with_load_time(Duration::from_millis(300))
                .with_num_parallel(4)
                .with_seed(1),
            8,
        ),
        (
            EndpointSpec::default()
                .with_name("workstation")
                .with_models(vec![model("qwen2.5-coder:7b"), model("llama3.2")])
                .with_tokens_per_sec(120.0)
                .with_ttft(Duration::from_millis(60))
                .with_load_time(Duration::from_millis(700))
                .with_num_parallel(2)
                .with_seed(2),
            4,
        ),
        (
            EndpointSpec::default()
                .with_name("laptop")
                .with_models(vec![model("llama3.2"), model("qwen3:8b")])
                .with_tokens_per_sec(40.0)
                .with_ttft(Duration::from_millis(150))
                .with_load_time(Duration::from_millis(1500))
                .with_num_parallel(1)
                .with_max_loaded_models(1)
                .with_seed(3),
            1,
        ),
    ]
}

/// Binds the simulated endpoints on loopback ports, spawns them on
/// `tracker`, and returns them as configured endpoints.
async fn start_simulated(
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> anyhow::Result<Vec<Endpoint>> {
    let mut endpoints = Vec::new();
    for (spec, concurrency) in simulated_specs() {
        let name = spec.name.clone();
        let server = SimServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), spec)
            .await
            .with_context(|| format!("starting simulated endpoint {name:?}"))?;
        let url: EndpointUrl = format!("http://{}", server.local_addr())
            .parse()
            .context("the simulator's loopback address is a valid endpoint URL")?;
        tracker.spawn(server.run(shutdown.clone()));
        let mut endpoint = Endpoint::new(url);
        endpoint.name = EndpointId::new(name);
        endpoint.max_concurrency = NonZeroUsize::new(concurrency);
        endpoint.tags = vec!["simulated".to_owned()];
        endpoints.push(endpoint);
    }
    Ok(endpoints)
}
