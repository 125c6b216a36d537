//! The agent faces: Anthropic Messages (`/v1/messages`) and the `OpenAI`
//! Responses API (`/v1/responses`), whole and streamed, over the simulator
//! through the gateway, and their error shapes.

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Harness, Http, fast, next_frame};

/// Every SSE event of a streamed POST: its `event:` name and its data.
async fn events(http: &Http, path: &str, body: &Value) -> Vec<(String, Value)> {
    let response = http.send(Method::POST, path, &[], body.to_string()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response.into_body();
    let mut text = String::new();
    while let Some(frame) = next_frame(&mut stream).await {
        text.push_str(std::str::from_utf8(&frame).expect("UTF-8 events"));
    }
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|event| {
            let (name, data) = event.split_once('\n').expect("an event line and a data line");
            let name = name.strip_prefix("event: ").expect("an event line").to_owned();
            let data = data.strip_prefix("data: ").expect("a data line");
            let data = serde_json::from_str(data).expect("JSON data");
            (name, data)
        })
        .collect()
}

#[tokio::test]
async fn anthropic_messages_whole_and_streamed() {
    let h = Harness::start(vec![fast()]).await;
    let http = h.client();
    let request = json!({
        "model": "llama3.2", "max_tokens": 5, "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
    });
    let whole = http.post("/v1/messages", &request).await;
    assert_eq!(whole.status, StatusCode::OK, "{}", whole.text());
    let whole = whole.json();
    assert_eq!(whole["type"], "message");
    assert_eq!(whole["role"], "assistant");
    assert_eq!(whole["model"], "llama3.2");
    assert!(whole["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(whole["content"][0]["type"], "text");
    assert!(!whole["content"][0]["text"].as_str().unwrap().is_empty());
    assert_eq!(whole["stop_reason"], "max_tokens");
    assert_eq!(whole["usage"]["output_tokens"], 5);
    assert!(whole["usage"]["input_tokens"].as_u64().unwrap() > 0);

    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let events = events(&http, "/v1/messages", &streamed).await;
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names[..2], ["message_start", "content_block_start"]);
    assert_eq!(names[names.len() - 3..], ["content_block_stop", "message_delta", "message_stop"]);
    assert!(names[2..names.len() - 3].iter().all(|n| *n == "content_block_delta"), "{names:?}");
    for (name, data) in &events {
        assert_eq!(data["type"], *name, "the data's type is the event's name");
    }
    let text: String =
        events.iter().filter_map(|(_, data)| data["delta"]["text"].as_str()).collect();
    assert!(!text.is_empty());
    let (_, delta) = &events[events.len() - 2];
    assert_eq!(delta["delta"]["stop_reason"], "max_tokens");
    assert_eq!(delta["usage"]["output_tokens"], 5);

    let count = http.post("/v1/messages/count_tokens", &request).await;
    assert_eq!(count.status, StatusCode::OK);
    assert!(count.json()["input_tokens"].as_u64().unwrap() > 0);
    h.stop().await;
}

#[tokio::test]
async fn anthropic_errors_have_the_anthropic_shape() {
    let h = Harness::start(vec![fast()]).await;
    let http = h.client();
    let missing = http
        .post(
            "/v1/messages",
            &json!({"model": "nope", "max_tokens": 5, "messages": [{"role":"user","content":"x"}]}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let error = missing.json();
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "not_found_error");
    let bad = http.call(Method::POST, "/v1/messages", &[], Bytes::from_static(b"{")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["error"]["type"], "invalid_request_error");
    let role = http
        .post(
            "/v1/messages",
            &json!({"model": "llama3.2", "messages": [{"role":"tool","content":"x"}]}),
        )
        .await;
    assert_eq!(role.status, StatusCode::BAD_REQUEST);
    assert!(role.json()["error"]["message"].as_str().unwrap().starts_with("messages.0.role"));
    h.stop().await;
}

#[tokio::test]
async fn responses_whole_and_streamed() {
    let h = Harness::start(vec![fast()]).await;
    let http = h.client();
    let request = json!({
        "model": "llama3.2", "instructions": "Be brief.", "max_output_tokens": 4,
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "hello"}]}],
    });
    let whole = http.post("/v1/responses", &request).await;
    assert_eq!(whole.status, StatusCode::OK, "{}", whole.text());
    let whole = whole.json();
    assert_eq!(whole["object"], "response");
    assert!(whole["id"].as_str().unwrap().starts_with("resp_"));
    // Four tokens of four asked for: cut at the limit.
    assert_eq!(whole["status"], "incomplete");
    assert_eq!(whole["incomplete_details"]["reason"], "max_output_tokens");
    let message = &whole["output"][0];
    assert_eq!(message["type"], "message");
    assert!(!message["content"][0]["text"].as_str().unwrap().is_empty());
    assert_eq!(whole["usage"]["output_tokens"], 4);

    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let events = events(&http, "/v1/responses", &streamed).await;
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names[..4],
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added"
        ]
    );
    assert_eq!(*names.last().unwrap(), "response.incomplete");
    let sequence: Vec<u64> =
        events.iter().map(|(_, data)| data["sequence_number"].as_u64().unwrap()).collect();
    assert_eq!(sequence, (0..events.len() as u64).collect::<Vec<_>>());
    let deltas: String = events
        .iter()
        .filter(|(name, _)| name == "response.output_text.delta")
        .map(|(_, data)| data["delta"].as_str().unwrap())
        .collect();
    let (_, last) = events.last().unwrap();
    assert_eq!(last["response"]["output"][0]["content"][0]["text"], deltas.as_str());

    let stateful = http
        .post(
            "/v1/responses",
            &json!({"model": "llama3.2", "input": "x", "previous_response_id": "resp_1"}),
        )
        .await;
    assert_eq!(stateful.status, StatusCode::BAD_REQUEST);
    assert_eq!(stateful.json()["error"]["type"], "invalid_request_error");
    h.stop().await;
}
