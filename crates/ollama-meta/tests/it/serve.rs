//! `ollama-meta serve`: the gateway binary in front of a simulator, driven
//! by ollama-rs and raw HTTP, stopped with SIGTERM.

#![allow(clippy::unwrap_used, reason = "the setup helpers panic like the tests they serve")]

use std::process::Stdio;
use std::time::Duration;

use ollama_rs::Ollama;
use ollama_rs::generation::chat::ChatMessage;
use ollama_rs::generation::chat::request::ChatMessageRequest;
use om_sim::EndpointSpec;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_ollama-meta");

/// `ollama-meta serve` over `endpoint`, with a clean environment, and the
/// address it printed.
async fn serve(endpoint: &str, extra: &[&str]) -> (Child, String) {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("OLLAMA_") {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd
        .env_remove("RUST_LOG")
        .kill_on_drop(true)
        .args(["serve", "--listen", "127.0.0.1:0", "--endpoint", endpoint])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("serve printed its address in time")
        .unwrap()
        .expect("a line");
    let url = line.split("listening on ").nth(1).expect("a `listening on` line").trim();
    (child, url.trim_start_matches("http://").to_owned())
}

/// One raw HTTP/1.1 request; the whole reply.
async fn raw(addr: &str, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    reply
}

async fn sigterm(mut child: Child) {
    let pid = child.id().unwrap().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("serve stops on SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn serve_fronts_the_fleet_until_sigterm() {
    let sim = om_sim::spawn(EndpointSpec::default().with_tokens_per_sec(2_000.0));
    let (child, addr) = serve(&sim.url(), &[]).await;
    let port = addr.rsplit(':').next().unwrap().parse().unwrap();
    let ollama = Ollama::builder().host("http://127.0.0.1").port(port).build();
    let models = ollama.list_local_models().await.unwrap();
    assert!(models.iter().any(|m| m.name == "llama3.2:latest"));
    let answer = ollama
        .send_chat_messages(ChatMessageRequest::new(
            "llama3.2".to_owned(),
            vec![ChatMessage::user("hi".to_owned())],
        ))
        .await
        .unwrap();
    assert!(answer.done && !answer.message.content.is_empty());
    let reply = raw(&addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(reply.ends_with("Ollama is running"), "{reply}");
    sigterm(child).await;
    sim.stop().await;
}

#[tokio::test]
async fn serve_auth_token_flag() {
    let sim = om_sim::spawn(EndpointSpec::default());
    let (child, addr) = serve(&sim.url(), &["--auth-token", "s3cret"]).await;
    let refused =
        raw(&addr, "GET /api/tags HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    let allowed = raw(
        &addr,
        "GET /api/tags HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
    let health = raw(&addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    sigterm(child).await;
    sim.stop().await;
}
