//! Test support: scripted loopback HTTP servers that write exact bytes, a
//! virtual clock for paused-time tests, and builders for Ollama lines.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use om_client::{Client, HttpConfig, RetryPolicy, Timeouts};
use om_core::EndpointUrl;
use om_core::{BackoffPolicy, Jitter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio::task::{JoinHandle, JoinSet};

/// One request as the server read it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    /// The request line and headers, without the blank line.
    pub(crate) head: String,
    /// The body bytes.
    pub(crate) body: Vec<u8>,
}

impl Recorded {
    /// `GET /api/tags HTTP/1.1`.
    pub(crate) fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }

    /// The method and path.
    pub(crate) fn method_path(&self) -> (&str, &str) {
        let mut parts = self.request_line().split(' ');
        (parts.next().unwrap_or(""), parts.next().unwrap_or(""))
    }

    /// The first header named `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    /// How many headers are named `name`.
    pub(crate) fn header_count(&self, name: &str) -> usize {
        self.head
            .lines()
            .skip(1)
            .filter(|line| {
                line.split_once(':').is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            })
            .count()
    }

    /// The body as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// What the server does, in order, to answer one request.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// Write these bytes (one `write_all`, then flush).
    Write(Vec<u8>),
    /// Wait on the tokio clock (virtual under paused time).
    Sleep(Duration),
    /// Close the connection abruptly.
    Close,
    /// Never answer again.
    Hang,
    /// Read until the client closes the connection, then notify.
    AwaitClose(Arc<Notify>),
}

type Script = dyn Fn(usize, &Recorded) -> Vec<Step> + Send + Sync;

/// A loopback server that answers request number `n` (from 0) with
/// `script(n, &request)`, keeping connections alive between requests.
pub(crate) struct ScriptServer {
    addr: SocketAddr,
    requests: mpsc::UnboundedReceiver<Recorded>,
    served: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl ScriptServer {
    pub(crate) async fn start<F>(script: F) -> Self
    where
        F: Fn(usize, &Recorded) -> Vec<Step> + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let (tx, requests) = mpsc::unbounded_channel();
        let served = Arc::new(AtomicUsize::new(0));
        let script: Arc<Script> = Arc::new(script);
        let counter = served.clone();
        let task = tokio::spawn(async move {
            // Dropping the set (when the accept task is aborted) aborts every
            // connection task, so nothing outlives the server.
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                stream.set_nodelay(true).expect("nodelay");
                connections.spawn(serve(stream, script.clone(), tx.clone(), counter.clone()));
            }
        });
        Self { addr, requests, served, task }
    }

    pub(crate) fn url(&self) -> EndpointUrl {
        format!("http://{}", self.addr).parse().expect("loopback URL")
    }

    /// The next request the server read.
    pub(crate) async fn next_request(&mut self) -> Recorded {
        self.requests.recv().await.expect("server task alive")
    }

    /// How many requests were read so far.
    pub(crate) fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }
}

impl Drop for ScriptServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    script: Arc<Script>,
    tx: mpsc::UnboundedSender<Recorded>,
    served: Arc<AtomicUsize>,
) {
    let mut buf = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buf).await else { return };
        let n = served.fetch_add(1, Ordering::SeqCst);
        let steps = script(n, &request);
        let _ = tx.send(request);
        for step in steps {
            match step {
                Step::Write(bytes) => {
                    if stream.write_all(&bytes).await.is_err() || stream.flush().await.is_err() {
                        return;
                    }
                }
                Step::Sleep(d) => tokio::time::sleep(d).await,
                Step::Close => return,
                Step::Hang => std::future::pending::<()>().await,
                Step::AwaitClose(notify) => {
                    let mut sink = [0_u8; 1024];
                    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                    notify.notify_one();
                    return;
                }
            }
        }
    }
}

/// Reads one request (head plus `Content-Length` body); `None` at EOF.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Recorded> {
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let mut chunk = [0_u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut recorded = Recorded { head, body: Vec::new() };
    let len: usize = recorded.header("content-length").map_or(0, |v| v.parse().expect("length"));
    buf.drain(..head_end + 4);
    while buf.len() < len {
        let mut chunk = [0_u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    recorded.body = buf.drain(..len).collect();
    Some(recorded)
}

// === response bytes ===

fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Unknown")
}

/// A complete response with `Content-Length`.
pub(crate) fn response(
    status: u16,
    content_type: &str,
    extra_headers: &str,
    body: &str,
) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\n{extra_headers}Content-Length: {}\r\n\r\n{body}",
        reason(status),
        body.len()
    )
    .into_bytes()
}

