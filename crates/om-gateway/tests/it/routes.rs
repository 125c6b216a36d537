//! The routes as Ollama answers them: health checks, version, listings,
//! 404/405 texts, request ids, any Content-Type, body limits and the
//! management calls' target.

use bytes::Bytes;
use http::{Method, StatusCode};
use om_gateway::Settings;

use crate::support::{Harness, chat, fast};

#[tokio::test]
async fn health_version_and_texts() {
    let h = Harness::start(vec![fast()]).await;
    let http = h.client();
    let root = http.get("/").await;
    assert_eq!((root.status, root.text()), (StatusCode::OK, "Ollama is running"));
    assert_eq!(root.header("content-type"), Some("text/plain; charset=utf-8"));
    let head = http.call(Method::HEAD, "/", &[], Bytes::new()).await;
    assert_eq!((head.status, head.body.len()), (StatusCode::OK, 0));
    let version = http.get("/api/version").await.json();
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));

    let missing = http.get("/api/nope").await;
    assert_eq!((missing.status, missing.text()), (StatusCode::NOT_FOUND, "404 page not found"));
    let wrong = http.get("/api/chat").await;
    assert_eq!(
        (wrong.status, wrong.text()),
        (StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed")
    );
    let wrong = http.call(Method::POST, "/api/tags", &[], Bytes::new()).await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    h.stop().await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_made() {
    let h = Harness::start(vec![fast()]).await;
    let http = h.client();
    let a = http.get("/api/version").await;
    let b = http.get("/api/nope").await;
    let (a, b) = (a.header("x-request-id").unwrap(), b.header("x-request-id").unwrap());
    assert_ne!(a, b);
    let echoed = http.call(Method::GET, "/", &[("x-request-id", "trace-42")], Bytes::new()).await;
    assert_eq!(echoed.header("x-request-id"), Some("trace-42"));
    h.stop().await;
}

#[tokio::test]
async fn listings_are_the_union_of_the_fleet() {
    let only_llama = fast().with_models(vec![om_sim::default_model("llama3.2").unwrap()]);
    let only_coder = fast().with_models(vec![om_sim::default_model("qwen2.5-coder:7b").unwrap()]);
    let h = Harness::start(vec![only_llama, only_coder.clone(), only_coder]).await;
    let http = h.client();
    let tags = http.get("/api/tags").await;
    assert_eq!(tags.header("content-type"), Some("application/json; charset=utf-8"));
    let tags = tags.json();
    let names: Vec<&str> =
        tags["models"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "one entry per model: {names:?}");
    assert!(names.contains(&"llama3.2:latest") && names.contains(&"qwen2.5-coder:7b"));
    let coder = tags["models"].as_array().unwrap().iter().find(|m| m["name"] == "qwen2.5-coder:7b");
    let coder = coder.unwrap();
    assert!(coder["size"].as_u64().unwrap() > 0);
    assert_eq!(coder["details"]["family"], "qwen2");
    assert_eq!(coder["details"]["format"], "gguf");
    assert!(coder["modified_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(coder["digest"].as_str().unwrap().len(), 64);

    let ps = http.get("/api/ps").await.json();
    assert_eq!(ps["models"], serde_json::json!([]));
    let answer = http.post("/api/chat", &chat("qwen2.5-coder:7b", false, 4)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let ps = http.get("/api/ps").await.json();
    let loaded: Vec<&str> =
        ps["models"].as_array().unwrap().iter().map(|m| m["model"].as_str().unwrap()).collect();
    assert_eq!(loaded, ["qwen2.5-coder:7b"]);
    h.stop().await;
}

#[tokio::test]
async fn any_or_no_content_type_and_the_model_as_requested() {
    let h = Harness::start(vec![fast()]).await;
    let http = h.client();
    let body = chat("Llama3.2", false, 4).to_string();
    for content_type in [None, Some("application/x-www-form-urlencoded"), Some("text/plain")] {
        let headers: Vec<(&str, &str)> =
            content_type.map(|c| vec![("content-type", c)]).unwrap_or_default();
        let answer = http.call(Method::POST, "/api/chat", &headers, body.clone()).await;
        assert_eq!(answer.status, StatusCode::OK, "{content_type:?}: {}", answer.text());
        assert_eq!(answer.header("content-type"), Some("application/json; charset=utf-8"));
        // Echoed verbatim, not normalised.
        assert_eq!(answer.json()["model"], "Llama3.2");
    }
    h.stop().await;
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let h = Harness::start_with(vec![fast()], |_, settings: &mut Settings| {
        settings.max_body_bytes = 4096;
    })
    .await;
    let http = h.client();
    let mut big = chat("llama3.2", false, 4);
    big["messages"][0]["content"] = "x".repeat(5000).into();
    let answer = http.post("/api/chat", &big).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(answer.json()["error"].as_str().unwrap().contains("4096"));
    let v1 = serde_json::json!({"model": "llama3.2", "messages": [{"role": "user", "content": "x".repeat(5000)}]});
    let answer = http.post("/v1/chat/completions", &v1).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(answer.json()["error"]["message"].is_string());
    // Within the limit all is well.
    let answer = http.post("/api/chat", &chat("llama3.2", false, 4)).await;
    assert_eq!(answer.status, StatusCode::OK);
    h.stop().await;
}

#[tokio::test]
async fn bad_bodies_are_refused_as_ollama_refuses_them() {
    let h = Harness::start(vec![fast()]).await;
    let http = h.client();
    let empty = http.call(Method::POST, "/api/chat", &[], Bytes::new()).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert_eq!(empty.json()["error"], "missing request body");
    let no_model = http.post("/api/chat", &serde_json::json!({"messages": []})).await;
    assert_eq!(
        (no_model.status, no_model.json()["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("model is required"))
    );
    let unknown =
        http.post("/api/generate", &serde_json::json!({"model": "nope", "prompt": "x"})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["error"], "model 'nope' not found");
    let think = http
        .post("/api/chat", &serde_json::json!({"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "think": true}))
        .await;
    assert_eq!(think.status, StatusCode::BAD_REQUEST);
    assert_eq!(think.json()["error"], "\"llama3.2\" does not support thinking");
    h.stop().await;
}

#[tokio::test]
async fn management_calls_need_a_target() {
    let h = Harness::start(vec![fast(), fast()]).await;
    let http = h.client();
    let pull = serde_json::json!({"model": "tinyllama", "stream": true});
    let refused = http.post("/api/pull", &pull).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let message = refused.json()["error"].as_str().unwrap().to_owned();
    assert!(message.contains("?endpoint=NAME") && message.contains("a, b"), "{message}");

    let pulled = http.post("/api/pull?endpoint=b", &pull).await;
    assert_eq!(pulled.status, StatusCode::OK);
    assert_eq!(pulled.header("content-type"), Some("application/x-ndjson"));
    let statuses = pulled.lines();
    assert_eq!(statuses.last().unwrap()["status"], "success");

    let copy = serde_json::json!({"source": "tinyllama", "destination": "tiny-copy"}).to_string();
    let copied =
        http.call(Method::POST, "/api/copy", &[("x-ollama-meta-endpoint", "b")], copy).await;
    assert_eq!((copied.status, copied.body.len()), (StatusCode::OK, 0));
    let delete = serde_json::json!({"model": "tiny-copy"}).to_string();
    let deleted = http.call(Method::DELETE, "/api/delete?endpoint=b", &[], delete.clone()).await;
    assert_eq!(deleted.status, StatusCode::OK);
    let again = http.call(Method::DELETE, "/api/delete?endpoint=b", &[], delete).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.json()["error"], "model 'tiny-copy' not found");
    let nowhere = http.post("/api/pull?endpoint=zz", &pull).await;
    assert_eq!(nowhere.status, StatusCode::BAD_REQUEST);
    h.stop().await;
}
