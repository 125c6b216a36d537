//! Test support: a hand-written fake Ollama that counts what it is asked,
//! endpoints that are dead, hang or speak garbage, a virtual clock for
//! paused-time tests with real sockets, and helpers to wait for events.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use om_client::http_client;
use om_core::EndpointId;
use om_core::wire::{ListResponse, ModelDetails, ModelEntry, ShowRequest, ShowResponse};
use om_discovery::{Discovery, Event, Settings};
use om_registry::{Config, EndpointSpec, Registry};
use parking_lot::Mutex;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::{JoinHandle, JoinSet};

// === discovery ===

/// Settings for tests: full probes every 10 s, `/api/ps` every 1 s, 2 s
/// per request, a 60 s show cache, backoff 1 s doubling to 4 s.
pub(crate) fn settings() -> Settings {
    Settings {
        interval: Duration::from_secs(10),
        ps_interval: Duration::from_secs(1),
        probe_timeout: Duration::from_secs(2),
        show_cache_ttl: Duration::from_mins(1),
        backoff_initial: Duration::from_secs(1),
        backoff_max: Duration::from_secs(4),
        ..Settings::default()
    }
}

/// An endpoint spec named `name` at `url`.
pub(crate) fn spec(name: &str, url: &str) -> EndpointSpec {
    EndpointSpec::new(EndpointId::new(name), url.parse().expect("a loopback URL"))
}

/// Discovery of `endpoints` with `settings`, its registry and a subscriber.
pub(crate) fn discovery(
    endpoints: Vec<EndpointSpec>,
    settings: Settings,
) -> (Discovery, Registry, broadcast::Receiver<Event>) {
    let registry = Registry::new(Config::default());
    let discovery = Discovery::try_new(registry.clone(), &http_client(), endpoints, settings)
        .expect("valid discovery");
    let events = discovery.subscribe();
    (discovery, registry, events)
}

