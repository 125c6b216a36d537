//! Wire framing: NDJSON lines, content types, final chunks, HEAD and the
//! plain-text routes.

use http::{Method, StatusCode};
use om_sim::reply::ReplyMode;
use serde_json::Value;

use crate::support::{fast_spec, get, post, send};

const METRICS: [&str; 6] = [
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
];

/// Every frame is exactly one compact JSON object and its `\n`.
fn assert_one_line_per_frame(frames: &[bytes::Bytes]) -> Vec<Value> {
    assert!(frames.len() > 1, "{} frames", frames.len());
    frames
        .iter()
        .map(|frame| {
            let text = std::str::from_utf8(frame).unwrap();
            assert!(text.ends_with('\n'), "frame without newline: {text:?}");
            assert_eq!(text.matches('\n').count(), 1, "frame with several lines: {text:?}");
            assert!(text.trim().len() > 1, "blank line");
            serde_json::from_str(text).unwrap()
        })
        .collect()
}

fn assert_increasing_timestamps(chunks: &[Value]) {
    let stamps: Vec<i128> = chunks
        .iter()
        .map(|c| {
            let text = c["created_at"].as_str().unwrap();
            assert!(text.ends_with('Z'), "{text}");
            om_core::time::parse_rfc3339(text).unwrap()
        })
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
}

