//! One task on a one-endpoint fleet: the smallest complete use of the
//! library.
//!
//! Run with: `cargo run -p ollama-meta --example basic --features full`
//!
//! It starts a simulated Ollama (om-sim) on a loopback port, builds a
//! [`Fleet`] from a configuration that names it, runs the fleet's
//! background discovery, executes one task and prints where it ran, how
//! long it took and what came back. Point `config.endpoints` at a real
//! Ollama to do the same for real.

#![allow(clippy::print_stdout, reason = "an example prints what it does")]

use std::time::Duration;

use ollama_meta::config::{Config, Endpoint};
use ollama_meta::core::Task;
use ollama_meta::orchestrator::Fleet;
use ollama_meta::sim::EndpointSpec;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A simulated endpoint: every default model, quick to load.
    let sim = ollama_meta::sim::spawn(
        EndpointSpec::default().with_name("sim").with_load_time(Duration::from_millis(50)),
    );
    println!("SIMULATED Ollama at {}", sim.url());

    let config = Config { endpoints: vec![Endpoint::new(sim.url().parse()?)], ..Config::default() };
    let (fleet, workers) = Fleet::from_config(&config)?;
    let shutdown = CancellationToken::new();
    let background = tokio::spawn(workers.run(shutdown.clone()));

    let mut task = Task::new("haiku", "Write a haiku about the borrow checker.");
    task.model = ollama_meta::core::ModelChoice::Pinned("llama3.2".parse()?);
    let result = fleet.execute(&task).await?;
    println!(
        "{} ran on {}@{} in {:?} (first token after {:?}, {} tokens):\n{}",
        result.task,
        result.model,
        result.endpoint,
        result.latency,
        result.ttft.unwrap_or_default(),
        result.completion_tokens.unwrap_or(0),
        result.output
    );

    shutdown.cancel();
    background.await?;
    sim.stop().await;
    Ok(())
}
