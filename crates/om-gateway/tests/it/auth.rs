//! The bearer token: every route but `/` needs it when it is set; none
//! does when it is not; the client's `Authorization` stays at the gateway
//! unless forwarding is turned on.

use bytes::Bytes;
use http::{Method, StatusCode};

use crate::support::{Harness, chat, fast};

#[tokio::test]
async fn auth_on() {
    let h = Harness::start_with(vec![fast()], |_, settings| {
        settings.auth_token = Some("s3cret".to_owned());
    })
    .await;
    let http = h.client();
    assert_eq!(http.get("/").await.status, StatusCode::OK);
    assert_eq!(http.call(Method::HEAD, "/", &[], Bytes::new()).await.status, StatusCode::OK);
    for path in ["/api/tags", "/api/version", "/metrics", "/api/meta/status", "/v1/models"] {
        let refused = http.get(path).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(refused.header("www-authenticate"), Some("Bearer"), "{path}");
        for wrong in ["Bearer s3cre", "Bearer s3cret0", "Basic s3cret", "s3cret"] {
            let answer =
                http.call(Method::GET, path, &[("authorization", wrong)], Bytes::new()).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path} with {wrong}");
        }
        let allowed =
            http.call(Method::GET, path, &[("authorization", "Bearer s3cret")], Bytes::new()).await;
        assert_eq!(allowed.status, StatusCode::OK, "{path}");
    }
    let refused = http.get("/v1/models").await.json();
    assert!(refused["error"]["message"].is_string(), "OpenAI shape on /v1");
    let body = chat("llama3.2", false, 2).to_string();
    let refused = http.call(Method::POST, "/api/chat", &[], body.clone()).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.json()["error"].is_string(), "Ollama shape on /api");
    let allowed =
        http.call(Method::POST, "/api/chat", &[("authorization", "Bearer s3cret")], body).await;
    assert_eq!(allowed.status, StatusCode::OK);
    h.stop().await;
}

#[tokio::test]
async fn auth_off() {
    let h = Harness::start(vec![fast()]).await;
    let http = h.client();
    for path in ["/api/tags", "/metrics", "/api/meta/status", "/v1/models"] {
        assert_eq!(http.get(path).await.status, StatusCode::OK, "{path}");
    }
    // Any Authorization header is ignored (OpenAI SDKs always send one).
    let answer = http
        .call(Method::GET, "/api/tags", &[("authorization", "Bearer ollama")], Bytes::new())
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    h.stop().await;
}