/// Receives events until one matches `wanted`, and returns it; panics when
/// none did within `within` (tokio time: virtual under paused time).
pub(crate) async fn wait_for(
    events: &mut broadcast::Receiver<Event>,
    within: Duration,
    what: &str,
    wanted: impl Fn(&Event) -> bool,
) -> Event {
    let found = tokio::time::timeout(within, async {
        loop {
            match events.recv().await {
                Ok(event) if wanted(&event) => return event,
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => panic!("the test fell {n} events behind"),
                Err(RecvError::Closed) => panic!("the event channel closed"),
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no event {what} within {within:?}"))
}

/// The endpoint id `name`.
pub(crate) fn id(name: &str) -> EndpointId {
    EndpointId::new(name)
}

// === virtual time ===

/// Drives paused time in small steps while real loopback I/O settles (the
/// om-client tests' helper): a task that yields many times between steps
/// keeps Tokio from auto-advancing the clock past pending socket reads, so
/// timers fire in order and I/O takes no virtual time.
pub(crate) struct VirtualClock {
    task: JoinHandle<()>,
}

impl VirtualClock {
    /// Starts the ticker; it stops when dropped.
    pub(crate) fn start(step: Duration) -> Self {
        let task = tokio::spawn(async move {
            loop {
                for _ in 0..64 {
                    tokio::task::yield_now().await;
                }
                tokio::time::advance(step).await;
            }
        });
        Self { task }
    }
}

impl Drop for VirtualClock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// === a fake Ollama with counters ===

/// How many requests are under way at once, over every fake that shares it.
#[derive(Debug, Default)]
pub(crate) struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Gauge {
    /// The most requests that were under way at once.
    pub(crate) fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }

    fn enter(self: &Arc<Self>) -> GaugeGuard {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        GaugeGuard(Arc::clone(self))
    }
}

struct GaugeGuard(Arc<Gauge>);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a [`Fake`] serves and has been asked.
#[derive(Debug, Default)]
pub(crate) struct FakeState {
    models: Mutex<Vec<ModelEntry>>,
    counts: Mutex<HashMap<String, usize>>,
    delay: Mutex<Duration>,
    garbage_tags: AtomicBool,
    gauge: Option<Arc<Gauge>>,
}

/// A hand-written Ollama on `127.0.0.1:0`: `/api/version`, `/api/tags`,
/// `/api/show` and `/api/ps` from a model list the test changes, each
/// request counted per path and delayed by a settable time.
pub(crate) struct Fake {
    addr: SocketAddr,
    state: Arc<FakeState>,
    task: JoinHandle<()>,
}

impl Fake {
    /// A fake serving `models` (see [`model`]), optionally counting
    /// concurrent requests on a shared `gauge`.
    pub(crate) async fn start(models: Vec<ModelEntry>, gauge: Option<Arc<Gauge>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local address");
        let state =
            Arc::new(FakeState { models: Mutex::new(models), gauge, ..FakeState::default() });
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts every
            // connection, so nothing outlives the fake.
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                stream.set_nodelay(true).expect("nodelay");
                let state = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = service_fn(move |request| handle(Arc::clone(&state), request));
                    // A connection error only ends that connection.
                    let _ =
                        http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Self { addr, state, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests to `path` so far.
    pub(crate) fn count(&self, path: &str) -> usize {
        self.state.counts.lock().get(path).copied().unwrap_or(0)
    }

    /// Replaces the served models.
    pub(crate) fn set_models(&self, models: Vec<ModelEntry>) {
        *self.state.models.lock() = models;
    }

    /// Delays every answer by `delay`.
    pub(crate) fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock() = delay;
    }

    /// Answers `/api/tags` with a 200 whose body is not JSON.
    pub(crate) fn set_garbage_tags(&self, garbage: bool) {
        self.state.garbage_tags.store(garbage, Ordering::SeqCst);
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A `/api/tags` entry for `name` with `digest`; its context length is
/// only in `/api/show`'s `model_info` (8192), so the registry has it only
/// when discovery asked `/api/show`.
pub(crate) fn model(name: &str, digest: char) -> ModelEntry {
    ModelEntry {
        name: name.to_owned(),
        model: name.to_owned(),
        modified_at: "2025-05-04T17:37:44.706015396-07:00".to_owned(),
        size: 1000,
        digest: digest.to_string().repeat(64),
        details: ModelDetails {
            format: "gguf".to_owned(),
            family: "llama".to_owned(),
            families: Some(vec!["llama".to_owned()]),
            parameter_size: "1.2B".to_owned(),
            quantization_level: "Q4_K_M".to_owned(),
            ..ModelDetails::default()
        },
        capabilities: Some(vec!["completion".to_owned()]),
    }
}

async fn handle(
    state: Arc<FakeState>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    *state.counts.lock().entry(path.clone()).or_default() += 1;
    let _gauge = state.gauge.as_ref().map(Gauge::enter);
    let delay = *state.delay.lock();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let (status, text) = match path.as_str() {
        "/api/version" => (StatusCode::OK, json!({"version": "0.0.1-fake"}).to_string()),
        "/api/tags" if state.garbage_tags.load(Ordering::SeqCst) => {
            (StatusCode::OK, "<html>surprise</html>".to_owned())
        }
        "/api/tags" => {
            let list = ListResponse { models: state.models.lock().clone() };
            (StatusCode::OK, serde_json::to_string(&list).expect("serialisable"))
        }
        "/api/show" => show(&state, &body),
        "/api/ps" => (StatusCode::OK, json!({"models": []}).to_string()),
        _ => (StatusCode::NOT_FOUND, "404 page not found".to_owned()),
    };
    let response = Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .body(Full::new(Bytes::from(text)))
        .expect("a valid response");
    Ok(response)
}

fn show(state: &FakeState, body: &[u8]) -> (StatusCode, String) {
    let Ok(request) = serde_json::from_slice::<ShowRequest>(body) else {
        return (StatusCode::BAD_REQUEST, json!({"error": "bad request"}).to_string());
    };
    let target = request.target().to_owned();
    let models = state.models.lock();
    let Some(entry) = models.iter().find(|m| m.name == target) else {
        let message = format!("model '{target}' not found");
        return (StatusCode::NOT_FOUND, json!({"error": message}).to_string());
    };
    let show = ShowResponse {
        license: Some("a license nobody reads".to_owned()),
        details: entry.details.clone(),
        model_info: serde_json::from_value(json!({
            "general.architecture": "llama",
            "general.parameter_count": 1_235_814_432_u64,
            "llama.context_length": 8192
        }))
        .expect("a JSON object"),
        capabilities: entry.capabilities.clone(),
        ..ShowResponse::default()
    };
    (StatusCode::OK, serde_json::to_string(&show).expect("serialisable"))
}

// === endpoints that do not work ===

/// A port that answers every connection with bytes that are not HTTP.
pub(crate) struct Garbage {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Garbage {
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((mut stream, _)) = listener.accept().await else { return };
                stream.set_nodelay(true).expect("nodelay");
                connections.spawn(async move {
                    // Read the request, then answer like an SSH server
                    // would. Whatever happens to the peer, this side is done.
                    let mut request = [0_u8; 4096];
                    let _ = stream.read(&mut request).await;
                    let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\xff\xfe\r\n\r\n").await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self { addr, task }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Garbage {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port that accepts connections and never answers.
pub(crate) struct Silent {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Silent {
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            // Kept open (never read, never written) until the task ends.
            let mut held = Vec::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                held.push(stream);
            }
        });
        Self { addr, task }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An address on which nothing listens (bound, then released).
pub(crate) async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local address");
    drop(listener);
    format!("http://{addr}")
}
