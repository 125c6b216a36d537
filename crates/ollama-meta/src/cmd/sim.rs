//! `ollama-meta sim`: serve a simulated Ollama fleet until Ctrl-C/SIGTERM.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use om_sim::{EndpointSpec, FleetEndpoint, FleetSpec, SimServer};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cli::SimArgs;
use crate::cmd::config::EXIT_BAD_INPUT;

/// Builds the endpoints from the flags (or the fleet file), binds them all,
/// prints one `listening on URL` line per endpoint on stdout, and serves until
/// `shutdown` is cancelled.
pub(crate) async fn run(args: &SimArgs, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    let endpoints = match endpoints(args) {
        Ok(endpoints) => endpoints,
        Err(message) => {
            writeln!(std::io::stderr().lock(), "error: {message}")?;
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
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
        spec.models = args
            .models
            .iter()
            .map(|name| {
                om_sim::default_model(name).ok_or_else(|| {
                    let known: Vec<String> =
                        om_sim::default_models().iter().map(|m| m.name.to_string()).collect();
                    format!("--models: unknown model {name:?}; known: {}", known.join(", "))
                })
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
    if let Some(seed) = args.seed {
        spec.seed = seed;
    }
    if let Some(reply) = &args.reply {
        spec.reply = reply.parse().map_err(|e| format!("--reply: {e}"))?;
    }
    Ok(())
}
