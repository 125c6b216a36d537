//! `/metrics` read by an independent Prometheus parser, and the shape of
//! `/api/meta/status`.

use http::StatusCode;

use crate::support::{Harness, chat, fast, instance};

#[tokio::test]
async fn metrics_parse_as_prometheus_text() {
    let h = Harness::start(vec![fast(), fast()]).await;
    let http = h.client();
    for i in 0..4 {
        let answer = http.post("/api/chat", &chat("llama3.2", i % 2 == 0, 4)).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let metrics = http.get("/metrics").await;
    assert_eq!(metrics.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    let lines = metrics.text().lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid exposition");
    let requests: f64 = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "ollama_meta_requests_total")
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum();
    assert!(requests >= 4.0, "requests_total {requests}");
    assert!(scrape.samples.iter().any(|s| s.metric == "ollama_meta_queue_depth"));
    h.stop().await;
}

#[tokio::test]
async fn status_shows_the_fleet() {
    let h = Harness::start(vec![fast(), fast()]).await;
    let http = h.client();
    assert_eq!(http.post("/api/chat", &chat("llama3.2", false, 4)).await.status, StatusCode::OK);
    let status = http.get("/api/meta/status").await;
    assert_eq!(status.header("content-type"), Some("application/json; charset=utf-8"));
    let status = status.json();
    let endpoints = status["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 2);
    for endpoint in endpoints {
        assert_eq!(endpoint["health"], "up");
        assert!(endpoint["url"].as_str().unwrap().starts_with("http://127.0.0.1:"));
        assert_eq!(endpoint["capacity"], 4);
        assert!(endpoint["version"].is_string());
        assert_eq!(endpoint["models"].as_array().unwrap().len(), 4);
    }
    let llama = instance(&status, "a", "llama3.2:latest");
    for key in ["loaded", "in_flight", "breaker", "cooldown_ms", "latency_ms", "success_rate"] {
        assert!(llama.get(key).is_some(), "{key} missing: {llama}");
    }
    assert_eq!(llama["breaker"], "closed");
    assert_eq!(status["in_flight"], 0);
    assert_eq!(status["queue_depth"], 0);
    assert_eq!(status["models"].as_array().unwrap().len(), 4);
    assert_eq!(status["gateway"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["gateway"]["auth"], false);
    h.stop().await;
}
