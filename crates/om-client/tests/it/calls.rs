//! Every API call: method, path, headers, the body sent and the value
//! decoded, against a scripted server.

use om_client::USER_AGENT_VALUE;
use om_core::wire::{
    ChatRequest, CopyRequest, CreateRequest, DeleteRequest, EmbedInput, EmbedRequest,
    EmbeddingsRequest, Format, GenerateRequest, KeepAlive, Message, Options, PullRequest, Role,
    ShowRequest, Think, ThinkLevel, Tool, ToolFunction,
};
use serde_json::json;

use crate::support::{
    ScriptServer, Step, chat_final, chat_stream, client, collect, generate_line, json, ndjson,
    response,
};

fn progress(statuses: &[&str]) -> Vec<Step> {
    let lines: Vec<String> = statuses.iter().map(|s| json!({ "status": s }).to_string()).collect();
    ndjson(&lines)
}

#[tokio::test]
async fn version_tags_ps_and_heartbeat_are_gets() {
    let mut server = ScriptServer::start(|_, req| match req.method_path().1 {
        "/" => vec![Step::Write(response(200, "text/plain; charset=utf-8", "", "Ollama is running"))],
        "/api/version" => json(200, r#"{"version":"0.33.0"}"#),
        "/api/tags" => json(
            200,
            r#"{"models":[{"name":"llama3.2:latest","model":"llama3.2:latest","modified_at":"2025-05-04T17:37:44.706015396-07:00","size":2019393189,"digest":"a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72","details":{"parent_model":"","format":"gguf","family":"llama","families":["llama"],"parameter_size":"3.2B","quantization_level":"Q4_K_M"},"capabilities":["completion","tools"]}]}"#,
        ),
        "/api/ps" => json(200, r#"{"models":[]}"#),
        _ => json(404, "404 page not found"),
    })
    .await;
    let client = client(server.url());

    client.heartbeat().await.unwrap();
    assert_eq!(client.version().await.unwrap().version, "0.33.0");
    let tags = client.list().await.unwrap();
    assert_eq!(tags.models[0].name, "llama3.2:latest");
    assert_eq!(tags.models[0].details.parameter_size, "3.2B");
    assert!(client.ps().await.unwrap().models.is_empty());

    for path in ["/", "/api/version", "/api/tags", "/api/ps"] {
        let req = server.next_request().await;
        assert_eq!(req.method_path(), ("GET", path));
        assert_eq!(req.header("accept"), Some("application/json"));
        assert_eq!(req.header("user-agent"), Some(USER_AGENT_VALUE));
        assert_eq!(req.header("content-type"), None, "no body, no content type");
        assert_eq!(req.header("authorization"), None);
    }
    // Four calls, one pooled connection: the server saw them all in order.
    assert_eq!(server.served(), 4);
}

#[tokio::test]
async fn show_posts_the_model() {
    let mut server = ScriptServer::start(|_, _| {
        json(
            200,
            r#"{"template":"{{ .Tools }}","details":{"family":"llama"},"model_info":{"general.architecture":"llama","llama.context_length":131072},"capabilities":["completion","tools"]}"#,
        )
    })
    .await;
    let show = client(server.url()).show(&ShowRequest::new("llama3.2")).await.unwrap();
    assert_eq!(show.context_length(), Some(131_072));
    let req = server.next_request().await;
    assert_eq!(req.method_path(), ("POST", "/api/show"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.json(), json!({"model": "llama3.2"}));
}

#[tokio::test]
async fn generate_streams_and_generate_once_does_not() {
    let mut server = ScriptServer::start(|n, _| {
        if n == 0 {
            ndjson(&[
                generate_line("Hello", false),
                generate_line("!", false),
                generate_line("", true),
            ])
        } else {
            json(200, &generate_line("Hello!", true))
        }
    })
    .await;
    let client = client(server.url());

    let items =
        collect(client.generate(GenerateRequest::new("llama3.2", "hi")).await.unwrap()).await;
    let chunks: Vec<_> = items.into_iter().map(Result::unwrap).collect();
    assert_eq!(chunks.iter().map(|c| c.response.as_str()).collect::<String>(), "Hello!");
    assert!(chunks[2].done);
    assert_eq!(chunks[2].context.as_deref(), Some(&[1, 2, 3][..]));
    let req = server.next_request().await;
    assert_eq!(req.method_path(), ("POST", "/api/generate"));
    assert_eq!(req.header("accept"), Some("application/x-ndjson"));
    assert_eq!(req.json()["stream"], json!(true));

    // Even a request that says `stream: true` is sent with `stream: false`.
    let mut request = GenerateRequest::new("llama3.2", "hi");
    request.stream = Some(true);
    let once = client.generate_once(request).await.unwrap();
    assert_eq!(once.response, "Hello!");
    let req = server.next_request().await;
    assert_eq!(req.header("accept"), Some("application/json"));
    assert_eq!(req.json()["stream"], json!(false));
}

#[tokio::test]
async fn chat_passes_every_field_through() {
    let mut server = ScriptServer::start(|n, _| {
        if n == 0 { chat_stream(&["Hi", " there"]) } else { json(200, &chat_final()) }
    })
    .await;
    let client = client(server.url());

    let mut user = Message::new(Role::User, "what is in this image?");
    user.images = Some(vec!["iVBORw0KGgo=".to_owned()]);
    let request = ChatRequest {
        tools: Some(vec![Tool {
            kind: "function".to_owned(),
            function: ToolFunction {
                name: "get_weather".to_owned(),
                description: Some("Weather".to_owned()),
                parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
            },
        }]),
        format: Some(Format::json()),
        options: Some(Options::default().with("num_ctx", 8192).with("temperature", 0)),
        keep_alive: Some(KeepAlive::Text("5m".to_owned())),
        think: Some(Think::Level(ThinkLevel::High)),
        ..ChatRequest::new("qwen3:8b", vec![user])
    };

    let stream = client.chat(request.clone()).await.unwrap();
    let chunks: Vec<_> = collect(stream).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[0].message.content, "Hi");
    assert!(chunks[2].done);
    assert_eq!(chunks[2].metrics.eval_count, Some(3));

    let sent = server.next_request().await;
    assert_eq!(sent.method_path(), ("POST", "/api/chat"));
    assert_eq!(sent.header("accept"), Some("application/x-ndjson"));
    let body = sent.json();
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["model"], json!("qwen3:8b"));
    assert_eq!(body["messages"][0]["images"], json!(["iVBORw0KGgo="]));
    assert_eq!(body["tools"][0]["function"]["name"], json!("get_weather"));
    assert_eq!(body["format"], json!("json"));
    assert_eq!(body["options"], json!({"num_ctx": 8192, "temperature": 0}));
    assert_eq!(body["keep_alive"], json!("5m"));
    assert_eq!(body["think"], json!("high"));

    let once = client.chat_once(request).await.unwrap();
    assert!(once.done);
    let sent = server.next_request().await;
    assert_eq!(sent.json()["stream"], json!(false));
    assert_eq!(sent.json()["think"], json!("high"));
}

#[tokio::test]
async fn embed_and_legacy_embeddings() {
    let mut server = ScriptServer::start(|_, req| match req.method_path().1 {
        "/api/embed" => json(
            200,
            r#"{"model":"nomic-embed-text","embeddings":[[0.6,0.8],[1.0,0.0]],"total_duration":14143917,"prompt_eval_count":8}"#,
        ),
        _ => json(200, r#"{"embedding":[0.567,-1.5]}"#),
    })
    .await;
    let client = client(server.url());
    let request = EmbedRequest {
        model: "nomic-embed-text".to_owned(),
        input: Some(EmbedInput::Many(vec!["a".to_owned(), "b".to_owned()])),
        dimensions: Some(2),
        ..EmbedRequest::default()
    };
    let embed = client.embed(&request).await.unwrap();
    assert_eq!(embed.embeddings, vec![vec![0.6, 0.8], vec![1.0, 0.0]]);
    assert_eq!(embed.prompt_eval_count, Some(8));
    let req = server.next_request().await;
    assert_eq!(req.method_path(), ("POST", "/api/embed"));
    assert_eq!(req.json()["input"], json!(["a", "b"]));
    assert_eq!(req.json()["dimensions"], json!(2));

    let legacy = client
        .embeddings(&EmbeddingsRequest {
            model: "nomic-embed-text".to_owned(),
            prompt: "a".to_owned(),
            ..EmbeddingsRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(legacy.embedding, vec![0.567, -1.5]);
    assert_eq!(server.next_request().await.method_path(), ("POST", "/api/embeddings"));
}

#[tokio::test]
async fn pull_push_and_create_stream_progress() {
    let mut server = ScriptServer::start(|_, req| match req.method_path().1 {
        "/api/pull" => {
            let mut lines = vec![json!({"status": "pulling manifest"}).to_string()];
            lines.push(
                json!({"status": "pulling 6a0746a1ec1a", "digest": "sha256:6a0746a1ec1a", "total": 100, "completed": 50})
                    .to_string(),
            );
            lines.push(json!({"status": "success"}).to_string());
            ndjson(&lines)
        }
        "/api/push" => progress(&["retrieving manifest", "pushing manifest", "success"]),
        _ => progress(&["reading model metadata", "writing manifest", "success"]),
    })
    .await;
    let client = client(server.url());

    let pull = PullRequest { model: Some("llama3.2".to_owned()), ..PullRequest::default() };
    let items: Vec<_> =
        collect(client.pull(pull).await.unwrap()).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(items[1].completed, Some(50));
    assert_eq!(items.last().unwrap().status, "success");
    let req = server.next_request().await;
    assert_eq!(req.method_path(), ("POST", "/api/pull"));
    assert_eq!(req.json(), json!({"model": "llama3.2", "stream": true}));

    let push = PullRequest { model: Some("me/llama3.2".to_owned()), ..PullRequest::default() };
    let items = collect(client.push(push).await.unwrap()).await;
    assert_eq!(items.len(), 3);
    assert_eq!(server.next_request().await.method_path(), ("POST", "/api/push"));

    let create = CreateRequest {
        model: "mario".to_owned(),
        from: Some("llama3.2".to_owned()),
        system: Some("You are Mario.".to_owned()),
        ..CreateRequest::default()
    };
    let items = collect(client.create(create).await.unwrap()).await;
    assert!(items.iter().all(Result::is_ok));
    let req = server.next_request().await;
    assert_eq!(req.method_path(), ("POST", "/api/create"));
    assert_eq!(req.json()["from"], json!("llama3.2"));
    assert_eq!(req.json()["stream"], json!(true));
}

#[tokio::test]
async fn copy_posts_and_delete_sends_a_json_body() {
    let mut server =
        ScriptServer::start(|_, _| vec![Step::Write(response(200, "text/plain", "", ""))]).await;
    let client = client(server.url());

    let copy = CopyRequest { source: "llama3.2".to_owned(), destination: "backup".to_owned() };
    client.copy(&copy).await.unwrap();
    let req = server.next_request().await;
    assert_eq!(req.method_path(), ("POST", "/api/copy"));
    assert_eq!(req.json(), json!({"source": "llama3.2", "destination": "backup"}));

    let delete = DeleteRequest { model: Some("backup".to_owned()), name: None };
    client.delete(&delete).await.unwrap();
    let req = server.next_request().await;
    assert_eq!(req.method_path(), ("DELETE", "/api/delete"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.json(), json!({"model": "backup"}));
}

#[tokio::test]
async fn bearer_token_only_when_configured() {
    let mut server = ScriptServer::start(|_, _| json(200, r#"{"version":"0.33.0"}"#)).await;
    let plain = client(server.url());
    plain.version().await.unwrap();
    assert_eq!(server.next_request().await.header("authorization"), None);

    let authed = plain.clone().with_bearer_token("sk-test").unwrap();
    authed.version().await.unwrap();
    assert_eq!(server.next_request().await.header("authorization"), Some("Bearer sk-test"));
    // The original client is unchanged.
    plain.version().await.unwrap();
    assert_eq!(server.next_request().await.header("authorization"), None);

    assert!(plain.with_bearer_token("bad\ntoken").is_err());
}

#[tokio::test]
async fn tool_calls_and_thinking_decode() {
    let line = json!({
        "model": "qwen3:8b", "created_at": "2025-10-26T17:21:21Z",
        "message": {"role": "assistant", "content": "", "thinking": "Let me",
            "tool_calls": [{"id": "call_k3x9q1za", "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Tokyo"}}}]},
        "done": false
    })
    .to_string();
    let server = ScriptServer::start(move |_, _| ndjson(&[line.clone(), chat_final()])).await;
    let chunks =
        collect(client(server.url()).chat(ChatRequest::new("qwen3:8b", vec![])).await.unwrap())
            .await;
    let first = chunks[0].as_ref().unwrap();
    assert_eq!(first.message.thinking.as_deref(), Some("Let me"));
    let call = &first.message.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.function.name, "get_weather");
    assert_eq!(call.function.arguments, json!({"city": "Tokyo"}));
}
