//! Round trips through om-client against om-sim on loopback, next to a raw
//! om-http request for the same body on the same pool: the ratio is the
//! client's own overhead (timers, header building, error mapping, NDJSON
//! framing).
//!
//! Two servers, each benchmarked both ways:
//!
//! - `roundtrip_sim`: om-sim with no load time, no time to first token and
//!   an unbounded token rate. It still sleeps for its (zero) prompt
//!   evaluation, and a Tokio timer rounds that up to the next millisecond
//!   tick, so about 1 ms of every call is the simulator's.
//! - `roundtrip_canned`: a loopback server that answers every request at once
//!   with fixed Ollama bytes, so only the network path and the client remain.
//!
//! Both sides decode the response into the same wire types.
//!
//! Run with: `cargo bench -p om-client --bench roundtrip`.
#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use futures_util::StreamExt;
use http::{Method, Request, header};
use http_body_util::BodyExt;
use om_client::{Client, HttpClient, HttpConfig, USER_AGENT_VALUE};
use om_core::wire::{
    ChatRequest, ChatResponse, GenerateRequest, GenerateResponse, Message, Options, Role,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

fn chat_request(tokens: i64, stream: bool) -> ChatRequest {
    ChatRequest {
        options: Some(Options::default().with("num_predict", tokens)),
        stream: Some(stream),
        ..ChatRequest::new("llama3.2", vec![Message::new(Role::User, "Why is the sky blue?")])
    }
}

fn generate_request(tokens: i64) -> GenerateRequest {
    GenerateRequest {
        options: Some(Options::default().with("num_predict", tokens)),
        stream: Some(false),
        ..GenerateRequest::new("llama3.2", "Why is the sky blue?")
    }
}

/// A plain om-http POST of `body` to `url`, the whole body collected.
async fn raw_post<B: Serialize>(http: &HttpClient, url: &str, body: &B, accept: &str) -> Bytes {
    let json = serde_json::to_vec(body).expect("serialisable body");
    let request = Request::builder()
        .method(Method::POST)
        .uri(url)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, accept)
        .header(header::USER_AGENT, USER_AGENT_VALUE)
        .body(Bytes::from(json))
        .expect("a valid request");
    let connection = http.connect(request.uri()).await.expect("a connection");
    let response = connection.send(request).await.expect("a response");
    assert!(response.status().is_success());
    response.into_body().collect().await.expect("a whole body").to_bytes()
}

async fn raw_once<B: Serialize, T: DeserializeOwned>(http: &HttpClient, url: &str, body: &B) -> T {
    let bytes = raw_post(http, url, body, "application/json").await;
    serde_json::from_slice(&bytes).expect("a JSON object")
}

async fn raw_stream(http: &HttpClient, url: &str, body: &ChatRequest) -> usize {
    let bytes = raw_post(http, url, body, "application/x-ndjson").await;
    let mut count = 0;
    for line in bytes.split(|b| *b == b'\n').filter(|line| !line.is_empty()) {
        black_box(serde_json::from_slice::<ChatResponse>(line).expect("a chat chunk"));
        count += 1;
    }
    count
}

/// The six measurements against the server at `base`.
fn bench_server(group: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, base: &str) {
    let http = HttpConfig::default().build();
    let client = Client::new(http.clone(), base.parse().expect("server URL"));
    // Warm the model and the pool.
    rt.block_on(async { client.chat_once(chat_request(1, false)).await.expect("warm-up") });

    let generate = generate_request(4);
    group.bench_function("generate_once/om_client", |b| {
        b.iter(|| {
            rt.block_on(async {
                black_box(client.generate_once(generate.clone()).await.expect("ok"))
            })
        });
    });
    let url = format!("{base}/api/generate");
    group.bench_function("generate_once/raw_http", |b| {
        b.iter(|| {
            rt.block_on(async {
                black_box(raw_once::<_, GenerateResponse>(&http, &url, &generate).await)
            })
        });
    });

    let chat = chat_request(4, false);
    group.bench_function("chat_once/om_client", |b| {
        b.iter(|| {
            rt.block_on(async { black_box(client.chat_once(chat.clone()).await.expect("ok")) })
        });
    });
    let url = format!("{base}/api/chat");
    group.bench_function("chat_once/raw_http", |b| {
        b.iter(|| {
            rt.block_on(async { black_box(raw_once::<_, ChatResponse>(&http, &url, &chat).await) })
        });
    });

    let streaming = chat_request(8, true);
    group.bench_function("chat_stream_8_tokens/om_client", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut chunks = client.chat(streaming.clone()).await.expect("ok");
                let mut count = 0_usize;
                while let Some(chunk) = chunks.next().await {
                    black_box(chunk.expect("a chunk"));
                    count += 1;
                }
                count
            })
        });
    });
    group.bench_function("chat_stream_8_tokens/raw_http", |b| {
        b.iter(|| rt.block_on(async { black_box(raw_stream(&http, &url, &streaming).await) }));
    });
}

