//! A gateway in front of simulated endpoints, and a small HTTP client that
//! shows every byte the gateway sends.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use om_gateway::{Gateway, Settings};
use om_orchestrator::Fleet;
use om_sim::{EndpointSpec, SimHandle};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A fast simulator: answers start after 2 ms and stream at 2,000
/// tokens per second.
pub(crate) fn fast() -> EndpointSpec {
    EndpointSpec::default()
        .with_tokens_per_sec(2_000.0)
        .with_ttft(Duration::from_millis(2))
        .with_load_time(Duration::from_millis(5))
        .with_num_parallel(4)
}

/// A gateway over simulators named `a`, `b`, … with round-robin routing,
/// and everything that keeps it running.
pub(crate) struct Harness {
    pub(crate) url: String,
    pub(crate) addr: SocketAddr,
    pub(crate) sims: Vec<Option<SimHandle>>,
    shutdown: CancellationToken,
    gateway: Option<JoinHandle<()>>,
    workers: Option<JoinHandle<()>>,
}

impl Harness {
    /// Simulators with these specs and a gateway with default settings.
    pub(crate) async fn start(specs: Vec<EndpointSpec>) -> Self {
        Self::start_with(specs, |_, _| {}).await
    }

    /// As [`start`](Self::start), after `tweak` has changed the fleet's
    /// configuration and the gateway's settings.
    pub(crate) async fn start_with(
        specs: Vec<EndpointSpec>,
        tweak: impl FnOnce(&mut om_config::Config, &mut Settings),
    ) -> Self {
        let mut sims = Vec::new();
        let mut config = om_config::Config::default();
        config.endpoints.clear();
        for (i, spec) in specs.into_iter().enumerate() {
            let name = ((b'a' + i as u8) as char).to_string();
            let sim = om_sim::spawn(spec.with_name(name.clone()));
            let mut endpoint = om_config::Endpoint::new(sim.url().parse().expect("sim URL"));
            endpoint.name = om_core::EndpointId::new(name);
            config.endpoints.push(endpoint);
            sims.push(Some(sim));
        }
        "round_robin".clone_into(&mut config.routing.strategy);
        config.orchestrator.endpoint_concurrency = NonZeroUsize::new(4).expect("non-zero");
        config.retry.initial_backoff = Duration::from_millis(5);
        config.retry.max_backoff = Duration::from_millis(20);
        config.timeouts.first_byte = Duration::from_secs(5);
        config.timeouts.idle = Duration::from_secs(5);
        let mut settings = Settings {
            listen: "127.0.0.1:0".parse().expect("address"),
            shutdown_grace: Duration::from_secs(5),
            ..Settings::default()
        };
        tweak(&mut config, &mut settings);
        let (fleet, workers) = Fleet::from_config(&config).expect("fleet");
        workers.probe_all().await;
        let shutdown = CancellationToken::new();
        let workers = tokio::spawn(workers.run(shutdown.clone()));
        let gateway = Gateway::bind(fleet, settings).await.expect("bind");
        let addr = gateway.local_addr();
        let gateway = tokio::spawn(gateway.run(shutdown.clone()));
        Self {
            url: format!("http://{addr}"),
            addr,
            sims,
            shutdown,
            gateway: Some(gateway),
            workers: Some(workers),
        }
    }

    /// Stops simulator number `i` (its port then refuses connections).
    pub(crate) async fn kill(&mut self, i: usize) {
        if let Some(sim) = self.sims[i].take() {
            sim.stop().await;
        }
    }

    /// Asks the gateway to shut down, without waiting.
    pub(crate) fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits for the gateway task to end.
    pub(crate) async fn gateway_stopped(&mut self) {
        if let Some(gateway) = self.gateway.take() {
            gateway.await.expect("gateway task");
        }
    }

    /// Stops the gateway, its workers and the simulators.
    pub(crate) async fn stop(mut self) {
        self.shutdown.cancel();
        self.gateway_stopped().await;
        if let Some(workers) = self.workers.take() {
            workers.await.expect("workers task");
        }
        for sim in self.sims.drain(..).flatten() {
            sim.stop().await;
        }
    }

    /// An HTTP client for the gateway.
    pub(crate) fn client(&self) -> Http {
        Http::new(&self.url)
    }
}

/// A plain HTTP/1.1 client.
#[derive(Clone)]
pub(crate) struct Http {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    /// A client for the server at `base` (`http://…`).
    pub(crate) fn new(base: &str) -> Self {
        Self { base: base.to_owned(), client: Client::builder(TokioExecutor::new()).build_http() }
    }
}

/// A whole response.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Answer {
    pub(crate) fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The NDJSON lines of the body, parsed.
    pub(crate) fn lines(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

impl Http {
    /// Sends a request and returns the response head with its body still
    /// streaming.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Response<Incoming> {
        let mut request = Request::builder().method(method).uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(body.into())).expect("request");
        self.client.request(request).await.expect("the gateway answers")
    }

    /// Sends a request and reads the whole response.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        let response = self.send(method, path, headers, body).await;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("a whole body").to_bytes();
        Answer { status: parts.status, headers: parts.headers, body }
    }

    pub(crate) async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, &[], Bytes::new()).await
    }

    pub(crate) async fn post(&self, path: &str, body: &serde_json::Value) -> Answer {
        let headers = [("content-type", "application/json")];
        self.call(Method::POST, path, &headers, body.to_string()).await
    }
}

/// The next data frame of a streaming body; `None` at its end.
pub(crate) async fn next_frame(body: &mut Incoming) -> Option<Bytes> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("the stream does not hang")?
            .expect("the body reads");
        if let Ok(data) = frame.into_data() {
            return Some(data);
        }
    }
}

/// A chat request body.
pub(crate) fn chat(model: &str, stream: bool, tokens: u64) -> serde_json::Value {
    serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": "why is the sky blue?"}],
        "stream": stream,
        "options": {"num_predict": tokens},
    })
}

/// The `/api/meta/status` instance entry of `model` on `endpoint`.
pub(crate) fn instance<'a>(
    status: &'a serde_json::Value,
    endpoint: &str,
    model: &str,
) -> &'a serde_json::Value {
    let endpoint = status["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .find(|e| e["name"] == endpoint)
        .expect("the endpoint is listed");
    endpoint["models"]
        .as_array()
        .expect("models")
        .iter()
        .find(|m| m["name"] == model)
        .expect("the model is listed")
}

/// A whole JSON answer that closes the connection.
pub(crate) fn json_reply(status: u16, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The request head and body, or `None` when the peer went away.
pub(crate) async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut piece = [0_u8; 4096];
    let end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut piece).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&piece[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0_usize);
    let mut body = buffer[end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut piece).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&piece[..n]);
    }
    Some((head, body))
}
