//! The `/v1` routes: shapes, SSE framing and OpenAI-style errors.

use http::StatusCode;
use serde_json::{Value, json};

use crate::support::{fast_spec, get, post};

/// Splits an SSE body into its `data:` payloads, checking the framing.
fn events(text: &str) -> Vec<String> {
    assert!(text.ends_with("\n\n"), "{text:?}");
    text.split_terminator("\n\n")
        .map(|event| {
            assert!(!event.contains('\n'), "multi-line event {event:?}");
            event
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data event: {event:?}"))
                .to_owned()
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn chat_completion_non_stream() {
    let sim = om_sim::spawn(fast_spec());
    let reply = post(
        &sim,
        "/v1/chat/completions",
        r#"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"max_tokens":5}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.text().ends_with('\n'));
    let body = reply.json();
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["model"], "llama3.2");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert_eq!(body["usage"]["completion_tokens"], 5);
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn chat_completion_sse_with_usage() {
    let sim = om_sim::spawn(fast_spec());
    let reply = post(
        &sim,
        "/v1/chat/completions",
        r#"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":true,"stream_options":{"include_usage":true}}"#,
    )
    .await;
    assert_eq!(reply.content_type(), "text/event-stream");
    // One event per frame.
    for frame in &reply.frames {
        let text = std::str::from_utf8(frame).unwrap();
        assert!(
            text.starts_with("data: ")
                && text.ends_with("\n\n")
                && text.matches("\n\n").count() == 1,
            "{text:?}"
        );
    }
    let events = events(&reply.text());
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> =
        events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(
        chunks.iter().all(|c| c["object"] == "chat.completion.chunk" && c["id"] == chunks[0]["id"])
    );
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 4);
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn completions_models_and_embeddings() {
    let sim = om_sim::spawn(fast_spec());
    let completion =
        post(&sim, "/v1/completions", r#"{"model":"llama3.2","prompt":"hi","max_tokens":3}"#)
            .await
            .json();
    assert_eq!(completion["object"], "text_completion");
    assert!(!completion["choices"][0]["text"].as_str().unwrap().is_empty());
    let stream = post(
        &sim,
        "/v1/completions",
        r#"{"model":"llama3.2","prompt":"hi","max_tokens":3,"stream":true}"#,
    )
    .await;
    assert_eq!(events(&stream.text()).last().unwrap(), "[DONE]");

    let models = get(&sim, "/v1/models").await.json();
    let ids: Vec<&str> =
        models["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"llama3.2:latest") && ids.contains(&"nomic-embed-text:latest"));
    let one = get(&sim, "/v1/models/llama3.2").await.json();
    assert_eq!((one["id"].as_str(), one["owned_by"].as_str()), (Some("llama3.2"), Some("library")));

    let embedding =
        post(&sim, "/v1/embeddings", r#"{"model":"nomic-embed-text","input":["a","b"]}"#)
            .await
            .json();
    assert_eq!(embedding["data"].as_array().unwrap().len(), 2);
    assert_eq!(embedding["data"][1]["index"], 1);
    assert_eq!(embedding["data"][0]["embedding"].as_array().unwrap().len(), 768);
    let base64 = post(
        &sim,
        "/v1/embeddings",
        r#"{"model":"nomic-embed-text","input":"a","encoding_format":"base64"}"#,
    )
    .await
    .json();
    // 768 little-endian f32s are 3072 bytes: 4096 base64 characters.
    assert_eq!(base64["data"][0]["embedding"].as_str().unwrap().len(), 4096);
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn errors_are_openai_shaped_with_native_status() {
    let sim = om_sim::spawn(fast_spec());
    let missing = post(
        &sim,
        "/v1/chat/completions",
        r#"{"model":"nope","messages":[{"role":"user","content":"hi"}]}"#,
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.json(),
        json!({"error": {"message": "model 'nope' not found", "type": "not_found_error", "param": null, "code": null}})
    );
    let empty = post(&sim, "/v1/chat/completions", r#"{"model":"llama3.2","messages":[]}"#).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert_eq!(empty.json()["error"]["type"], "invalid_request_error");
    let unknown = get(&sim, "/v1/models/nope").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["error"]["type"], "not_found_error");
    sim.stop().await;
}