fn bench_sim(c: &mut Criterion) {
    let rt = runtime();
    let spec = om_sim::EndpointSpec::default()
        .with_load_time(Duration::ZERO)
        .with_ttft(Duration::ZERO)
        .with_tokens_per_sec(f64::INFINITY);
    let sim = rt.block_on(async { om_sim::spawn(spec) });
    let mut group = c.benchmark_group("roundtrip_sim");
    bench_server(&mut group, &rt, &sim.url());
    group.finish();
    rt.block_on(sim.stop());
}

fn bench_canned(c: &mut Criterion) {
    let rt = runtime();
    let (addr, server) = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        (addr, tokio::spawn(canned_server(listener)))
    });
    let mut group = c.benchmark_group("roundtrip_canned");
    bench_server(&mut group, &rt, &format!("http://{addr}"));
    group.finish();
    server.abort();
}

// === the canned server ===

fn canned_chat_stream() -> Vec<u8> {
    let mut body = Vec::new();
    for i in 0..8 {
        let line = format!(
            "{{\"model\":\"llama3.2\",\"created_at\":\"2025-10-26T17:21:21.{i}Z\",\"message\":{{\"role\":\"assistant\",\"content\":\" word{i}\"}},\"done\":false}}\n"
        );
        body.extend_from_slice(format!("{:x}\r\n", line.len()).as_bytes());
        body.extend_from_slice(line.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    let last = format!("{CHAT_DONE}\n");
    body.extend_from_slice(format!("{:x}\r\n{last}\r\n0\r\n\r\n", last.len()).as_bytes());
    let mut out = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    out.extend_from_slice(&body);
    out
}

const CHAT_DONE: &str = r#"{"model":"llama3.2","created_at":"2025-10-26T17:21:22Z","message":{"role":"assistant","content":" word0 word1 word2 word3"},"done":true,"done_reason":"length","total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":4,"eval_duration":4535599000}"#;
const GENERATE_DONE: &str = r#"{"model":"llama3.2","created_at":"2025-10-26T17:21:22Z","response":" word0 word1 word2 word3","done":true,"done_reason":"length","context":[1,2,3],"total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":4,"eval_duration":4535599000}"#;

fn canned_json(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers every request at once: generate and non-streaming chat with one
/// object, streaming chat with eight chunks and the final one.
async fn canned_server(listener: TcpListener) {
    let replies = [canned_json(GENERATE_DONE), canned_json(CHAT_DONE), canned_chat_stream()];
    let replies = std::sync::Arc::new(replies);
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        stream.set_nodelay(true).expect("nodelay");
        connections.spawn(canned_connection(stream, replies.clone()));
    }
}

async fn canned_connection(mut stream: TcpStream, replies: std::sync::Arc<[Vec<u8>; 3]>) {
    let mut buf = Vec::with_capacity(8192);
    loop {
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0_u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().expect("a length"));
        while buf.len() < head_end + len {
            let mut chunk = [0_u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = &buf[head_end..head_end + len];
        let reply = if head.starts_with("post /api/generate") {
            &replies[0]
        } else if body.windows(13).any(|w| w == b"\"stream\":true") {
            &replies[2]
        } else {
            &replies[1]
        };
        if stream.write_all(reply).await.is_err() {
            return;
        }
        buf.drain(..head_end + len);
    }
}

criterion_group!(benches, bench_canned, bench_sim);
criterion_main!(benches);