/// A JSON response, as gin's `c.JSON` writes it (no trailing newline).
pub(crate) fn json(status: u16, body: &str) -> Vec<Step> {
    vec![Step::Write(response(status, "application/json; charset=utf-8", "", body))]
}

/// Ollama's error response: `{"error": message}` with `status`.
pub(crate) fn error(status: u16, message: &str) -> Vec<Step> {
    json(status, &serde_json::json!({ "error": message }).to_string())
}

/// The head of a chunked NDJSON stream.
pub(crate) fn ndjson_head() -> Step {
    Step::Write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec(),
    )
}

/// One chunk of a chunked body.
pub(crate) fn chunk(data: &[u8]) -> Step {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    Step::Write(out)
}

/// The end of a chunked body.
pub(crate) fn end_chunks() -> Step {
    Step::Write(b"0\r\n\r\n".to_vec())
}

/// A whole NDJSON stream: each line in its own chunk, as Ollama flushes.
pub(crate) fn ndjson(lines: &[String]) -> Vec<Step> {
    let mut steps = vec![ndjson_head()];
    steps.extend(lines.iter().map(|l| chunk(format!("{l}\n").as_bytes())));
    steps.push(end_chunks());
    steps
}

// === Ollama lines ===

/// A streamed chat chunk.
pub(crate) fn chat_line(content: &str) -> String {
    serde_json::json!({
        "model": "llama3.2", "created_at": "2025-10-26T17:21:21.196249Z",
        "message": {"role": "assistant", "content": content}, "done": false
    })
    .to_string()
}

/// The final chat chunk with all six metrics.
pub(crate) fn chat_final() -> String {
    serde_json::json!({
        "model": "llama3.2", "created_at": "2025-10-26T17:21:22.1Z",
        "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop",
        "total_duration": 4_883_583_458_u64, "load_duration": 1_334_875, "prompt_eval_count": 26,
        "prompt_eval_duration": 342_546_000, "eval_count": 3, "eval_duration": 4_535_599_000_u64
    })
    .to_string()
}

/// A streamed generate chunk.
pub(crate) fn generate_line(response: &str, done: bool) -> String {
    let mut v = serde_json::json!({
        "model": "llama3.2", "created_at": "2025-10-26T17:21:21.196249Z",
        "response": response, "done": done
    });
    if done {
        v["done_reason"] = "stop".into();
        v["context"] = serde_json::json!([1, 2, 3]);
        v["eval_count"] = 2.into();
    }
    v.to_string()
}

/// A full streamed chat answer: `tokens` then the final chunk.
pub(crate) fn chat_stream(tokens: &[&str]) -> Vec<Step> {
    let mut lines: Vec<String> = tokens.iter().map(|t| chat_line(t)).collect();
    lines.push(chat_final());
    ndjson(&lines)
}

// === clients ===

/// A client with no retries and no time limits (tests add what they need).
pub(crate) fn client(url: EndpointUrl) -> Client {
    Client::new(HttpConfig::default().build(), url)
        .with_timeouts(Timeouts::NONE)
        .with_retry(RetryPolicy::NEVER)
}

/// A retry policy without jitter: 100 ms, 200 ms, 400 ms, … capped at `max`.
pub(crate) fn retries(max_attempts: u32, max_backoff: Duration) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        backoff: BackoffPolicy {
            initial: Duration::from_millis(100),
            max: max_backoff,
            jitter: Jitter::None,
        },
    }
}

/// An address on which nothing listens (bound, then released).
pub(crate) async fn refused_url() -> EndpointUrl {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    format!("http://{addr}").parse().expect("loopback URL")
}

// === virtual time ===

/// Drives paused time in small steps while real loopback I/O settles.
///
/// Under `start_paused`, Tokio advances the clock to the next timer whenever
/// the runtime parks — and it parks to poll I/O, so a timer can fire in the
/// same turn that a socket becomes readable, before the reading task runs.
/// This ticker keeps a task always pending-yield, which stops auto-advance,
/// and instead advances the clock by `step` after many yields, each of which
/// polls the I/O driver; loopback data written in one yield is read in the
/// next. Timers therefore fire in order and I/O takes no virtual time.
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

/// Collects a stream into its items.
pub(crate) async fn collect<T>(mut stream: om_core::ChunkStream<T>) -> Vec<om_core::Result<T>> {
    use futures_util::StreamExt;
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        out.push(item);
    }
    out
}
