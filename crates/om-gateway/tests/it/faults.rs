//! The fault matrix at the gateway: every way an endpoint can fail, before
//! and after the first byte, through the Ollama and the `/v1` face, streamed
//! and not. A faulty endpoint (a raw TCP server, so that it can also reset
//! connections with `SO_LINGER` 0) sits beside a healthy simulator. Each
//! cell sends a few requests and asserts:
//!
//! - no task is lost: every request ends as a whole answer or a typed error;
//! - before the first byte a fault fails over: the answer is whole and
//!   comes from the healthy endpoint;
//! - after it, the answer ends with a typed error (an error line, an SSE
//!   error event) and is never spliced with another endpoint's output;
//! - the faulty instance's breaker afterwards (open after a fault, since
//!   the harness opens it at the first; closed after backpressure or a
//!   slow but good answer).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::StatusCode;
use om_sim::{EndpointSpec, Faults};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::support::{Answer, Harness, chat, fast, instance, json_reply, read_request};

/// The text the faulty endpoint writes before it fails.
const FAULTY: &str = "FAULTY";

/// One way an endpoint fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    /// It answered discovery, then stopped listening.
    Refused,
    /// A TCP reset before the response head.
    ResetBeforeHead,
    /// A TCP reset after the head and one line.
    ResetAfterFirstLine,
    /// A clean close after the head and one line.
    CloseAfterFirstLine,
    /// 500 with Ollama's error body.
    Status500,
    /// 503 with Ollama's busy body.
    Busy503,
    /// 404: it listed the model, and now has it no more.
    NotFound404,
    /// The request is read and never answered.
    HangBeforeHead,
    /// The head and one line, then silence.
    StallAfterFirstLine,
    /// One line, then a line that is not JSON.
    MalformedLine,
    /// One line, then `{"error": …}`.
    ErrorLine,
    /// A whole answer, late (within the first-byte limit).
    SlowStart,
}

impl Cell {
    const ALL: [Self; 12] = [
        Self::Refused,
        Self::ResetBeforeHead,
        Self::ResetAfterFirstLine,
        Self::CloseAfterFirstLine,
        Self::Status500,
        Self::Busy503,
        Self::NotFound404,
        Self::HangBeforeHead,
        Self::StallAfterFirstLine,
        Self::MalformedLine,
        Self::ErrorLine,
        Self::SlowStart,
    ];

    /// The fault strikes after the first line of a stream has gone out.
    fn after_first_byte(self) -> bool {
        matches!(
            self,
            Self::ResetAfterFirstLine
                | Self::CloseAfterFirstLine
                | Self::StallAfterFirstLine
                | Self::MalformedLine
                | Self::ErrorLine
        )
    }

    /// What the faulty instance's breaker says afterwards, once it served
    /// a request (the harness opens it at the first fault).
    fn breaker_after(self) -> &'static str {
        match self {
            Self::Busy503 | Self::SlowStart => "closed",
            _ => "open",
        }
    }
}

/// A faulty Ollama on a raw socket: discovery's calls answered properly,
/// `/api/chat` failing as its cell says.
struct FaultServer {
    addr: SocketAddr,
    chats: Arc<AtomicUsize>,
    stop: CancellationToken,
    accepting: Option<JoinHandle<()>>,
}

impl FaultServer {
    async fn start(cell: Cell) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let chats = Arc::new(AtomicUsize::new(0));
        let stop = CancellationToken::new();
        let accepting = tokio::spawn({
            let (chats, stop) = (Arc::clone(&chats), stop.clone());
            async move {
                loop {
                    let stream = tokio::select! {
                        () = stop.cancelled() => return,
                        accepted = listener.accept() => match accepted {
                            Ok((stream, _)) => stream,
                            Err(_) => continue,
                        },
                    };
                    let (chats, stop) = (Arc::clone(&chats), stop.clone());
                    tokio::spawn(async move {
                        tokio::select! {
                            () = stop.cancelled() => {}
                            () = serve(stream, cell, &chats) => {}
                        }
                    });
                }
            }
        });
        Self { addr, chats, stop, accepting: Some(accepting) }
    }

    /// Stops listening: new connections are refused.
    async fn close(&mut self) {
        self.stop.cancel();
        if let Some(accepting) = self.accepting.take() {
            accepting.await.expect("the accept loop ends");
        }
    }
}

