//! An OpenAI-compatible backend in the fleet beside an Ollama one: every
//! face of the gateway works over it (the native face translated by the
//! client), its models are listed (with the capabilities the configuration
//! declares), its answers are recorded in the metrics, and failover between
//! the two kinds works.

use http::StatusCode;
use om_config::CapabilityNames;
use om_core::ApiKind;
use serde_json::json;

use crate::support::{Harness, chat, fast, instance, json_reply, read_request};

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

/// An OpenAI-compatible server on a raw socket that keeps every
/// `/v1/chat/completions` body it is sent, answering each with one piece.
async fn recording_backend() -> (String, tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let (sent, bodies) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let sent = sent.clone();
            tokio::spawn(async move {
                let Some((head, body)) = read_request(&mut stream).await else { return };
                let reply = if head.starts_with("GET /v1/models") {
                    json_reply(200, r#"{"object":"list","data":[{"id":"llama3.2"}]}"#)
                } else {
                    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                    let streamed = body["stream"] == true;
                    let _ = sent.send(body);
                    if streamed {
                        let events = concat!(
                            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\n",
                            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1,\"total_tokens\":3}}\n\n",
                            "data: [DONE]\n\n",
                        );
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{events}",
                            events.len()
                        )
                    } else {
                        json_reply(
                            200,
                            r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}}"#,
                        )
                    }
                };
                let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, reply.as_bytes()).await;
            });
        }
    });
    (url, bodies)
}

#[tokio::test]
async fn a_v1_request_reaches_an_openai_backend_as_its_client_wrote_it() {
    let (url, mut bodies) = recording_backend().await;
    let h = Harness::start_with(vec![fast()], |config, _| {
        config.endpoints[0].url = url.parse().expect("URL");
        config.endpoints[0].kind = ApiKind::OpenAi;
    })
    .await;
    let http = h.client();
    // Fields the native form has no room for.
    let request = json!({"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}],
        "tool_choice": "none", "logit_bias": {"50256": -100}, "grammar": "root ::= \"ok\"",
        "max_tokens": 4});
    for stream in [false, true] {
        let mut request = request.clone();
        request["stream"] = stream.into();
        let answer = http.post("/v1/chat/completions", &request).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        assert!(answer.text().contains("ok"), "{}", answer.text());
        let sent = bodies.recv().await.expect("the backend was asked");
        for field in ["tool_choice", "logit_bias", "grammar", "max_tokens", "messages"] {
            assert_eq!(sent[field], request[field], "{field} as written: {sent}");
        }
        if stream {
            // Asked for, so that the fleet records the counts.
            assert_eq!(sent["stream_options"]["include_usage"], true, "{sent}");
        } else {
            assert_eq!(sent, request, "the very request");
        }
    }
    // A native request still goes converted.
    let native = http.post("/api/chat", &chat("llama3.2", false, 4)).await;
    assert_eq!(native.status, StatusCode::OK, "{}", native.text());
    let sent = bodies.recv().await.expect("the backend was asked");
    assert!(sent.get("grammar").is_none() && sent["max_tokens"] == 4, "{sent}");
    h.stop().await;
}

#[tokio::test]
async fn v1_embeddings_in_base64_over_an_openai_backend() {
    // The `openai` SDKs ask for base64; the face encodes the backend's
    // floats itself. One backend, so that no failover can hide a failure.
    let h = Harness::start_with(vec![fast()], |config, _| {
        config.endpoints[0].kind = ApiKind::OpenAi;
    })
    .await;
    let http = h.client();
    let request = json!({"model": "nomic-embed-text", "input": ["a"], "encoding_format": "base64"});
    let answer = http.post("/v1/embeddings", &request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(answer.json()["data"][0]["embedding"].is_string(), "{}", answer.text());
    h.stop().await;
}
