//! The configuration of ollama-meta: its schema, layered loading with
//! figment, validation that reports every problem at once with its key and
//! source, and the provenance of every effective value.
//!
//! `om-config` sits one floor above `om-core` (it uses `om-core`'s
//! [`EndpointUrl`](om_core::EndpointUrl), [`ModelName`](om_core::ModelName)
//! and Go duration syntax) and below every crate that takes its settings
//! from it, where each default lives once: om-client (`[timeouts]`,
//! `[limits]`), om-registry (`[routing]`, `[breaker]`, the endpoints),
//! om-router (`[routing]`), om-discovery (`[discovery]`), om-gateway
//! (`[gateway]`), and the orchestrator and the binary, which read the whole
//! [`Config`].
//!
//! # Layers
//!
//! [`Loader`] merges, weakest first: the built-in defaults, `OLLAMA_HOST` as
//! the default endpoint, a TOML, YAML or JSON file, `OLLAMA_META_*`
//! environment variables (`__` separates nested keys:
//! `OLLAMA_META_RETRY__MAX_ATTEMPTS=5`) and command-line [`Overrides`]. An
//! array is replaced whole by the layer that sets it, so `--endpoint`
//! replaces the configured endpoints, and `OLLAMA_HOST` only counts when no
//! file, variable or flag lists endpoints. With none of them the endpoint is
//! `http://127.0.0.1:11434`, as for Ollama itself.
//!
//! # Schema
//!
//! ```toml
//! [[endpoints]]
//! url = "http://gpu-box:11434"   # required; OLLAMA_HOST syntax
//! name = "gpu"                   # default: host:port
//! weight = 2.0                   # default 1.0, must be > 0
//! max_concurrency = 4            # default: what the endpoint runs in parallel
//! tags = ["gpu"]
//!
//! [models."qwen2.5-coder:7b"]
//! options = { num_ctx = 16384 }  # Ollama options, passed through
//! keep_alive = "30m"             # duration text or seconds
//!
//! [retry]
//! max_attempts = 3
//! initial_backoff = "200ms"      # durations: Go syntax or seconds
//! max_backoff = "5s"
//! jitter = true
//! retry_on_busy = true
//!
//! [timeouts]
//! connect = "5s"
//! first_byte = "2m"              # covers a cold model load
//! idle = "1m"                    # between streamed chunks
//! # total = "10m"                # default: no overall limit
//!
//! [discovery]
//! interval = "30s"               # full probe of each endpoint
//! ps_interval = "5s"             # /api/ps in between
//! concurrency = 16               # endpoints probed at once
//! probe_timeout = "5s"
//! show_cache_ttl = "10m"         # /api/show details reused while the digest holds
//! backoff_initial = "1s"         # a failed endpoint is retried after this,
//! backoff_max = "30s"            # doubling up to this
//!
//! [routing]
//! strategy = "completion_time"   # or round_robin, least_loaded, random, performance, affinity, hybrid
//! categories = { code_review = "affinity" }
//! cold_penalty = 0.5             # a cold instance's weight is divided by 1 + this
//! max_fallbacks = 3              # ranked after the chosen instance, for failover
//! exploration = 1.0              # UCB1 constant of affinity learning
//! min_samples = 10               # hybrid trusts learnt affinity after this many
//! default_output_tokens = 256    # for requests without num_predict
//! ewma_alpha = 0.25              # latency / TTFT / tokens-per-second averages
//! success_window = 50            # outcomes the success rate covers
//! cold_load_threshold = "500ms"  # a longer load_duration is kept out of latency
//! cold_load_fraction = 0.5       # ... and so is one over this share of the request
//! cooldown = "2s"                # after 503/429 without Retry-After
//! max_cooldown = "1m"            # whatever Retry-After says
//! warm_window = "5m"             # served this recently counts as loaded
//!
//! [breaker]
//! failure_threshold = 5          # consecutive faults that open it
//! failure_ratio = 0.5            # ... or this share of the last ratio_window
//! ratio_window = 20
//! ratio_min_requests = 10
//! open_timeout = "30s"           # doubling per consecutive trip,
//! max_open_timeout = "5m"        # up to this
//! half_open_probes = 2           # probes at a time while half-open
//! close_after = 3                # probe successes that close it
//!
//! [orchestrator]
//! endpoint_concurrency = 4       # where a learned limit starts (or the fixed limit)
//! adaptive_concurrency = true    # learn each endpoint's limit from its answers
//! max_endpoint_concurrency = 64  # ceiling for endpoints without max_concurrency
//! # task_timeout = "10m"         # default: no deadline
//! # seed = 7                     # reproducible backoff jitter
//! hedge = true                   # a second attempt for a straggling batch task
//!
//! [gateway]                      # ollama-meta serve
//! listen = "127.0.0.1:11435"
//! # auth_token = "…"             # better: OLLAMA_META_GATEWAY__AUTH_TOKEN
//! max_body_bytes = 33554432      # 413 beyond
//! header_read_timeout = "30s"
//! shutdown_grace = "30s"         # streams may finish this long after SIGTERM
//! forward_authorization = false  # pass the client's Authorization upstream
//! insecure_no_auth = false       # true: allow a non-loopback listen with no token
//! max_connections = 2048         # more get 503 with Retry-After, then close
//! body_read_timeout = "30s"      # 408 beyond
//! request_timeout = "10m"        # until the answer begins (whole if not streamed); 504
//! max_queue = 512                # requests waiting for capacity; 503 beyond
//! queue_timeout = "5m"           # the longest wait for capacity; 503 beyond
//!
//! [limits]
//! max_line_bytes = 16777216      # one streamed line from an endpoint
//! max_answer_bytes = 67108864    # one answer read whole
//! ```
//!
//! # Errors
//!
//! [`Loader::load`] returns an [`Error`] listing every [`Problem`]: its key
//! path (`endpoints[1].url`), its [`Source`] (the file, the environment
//! variable, the command line) and what is wrong, including unknown keys
//! with a "did you mean" suggestion. [`Loaded::provenance`] lists where each
//! effective value came from.
//!
//! # Example
//!
//! ```
//! use om_config::{Loader, Overrides, Source};
//!
//! let dir = tempfile::tempdir()?;
//! let file = dir.path().join("ollama-meta.toml");
//! std::fs::write(&file, r#"
//!     [[endpoints]]
//!     url = "gpu-box"
//!
//!     [retry]
//!     max_attempts = 5
//! "#)?;
//!
//! let mut flags = Overrides::default();
//! flags.settings.push(("timeouts.first_byte".to_owned(), "3m".to_owned()));
//!
//! let loaded = Loader::new()
//!     .file(&file)
//!     .env_vars([("OLLAMA_META_RETRY__JITTER", "false")])
//!     .overrides(flags)
//!     .load()?;
//!
//! let config = &loaded.config;
//! assert_eq!(config.endpoints[0].url.to_string(), "http://gpu-box:11434");
//! assert_eq!(config.endpoints[0].name.as_str(), "gpu-box:11434");
//! assert_eq!(config.retry.max_attempts, 5);
//! assert!(!config.retry.jitter);
//! assert_eq!(config.timeouts.first_byte.as_secs(), 180);
//!
//! let origin = |key| loaded.provenance.find(key).map(|s| s.source.clone());
//! assert_eq!(origin("retry.max_attempts"), Some(Source::File(file.clone())));
//! assert_eq!(origin("retry.jitter"), Some(Source::Env("OLLAMA_META_RETRY__JITTER".into())));
//! assert_eq!(origin("timeouts.first_byte"), Some(Source::CommandLine));
//! assert_eq!(origin("timeouts.idle"), Some(Source::Default));
//!
//! // Every problem at once, each with its key and source.
//! let error = Loader::new()
//!     .file(&file)
//!     .env_vars([("OLLAMA_META_RETRY__MAX_ATEMPTS", "2"), ("OLLAMA_META_TIMEOUTS__IDLE", "30x")])
//!     .load()
//!     .unwrap_err();
//! let lines: Vec<String> = error.problems().iter().map(ToString::to_string).collect();
//! assert_eq!(lines, [
//!     "environment variable OLLAMA_META_RETRY__MAX_ATEMPTS: retry.max_atempts: \
//!      unknown key `max_atempts`; did you mean `max_attempts`?",
//!     "environment variable OLLAMA_META_TIMEOUTS__IDLE: timeouts.idle: \
//!      invalid duration \"30x\": unknown unit \"x\" (write e.g. 30s, 500ms, 1h30m, or a number of seconds)",
//! ]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod breaker;
mod check;
mod config;
mod discovery;
mod duration;
mod endpoint;
mod error;
mod extract;
mod gateway;
mod limits;
mod loader;
mod model;
mod orchestrator;
mod path;
mod provenance;
mod providers;
mod retry;
mod routing;
mod source;
mod suggest;
mod timeouts;
mod tls;
mod tree;

pub use breaker::Breaker;
pub use config::Config;
pub use discovery::Discovery;
pub use endpoint::{CapabilityNames, Endpoint};
pub use error::{Error, Problem, ProblemKind, Result};
pub use gateway::{Gateway, Secret};
pub use limits::Limits;
pub use loader::{Loaded, Loader};
pub use model::ModelSettings;
pub use orchestrator::Orchestrator;
pub use path::{KeyPath, Segment};
pub use provenance::{Provenance, Setting};
pub use providers::{CONFIG_FILE_VAR, ENV_PREFIX, ENV_SEPARATOR, OLLAMA_HOST_VAR, Overrides};
pub use retry::Retry;
pub use routing::{MAX_FALLBACKS, Routing, STRATEGIES};
pub use source::Source;
pub use timeouts::Timeouts;
pub use tls::Tls;
