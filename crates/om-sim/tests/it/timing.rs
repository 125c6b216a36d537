//! Load time, keep-alive and reloads as the metrics and `/api/ps` show them.

use std::time::Duration;

use crate::support::{fast_spec, loaded, metric, post};

const LOAD: u64 = 300_000_000;

#[tokio::test(start_paused = true)]
async fn cold_request_pays_the_load_warm_one_does_not() {
    let sim = om_sim::spawn(fast_spec());
    let body = r#"{"model":"llama3.2","prompt":"hi","stream":false,"options":{"num_predict":4}}"#;
    let cold = post(&sim, "/api/generate", body).await.json();
    let warm = post(&sim, "/api/generate", body).await.json();
    let cold_load = metric(&cold, "load_duration");
    assert!(cold_load >= LOAD, "cold load_duration {cold_load}");
    let warm_load = metric(&warm, "load_duration");
    assert!(warm_load > 0 && warm_load < LOAD / 100, "warm load_duration {warm_load}");
    for chunk in [&cold, &warm] {
        let parts = metric(chunk, "load_duration")
            + metric(chunk, "prompt_eval_duration")
            + metric(chunk, "eval_duration");
        assert!(metric(chunk, "total_duration") >= parts, "{chunk}");
        assert_eq!(metric(chunk, "eval_count"), 4);
    }
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn keep_alive_expiry_shows_in_ps() {
    let sim = om_sim::spawn(fast_spec());
    let body = r#"{"model":"llama3.2","prompt":"hi","stream":false,"keep_alive":"10s","options":{"num_predict":2}}"#;
    post(&sim, "/api/generate", body).await;
    let ps = crate::support::get(&sim, "/api/ps").await.json();
    let model = &ps["models"][0];
    assert_eq!(model["name"], "llama3.2:latest");
    assert_eq!(model["context_length"], 4096);
    assert!(model["size_vram"].as_u64().unwrap() > 0);
    let expires = om_core::time::parse_rfc3339(model["expires_at"].as_str().unwrap()).unwrap();
    let now =
        om_core::time::parse_rfc3339(&om_core::time::format_rfc3339(std::time::SystemTime::now()))
            .unwrap();
    // The clock is paused, so the simulator's wall time is close to real time.
    assert!(expires > now && expires - now <= 11_000_000_000, "expires_at {}", model["expires_at"]);
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert_eq!(loaded(&sim).await, ["llama3.2:latest"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(loaded(&sim).await.is_empty());
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn keep_alive_zero_unloads_and_negative_keeps_forever() {
    let sim = om_sim::spawn(fast_spec());
    post(&sim, "/api/chat", r#"{"model":"llama3.2","messages":[{"role":"user","content":"x"}],"stream":false,"keep_alive":0}"#).await;
    assert!(loaded(&sim).await.is_empty());
    post(
        &sim,
        "/api/generate",
        r#"{"model":"qwen3:8b","prompt":"x","stream":false,"keep_alive":-1}"#,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(100_000)).await;
    assert_eq!(loaded(&sim).await, ["qwen3:8b"]);
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn changing_num_ctx_reloads() {
    let sim = om_sim::spawn(fast_spec());
    let with_ctx = |ctx: u32| {
        format!(
            r#"{{"model":"llama3.2","prompt":"hi","stream":false,"options":{{"num_ctx":{ctx},"num_predict":2}}}}"#
        )
    };
    let first = post(&sim, "/api/generate", &with_ctx(8192)).await.json();
    let same = post(&sim, "/api/generate", &with_ctx(8192)).await.json();
    let other = post(&sim, "/api/generate", &with_ctx(16384)).await.json();
    assert!(metric(&first, "load_duration") >= LOAD);
    assert!(metric(&same, "load_duration") < LOAD / 100);
    assert!(metric(&other, "load_duration") >= LOAD, "{other}");
    let ps = crate::support::get(&sim, "/api/ps").await.json();
    assert_eq!(ps["models"].as_array().unwrap().len(), 1);
    assert_eq!(ps["models"][0]["context_length"], 16384);
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn load_and_unload_shortcuts() {
    let sim = om_sim::spawn(fast_spec());
    let load = post(&sim, "/api/generate", r#"{"model":"llama3.2"}"#).await;
    assert_eq!(load.content_type(), "application/json; charset=utf-8");
    let load = load.json();
    assert_eq!(load["done_reason"], "load");
    assert_eq!(load["response"], "");
    assert!(load.get("total_duration").is_none());
    assert_eq!(loaded(&sim).await, ["llama3.2:latest"]);
    let unload = post(&sim, "/api/chat", r#"{"model":"llama3.2","messages":[],"keep_alive":0}"#)
        .await
        .json();
    assert_eq!(unload["done_reason"], "unload");
    assert_eq!(unload["message"]["content"], "");
    assert!(loaded(&sim).await.is_empty());
    // Unloading a model that is not loaded succeeds too.
    let again =
        post(&sim, "/api/generate", r#"{"model":"qwen3:8b","prompt":"","keep_alive":"0s"}"#)
            .await
            .json();
    assert_eq!(again["done_reason"], "unload");
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn eviction_keeps_at_most_max_loaded_models() {
    let sim = om_sim::spawn(fast_spec().with_max_loaded_models(2));
    for (model, keep) in
        [("llama3.2", "\"1h\""), ("qwen3:8b", "\"10m\""), ("qwen2.5-coder:7b", "\"1h\"")]
    {
        let body = format!(r#"{{"model":"{model}","keep_alive":{keep}}}"#);
        post(&sim, "/api/generate", &body).await;
    }
    let mut names = loaded(&sim).await;
    names.sort();
    assert_eq!(names, ["llama3.2:latest", "qwen2.5-coder:7b"]);
    sim.stop().await;
}
