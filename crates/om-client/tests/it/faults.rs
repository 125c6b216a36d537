//! Broken streams and broken servers, written byte for byte.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use om_core::ErrorKind;
use om_core::wire::{ChatRequest, GenerateRequest};
use serde_json::json;
use tokio::sync::Notify;

use crate::support::{
    ScriptServer, Step, chat_final, chat_line, chunk, client, collect, end_chunks, ndjson_head,
    refused_url, response,
};

fn chat() -> ChatRequest {
    ChatRequest::new("llama3.2", vec![])
}

#[tokio::test]
async fn disconnect_mid_stream_is_disconnected_and_partial() {
    let server = ScriptServer::start(|_, _| {
        vec![
            ndjson_head(),
            chunk(format!("{}\n", chat_line("a")).as_bytes()),
            chunk(format!("{}\n", chat_line("b")).as_bytes()),
            Step::Close,
        ]
    })
    .await;
    let items = collect(client(server.url()).chat(chat()).await.unwrap()).await;
    assert_eq!(items.len(), 3);
    assert_eq!(items[1].as_ref().unwrap().message.content, "b");
    let err = items[2].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected);
    assert!(err.is_partial());
    assert!(err.is_retryable());
    assert_eq!(err.model(), Some("llama3.2"));
    assert_eq!(server.served(), 1, "never retried after the first byte");
}

#[tokio::test]
async fn disconnect_before_any_line_is_not_partial() {
    let server = ScriptServer::start(|_, _| vec![ndjson_head(), Step::Close]).await;
    let items = collect(client(server.url()).chat(chat()).await.unwrap()).await;
    let err = items[0].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected);
    assert!(!err.is_partial());
}

#[tokio::test]
async fn close_before_the_head_is_disconnected() {
    let server = ScriptServer::start(|_, _| vec![Step::Close]).await;
    let err = client(server.url()).version().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected);
    assert!(err.message().contains("before the response head"), "{}", err.message());
}

#[tokio::test]
async fn malformed_line_is_a_protocol_error() {
    let server = ScriptServer::start(|_, _| {
        let mut steps = vec![ndjson_head(), chunk(format!("{}\n", chat_line("a")).as_bytes())];
        steps.push(chunk(
            b"{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"b\"\n",
        ));
        steps.push(chunk(format!("{}\n", chat_final()).as_bytes()));
        steps.push(end_chunks());
        steps
    })
    .await;
    let items = collect(client(server.url()).chat(chat()).await.unwrap()).await;
    assert_eq!(items.len(), 2, "the stream ends at the bad line");
    let err = items[1].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(err.is_partial());
    assert!(err.message().contains("{\\\"model\\\":\\\"llama3.2\\\""), "{}", err.message());
}

#[tokio::test]
async fn error_line_mid_stream_carries_ollamas_message() {
    let message = "an error was encountered while running the model: unexpected EOF";
    let server = ScriptServer::start(move |_, _| {
        let mut steps = vec![ndjson_head(), chunk(format!("{}\n", chat_line("a")).as_bytes())];
        steps.push(chunk(format!("{}\n", json!({ "error": message })).as_bytes()));
        steps.push(end_chunks());
        steps
    })
    .await;
    let items = collect(client(server.url()).chat(chat()).await.unwrap()).await;
    assert_eq!(items.len(), 2);
    let err = items[1].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Stream);
    assert_eq!(err.message(), message);
    assert!(err.is_partial());
    assert_eq!(err.http_status(), 500);
}

#[tokio::test]
async fn error_line_first_is_not_partial() {
    let server = ScriptServer::start(|_, _| {
        vec![
            ndjson_head(),
            chunk(b"{\"error\":\"pull model manifest: file does not exist\"}\n"),
            end_chunks(),
        ]
    })
    .await;
    let pull = om_core::wire::PullRequest { model: Some("nope".to_owned()), ..Default::default() };
    let items = collect(client(server.url()).pull(pull).await.unwrap()).await;
    let err = items[0].as_ref().unwrap_err();
    assert_eq!(
        (err.kind(), err.message()),
        (ErrorKind::Stream, "pull model manifest: file does not exist")
    );
    assert!(!err.is_partial());
    assert_eq!(err.model(), Some("nope"));
}

#[tokio::test]
async fn clean_end_without_final_chunk_is_disconnected() {
    let server = ScriptServer::start(|_, _| {
        vec![ndjson_head(), chunk(format!("{}\n", chat_line("a")).as_bytes()), end_chunks()]
    })
    .await;
    let items = collect(client(server.url()).chat(chat()).await.unwrap()).await;
    let err = items[1].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected);
    assert!(err.message().contains("before its final chunk"), "{}", err.message());
    assert!(err.is_partial());
}

#[tokio::test]
async fn byte_by_byte_writes_and_many_lines_per_write_decode_the_same() {
    let lines = [chat_line("one"), chat_line(" two"), chat_final()];
    let body: String = lines.iter().flat_map(|l| [l.as_str(), "\r\n\n"]).collect();
    let server = ScriptServer::start(move |n, _| {
        let mut steps = vec![ndjson_head()];
        if n == 0 {
            // One chunk per byte, each its own TCP write.
            steps.extend(body.bytes().map(|b| chunk(&[b])));
        } else {
            // Everything in one chunk.
            steps.push(chunk(body.as_bytes()));
        }
        steps.push(end_chunks());
        steps
    })
    .await;
    let client = client(server.url());
    for _ in 0..2 {
        let items = collect(client.chat(chat()).await.unwrap()).await;
        let text: String =
            items.iter().map(|i| i.as_ref().unwrap().message.content.clone()).collect();
        assert_eq!(text, "one two");
        assert!(items[2].as_ref().unwrap().done);
    }
}

#[tokio::test]
async fn single_object_without_newline_ends_a_stream() {
    // The load-only shortcut: one application/json object even though the
    // request streams, with no trailing newline (gin's c.JSON).
    let body = r#"{"model":"llama3.2","created_at":"2025-10-26T17:21:21Z","response":"","done":true,"done_reason":"load"}"#;
    let server = ScriptServer::start(move |_, _| {
        vec![Step::Write(response(200, "application/json; charset=utf-8", "", body))]
    })
    .await;
    let items =
        collect(client(server.url()).generate(GenerateRequest::new("llama3.2", "")).await.unwrap())
            .await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].as_ref().unwrap().done_reason.as_deref(), Some("load"));
}

#[tokio::test]
async fn connect_refused_is_a_connect_error() {
    let url = refused_url().await;
    let err = client(url.clone()).version().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect);
    assert!(err.is_connect());
    assert_eq!(err.http_status(), 502);
    assert_eq!(err.endpoint(), Some(url.to_string().as_str()));
    assert!(std::error::Error::source(&err).is_some(), "the hyper-util cause is kept");
}

#[tokio::test]
async fn dropping_a_stream_closes_the_connection() {
    let closed = Arc::new(Notify::new());
    let notify = closed.clone();
    let server = ScriptServer::start(move |_, _| {
        vec![
            ndjson_head(),
            chunk(format!("{}\n", chat_line("a")).as_bytes()),
            Step::AwaitClose(notify.clone()),
        ]
    })
    .await;
    // The client (and its pool) stay alive: only the stream is dropped.
    let client = client(server.url());
    let mut stream = client.chat(chat()).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().message.content, "a");
    drop(stream);
    // A guard against a hang, not a sleep: the notification comes at once.
    tokio::time::timeout(Duration::from_secs(10), closed.notified())
        .await
        .expect("the server saw the connection close");
    drop(client);
}
