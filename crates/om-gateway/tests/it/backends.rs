//! An OpenAI-compatible backend in the fleet beside an Ollama one: every
//! face of the gateway works over it (the native face translated by the
//! client), its models are listed (with the capabilities the configuration
//! declares), its answers are recorded in the metrics, and failover between
//! the two kinds works.

use http::StatusCode;
use om_config::CapabilityNames;
use om_core::ApiKind;
use serde_json::json;

use crate::support::{Harness, chat, fast, instance};

/// Endpoint `a` speaks Ollama, `b` is asked through `/v1` only.
async fn mixed() -> Harness {
    Harness::start_with(vec![fast(), fast()], |config, _| {
        config.endpoints[1].kind = ApiKind::OpenAi;
    })
    .await
}

#[tokio::test]
async fn every_face_works_over_an_openai_backend() {
    let h = mixed().await;
    let http = h.client();
    let status = http.get("/api/meta/status").await.json();
    let healthy: Vec<&str> = status["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["health"] == "up")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(healthy, ["a", "b"], "{status}");
    assert_eq!(status["endpoints"][1]["kind"], "openai");
    assert_eq!(status["endpoints"][1]["version"], "openai-compatible");

    // Round-robin: of four requests, two land on the OpenAI backend.
    for stream in [false, true, false, true] {
        let answer = http.post("/api/chat", &chat("llama3.2", stream, 4)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        let last = answer.lines().pop().unwrap();
        assert_eq!(last["done"], true, "{}", answer.text());
        assert_eq!(last["eval_count"], 4);
        assert_eq!(last["model"], "llama3.2");
    }
    let generate = http
        .post(
            "/api/generate",
            &json!({"model":"llama3.2","prompt":"hi","stream":false,"options":{"num_predict":3}}),
        )
        .await;
    assert_eq!(generate.status, StatusCode::OK);
    let openai = http
        .post(
            "/v1/chat/completions",
            &json!({"model":"llama3.2","max_tokens":3,"messages":[{"role":"user","content":"hi"}]}),
        )
        .await;
    assert_eq!(openai.status, StatusCode::OK);
    let anthropic = http
        .post(
            "/v1/messages",
            &json!({"model":"llama3.2","max_tokens":3,"messages":[{"role":"user","content":"hi"}]}),
        )
        .await;
    assert_eq!(anthropic.status, StatusCode::OK);
    let embed = http.post("/api/embed", &json!({"model":"nomic-embed-text","input":["a"]})).await;
    assert_eq!(embed.status, StatusCode::OK);

    let metrics = http.get("/metrics").await.text().to_owned();
    let served_by_b = metrics
        .lines()
        .find(|l| l.starts_with("ollama_meta_requests_total") && l.contains("endpoint=\"b\""));
    assert!(served_by_b.is_some(), "the OpenAI backend's requests are counted:\n{metrics}");
    let tokens = metrics
        .lines()
        .filter(|l| {
            l.starts_with("ollama_meta_output_tokens_total") && l.contains("endpoint=\"b\"")
        })
        .count();
    assert!(tokens > 0, "and its tokens:\n{metrics}");
    h.stop().await;
}

#[tokio::test]
async fn failover_crosses_kinds() {
    let mut h = mixed().await;
    h.kill(0).await;
    let http = h.client();
    for _ in 0..3 {
        let answer = http.post("/api/chat", &chat("llama3.2", true, 3)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        assert_eq!(answer.lines().pop().unwrap()["done"], true);
    }
    h.stop().await;
}

#[tokio::test]
async fn declared_capabilities_route_images_to_the_backend_that_sees() {
    // Neither simulator's llama3.2 sees images; the configuration says the
    // OpenAI backend's does.
    let h = Harness::start_with(vec![fast(), fast()], |config, _| {
        config.endpoints[1].kind = ApiKind::OpenAi;
        config.endpoints[1].capabilities =
            Some(CapabilityNames::All(vec!["completion".into(), "vision".into()]));
    })
    .await;
    let http = h.client();
    let status = http.get("/api/meta/status").await.json();
    assert_eq!(
        instance(&status, "b", "llama3.2:latest")["capabilities"],
        json!(["completion", "vision"]),
        "{status}"
    );
    let show = http.post("/api/show", &json!({"model": "llama3.2"})).await;
    assert_eq!(show.status, StatusCode::OK, "{}", show.text());
    let looked = json!({"model": "llama3.2", "stream": false, "options": {"num_predict": 2},
        "messages": [{"role": "user", "content": "what is this?", "images": ["aGVsbG8="]}]});
    for _ in 0..4 {
        let answer = http.post("/api/chat", &looked).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    }
    let metrics = http.get("/metrics").await.text().to_owned();
    let served = |endpoint: &str| -> f64 {
        metrics
            .lines()
            .filter(|l| {
                l.starts_with("ollama_meta_requests_total")
                    && l.contains(&format!("endpoint=\"{endpoint}\""))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert_eq!((served("a"), served("b")), (0.0, 4.0), "{metrics}");
    h.stop().await;
}
