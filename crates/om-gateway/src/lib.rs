//! The HTTP front of ollama-meta: the Ollama API, the `OpenAI` `/v1` API
//! (chat, completions, embeddings, Responses) and the Anthropic Messages API
//! over the whole fleet, so that any existing client — the official Python
//! and JS libraries, ollama-rs, Aider/LiteLLM, Open `WebUI`, any `OpenAI` or
//! Anthropic SDK, Claude Code, Codex —
//! gets routing, failover, queueing and metrics by pointing at one address.
//!
//! `om-gateway` sits at the top of the library: it depends on `om-core`
//! (wire types, errors), `om-config` (its `[gateway]` settings),
//! `om-orchestrator` (the [`Fleet`](om_orchestrator::Fleet)
//! it forwards to) and `om-metrics` (the Prometheus export). The binary's
//! `ollama-meta serve` builds a fleet from configuration and runs a
//! [`Gateway`] over it.
//!
//! - [`Gateway`]: [`bind`](Gateway::bind) then [`run`](Gateway::run) until a
//!   shutdown token is cancelled.
//! - [`Settings`]: listen address (loopback by default, and no other
//!   without a token unless `insecure_no_auth`), optional bearer token,
//!   body limit, request-head and body timeouts, the time an answer has to
//!   begin, the connection limit, the wait queue's length and patience,
//!   shutdown grace, whether the client's `Authorization` goes upstream.
//! - [`Served`]: a tally of the endpoints that answered one gateway's model
//!   requests ([`Gateway::count_served`]), for a caller that gives each of
//!   its clients a gateway (`ollama-meta aider`, one per session).
//!
//! # Routes
//!
//! | route | answer |
//! |---|---|
//! | `GET`/`HEAD /` | `Ollama is running` (never needs the token) |
//! | `GET /api/version` | the gateway's own version |
//! | `GET /api/tags`, `GET /api/ps` | the union of the fleet's models / loaded models |
//! | `POST /api/generate`, `/api/chat`, `/api/embed`, `/api/embeddings`, `/api/show` | routed by the requested model, forwarded unchanged |
//! | `POST /api/pull`, `/api/push`, `/api/create`, `/api/copy`, `DELETE /api/delete` | to the endpoint named by `?endpoint=NAME` or `X-Ollama-Meta-Endpoint` (400 without) |
//! | `POST /v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `GET /v1/models[/{model}]` | `OpenAI` shapes, SSE streams with `data: [DONE]` |
//! | `POST /v1/responses` | the `OpenAI` Responses API, stateless; SSE events with `event:` lines |
//! | `POST /v1/messages`, `/v1/messages/count_tokens` | the Anthropic Messages API; its events in Anthropic's order; errors in its shape |
//! | `GET /metrics` | Prometheus text 0.0.4 |
//! | `GET /api/meta/status` | endpoints, health, models, loaded, breakers, cooldowns, in flight, queue |
//!
//! An unknown path gets `404 page not found` and a known path with another
//! method `405 method not allowed`, as from Ollama. Every answer carries an
//! `X-Request-Id` (the client's, or a new one), and each request is logged
//! in one `request` span with its id, model and backend.
//!
//! # Streaming
//!
//! A request body is forwarded byte for byte (every field: tools, format,
//! think, `keep_alive`, options, images, raw, suffix…); requests with any or
//! no `Content-Type` are accepted. The instance's answer is passed through
//! as it comes: each NDJSON line is written (and flushed) as its own chunk,
//! nothing is buffered whole, and the model name is echoed as requested
//! (the instance does it). Failover happens only before the first line; a
//! failure after it ends the stream with an `{"error": …}` line (an SSE
//! error event on `/v1`), never with another instance's output. A client
//! that disconnects closes the upstream request, which stops generation.
//!
//! # Safety
//!
//! Loopback unless told otherwise, and a non-loopback address only with a
//! token (or `insecure_no_auth`); an optional bearer token compared in
//! constant time; request bodies over the limit get 413 as soon as the
//! limit is passed; a client has time limits for its request head and body
//! (408) but an answer may stream as long as it is alive (upstream, the
//! fleet's idle timeout between lines applies) once it has begun within
//! `request_timeout` (504). Admission is bounded: a connection past
//! `max_connections`, a request past `max_queue` waiting for capacity or
//! waiting longer than `queue_timeout` gets 503 with `Retry-After` (every
//! 503 and 429 carries one), in the Ollama shape or the `OpenAI` one on
//! `/v1`. What the gateway says of its backends (which endpoint refused or
//! is down, at what address) reaches only an authenticated caller: with no
//! token configured errors say what kind of failure it was. A model that
//! no endpoint lists while some endpoint is down is 503 (try again), not
//! Ollama's 404 (which tells a client to pull it). the upstream `Host` is rewritten for
//! loopback-bound endpoints; the client's `Authorization` is not forwarded
//! unless [`Settings::forward_authorization`] says so; `TCP_NODELAY` on
//! every accepted socket.
//!
//! # Shutdown
//!
//! [`Gateway::run`] takes a `CancellationToken`. Once cancelled it stops
//! accepting, lets answers under way finish for up to
//! [`Settings::shutdown_grace`], then closes the remaining connections and
//! returns when every connection task has ended. The fleet's background
//! workers are the caller's to run and await beside it.
//!
//! ```no_run
//! use om_gateway::{Gateway, Settings};
//! use om_orchestrator::Fleet;
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = om_config::Loader::new().load()?.config;
//! let (fleet, workers) = Fleet::from_config(&config)?;
//! workers.probe_all().await;
//! let shutdown = CancellationToken::new();
//! let background = tokio::spawn(workers.run(shutdown.clone()));
//! let gateway = Gateway::bind(fleet, Settings::default()).await?;
//! gateway.run(shutdown.clone()).await;
//! background.await?;
//! # Ok(())
//! # }
//! ```

mod anthropic;
mod app;
mod auth;
mod body;
mod error;
mod inspect;
mod manage;
mod native;
mod observe;
mod openai;
mod reply;
mod request_id;
mod responses;
mod route;
mod served;
mod server;
mod settings;
mod tls;
mod translate;

pub use error::Error;
pub use served::Served;
pub use server::Gateway;
pub use settings::{Settings, TlsFiles};
