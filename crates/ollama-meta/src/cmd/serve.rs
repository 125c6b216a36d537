//! `ollama-meta serve`: the gateway — the Ollama API and the
//! OpenAI-compatible one in front of the whole fleet — until Ctrl-C/SIGTERM.

use std::io::Write;
use std::process::ExitCode;

use om_gateway::{Gateway, Settings};
use om_orchestrator::Fleet;
use tokio_util::sync::CancellationToken;

use crate::cli::{GlobalArgs, ServeArgs};
use crate::cmd::bad_input::BadInput;
use crate::cmd::config;

/// Loads the configuration (the flags over `[gateway]`), probes the fleet
/// once, binds, prints `listening on http://ADDR` on stdout, and serves
/// until `shutdown` is cancelled; then lets streams finish within the
/// grace period and waits for the fleet's background workers.
pub(crate) async fn run(
    global: &GlobalArgs,
    args: &ServeArgs,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let mut flags = Vec::new();
    if let Some(listen) = args.listen {
        flags.push(("gateway.listen".to_owned(), listen.to_string()));
    }
    if let Some(token) = &args.auth_token {
        flags.push(("gateway.auth_token".to_owned(), token.clone()));
    }
    if args.insecure_no_auth {
        flags.push(("gateway.insecure_no_auth".to_owned(), "true".to_owned()));
    }
    for (key, path) in [("gateway.tls_cert", &args.tls_cert), ("gateway.tls_key", &args.tls_key)] {
        if let Some(path) = path {
            flags.push((key.to_owned(), path.display().to_string()));
        }
    }
    let config = config::load(global, flags).map_err(BadInput::from_error)?.config;
    let settings = Settings::from(&config.gateway);
    settings.check().map_err(BadInput::from_error)?;
    let (fleet, workers) = Fleet::from_config(&config).map_err(BadInput::from_error)?;
    // Start with a known fleet: the first requests should not wait for
    // discovery. An endpoint that is down now is probed again later.
    if let Some(report) = workers.probe_all().await {
        for endpoint in &report.endpoints {
            let (id, url) = (&endpoint.endpoint, &endpoint.url);
            match endpoint.status.reason() {
                None => tracing::info!(endpoint = %id, %url, "endpoint up"),
                Some(reason) => tracing::warn!(endpoint = %id, %url, reason, "endpoint down"),
            }
        }
    }
    let scheme = if settings.tls.is_some() { "https" } else { "http" };
    let gateway = Gateway::bind(fleet, settings).await.map_err(|e| {
        if e.is_tls() { anyhow::Error::new(BadInput::from_error(e)) } else { e.into() }
    })?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "ollama-meta gateway listening on {scheme}://{}", gateway.local_addr())?;
        stdout.flush()?;
    }
    let background = tokio::spawn(workers.run(shutdown.clone()));
    gateway.run(shutdown.clone()).await;
    // The gateway only returns once shutdown is asked for; the workers
    // watch the same token.
    shutdown.cancel();
    background.await?;
    Ok(ExitCode::SUCCESS)
}
