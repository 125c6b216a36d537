//! The `Host` header of loopback upstreams and the headers we never send.

use crate::support::{ScriptServer, client, json};

#[tokio::test]
async fn loopback_upstreams_get_their_own_authority_as_host() {
    let mut server = ScriptServer::start(|_, _| json(200, r#"{"version":"0.33.0"}"#)).await;
    let url = server.url();
    client(url.clone()).version().await.unwrap();
    let req = server.next_request().await;
    assert_eq!(req.header("host"), Some(url.authority().as_str()));
    assert_eq!(req.header_count("host"), 1);
    assert_eq!(req.header_count("authorization"), 0);
}

#[tokio::test]
async fn a_path_prefix_is_kept() {
    let mut server = ScriptServer::start(|_, _| json(200, r#"{"version":"0.33.0"}"#)).await;
    let url: om_core::EndpointUrl = format!("{}/ollama", server.url()).parse().unwrap();
    client(url).version().await.unwrap();
    assert_eq!(server.next_request().await.method_path(), ("GET", "/ollama/api/version"));
}
