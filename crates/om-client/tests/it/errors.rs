//! Ollama's error responses (`OLLAMA_API.md` §11.17–18) surface with their
//! exact message, the right kind and the right front-end status.

use om_core::ErrorKind;
use om_core::wire::{
    ChatRequest, CopyRequest, DeleteRequest, EmbedRequest, EmbeddingsRequest, GenerateRequest,
    ShowRequest,
};

use crate::support::{ScriptServer, Step, client, error, response};

/// The calls that can fail with a model error.
#[derive(Debug, Clone, Copy)]
enum Call {
    Generate,
    Chat,
    Show,
    Delete,
    Embed,
    Embeddings,
    Copy,
}

async fn failing(call: Call, status: u16, message: &'static str) -> om_core::Error {
    let server = ScriptServer::start(move |_, _| error(status, message)).await;
    let client = client(server.url());
    let result = match call {
        Call::Generate => client.generate_once(GenerateRequest::new("x", "hi")).await.map(drop),
        Call::Chat => client.chat(ChatRequest::new("x", vec![])).await.map(drop),
        Call::Show => client.show(&ShowRequest::new("x")).await.map(drop),
        Call::Delete => {
            client.delete(&DeleteRequest { model: Some("x".to_owned()), name: None }).await
        }
        Call::Embed => {
            let request = EmbedRequest { model: "x".to_owned(), ..EmbedRequest::default() };
            client.embed(&request).await.map(drop)
        }
        Call::Embeddings => {
            let request =
                EmbeddingsRequest { model: "x".to_owned(), ..EmbeddingsRequest::default() };
            client.embeddings(&request).await.map(drop)
        }
        Call::Copy => {
            let request = CopyRequest { source: "x".to_owned(), destination: "y".to_owned() };
            client.copy(&request).await
        }
    };
    let err = result.expect_err("the server answered with an error");
    assert_eq!(err.endpoint(), Some(server.url().to_string().as_str()));
    assert_eq!(err.model(), Some("x"), "{call:?}");
    assert!(!err.is_partial());
    err
}

#[tokio::test]
async fn exact_strings_kinds_and_statuses() {
    use Call::{Chat, Copy, Delete, Embed, Embeddings, Generate, Show};
    let busy = "server busy, please try again.  maximum pending requests exceeded";
    let cases: &[(Call, u16, &str, ErrorKind)] = &[
        (Generate, 404, "model 'x' not found", ErrorKind::ModelNotFound),
        (Chat, 404, "model 'x' not found", ErrorKind::ModelNotFound),
        (Show, 404, "model 'x' not found", ErrorKind::ModelNotFound),
        (Delete, 404, "model 'x' not found", ErrorKind::ModelNotFound),
        (Embed, 404, "model \"x\" not found, try pulling it first", ErrorKind::ModelNotFound),
        (Embeddings, 404, "model \"x\" not found, try pulling it first", ErrorKind::ModelNotFound),
        (Copy, 404, "model \"x\" not found", ErrorKind::ModelNotFound),
        (Chat, 400, "model is required", ErrorKind::InvalidRequest),
        (Show, 400, "model is required", ErrorKind::InvalidRequest),
        (Generate, 400, "missing request body", ErrorKind::InvalidRequest),
        (Chat, 400, "\"x\" does not support thinking", ErrorKind::InvalidRequest),
        (Chat, 400, "\"x\" does not support chat", ErrorKind::InvalidRequest),
        (Generate, 400, "\"x\" does not support generate", ErrorKind::InvalidRequest),
        (
            Chat,
            400,
            "registry.ollama.ai/library/x:latest does not support tools",
            ErrorKind::InvalidRequest,
        ),
        (Chat, 400, "top_logprobs must be between 0 and 20", ErrorKind::InvalidRequest),
        (
            Generate,
            400,
            "raw mode does not support template, system, or context",
            ErrorKind::InvalidRequest,
        ),
        (Chat, 503, busy, ErrorKind::Busy),
        (Generate, 499, "request canceled", ErrorKind::Canceled),
        (
            Chat,
            500,
            "llama runner process has terminated: exit status 2",
            ErrorKind::Upstream { status: 500 },
        ),
    ];
    for &(call, status, message, kind) in cases {
        let err = failing(call, status, message).await;
        assert_eq!(err.message(), message, "{call:?} {status}");
        assert_eq!(err.to_string(), message);
        assert_eq!(err.kind(), kind, "{call:?} {status} {message}");
        assert_eq!(err.http_status(), status, "{call:?} {status} {message}");
    }
}

#[tokio::test]
async fn text_bodies_and_bare_statuses() {
    let cases: &[(&str, &str, u16, &str)] = &[
        // Gin's defaults are plain text, not JSON (§11.18).
        ("404 Not Found", "404 page not found", 404, "404 page not found"),
        ("405 Method Not Allowed", "405 method not allowed", 405, "405 method not allowed"),
        // The Host check answers a bare 403.
        ("403 Forbidden", "", 403, "403 Forbidden"),
    ];
    for &(_, body, status, message) in cases {
        let server = ScriptServer::start(move |_, _| {
            vec![Step::Write(response(status, "text/plain", "", body))]
        })
        .await;
        let err = client(server.url()).version().await.unwrap_err();
        assert_eq!(err.message(), message);
        assert_eq!(err.http_status(), status);
        assert_eq!(err.model(), None);
    }
}

#[tokio::test]
async fn garbage_success_bodies_are_protocol_errors() {
    let server = ScriptServer::start(|n, _| {
        let body = if n == 0 { "<html>hello</html>" } else { "" };
        vec![Step::Write(response(200, "text/html", "", body))]
    })
    .await;
    let client = client(server.url());
    let err = client.version().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(err.message().contains("<html>hello</html>"), "{}", err.message());
    assert_eq!(err.http_status(), 502);
    let err = client.version().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(err.message().starts_with("empty response body"), "{}", err.message());
}

#[tokio::test]
async fn endpoint_id_names_the_endpoint() {
    let server = ScriptServer::start(|_, _| error(500, "boom")).await;
    let err = client(server.url())
        .with_endpoint_id(&om_core::EndpointId::new("gpu-box"))
        .version()
        .await
        .unwrap_err();
    assert_eq!(err.endpoint(), Some("gpu-box"));
}
