//! om-client speaking to an OpenAI-compatible endpoint: the simulator's
//! `/v1` routes (Ollama's own OpenAI layer) stand in for llama.cpp or vLLM.
//! Every native call the fleet makes is answered natively: discovery
//! (version, tags, ps, show), chat and generate whole and streamed (with
//! the counts from `usage`; a raw generate as a legacy completion), embeddings, raw lines for the gateway, and the
//! refusals.

use std::time::Duration;

use futures_util::StreamExt;
use om_client::{Client, OPENAI_VERSION, RawRequest};
use om_core::wire::{
    ChatRequest, EmbedInput, EmbedRequest, GenerateRequest, Message, Options, PullRequest, Role,
    ShowRequest,
};
use om_core::{ApiKind, ErrorKind};
use om_sim::EndpointSpec;

use crate::support::{ScriptServer, Step, client, collect, response};

fn fast() -> EndpointSpec {
    EndpointSpec::default()
        .with_load_time(Duration::from_millis(5))
        .with_ttft(Duration::from_millis(1))
        .with_tokens_per_sec(5000.0)
}

fn openai(url: &str) -> Client {
    client(url.parse().expect("sim URL")).with_api(ApiKind::OpenAi)
}

fn chat(tokens: i64) -> ChatRequest {
    ChatRequest {
        options: Some(Options::default().with("num_predict", tokens)),
        ..ChatRequest::new("llama3.2", vec![Message::new(Role::User, "Why is the sky blue?")])
    }
}

#[tokio::test]
async fn discovery_calls_come_from_v1_models() {
    let sim = om_sim::spawn(fast());
    // The base URL may name `/v1` itself, as OpenAI SDK base URLs do.
    for url in [sim.url(), format!("{}/v1", sim.url())] {
        let client = openai(&url);
        assert_eq!(client.api(), ApiKind::OpenAi);
        client.heartbeat().await.unwrap();
        assert_eq!(client.version().await.unwrap().version, OPENAI_VERSION);
        let tags = client.list().await.unwrap();
        assert!(tags.models.iter().any(|m| m.name == "llama3.2:latest"), "{tags:?}");
        assert_eq!(client.ps().await.unwrap().models.len(), tags.models.len());
        let show = client.show(&ShowRequest::new("llama3.2")).await.unwrap();
        assert!(show.capabilities.unwrap().contains(&"completion".to_owned()));
        let missing = client.show(&ShowRequest::new("nope")).await.unwrap_err();
        assert!(missing.is_model_not_found(), "{missing}");
    }
    sim.stop().await;
}

#[tokio::test]
async fn chat_and_generate_are_native_whole_and_streamed() {
    let sim = om_sim::spawn(fast());
    let client = openai(&sim.url());

    let whole = client.chat_once(chat(6)).await.unwrap();
    assert!(whole.done && !whole.message.content.is_empty());
    assert_eq!(whole.done_reason.as_deref(), Some("length"));
    assert_eq!(whole.metrics.eval_count, Some(6));
    assert!(whole.metrics.prompt_eval_count.unwrap() > 0);
    assert!(whole.metrics.total_duration.unwrap() > 0);

    let chunks = collect(client.chat(chat(5)).await.unwrap()).await;
    let last = chunks.last().unwrap().as_ref().unwrap();
    assert!(last.done);
    assert_eq!(last.metrics.eval_count, Some(5));
    assert!(last.metrics.eval_duration.is_some(), "generation time is measured");
    let text: String =
        chunks.iter().map(|c| c.as_ref().unwrap().message.content.as_str()).collect();
    assert!(!text.is_empty());

    let generate = GenerateRequest {
        system: Some("be brief".into()),
        options: Some(Options::default().with("num_predict", 3)),
        ..GenerateRequest::new("llama3.2", "hi")
    };
    let once = client.generate_once(generate.clone()).await.unwrap();
    assert!(once.done && !once.response.is_empty());
    let streamed = collect(client.generate(generate).await.unwrap()).await;
    assert!(streamed.last().unwrap().as_ref().unwrap().done);

    let embed = EmbedRequest {
        model: "nomic-embed-text".into(),
        input: Some(EmbedInput::Many(vec!["a".into(), "b".into()])),
        ..EmbedRequest::default()
    };
    let vectors = client.embed(&embed).await.unwrap();
    assert_eq!(vectors.embeddings.len(), 2);
    let norm: f32 = vectors.embeddings[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "unit length, as Ollama's");
    sim.stop().await;
}

