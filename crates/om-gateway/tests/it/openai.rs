//! The `/v1` routes: models, chat completions whole and streamed (SSE with
//! `data: [DONE]`), completions, embeddings, and OpenAI-shaped errors.

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::json;

use crate::support::{Harness, fast, next_frame};

#[tokio::test]
async fn models_chat_completions_and_embeddings() {
    let h = Harness::start(vec![fast(), fast()]).await;
    let http = h.client();
    let models = http.get("/v1/models").await.json();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"].as_array().unwrap().len(), 4);
    let one = http.get("/v1/models/llama3.2").await.json();
    assert_eq!((one["id"].as_str(), one["owned_by"].as_str()), (Some("llama3.2"), Some("library")));

    let messages = json!([{"role": "user", "content": "hello"}]);
    let whole = http
        .post(
            "/v1/chat/completions",
            &json!({"model": "llama3.2", "messages": messages, "max_tokens": 6}),
        )
        .await;
    assert_eq!(whole.status, StatusCode::OK, "{}", whole.text());
    let whole = whole.json();
    assert_eq!(whole["object"], "chat.completion");
    assert_eq!(whole["model"], "llama3.2");
    assert!(!whole["choices"][0]["message"]["content"].as_str().unwrap().is_empty());
    assert!(whole["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let body = json!({
        "model": "llama3.2", "messages": messages, "max_tokens": 6, "stream": true,
        "stream_options": {"include_usage": true},
    })
    .to_string();
    let response = http.send(Method::POST, "/v1/chat/completions", &[], body).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response.into_body();
    let mut text = String::new();
    while let Some(frame) = next_frame(&mut stream).await {
        text.push_str(std::str::from_utf8(&frame).unwrap());
    }
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert!(events.iter().all(|e| e.starts_with("data: ")), "{text}");
    assert_eq!(*events.last().unwrap(), "data: [DONE]");
    let chunks: Vec<serde_json::Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(&e["data: ".len()..]).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    assert!(chunks.last().unwrap()["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let completion = http
        .post("/v1/completions", &json!({"model": "llama3.2", "prompt": "hi", "max_tokens": 4}))
        .await
        .json();
    assert_eq!(completion["object"], "text_completion");
    assert!(!completion["choices"][0]["text"].as_str().unwrap().is_empty());

    let embedding = http
        .post("/v1/embeddings", &json!({"model": "nomic-embed-text", "input": ["a", "b"]}))
        .await
        .json();
    assert_eq!(embedding["data"].as_array().unwrap().len(), 2);
    assert_eq!(embedding["data"][0]["embedding"].as_array().unwrap().len(), 768);
    h.stop().await;
}

#[tokio::test]
async fn errors_have_the_openai_shape() {
    let h = Harness::start(vec![fast()]).await;
    let http = h.client();
    let messages = json!([{"role": "user", "content": "hello"}]);
    let missing =
        http.post("/v1/chat/completions", &json!({"model": "nope", "messages": messages})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let error = missing.json();
    assert_eq!(error["error"]["type"], "not_found_error");
    assert_eq!(error["error"]["message"], "model 'nope' not found");
    let model = http.get("/v1/models/nope").await;
    assert_eq!(model.status, StatusCode::NOT_FOUND);
    let bad = http.call(Method::POST, "/v1/chat/completions", &[], Bytes::from_static(b"{")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["error"]["type"], "invalid_request_error");
    let empty =
        http.post("/v1/chat/completions", &json!({"model": "llama3.2", "messages": []})).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    h.stop().await;
}
