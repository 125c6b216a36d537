//! `ollama-meta models`: what the fleet has, where, and whether it answers.
//!
//! The command probes every configured endpoint once with `om-discovery`
//! (or, with `--watch`, runs the discovery loop) and renders the registry
//! as a table or as the JSON document described in [`document`].

mod document;
mod learned;
mod table;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use om_client::HttpConfig;
use om_discovery::{Discovery, Settings};
use om_registry::{EndpointSpec, Registry};
use tokio_util::sync::CancellationToken;

use crate::cli::{GlobalArgs, ModelsArgs};
use crate::cmd::bad_input::BadInput;
use crate::cmd::config::load;

use self::document::FleetView;

/// Exit code when no endpoint answered.
const EXIT_NONE_UP: u8 = 1;

/// ANSI: clear the screen and move the cursor home.
const CLEAR: &str = "\x1b[2J\x1b[H";

/// Probes the fleet and prints it; see the command's help for the output
/// and the exit codes.
pub(crate) async fn run(
    global: &GlobalArgs,
    args: &ModelsArgs,
    shutdown: CancellationToken,
) -> anyhow::Result<ExitCode> {
    if let Some(base) = &args.from {
        let document = learned::fetch(base, args.token.as_deref()).await?;
        let mut stdout = std::io::stdout().lock();
        if global.json {
            writeln!(stdout, "{}", serde_json::to_string_pretty(&document)?)?;
        } else {
            write!(stdout, "{}", learned::render(&document))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let config = load(global, Vec::new()).map_err(BadInput::from_error)?.config;
    let settings = Settings::from(&config.discovery);
    let tls = om_client::tls_config(config.tls.ca_file.as_deref()).map_err(BadInput::from_error)?;
    let http = HttpConfig {
        connect_timeout: Some(settings.probe_timeout),
        tls: Some(tls),
        ..HttpConfig::default()
    }
    .build();
    let registry = Registry::new(om_registry::Config::default());
    let endpoints = config.endpoints.iter().map(EndpointSpec::from).collect();
    let discovery = Discovery::try_new(registry.clone(), &http, endpoints, settings)
        .map_err(BadInput::from_error)?;

    let report = tokio::select! {
        biased;
        () = shutdown.cancelled() => return Ok(ExitCode::FAILURE),
        report = discovery.probe_all() => report,
    };
    let mut display = Display::new(global.json, args.watch);
    display.show(&FleetView::from_snapshot(&registry.snapshot()))?;
    if !args.watch {
        return Ok(exit_code(report.is_any_up()));
    }

    // `--watch`: keep the registry true with the discovery loop and redraw
    // it every interval until Ctrl-C; both futures end on the same token.
    let redraw = async {
        let mut ticks = tokio::time::interval(args.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate and the fleet was just shown.
        ticks.tick().await;
        let mut any_up = report.is_any_up();
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return Ok::<_, std::io::Error>(any_up),
                _ = ticks.tick() => {
                    let view = FleetView::from_snapshot(&registry.snapshot());
                    any_up = view.up() > 0;
                    display.show(&view)?;
                }
            }
        }
    };
    let ((), any_up) = tokio::join!(discovery.run(shutdown.clone()), redraw);
    Ok(exit_code(any_up?))
}

fn exit_code(any_up: bool) -> ExitCode {
    if any_up { ExitCode::SUCCESS } else { ExitCode::from(EXIT_NONE_UP) }
}

/// Where and how views are printed.
struct Display {
    json: bool,
    watch: bool,
    terminal: bool,
    shown: usize,
}

impl Display {
    fn new(json: bool, watch: bool) -> Self {
        Self { json, watch, terminal: std::io::stdout().is_terminal(), shown: 0 }
    }

    /// Prints one view: a table, a pretty JSON document, or under
    /// `--watch --json` one compact document per line. Successive tables
    /// replace each other on a terminal and are separated by a blank line
    /// otherwise.
    fn show(&mut self, view: &FleetView) -> std::io::Result<()> {
        let mut stdout = std::io::stdout().lock();
        let document = view.to_json();
        match (self.json, self.watch) {
            (true, true) => writeln!(stdout, "{document}")?,
            (true, false) => writeln!(stdout, "{document:#}")?,
            (false, _) => {
                if self.shown > 0 {
                    if self.terminal {
                        write!(stdout, "{CLEAR}")?;
                    } else {
                        writeln!(stdout)?;
                    }
                }
                write!(stdout, "{}", table::render(view))?;
            }
        }
        self.shown += 1;
        stdout.flush()
    }
}

/// Parses `--interval` (`2s`, `500ms`, or a number of seconds).
pub(crate) fn parse_interval(text: &str) -> Result<Duration, String> {
    let duration = match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 => Duration::from_secs_f64(seconds),
        Ok(_) => return Err("must be greater than 0".to_owned()),
        Err(_) => om_core::GoDuration::parse(text)
            .map_err(|e| e.to_string())?
            .to_std()
            .ok_or_else(|| "must not be negative".to_owned())?,
    };
    if duration.is_zero() {
        return Err("must be greater than 0".to_owned());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use std::num::{NonZeroU32, NonZeroUsize};

    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_interval("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_interval("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_interval("0").is_err());
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("-1s").is_err());
        assert!(parse_interval("soon").is_err());
    }

    #[test]
    fn config_maps_onto_discovery_and_registry() {
        let mut endpoint = om_config::Endpoint::new("gpu-box".parse().unwrap());
        endpoint.max_concurrency = NonZeroUsize::new(4);
        endpoint.tags = vec!["gpu".into()];
        let spec = EndpointSpec::from(&endpoint);
        assert_eq!(spec.id.as_str(), "gpu-box:11434");
        assert_eq!(spec.max_concurrency, NonZeroU32::new(4));
        assert_eq!(spec.tags, ["gpu"]);
        let section = om_config::Discovery { concurrency: 3, ..om_config::Discovery::default() };
        let settings = Settings::from(&section);
        assert_eq!(settings.concurrency.get(), 3);
        assert_eq!(settings.interval, section.interval);
    }
}
