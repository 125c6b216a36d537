//! A routing strategy of your own, plugged into the fleet.
//!
//! Run with: `cargo run -p ollama-meta --example custom_router --features full`
//!
//! `Frugal` sends each task to the smallest model that can run it (by
//! parameter count), and among equals to the least loaded endpoint: cheap
//! models first, big ones only when the task needs them (a pin, or a
//! capability only they have). Two simulated endpoints serve different
//! models; tasks that leave the model open all land on the small one.

#![allow(clippy::print_stdout, reason = "an example prints what it does")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ollama_meta::config::{Config, Endpoint};
use ollama_meta::core::{Capability, ModelChoice, Task};
use ollama_meta::orchestrator::FleetBuilder;
use ollama_meta::router::{Candidate, Context, Strategy};
use ollama_meta::sim::EndpointSpec;
use tokio_util::sync::CancellationToken;

/// The smallest model first, then the least loaded endpoint.
#[derive(Debug)]
struct Frugal;

impl Strategy for Frugal {
    fn name(&self) -> &'static str {
        "frugal"
    }

    fn rank(&self, ctx: &Context<'_>, candidates: &mut [Candidate]) {
        for c in candidates {
            let params = ctx.snapshot.instance(c.instance).info.parameters.unwrap_or(u64::MAX);
            // Billions of parameters as the cost; load breaks ties.
            c.cost = params as f64 / 1e9 / c.weight;
            c.secondary = c.load;
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = |name| ollama_meta::sim::default_model(name).ok_or("a built-in model");
    let big = ollama_meta::sim::spawn(
        EndpointSpec::default()
            .with_name("big")
            .with_models(vec![model("qwen3:8b")?])
            .with_load_time(Duration::from_millis(50)),
    );
    let small = ollama_meta::sim::spawn(
        EndpointSpec::default()
            .with_name("small")
            .with_models(vec![model("llama3.2")?])
            .with_num_parallel(2)
            .with_load_time(Duration::from_millis(50)),
    );
    println!(
        "SIMULATED endpoints: big (qwen3:8b) at {}, small (llama3.2) at {}",
        big.url(),
        small.url()
    );

    let named = |name: &str, url: String| -> Result<Endpoint, Box<dyn std::error::Error>> {
        let mut endpoint = Endpoint::new(url.parse()?);
        endpoint.name = name.into();
        Ok(endpoint)
    };
    let config = Config {
        endpoints: vec![named("big", big.url())?, named("small", small.url())?],
        ..Config::default()
    };
    let (fleet, workers) =
        FleetBuilder::from_config(&config)?.strategy(Arc::new(Frugal)).build()?;
    let shutdown = CancellationToken::new();
    let background = tokio::spawn(workers.run(shutdown.clone()));
    println!("strategy: {}", fleet.router().strategy_for(None).name());
    // Wait until discovery has read both models' sizes: routing before
    // that would rank an unknown size as the largest.
    let mut catalog = fleet.registry().subscribe();
    tokio::time::timeout(
        Duration::from_secs(10),
        catalog.wait_for(|s| {
            s.instances().len() == 2 && s.instances().iter().all(|i| i.info.parameters.is_some())
        }),
    )
    .await??;

    let mut placements: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..6 {
        let mut task = Task::new(format!("open-{i}"), "Summarise what a mutex is.");
        // The last one needs a reasoning trace, which only qwen3 has.
        if i == 5 {
            task.requires = task.requires.with(Capability::Thinking);
            task.model = ModelChoice::Any;
        }
        let result = fleet.execute(&task).await?;
        println!("{:<7} -> {}@{}", result.task, result.model, result.endpoint);
        *placements.entry(result.model.to_string()).or_default() += 1;
    }
    println!("placements: {placements:?}");

    shutdown.cancel();
    background.await?;
    big.stop().await;
    small.stop().await;
    let small_model = placements.get("llama3.2:latest").copied().unwrap_or(0);
    if small_model == 5 { Ok(()) } else { Err("Frugal did not prefer the small model".into()) }
}