/// One request on `stream`, answered and closed.
async fn serve(mut stream: TcpStream, cell: Cell, chats: &AtomicUsize) {
    let Some((head, body)) = read_request(&mut stream).await else { return };
    let path = head.split_whitespace().nth(1).unwrap_or_default().to_owned();
    let reply = match path.as_str() {
        "/api/version" => json_reply(200, r#"{"version":"0.12.6"}"#),
        "/api/tags" => json_reply(
            200,
            r#"{"models":[{"name":"llama3.2:latest","model":"llama3.2:latest","modified_at":"2025-01-01T00:00:00Z","size":2000000000,"digest":"f1","details":{"format":"gguf","family":"llama","parameter_size":"3.2B","quantization_level":"Q4_K_M"}}]}"#,
        ),
        "/api/show" => json_reply(
            200,
            r#"{"details":{"format":"gguf","family":"llama","parameter_size":"3.2B","quantization_level":"Q4_K_M"},"model_info":{"llama.context_length":8192},"capabilities":["completion"]}"#,
        ),
        "/api/ps" => json_reply(200, r#"{"models":[]}"#),
        "/api/chat" => {
            chats.fetch_add(1, Ordering::Relaxed);
            let streaming = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|b| b.get("stream").and_then(serde_json::Value::as_bool))
                .unwrap_or(true);
            return chat_fault(stream, cell, streaming).await;
        }
        _ => json_reply(404, "404 page not found"),
    };
    let _ = stream.write_all(reply.as_bytes()).await;
}

async fn chat_fault(mut stream: TcpStream, cell: Cell, streaming: bool) {
    let first = line(FAULTY, false);
    let head = if streaming {
        "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    } else {
        "HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    };
    // A non-streamed answer is one object: what it sends first is half of
    // it, so nothing whole ever reaches the gateway.
    let opening = if streaming { first.clone() } else { first[..first.len() / 2].to_owned() };
    match cell {
        Cell::Refused | Cell::ResetBeforeHead => reset(stream),
        Cell::Status500 => {
            let _ = stream.write_all(json_reply(500, r#"{"error":"boom"}"#).as_bytes()).await;
        }
        Cell::Busy503 => {
            let busy =
                r#"{"error":"server busy, please try again.  maximum pending requests exceeded"}"#;
            let _ = stream.write_all(json_reply(503, busy).as_bytes()).await;
        }
        Cell::NotFound404 => {
            let gone = r#"{"error":"model 'llama3.2' not found"}"#;
            let _ = stream.write_all(json_reply(404, gone).as_bytes()).await;
        }
        Cell::HangBeforeHead => std::future::pending().await,
        Cell::ResetAfterFirstLine | Cell::CloseAfterFirstLine | Cell::StallAfterFirstLine => {
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(chunk(&opening).as_bytes()).await;
            let _ = stream.flush().await;
            match cell {
                Cell::ResetAfterFirstLine => reset(stream),
                Cell::StallAfterFirstLine => std::future::pending().await,
                _ => drop(stream),
            }
        }
        Cell::MalformedLine | Cell::ErrorLine => {
            let broken = if cell == Cell::MalformedLine {
                "this is not json\n".to_owned()
            } else {
                "{\"error\":\"simulated failure\"}\n".to_owned()
            };
            let _ = stream.write_all(head.as_bytes()).await;
            if streaming {
                let _ = stream.write_all(chunk(&first).as_bytes()).await;
                let _ = stream.write_all(chunk(&broken).as_bytes()).await;
                let _ = stream.write_all(chunk(&line("", true)).as_bytes()).await;
            } else {
                let _ = stream.write_all(chunk(broken.trim_end()).as_bytes()).await;
            }
            let _ = stream.write_all(b"0\r\n\r\n").await;
        }
        Cell::SlowStart => {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let _ = stream.write_all(head.as_bytes()).await;
            if streaming {
                let _ = stream.write_all(chunk(&line("SLOW", false)).as_bytes()).await;
                let _ = stream.write_all(chunk(&line("", true)).as_bytes()).await;
            } else {
                let _ = stream.write_all(chunk(line("SLOW", true).trim_end()).as_bytes()).await;
            }
            let _ = stream.write_all(b"0\r\n\r\n").await;
        }
    }
}

/// Closes with a TCP reset (`SO_LINGER` 0), not a clean FIN.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// A native chat line with this content.
fn line(content: &str, done: bool) -> String {
    let mut value = serde_json::json!({
        "model": "llama3.2",
        "created_at": "2025-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": content},
        "done": done,
    });
    if done {
        value["done_reason"] = "stop".into();
        value["eval_count"] = 1.into();
        value["eval_duration"] = 1_000_000.into();
        value["total_duration"] = 2_000_000.into();
    }
    format!("{value}\n")
}

fn chunk(data: &str) -> String {
    format!("{:x}\r\n{data}\r\n", data.len())
}

/// The two faces a client uses.
#[derive(Debug, Clone, Copy)]
enum Face {
    Ollama,
    OpenAi,
}

/// How one request ended, as its client saw it.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// A whole answer; `faulty` when the faulty endpoint's text is in it.
    Whole { faulty: bool },
    /// Output, then a typed error ending it.
    Broken,
    /// A typed error before any output.
    Refused,
}

async fn ask(harness: &Harness, face: Face, stream: bool) -> Seen {
    let http = harness.client();
    let answer = match face {
        Face::Ollama => http.post("/api/chat", &chat("llama3.2", stream, 4)).await,
        Face::OpenAi => {
            let body = serde_json::json!({
                "model": "llama3.2",
                "messages": [{"role": "user", "content": "why?"}],
                "stream": stream,
                "max_tokens": 4,
            });
            http.post("/v1/chat/completions", &body).await
        }
    };
    classify(&answer, face, stream)
}

/// What a client got, checked for the matrix's rules: a typed error has a
/// body in the face's shape (and a `Retry-After` when it is a 503), and an
/// answer with the faulty endpoint's text in it has nothing after that text
/// but the error.
fn classify(answer: &Answer, face: Face, stream: bool) -> Seen {
    let text = answer.text();
    if answer.status != StatusCode::OK {
        let body = answer.json();
        match face {
            Face::Ollama => assert!(body["error"].is_string(), "{text}"),
            Face::OpenAi => assert!(body["error"]["message"].is_string(), "{text}"),
        }
        if answer.status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(answer.header("retry-after").is_some(), "a 503 says when to come back");
        }
        return Seen::Refused;
    }
    let faulty = text.contains(FAULTY);
    match (face, stream) {
        (Face::Ollama, true) => {
            let lines = answer.lines();
            let last = lines.last().expect("at least one line");
            if let Some(at) = lines.iter().position(|l| l.to_string().contains(FAULTY)) {
                let after = &lines[at + 1..];
                assert!(
                    after.len() == 1 && after[0]["error"].is_string(),
                    "nothing but the error may follow the faulty output: {text}"
                );
            }
            if last["error"].is_string() {
                Seen::Broken
            } else {
                assert_eq!(last["done"], true, "{text}");
                assert!(lines.iter().all(|l| l.get("error").is_none()), "{text}");
                Seen::Whole { faulty }
            }
        }
        (Face::Ollama, false) => {
            let body = answer.json();
            assert_eq!(body["done"], true, "a 200 is a whole answer: {text}");
            Seen::Whole { faulty }
        }
        (Face::OpenAi, true) => {
            let events: Vec<&str> = text.split("\n\n").filter(|e| !e.trim().is_empty()).collect();
            let last = events.last().expect("at least one event");
            if let Some(at) = events.iter().position(|e| e.contains(FAULTY)) {
                let after = &events[at + 1..];
                assert!(
                    after.len() == 1 && after[0].contains("\"error\""),
                    "nothing but the error may follow the faulty output: {text}"
                );
            }
            if last.contains("\"error\"") {
                Seen::Broken
            } else {
                assert!(text.contains("data: [DONE]"), "{text}");
                Seen::Whole { faulty }
            }
        }
        (Face::OpenAi, false) => {
            let body = answer.json();
            assert!(body["choices"][0]["message"].is_object(), "a 200 is a whole answer: {text}");
            Seen::Whole { faulty }
        }
    }
}

/// A gateway over the healthy simulator `a` and the faulty endpoint, with
/// short upstream limits and a breaker that opens at the first fault.
async fn harness(faulty: SocketAddr) -> Harness {
    Harness::start_with(vec![fast()], |config, _| {
        let mut endpoint =
            om_config::Endpoint::new(format!("http://{faulty}").parse().expect("a URL"));
        endpoint.name = om_core::EndpointId::new("faulty");
        config.endpoints.push(endpoint);
        config.timeouts.first_byte = Duration::from_millis(600);
        config.timeouts.idle = Duration::from_millis(600);
        config.breaker.failure_threshold = 1;
        config.routing.cooldown = Duration::from_millis(50);
    })
    .await
}

/// Requests per cell and variant: round-robin sends one of the first two to
/// the faulty endpoint.
const REQUESTS: usize = 3;

async fn run_cell(cell: Cell, face: Face, stream: bool) {
    let mut server = FaultServer::start(cell).await;
    let harness = harness(server.addr).await;
    if cell == Cell::Refused {
        server.close().await;
    }
    let mut seen = Vec::new();
    for _ in 0..REQUESTS {
        seen.push(ask(&harness, face, stream).await);
    }
    let variant = format!("{cell:?} via {face:?}, stream {stream}: {seen:?}");
    if cell.after_first_byte() && stream {
        assert!(seen.contains(&Seen::Broken), "the fault reached a client: {variant}");
        assert!(
            seen.iter().all(|s| matches!(s, Seen::Broken | Seen::Whole { faulty: false })),
            "{variant}"
        );
    } else {
        // Before the first byte (for an answer that does not stream, that
        // is all of it) every fault fails over.
        assert!(
            seen.iter().all(|s| matches!(s, Seen::Whole { .. })),
            "every request failed over to a whole answer: {variant}"
        );
        if cell != Cell::SlowStart {
            assert!(seen.iter().all(|s| *s == Seen::Whole { faulty: false }), "{variant}");
        }
    }
    if cell != Cell::Refused {
        assert!(
            server.chats.load(Ordering::Relaxed) >= 1,
            "the faulty endpoint was tried: {variant}"
        );
    }
    let status = harness.client().get("/api/meta/status").await.json();
    let breaker = &instance(&status, "faulty", "llama3.2:latest")["breaker"];
    assert_eq!(breaker, cell.breaker_after(), "{variant}");
    harness.stop().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_before_or_after_the_first_byte_through_both_faces() {
    for cell in Cell::ALL {
        for face in [Face::Ollama, Face::OpenAi] {
            for stream in [true, false] {
                run_cell(cell, face, stream).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_endpoint_loses_no_request() {
    let flapping = fast().with_faults(
        Faults::default().with_flapping(Duration::from_millis(100), Duration::from_millis(250)),
    );
    let harness = Harness::start(vec![fast(), flapping]).await;
    for i in 0..12 {
        let face = if i % 2 == 0 { Face::Ollama } else { Face::OpenAi };
        let seen = ask(&harness, face, i % 3 == 0).await;
        assert!(matches!(seen, Seen::Whole { .. }), "request {i}: {seen:?}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_endpoint_down_each_request_is_a_typed_503() {
    let mut harness = Harness::start(vec![fast(), EndpointSpec::default()]).await;
    harness.kill(0).await;
    harness.kill(1).await;
    for face in [Face::Ollama, Face::OpenAi] {
        for stream in [true, false] {
            assert_eq!(ask(&harness, face, stream).await, Seen::Refused);
        }
    }
    harness.stop().await;
}
