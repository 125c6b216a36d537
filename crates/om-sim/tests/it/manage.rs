//! Pull, push, create, copy and delete against the catalog.

use http::{Method, StatusCode};

use crate::support::{fast_spec, get, post, send};

fn names(tags: &serde_json::Value) -> Vec<String> {
    tags["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn pull_streams_progress_and_installs() {
    let sim = om_sim::spawn(fast_spec());
    let reply = post(&sim, "/api/pull", r#"{"name":"mistral"}"#).await;
    assert_eq!(reply.content_type(), "application/x-ndjson");
    let lines = reply.lines();
    assert_eq!(lines[0]["status"], "pulling manifest");
    assert_eq!(lines.last().unwrap()["status"], "success");
    let layer = lines.iter().find(|l| l["completed"].is_u64()).unwrap();
    assert!(layer["status"].as_str().unwrap().starts_with("pulling "));
    assert!(layer["digest"].as_str().unwrap().starts_with("sha256:"));
    let tags = get(&sim, "/api/tags").await.json();
    assert_eq!(names(&tags)[0], "mistral:latest", "the pulled model is the newest");
    // Its details are derived from the name: Mistral's models are `llama`s.
    let show = post(&sim, "/api/show", r#"{"model":"mistral"}"#).await.json();
    assert_eq!(show["model_info"]["general.architecture"], "llama");
    let quiet = post(&sim, "/api/pull", r#"{"model":"llama3.2","stream":false}"#).await;
    assert_eq!(quiet.json(), serde_json::json!({"status": "success"}));
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn copy_and_delete_answer_with_empty_bodies() {
    let sim = om_sim::spawn(fast_spec());
    let copy = post(&sim, "/api/copy", r#"{"source":"llama3.2","destination":"backup"}"#).await;
    assert_eq!(copy.status, StatusCode::OK);
    assert!(copy.body().is_empty());
    assert!(names(&get(&sim, "/api/tags").await.json()).contains(&"backup:latest".to_owned()));
    let delete =
        send(sim.addr(), Method::DELETE, "/api/delete", Some(r#"{"name":"backup"}"#)).await;
    assert_eq!(delete.status, StatusCode::OK);
    assert!(delete.body().is_empty());
    assert!(!names(&get(&sim, "/api/tags").await.json()).contains(&"backup:latest".to_owned()));
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn empty_install_lists_an_empty_array() {
    let sim = om_sim::spawn(fast_spec().with_models(Vec::new()));
    assert_eq!(get(&sim, "/api/tags").await.text(), r#"{"models":[]}"#);
    assert_eq!(get(&sim, "/api/ps").await.text(), r#"{"models":[]}"#);
    assert_eq!(
        get(&sim, "/v1/models").await.json(),
        serde_json::json!({"object": "list", "data": null})
    );
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn create_push_and_blobs() {
    let sim = om_sim::spawn(fast_spec());
    let created = post(
        &sim,
        "/api/create",
        r#"{"model":"mine","from":"qwen3:8b","system":"be brief","stream":false}"#,
    )
    .await;
    assert_eq!(created.json()["status"], "success");
    let show = post(&sim, "/api/show", r#"{"model":"mine"}"#).await.json();
    assert_eq!(show["details"]["family"], "qwen3");
    let neither = post(&sim, "/api/create", r#"{"model":"x"}"#).await;
    assert_eq!(neither.status, StatusCode::BAD_REQUEST);
    let pushed = post(&sim, "/api/push", r#"{"model":"mine"}"#).await.lines();
    assert_eq!(pushed[0]["status"], "retrieving manifest");
    assert_eq!(pushed.last().unwrap()["status"], "success");
    let digest = format!("sha256:{}", "ab".repeat(32));
    let path = format!("/api/blobs/{digest}");
    assert_eq!(send(sim.addr(), Method::HEAD, &path, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        send(sim.addr(), Method::POST, &path, Some("GGUF")).await.status,
        StatusCode::CREATED
    );
    assert_eq!(send(sim.addr(), Method::HEAD, &path, None).await.status, StatusCode::OK);
    sim.stop().await;
}