#[tokio::test]
async fn raw_and_fill_in_generates_go_as_legacy_completions() {
    // The simulator's `/v1/completions` answers them, streamed and whole.
    let sim = om_sim::spawn(fast());
    let client = openai(&sim.url());
    let raw = GenerateRequest {
        raw: Some(true),
        options: Some(Options::default().with("num_predict", 3)),
        ..GenerateRequest::new("llama3.2", "<|user|>hi<|assistant|>")
    };
    let once = client.generate_once(raw.clone()).await.unwrap();
    assert!(once.done && !once.response.is_empty(), "{once:?}");
    assert_eq!(once.metrics.eval_count, Some(3));
    let streamed = collect(client.generate(raw.clone()).await.unwrap()).await;
    let last = streamed.last().unwrap().as_ref().unwrap();
    assert!(last.done);
    assert_eq!(last.metrics.eval_count, Some(3));
    sim.stop().await;

    // What goes on the wire: the prompt as written, to `/v1/completions`,
    // and a fill-in-the-middle request with its suffix; a templated one
    // stays a chat.
    let sse = concat!(
        "data: {\"id\":\"c\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\"x = 1\",\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    let mut server = ScriptServer::start(move |_, _| {
        vec![Step::Write(response(200, "text/event-stream", "", sse))]
    })
    .await;
    let client = openai(&server.url().to_string());
    let fill_in = GenerateRequest {
        suffix: Some("\nprint(x)".into()),
        ..GenerateRequest::new("coder", "def f():\n    ")
    };
    let chunks = collect(client.generate(fill_in).await.unwrap()).await;
    let text: String = chunks.iter().map(|c| c.as_ref().unwrap().response.as_str()).collect();
    assert_eq!(text, "x = 1");
    let sent = server.next_request().await;
    assert_eq!(sent.request_line(), "POST /v1/completions HTTP/1.1");
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["prompt"], "def f():\n    ");
    assert_eq!(body["suffix"], "\nprint(x)");
    assert!(body.get("messages").is_none(), "{body}");

    let _ = client.generate(GenerateRequest::new("coder", "hi")).await;
    assert_eq!(server.next_request().await.request_line(), "POST /v1/chat/completions HTTP/1.1");
}

#[tokio::test]
async fn raw_lines_for_the_gateway_are_native_ndjson() {
    let sim = om_sim::spawn(fast());
    let client = openai(&sim.url());
    let body = serde_json::to_vec(&chat(4)).unwrap();
    let lines = client.send_lines(RawRequest::post("/api/chat", body.into())).await.unwrap();
    assert_eq!(lines.content_type().unwrap(), "application/x-ndjson");
    let lines: Vec<_> = lines.map(|l| l.unwrap()).collect().await;
    assert!(lines.iter().all(|l| l.ends_with(b"\n") && om_core::wire::is_json_line(l)));
    let last: serde_json::Value = serde_json::from_slice(lines.last().unwrap()).unwrap();
    assert_eq!(last["done"], true);
    assert_eq!(last["model"], "llama3.2", "the model as requested");

    let missing = ChatRequest { model: "nope".into(), ..chat(2) };
    let error = client
        .send_lines(RawRequest::post("/api/chat", serde_json::to_vec(&missing).unwrap().into()))
        .await
        .unwrap_err();
    assert!(error.is_model_not_found(), "{error}");

    let pull = PullRequest { model: Some("llama3.2".into()), ..PullRequest::default() };
    let Err(pull) = client.pull(pull).await else { panic!("pull has no OpenAI counterpart") };
    assert_eq!(pull.kind(), ErrorKind::InvalidRequest);
    assert!(pull.message().contains("/api/pull"), "{pull}");
    sim.stop().await;
}

#[tokio::test]
async fn a_server_speaking_neither_api_is_named_so() {
    let server = ScriptServer::start(|_, _| {
        vec![Step::Write(response(200, "text/html", "", "<html>a router login page</html>"))]
    })
    .await;
    let error = openai(&server.url().to_string()).version().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Protocol);
    assert!(
        error.message().starts_with("answers neither the Ollama nor the OpenAI API"),
        "{error}"
    );
}
