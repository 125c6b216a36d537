//! A simulated Ollama server: the stand-in for a real Ollama in tests,
//! examples, benchmarks and `ollama-meta sim`.
//!
//! It speaks the native API and the OpenAI-compatible `/v1` routes as
//! `OLLAMA_API.md` describes them, including the behaviours of its §11: NDJSON
//! streams flushed one line per chunk, Ollama's exact error texts and status
//! codes, load and keep-alive timing, parallel slots and the pending-load
//! queue with its 503, and cancellation when a client goes away. Everything
//! runs on `tokio::time`, so tests can pause time.
//!
//! # Models
//!
//! Unless an [`EndpointSpec`] says otherwise an endpoint serves
//! [`default_models`]:
//!
//! | name | family | size | quantization | context | capabilities |
//! |---|---|---|---|---|---|
//! | `llama3.2:latest` | llama | 3.2B | `Q4_K_M` | 131072 | completion, tools |
//! | `qwen2.5-coder:7b` | qwen2 | 7.6B | `Q4_K_M` | 32768 | completion, tools, insert |
//! | `qwen3:8b` | qwen3 | 8.2B | `Q4_K_M` | 40960 | completion, tools, thinking |
//! | `nomic-embed-text:latest` | nomic-bert | 137M | `F16` | 2048 | embedding (768 wide) |
//!
//! Any other valid Ollama name works too, in an [`EndpointSpec`], a fleet
//! file, `ollama-meta sim --models` or a pull: [`ModelSpec::from_name`]
//! derives the family, parameter count, context length, quantization,
//! capabilities, size and digest from the name (`codellama:13b` is a 13B
//! `llama` with a 16384 context; `mxbai-embed-large` only embeds).
//!
//! # Behaviour
//!
//! - Timing: a cold model costs [`EndpointSpec::load_time`] (plus the
//!   `slow_load` fault) before the first byte and in `load_duration`; prompt
//!   evaluation takes [`EndpointSpec::ttft`]; tokens then come at
//!   [`EndpointSpec::tokens_per_sec`]. A changed load-time option (`num_ctx`,
//!   `num_batch`, …) reloads the model.
//! - Shared compute: those are the speeds of a request running alone. Every
//!   request evaluating a prompt or generating — on any model, in any slot —
//!   shares the endpoint's one box: with `n` active, aggregate throughput is
//!   [`EndpointSpec::speedup`]`(n) = min(n^batch_exponent, max_speedup)`
//!   times a lone request's (defaults 0.5 and 2.0), split equally, and
//!   re-split whenever a request starts or ends (processor sharing on a
//!   virtual clock). So two at once each run at about 0.71× a lone one, and
//!   more than four add nothing. Loading is not shared; the final chunk's
//!   `prompt_eval_duration` and `eval_duration` show the slowed speed.
//!   [`EndpointSpec::with_unshared_compute`] makes requests independent.
//! - Scheduling: [`EndpointSpec::num_parallel`] slots per model with
//!   unbounded waiting; requests that need a load wait in a queue of
//!   [`EndpointSpec::max_queue`] (503 `server busy…` when full); loads happen
//!   one at a time; at most [`EndpointSpec::max_loaded_models`] models stay
//!   loaded, evicting an idle one with the shortest keep-alive.
//! - Replies come from [`reply`] in the endpoint's [`reply::ReplyMode`].
//! - Faults ([`Faults`]) inject 500s, 503s, hangs, stalls, dropped
//!   connections, malformed or error lines and flapping; change them while
//!   running through [`SimControl`].
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use om_sim::{EndpointSpec, Faults};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let sim = om_sim::spawn(EndpointSpec::default().with_load_time(Duration::from_millis(10)));
//! assert!(sim.url().starts_with("http://127.0.0.1:"));
//! sim.control().replace_faults(Faults::default().with_busy_rate(1.0));
//! sim.stop().await;
//! # }
//! ```
//!
//! [`spawn`] is for tests and examples; a long-running process binds a
//! [`SimServer`] and runs it with its own shutdown token, or loads a fleet
//! with [`FleetSpec::from_file`].

mod catalog;
mod clock;
mod compute;
mod derived;
mod error;
mod fault;
mod fleet;
mod generation;
mod handle;
pub mod reply;
mod request;
mod response;
mod routes;
mod scheduler;
mod server;
mod spec;

pub use fault::Faults;
pub use fleet::{FleetEndpoint, FleetError, FleetSpec};
pub use handle::{SimHandle, spawn, try_spawn};
pub use server::{SHUTDOWN_GRACE, SimControl, SimServer};
pub use spec::{EndpointSpec, ModelSpec, default_model, default_models};
