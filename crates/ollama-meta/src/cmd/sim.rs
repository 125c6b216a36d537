//! `ollama-meta sim`: serve a simulated Ollama fleet until Ctrl-C/SIGTERM.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use om_core::ModelName;
use om_sim::reply::{ReplyMode, RuleSet};
use om_sim::{EndpointSpec, FleetEndpoint, FleetSpec, ModelSpec, SimServer};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cli::{Reply, SimArgs};
use crate::cmd::bad_input::BadInput;

/// The `sim` flags for how each endpoint's requests share its compute
/// (flattened into [`SimArgs`]).
#[derive(Debug, Args)]
pub(crate) struct ComputeArgs {
    /// How batching scales an endpoint: N requests at once get
    /// min(N^E, --max-speedup) times a lone request's throughput in all,
    /// shared equally (0 to 1; default 0.5: two at once each run at 0.71x;
    /// 1 with --max-speedup inf: independent).
    #[arg(long, value_name = "E")]
    pub(crate) batch_exponent: Option<f64>,
    /// The most batching multiplies an endpoint's throughput by (at least 1;
    /// default 2; inf for no cap).
    #[arg(long, value_name = "X")]
    pub(crate) max_speedup: Option<f64>,
}

/// Builds the endpoints from the flags (or the fleet file), binds them all,
/// prints one `listening on URL` line per endpoint on stdout, and serves until
/// `shutdown` is cancelled.
pub(crate) async fn run(args: &SimArgs, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    let endpoints = endpoints(args).map_err(BadInput)?;
    let mut servers = Vec::with_capacity(endpoints.len());
    for endpoint in endpoints {
        let name = endpoint.spec.name.clone();
        let server =
            SimServer::bind(endpoint.listen, endpoint.spec.clone()).await.with_context(|| {
                format!("binding simulated endpoint {name:?} to {}", endpoint.listen)
            })?;
        servers.push((server, endpoint.spec));
    }
    {
        let mut stdout = std::io::stdout().lock();
        for (server, spec) in &servers {
            let models: Vec<String> = spec.models.iter().map(|m| m.name.to_string()).collect();
            writeln!(
                stdout,
                "SIMULATED Ollama endpoint {:?} listening on http://{} (models: {})",
                spec.name,
                server.local_addr(),
                models.join(", ")
            )?;
        }
        stdout.flush()?;
    }
    let tracker = TaskTracker::new();
    for (server, _) in servers {
        tracker.spawn(server.run(shutdown.clone()));
    }
    tracker.close();
    tracker.wait().await;
    Ok(ExitCode::SUCCESS)
}

/// The endpoints to serve: the fleet file's, or one from the flags. Flags
/// given explicitly override every endpoint of a fleet file.
fn endpoints(args: &SimArgs) -> Result<Vec<FleetEndpoint>, String> {
    let mut endpoints = match &args.fleet {
        Some(path) => FleetSpec::from_file(path).map_err(|e| e.to_string())?.endpoints,
        None => vec![FleetEndpoint { listen: args.listen, spec: EndpointSpec::default() }],
    };
    for endpoint in &mut endpoints {
        apply_flags(args, &mut endpoint.spec)?;
    }
    Ok(endpoints)
}

fn apply_flags(args: &SimArgs, spec: &mut EndpointSpec) -> Result<(), String> {
    if !args.models.is_empty() {
        // Any valid name: one outside the default set is derived from the
        // name (family, size, context, capabilities).
        spec.models = args
            .models
            .iter()
            .map(|name| {
                ModelName::parse(name)
                    .map(ModelSpec::from_name)
                    .map_err(|err| format!("--models: {err}"))
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(rate) = args.tokens_per_sec {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(format!("--tokens-per-sec: must be a positive number, got {rate}"));
        }
        spec.tokens_per_sec = rate;
    }
    if let Some(ms) = args.ttft_ms {
        spec.ttft = Duration::from_millis(ms);
    }
    if let Some(ms) = args.load_ms {
        spec.load_time = Duration::from_millis(ms);
    }
    if let Some(parallel) = args.parallel {
        if parallel == 0 {
            return Err("--parallel: must be at least 1".to_owned());
        }
        spec.num_parallel = parallel;
    }
    if let Some(exponent) = args.compute.batch_exponent {
        if !(0.0..=1.0).contains(&exponent) {
            return Err(format!("--batch-exponent: must be between 0 and 1, got {exponent}"));
        }
        spec.batch_exponent = exponent;
    }
    if let Some(cap) = args.compute.max_speedup {
        if cap.is_nan() || cap < 1.0 {
            return Err(format!("--max-speedup: must be at least 1, got {cap}"));
        }
        spec.max_speedup = cap;
    }
    if let Some(seed) = args.seed {
        spec.seed = seed;
    }
    if let Some(reply) = &args.reply {
        spec.reply = match reply {
            Reply::Lorem => ReplyMode::Lorem,
            Reply::Echo => ReplyMode::Echo,
            Reply::Aider => ReplyMode::Aider,
            Reply::Rules(path) => {
                ReplyMode::Rules(RuleSet::load(path).map_err(|e| format!("--reply: {e}"))?)
            }
        };
    }
    Ok(())
}
