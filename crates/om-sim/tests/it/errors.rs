//! The exact error statuses and texts of `OLLAMA_API.md` §11.17.

use http::{Method, StatusCode};
use om_core::{Capabilities, Capability};
use om_sim::{ModelSpec, default_model};

use crate::support::{fast_spec, send};

#[tokio::test(start_paused = true)]
async fn exact_error_texts() {
    // A completion-only model, to reach the tools error.
    let plain = ModelSpec {
        capabilities: Capabilities::of(&[Capability::Completion]),
        ..ModelSpec::renamed(&default_model("llama3.2").unwrap(), "plain".parse().unwrap())
    };
    let sim = om_sim::spawn(fast_spec().with_model(plain));
    let hi = r#"[{"role":"user","content":"hi"}]"#;
    let cases: Vec<(Method, &str, String, u16, &str)> = vec![
        (Method::POST, "/api/generate", String::new(), 400, "missing request body"),
        (Method::POST, "/api/chat", "  ".to_owned(), 400, "missing request body"),
        (
            Method::POST,
            "/api/generate",
            r#"{"model":"nope","prompt":"x"}"#.to_owned(),
            404,
            "model 'nope' not found",
        ),
        (
            Method::POST,
            "/api/generate",
            r#"{"model":"","prompt":"x"}"#.to_owned(),
            404,
            "model '' not found",
        ),
        (
            Method::POST,
            "/api/generate",
            r#"{"model":"a b","prompt":"x"}"#.to_owned(),
            400,
            "invalid model name",
        ),
        (
            Method::POST,
            "/api/chat",
            format!(r#"{{"model":"nope","messages":{hi}}}"#),
            404,
            "model 'nope' not found",
        ),
        (
            Method::POST,
            "/api/chat",
            format!(r#"{{"model":"","messages":{hi}}}"#),
            400,
            "model is required",
        ),
        (
            Method::POST,
            "/api/show",
            r#"{"model":"nope"}"#.to_owned(),
            404,
            "model 'nope' not found",
        ),
        (Method::POST, "/api/show", "{}".to_owned(), 400, "model is required"),
        (
            Method::DELETE,
            "/api/delete",
            r#"{"model":"nope"}"#.to_owned(),
            404,
            "model 'nope' not found",
        ),
        (Method::DELETE, "/api/delete", r#"{"model":""}"#.to_owned(), 400, "name \"\" is invalid"),
        (
            Method::POST,
            "/api/embed",
            r#"{"model":"nope","input":"x"}"#.to_owned(),
            404,
            "model \"nope\" not found, try pulling it first",
        ),
        (
            Method::POST,
            "/api/embeddings",
            r#"{"model":"nope","prompt":"x"}"#.to_owned(),
            404,
            "model \"nope\" not found, try pulling it first",
        ),
        (
            Method::POST,
            "/api/embed",
            r#"{"model":"nomic-embed-text","input":[1]}"#.to_owned(),
            400,
            "invalid input type",
        ),
        (
            Method::POST,
            "/api/copy",
            r#"{"source":"nope","destination":"x"}"#.to_owned(),
            404,
            "model \"nope\" not found",
        ),
        (
            Method::POST,
            "/api/copy",
            r#"{"source":"","destination":"x"}"#.to_owned(),
            400,
            "source \"\" is invalid",
        ),
        (
            Method::POST,
            "/api/copy",
            r#"{"source":"llama3.2","destination":"a b"}"#.to_owned(),
            400,
            "destination \"a b\" is invalid",
        ),
        (Method::POST, "/api/push", "{}".to_owned(), 400, "model is required"),
        (
            Method::POST,
            "/api/chat",
            format!(r#"{{"model":"llama3.2","messages":{hi},"think":true}}"#),
            400,
            "\"llama3.2\" does not support thinking",
        ),
        (
            Method::POST,
            "/api/generate",
            r#"{"model":"llama3.2","prompt":"x","think":"high"}"#.to_owned(),
            400,
            "\"llama3.2\" does not support thinking",
        ),
        (
            Method::POST,
            "/api/chat",
            format!(r#"{{"model":"nomic-embed-text","messages":{hi}}}"#),
            400,
            "\"nomic-embed-text\" does not support chat",
        ),
        (
            Method::POST,
            "/api/generate",
            r#"{"model":"nomic-embed-text","prompt":"x"}"#.to_owned(),
            400,
            "\"nomic-embed-text\" does not support generate",
        ),
        (
            Method::POST,
            "/api/chat",
            format!(
                r#"{{"model":"plain","messages":{hi},"tools":[{{"type":"function","function":{{"name":"f"}}}}]}}"#
            ),
            400,
            "registry.ollama.ai/library/plain:latest does not support tools",
        ),
        (
            Method::POST,
            "/api/generate",
            r#"{"model":"llama3.2","prompt":"x","suffix":"y"}"#.to_owned(),
            400,
            "registry.ollama.ai/library/llama3.2:latest does not support insert",
        ),
        (
            Method::POST,
            "/api/chat",
            format!(r#"{{"model":"llama3.2","messages":{hi},"top_logprobs":21}}"#),
            400,
            "top_logprobs must be between 0 and 20",
        ),
        (
            Method::POST,
            "/api/generate",
            r#"{"model":"llama3.2","prompt":"x","raw":true,"system":"s"}"#.to_owned(),
            400,
            "raw mode does not support template, system, or context",
        ),
        (
            Method::POST,
            "/api/generate",
            r#"{"model":"llama3.2","prompt":"x","keep_alive":"300"}"#.to_owned(),
            400,
            "time: missing unit in duration \"300\"",
        ),
        (
            Method::POST,
            "/api/generate",
            r#"{"model":"llama3.2","prompt":"x","think":"loud"}"#.to_owned(),
            400,
            "invalid think value: \"loud\" (must be \"high\", \"medium\", \"low\", \"max\", true, or false)",
        ),
        (
            Method::POST,
            "/api/generate",
            r#"{"model":"llama3.2","prompt":"x","options":{"num_ctx":"big"}}"#.to_owned(),
            500,
            "option \"num_ctx\" must be of type integer",
        ),
        (
            Method::POST,
            "/api/generate",
            r#"{"model":"llama3.2","prompt":"x","format":"xml"}"#.to_owned(),
            500,
            r#"invalid format: "\"xml\""; expected "json" or a valid JSON Schema object"#,
        ),
    ];
    for (method, path, body, status, message) in cases {
        let reply = send(sim.addr(), method.clone(), path, Some(&body)).await;
        assert_eq!(reply.status.as_u16(), status, "{method} {path} {body}: {}", reply.text());
        assert_eq!(reply.content_type(), "application/json; charset=utf-8", "{path} {body}");
        assert_eq!(reply.json(), serde_json::json!({ "error": message }), "{method} {path} {body}");
    }
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn bad_json_is_a_400_with_the_decoder_message() {
    let sim = om_sim::spawn(fast_spec());
    let reply =
        send(sim.addr(), Method::POST, "/api/generate", Some(r#"{"model":"llama3.2","prompt":5}"#))
            .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let message = reply.json()["error"].as_str().unwrap().to_owned();
    assert!(message.contains("invalid type"), "{message}");
    let reply = send(sim.addr(), Method::POST, "/api/chat", Some("{not json")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    // Unknown fields and any Content-Type are fine.
    let reply = send(
        sim.addr(),
        Method::POST,
        "/api/show",
        Some(r#"{"model":"llama3.2","whatever":[1,2]}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn foreign_host_header_is_forbidden_on_loopback() {
    let sim = om_sim::spawn(fast_spec());
    let stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let request = http::Request::builder()
        .uri("/api/version")
        .header(http::header::HOST, "evil.example.com")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    sim.stop().await;
}