#[tokio::test(start_paused = true)]
async fn generate_stream_framing_and_final_chunk() {
    let sim = om_sim::spawn(fast_spec());
    let reply = post(
        &sim,
        "/api/generate",
        r#"{"model":"Llama3.2","prompt":"hello there","options":{"num_predict":6}}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type(), "application/x-ndjson");
    let chunks = assert_one_line_per_frame(&reply.frames);
    assert_increasing_timestamps(&chunks);
    assert!(chunks.iter().all(|c| c["model"] == "Llama3.2"), "model not echoed verbatim");
    let (last, pieces) = chunks.split_last().unwrap();
    assert!(pieces.iter().all(|c| c["done"] == false && c.get("total_duration").is_none()));
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "length");
    assert_eq!(last["response"], "");
    assert_eq!(last["eval_count"], 6);
    assert_eq!(pieces.len(), 6);
    for metric in METRICS {
        assert!(last[metric].as_u64().is_some_and(|v| v > 0), "{metric} in {last}");
    }
    assert!(!last["context"].as_array().unwrap().is_empty());
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn chat_stream_framing_and_non_stream_object() {
    let sim = om_sim::spawn(fast_spec());
    let reply = post(
        &sim,
        "/api/chat",
        r#"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}"#,
    )
    .await;
    let chunks = assert_one_line_per_frame(&reply.frames);
    assert_increasing_timestamps(&chunks);
    for chunk in &chunks {
        assert_eq!(chunk["message"]["role"], "assistant");
        assert!(chunk["message"]["content"].is_string());
    }
    let last = chunks.last().unwrap();
    assert_eq!(last["done_reason"], "stop");
    for metric in METRICS {
        assert!(last[metric].as_u64().is_some_and(|v| v > 0), "{metric} in {last}");
    }
    let streamed: String =
        chunks.iter().map(|c| c["message"]["content"].as_str().unwrap()).collect();

    let whole = post(
        &sim,
        "/api/chat",
        r#"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"stream":false}"#,
    )
    .await;
    assert_eq!(whole.content_type(), "application/json; charset=utf-8");
    assert!(!whole.text().ends_with('\n'));
    let whole = whole.json();
    assert_eq!(whole["done"], true);
    // Same input, same seed: the same reply.
    assert_eq!(whole["message"]["content"].as_str().unwrap(), streamed);
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn thinking_defaults_on_for_thinking_models() {
    let sim = om_sim::spawn(fast_spec());
    let ask = |think: &str| {
        format!(
            r#"{{"model":"qwen3:8b","messages":[{{"role":"user","content":"hi"}}],"stream":false{think}}}"#
        )
    };
    let default = post(&sim, "/api/chat", &ask("")).await.json();
    assert!(!default["message"]["thinking"].as_str().unwrap().is_empty(), "{default}");
    let off = post(&sim, "/api/chat", &ask(r#","think":false"#)).await.json();
    assert!(off["message"].get("thinking").is_none(), "{off}");
    let level = post(
        &sim,
        "/api/generate",
        r#"{"model":"qwen3:8b","prompt":"hi","think":"high","stream":false}"#,
    )
    .await
    .json();
    assert!(!level["thinking"].as_str().unwrap().is_empty());
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn stop_strings_end_generation_and_are_not_emitted() {
    let sim = om_sim::spawn(fast_spec().with_reply(ReplyMode::Echo));
    let reply = post(
        &sim,
        "/api/generate",
        r#"{"model":"llama3.2","prompt":"alpha beta STOP gamma","stream":false,"options":{"stop":["STOP"]}}"#,
    )
    .await
    .json();
    assert_eq!(reply["response"], "alpha beta ");
    assert_eq!(reply["done_reason"], "stop");
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn tool_calls_arrive_whole() {
    let sim = om_sim::spawn(fast_spec());
    let body = r#"{"model":"llama3.2","stream":false,
        "messages":[{"role":"user","content":"please call get_weather for Tokyo"}],
        "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}"#;
    let reply = post(&sim, "/api/chat", body).await.json();
    let call = &reply["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert!(call["function"]["arguments"].is_object());
    assert_eq!(call["function"]["index"], 0);
    let id = call["id"].as_str().unwrap();
    assert!(id.starts_with("call_") && id.len() == 13, "{id}");
    assert_eq!(reply["done_reason"], "stop");
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn embeddings_are_unit_length_and_cut() {
    let sim = om_sim::spawn(fast_spec());
    let reply = post(&sim, "/api/embed", r#"{"model":"nomic-embed-text","input":["a","b c"]}"#)
        .await
        .json();
    let vectors = reply["embeddings"].as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    let norm = |v: &Value| {
        v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap().powi(2)).sum::<f64>().sqrt()
    };
    for v in vectors {
        assert_eq!(v.as_array().unwrap().len(), 768);
        assert!((norm(v) - 1.0).abs() < 1e-3);
    }
    assert!(reply["prompt_eval_count"].as_u64().unwrap() >= 3);
    let cut =
        post(&sim, "/api/embed", r#"{"model":"nomic-embed-text","input":"a","dimensions":64}"#)
            .await
            .json();
    assert_eq!(cut["embeddings"][0].as_array().unwrap().len(), 64);
    assert!((norm(&cut["embeddings"][0]) - 1.0).abs() < 1e-3);
    let load_only = post(&sim, "/api/embed", r#"{"model":"nomic-embed-text"}"#).await.json();
    assert_eq!(load_only, serde_json::json!({"model": "nomic-embed-text", "embeddings": []}));
    let legacy = post(&sim, "/api/embeddings", r#"{"model":"nomic-embed-text","prompt":"hello"}"#)
        .await
        .json();
    assert_eq!(legacy["embedding"].as_array().unwrap().len(), 768);
    assert!((norm(&legacy["embedding"]) - 1.0).abs() > 0.1, "legacy vectors are not normalised");
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn root_head_and_plain_text_routes() {
    let sim = om_sim::spawn(fast_spec());
    let root = get(&sim, "/").await;
    assert_eq!((root.status, root.text().as_str()), (StatusCode::OK, "Ollama is running"));
    assert_eq!(root.content_type(), "text/plain; charset=utf-8");
    let head = send(sim.addr(), Method::HEAD, "/", None).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body().is_empty());
    let head_tags = send(sim.addr(), Method::HEAD, "/api/tags", None).await;
    assert_eq!(head_tags.status, StatusCode::OK);
    assert!(head_tags.body().is_empty());
    let version = get(&sim, "/api/version").await.json();
    assert_eq!(version, serde_json::json!({"version": "0.33.0"}));
    let missing = get(&sim, "/api/nothing").await;
    assert_eq!(
        (missing.status, missing.text().as_str()),
        (StatusCode::NOT_FOUND, "404 page not found")
    );
    assert_eq!(missing.content_type(), "text/plain; charset=utf-8");
    let wrong = get(&sim, "/api/generate").await;
    assert_eq!(
        (wrong.status, wrong.text().as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed")
    );
    let wrong = send(sim.addr(), Method::POST, "/api/delete", Some("{}")).await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn tags_and_show_describe_the_models() {
    let sim = om_sim::spawn(fast_spec());
    let tags = get(&sim, "/api/tags").await.json();
    let names: Vec<&str> =
        tags["models"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["llama3.2:latest", "qwen2.5-coder:7b", "qwen3:8b", "nomic-embed-text:latest"]
    );
    let first = &tags["models"][0];
    assert_eq!(first["digest"].as_str().unwrap().len(), 64);
    assert_eq!(first["details"]["family"], "llama");
    assert_eq!(first["details"]["context_length"], 131_072);
    assert_eq!(first["capabilities"], serde_json::json!(["completion", "tools"]));

    let show = post(&sim, "/api/show", r#"{"name":"llama3.2"}"#).await.json();
    assert_eq!(show["model_info"]["general.architecture"], "llama");
    assert_eq!(show["model_info"]["general.parameter_count"], 3_200_000_000_u64);
    assert_eq!(show["model_info"]["llama.context_length"], 131_072);
    assert_eq!(show["model_info"]["llama.embedding_length"], 3072);
    assert!(
        show["template"].as_str().unwrap().contains("{{ .Tools }}")
            || show["template"].as_str().unwrap().contains(".Tools")
    );
    assert!(
        show["modelfile"].as_str().unwrap().starts_with("# Modelfile generated by \"ollama show\"")
    );
    assert!(show["parameters"].as_str().unwrap().contains("stop"));
    assert_eq!(show["details"]["quantization_level"], "Q4_K_M");
    let embed = post(&sim, "/api/show", r#"{"model":"nomic-embed-text"}"#).await.json();
    assert_eq!(embed["capabilities"], serde_json::json!(["embedding"]));
    assert_eq!(embed["model_info"]["nomic-bert.embedding_length"], 768);
    sim.stop().await;
}
