//! A tiny HTTP/1 client over hyper's connection API: one connection per
//! request, frames kept as they arrive, and the connection droppable mid-body
//! to act as a client that goes away.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use om_sim::{EndpointSpec, SimHandle};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// A quick endpoint for tests: short load, fast tokens.
pub(crate) fn fast_spec() -> EndpointSpec {
    EndpointSpec::default()
        .with_load_time(Duration::from_millis(300))
        .with_ttft(Duration::from_millis(20))
        .with_tokens_per_sec(1000.0)
}

/// A whole response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    /// Body frames in arrival order.
    pub(crate) frames: Vec<Bytes>,
}

impl Reply {
    pub(crate) fn body(&self) -> Vec<u8> {
        self.frames.iter().flat_map(|f| f.iter().copied()).collect()
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.body()).expect("utf-8 body")
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// Every NDJSON line parsed.
    pub(crate) fn lines(&self) -> Vec<Value> {
        self.text().lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
    }

    pub(crate) fn content_type(&self) -> &str {
        self.headers.get(http::header::CONTENT_TYPE).map_or("", |v| v.to_str().unwrap())
    }
}

/// A response whose body is read frame by frame.
pub(crate) struct Streaming {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    body: Incoming,
    connection: JoinHandle<()>,
}

impl Streaming {
    /// The next body frame's data; `None` at the end; `Err` if the connection broke.
    pub(crate) async fn next(&mut self) -> Option<Result<Bytes, hyper::Error>> {
        loop {
            match self.body.frame().await? {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        return Some(Ok(data));
                    }
                }
                Err(err) => return Some(Err(err)),
            }
        }
    }

    /// Reads the rest of the body (panics if the connection breaks).
    pub(crate) async fn rest(mut self) -> Vec<Bytes> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next().await {
            frames.push(frame.expect("body frame"));
        }
        frames
    }

    /// Goes away: closes the connection without reading further.
    pub(crate) fn disconnect(self) {
        self.connection.abort();
        drop(self.body);
    }
}

/// Sends a request on a fresh connection and returns once the head arrived.
pub(crate) async fn open(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Option<&str>,
) -> Result<Streaming, hyper::Error> {
    let stream = TcpStream::connect(addr).await.expect("connect to the simulator");
    stream.set_nodelay(true).unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let connection = tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, addr.to_string())
        .body(Full::new(Bytes::from(body.unwrap_or_default().to_owned())))
        .unwrap();
    let response = sender.send_request(request).await?;
    let (parts, body) = response.into_parts();
    Ok(Streaming { status: parts.status, headers: parts.headers, body, connection })
}

/// Sends a request and reads the whole response.
pub(crate) async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Option<&str>,
) -> Reply {
    let streaming = open(addr, method, path, body).await.expect("a response");
    let (status, headers) = (streaming.status, streaming.headers.clone());
    Reply { status, headers, frames: streaming.rest().await }
}

pub(crate) async fn post(sim: &SimHandle, path: &str, body: &str) -> Reply {
    send(sim.addr(), Method::POST, path, Some(body)).await
}

pub(crate) async fn get(sim: &SimHandle, path: &str) -> Reply {
    send(sim.addr(), Method::GET, path, None).await
}

/// Names in `/api/ps`.
pub(crate) async fn loaded(sim: &SimHandle) -> Vec<String> {
    get(sim, "/api/ps").await.json()["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .collect()
}

/// A metric of a final chunk, in nanoseconds or tokens.
pub(crate) fn metric(chunk: &Value, name: &str) -> u64 {
    chunk[name].as_u64().unwrap_or_else(|| panic!("{name} missing in {chunk}"))
}
