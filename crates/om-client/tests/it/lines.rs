//! `Client::send_lines`: raw pass-through of a response's lines, byte for
//! byte, with errors before the head typed as for every other call.

use bytes::Bytes;
use futures_util::StreamExt;
use http::HeaderValue;
use om_client::{Lines, RawRequest};
use om_core::ErrorKind;

use crate::support::{
    ScriptServer, Step, chat_final, chat_line, chunk, client, end_chunks, error, json, ndjson,
    ndjson_head,
};

async fn all(mut lines: Lines) -> Vec<om_core::Result<Bytes>> {
    let mut out = Vec::new();
    while let Some(item) = lines.next().await {
        out.push(item);
    }
    out
}

fn chat_body() -> Bytes {
    Bytes::from_static(br#"{"model":"llama3.2","messages":[],"tools":[{"x":1}],"raw":true}"#)
}

#[tokio::test]
async fn stream_lines_come_out_as_written_and_the_body_goes_in_unchanged() {
    let lines = vec![chat_line("Hi"), chat_line("!"), chat_final()];
    let script_lines = lines.clone();
    let mut server = ScriptServer::start(move |_, _| ndjson(&script_lines)).await;
    let client = client(server.url());
    let out = client.send_lines(RawRequest::post("/api/chat", chat_body())).await.unwrap();
    assert_eq!(out.content_type().unwrap(), "application/x-ndjson");
    let got: Vec<Bytes> = all(out).await.into_iter().map(Result::unwrap).collect();
    let want: Vec<Bytes> = lines.iter().map(|l| Bytes::from(format!("{l}\n"))).collect();
    assert_eq!(got, want);

    let request = server.next_request().await;
    assert_eq!(request.method_path(), ("POST", "/api/chat"));
    assert_eq!(request.body, chat_body().to_vec());
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("authorization"), None);
}

#[tokio::test]
async fn lines_split_or_joined_across_frames_are_reframed() {
    let (a, b) = (chat_line("a"), chat_final());
    let (sa, sb) = (a.clone(), b.clone());
    let server = ScriptServer::start(move |_, _| {
        let joined = format!("{sa}\n{}", &sb[..10]);
        vec![
            ndjson_head(),
            chunk(joined.as_bytes()),
            chunk(format!("{}\r\n\n", &sb[10..]).as_bytes()),
            end_chunks(),
        ]
    })
    .await;
    let out =
        client(server.url()).send_lines(RawRequest::post("/api/chat", chat_body())).await.unwrap();
    let got: Vec<Bytes> = all(out).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(got, [Bytes::from(format!("{a}\n")), Bytes::from(format!("{b}\n"))]);
}

#[tokio::test]
async fn a_json_body_without_newline_is_one_item_unchanged() {
    let body = r#"{"model":"llama3.2","embeddings":[[0.6,0.8]]}"#;
    let server = ScriptServer::start(move |_, _| json(200, body)).await;
    let out = client(server.url())
        .send_lines(RawRequest::post("/api/embed", Bytes::from_static(b"{}")))
        .await
        .unwrap();
    assert_eq!(out.content_type().unwrap(), "application/json; charset=utf-8");
    let got: Vec<Bytes> = all(out).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(got, [Bytes::from_static(body.as_bytes())]);
}

#[tokio::test]
async fn error_statuses_are_typed_errors_and_error_lines_are_just_lines() {
    let server = ScriptServer::start(|n, _| match n {
        0 => error(404, "model 'nope' not found"),
        _ => ndjson(&[chat_line("a"), r#"{"error":"boom"}"#.to_owned()]),
    })
    .await;
    let client = client(server.url());
    let err = client
        .send_lines(RawRequest::post("/api/chat", chat_body()).for_model("nope"))
        .await
        .unwrap_err();
    assert_eq!((err.kind(), err.message()), (ErrorKind::ModelNotFound, "model 'nope' not found"));
    assert_eq!(err.model(), Some("nope"));
    let out = client.send_lines(RawRequest::post("/api/chat", chat_body())).await.unwrap();
    let got: Vec<Bytes> = all(out).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(got[1], Bytes::from_static(b"{\"error\":\"boom\"}\n"));
}

#[tokio::test]
async fn a_broken_connection_ends_with_a_partial_error() {
    let server = ScriptServer::start(|_, _| {
        vec![ndjson_head(), chunk(format!("{}\n", chat_line("a")).as_bytes()), Step::Close]
    })
    .await;
    let out =
        client(server.url()).send_lines(RawRequest::post("/api/chat", chat_body())).await.unwrap();
    let got = all(out).await;
    assert_eq!(got.len(), 2);
    let err = got[1].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected);
    assert!(err.is_partial());
}

#[tokio::test]
async fn method_and_authorization_per_request() {
    let mut server = ScriptServer::start(|_, _| json(200, "")).await;
    let request = RawRequest::post("/api/delete", Bytes::from_static(b"{\"model\":\"x\"}"))
        .with_method(http::Method::DELETE)
        .with_authorization(HeaderValue::from_static("Bearer t"));
    let got = all(client(server.url()).send_lines(request).await.unwrap()).await;
    assert!(got.is_empty());
    let recorded = server.next_request().await;
    assert_eq!(recorded.method_path(), ("DELETE", "/api/delete"));
    assert_eq!(recorded.header("authorization"), Some("Bearer t"));
}
