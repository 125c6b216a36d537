//! Ten tasks in parallel, by priority, through the dispatcher and the
//! fleet.
//!
//! Run with: `cargo run -p ollama-meta --example concurrent --features full`
//!
//! Two simulated endpoints (a fast one with four slots, a slow one with
//! one) serve a fleet; an `om-dispatch` dispatcher with four workers takes
//! ten tasks of mixed priority and runs each through [`Fleet::execute`].
//! Events print as tasks start and end: high-priority tasks start first,
//! and each line says where the task ran.

#![allow(clippy::print_stdout, reason = "an example prints what it does")]

use std::num::NonZeroUsize;
use std::time::Duration;

use ollama_meta::config::{Config, Endpoint};
use ollama_meta::core::Task;
use ollama_meta::core::wire::Options;
use ollama_meta::dispatch::{Context, Dispatcher, EventKind, Executor};
use ollama_meta::orchestrator::{Fleet, TaskFailure, TaskResult};
use ollama_meta::sim::EndpointSpec;
use ollama_meta::{Error, Priority};
use tokio_util::sync::CancellationToken;

/// Runs each task on the fleet.
struct OnFleet(Fleet);

impl Executor for OnFleet {
    type Payload = Task;
    type Output = TaskResult;
    type Error = Error;
    type Progress = ();

    async fn execute(&self, task: Task, _cx: &Context<'_, ()>) -> Result<TaskResult, Error> {
        self.0.execute(&task).await.map_err(TaskFailure::into_error)
    }
}

/// The chat models of om-sim's built-in set (not the embedding one).
fn chat_models() -> Result<Vec<ollama_meta::sim::ModelSpec>, &'static str> {
    ["llama3.2", "qwen2.5-coder:7b"]
        .into_iter()
        .map(|name| ollama_meta::sim::default_model(name).ok_or("a built-in model"))
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fast = ollama_meta::sim::spawn(
        EndpointSpec::default()
            .with_name("fast")
            .with_models(chat_models()?)
            .with_tokens_per_sec(400.0)
            .with_num_parallel(4)
            .with_load_time(Duration::from_millis(50)),
    );
    let slow = ollama_meta::sim::spawn(
        EndpointSpec::default()
            .with_name("slow")
            .with_models(chat_models()?)
            .with_tokens_per_sec(80.0)
            .with_load_time(Duration::from_millis(200)),
    );
    println!("SIMULATED endpoints: fast at {}, slow at {}", fast.url(), slow.url());

    let endpoint =
        |name: &str, url: String, limit: usize| -> Result<Endpoint, Box<dyn std::error::Error>> {
            let mut endpoint = Endpoint::new(url.parse()?);
            endpoint.name = name.into();
            endpoint.max_concurrency = NonZeroUsize::new(limit);
            Ok(endpoint)
        };
    let config = Config {
        endpoints: vec![endpoint("fast", fast.url(), 4)?, endpoint("slow", slow.url(), 1)?],
        ..Config::default()
    };
    let (fleet, workers) = Fleet::from_config(&config)?;
    let shutdown = CancellationToken::new();
    let background = tokio::spawn(workers.run(shutdown.clone()));

    let (dispatcher, runner) = Dispatcher::builder(OnFleet(fleet))
        .workers(NonZeroUsize::new(4).ok_or("zero workers")?)
        .on_event(|event| match &event.kind {
            EventKind::Started { worker, waited } => {
                println!(
                    "start  {:<8} {:<6} worker {worker}, queued {waited:?}",
                    event.task,
                    event.priority.as_str()
                );
            }
            EventKind::Failed { failure, .. } => println!("failed {:<8} {failure}", event.task),
            _ => {}
        })
        .build();
    let running = tokio::spawn(runner.run(CancellationToken::new()));

    // Ten tasks, low priority first in the file: the queue reorders them.
    let tasks = (0..10).map(|i| {
        let priority = [Priority::Low, Priority::Normal, Priority::High][i % 3];
        let mut task =
            Task::new(format!("task-{i}"), format!("Write unit test number {i} for a parser."));
        task.priority = priority;
        let mut options = Options::default();
        options.0.insert("num_predict".to_owned(), 48.into());
        task.options = Some(options);
        ollama_meta::dispatch::Task::new(task.id.clone(), task).with_priority(priority)
    });
    let handles = dispatcher.submit_batch(tasks).map_err(|_| "dispatcher closed")?;
    for handle in handles {
        let id = handle.id().clone();
        match handle.await {
            Ok(result) => println!(
                "done   {id:<8} {}@{} in {:?}, {} tokens",
                result.model,
                result.endpoint,
                result.elapsed,
                result.completion_tokens.unwrap_or(0)
            ),
            Err(err) => match err.failure() {
                Some(failure) => println!("error  {id:<8} {failure}"),
                None => println!("error  {id:<8} {err}"),
            },
        }
    }

    let report = dispatcher.shutdown(Duration::from_secs(5)).await;
    println!(
        "{} finished, {} failed, {} cancelled",
        report.summary.finished, report.summary.failed, report.summary.cancelled
    );
    running.await?;
    shutdown.cancel();
    background.await?;
    fast.stop().await;
    slow.stop().await;
    if report.summary.finished == 10 { Ok(()) } else { Err("not every task finished".into()) }
}
