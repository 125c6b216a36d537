//! A client for one Ollama endpoint: every native API call over a pooled
//! hyper-util client, NDJSON streams decoded by a sans-IO line decoder, and
//! Ollama's failures turned into typed [`om_core::Error`]s.
//!
//! `om-client` sits above `om-core` and `om-config` (whose `[timeouts]` and
//! `[limits]` sections give its defaults) in the workspace DAG;
//! `om-discovery` and `om-orchestrator` use it.
//!
//! - [`Client`]: one endpoint — `version`, `list` (`/api/tags`), `show`,
//!   `ps`, `generate`/`generate_once`, `chat`/`chat_once`, `embed`,
//!   `embeddings`, `pull`/`push`/`create` progress streams, `copy`, `delete`.
//!   Streaming calls return an [`om_core::ChunkStream`]; the others the value.
//! - [`Client::send_lines`] with a [`RawRequest`]: any call with its body as
//!   given and the response as raw [`Lines`], for a front end that forwards
//!   them unchanged.
//! - [`HttpClient`] and [`HttpConfig`]: the one pooled hyper-util client the
//!   whole fleet shares (`TCP_NODELAY`, connect timeout, idle pool timeout).
//! - [`Timeouts`]: connect, first byte, idle between chunks and total, each
//!   reported as its own [`om_core::TimeoutPhase`].
//! - [`RetryPolicy`]: off by default (in the fleet every retry is an
//!   orchestrator attempt); when asked for, the workspace's one backoff,
//!   only for failures that did no work upstream
//!   ([`om_core::Error::is_resendable`]); `Retry-After` is honoured.
//! - [`ndjson`]: the sans-IO [`LineDecoder`] and [`FrameDecoder`], public so
//!   they can be property-tested and benchmarked.
//!
//! Errors follow `OLLAMA_API.md` §1 and §11: a non-2xx response becomes
//! [`om_core::Error::from_status`] with Ollama's `error` text verbatim
//! (`model 'x' not found`), an `{"error": …}` line inside a stream becomes
//! [`om_core::ErrorKind::Stream`], a broken connection
//! [`om_core::ErrorKind::Disconnected`], garbage
//! [`om_core::ErrorKind::Protocol`]; each names the endpoint and model.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use om_client::{Client, HttpConfig, RetryPolicy, Timeouts};
//! use om_core::wire::{ChatRequest, Message, Role};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let http = HttpConfig::default().build(); // one pool for the whole fleet
//! let client = Client::new(http, "127.0.0.1:11434".parse()?)
//!     .with_timeouts(Timeouts::default())
//!     .with_retry(RetryPolicy::attempts(3));
//!
//! let request = ChatRequest::new("llama3.2", vec![Message::new(Role::User, "Why is the sky blue?")]);
//! let mut chunks = client.chat(request).await?;
//! while let Some(chunk) = chunks.next().await {
//!     let chunk = chunk?;
//!     print!("{}", chunk.message.content);
//!     if chunk.done {
//!         println!("\n{:?} tokens/s", chunk.metrics.tokens_per_second());
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Cancel safety
//!
//! Dropping a call's future, or a returned stream, drops the hyper response
//! body. A body that was not read to its end closes its connection (it is not
//! returned to the pool), and a closed connection is the only way to tell
//! Ollama to stop generating. So cancelling is simply dropping.

mod body;
mod client;
mod errors;
mod http;
mod lines;
pub mod ndjson;
mod openai;
mod retry;
mod stream;
mod timeouts;

pub use client::{Client, USER_AGENT_VALUE};
pub use errors::tls_failure;
pub use http::{HttpClient, HttpConfig, http_client, tls_config};
pub use lines::{Lines, RawRequest};
pub use ndjson::{FrameDecoder, LineDecoder};
pub use openai::OPENAI_VERSION;
pub use retry::RetryPolicy;
pub use timeouts::Timeouts;
