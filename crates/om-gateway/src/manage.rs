//! Management routes (`/api/pull`, `/api/push`, `/api/create`,
//! `/api/copy`, `/api/delete`): they change one endpoint's model store, so
//! the client names the endpoint — `?endpoint=NAME` or the
//! `X-Ollama-Meta-Endpoint` header — and the request goes there as is.

use bytes::Bytes;
use http::header::HeaderName;
use http::request::Parts;
use http::{Response, StatusCode};
use om_core::{EndpointId, RequestId};
use om_orchestrator::{Forward, Operation};
use serde::Deserialize;

use crate::app::App;
use crate::body::Body;
use crate::route::percent_decode;
use crate::{native, reply};

/// The header that names the target endpoint.
pub(crate) const X_ENDPOINT: HeaderName = HeaderName::from_static("x-ollama-meta-endpoint");

pub(crate) async fn handle(
    app: &App,
    operation: Operation,
    parts: &Parts,
    body: Bytes,
    id: &RequestId,
) -> Response<Body> {
    let Some(target) = target(parts) else {
        let names: Vec<String> = app
            .fleet()
            .registry()
            .snapshot()
            .endpoints()
            .iter()
            .map(|e| e.id.to_string())
            .collect();
        let message = format!(
            "{} changes one endpoint's models: name it with ?endpoint=NAME or the \
             X-Ollama-Meta-Endpoint header (endpoints: {})",
            operation.as_str(),
            names.join(", ")
        );
        return reply::native_error(StatusCode::BAD_REQUEST, &message);
    };
    tracing::Span::current().record("backend", target.as_str());
    let mut forward = Forward::new(id.clone(), operation, model_of(&body), body);
    forward.authorization = app.upstream_authorization(&parts.headers);
    match app.fleet().forward_to(&EndpointId::new(target), forward).await {
        Ok(answer) => native::pass_through(answer, app.reveal()).await,
        Err(error) => reply::from_error(&error, app.reveal()),
    }
}

/// The endpoint the request names: the query parameter first, then the
/// header.
fn target(parts: &Parts) -> Option<String> {
    let from_query = parts.uri.query().and_then(|query| {
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == "endpoint").then(|| percent_decode(&value.replace('+', " ")))
        })
    });
    from_query
        .or_else(|| parts.headers.get(X_ENDPOINT).and_then(|v| v.to_str().ok()).map(str::to_owned))
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
}

/// The model a management body is about, for errors (best effort).
fn model_of(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Named {
        #[serde(default)]
        model: Option<String>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        source: Option<String>,
    }
    serde_json::from_slice::<Named>(body)
        .ok()
        .and_then(|n| n.model.or(n.name).or(n.source))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use http::Request;

    use super::*;

    fn parts(uri: &str, header: Option<&str>) -> Parts {
        let mut builder = Request::builder().uri(uri);
        if let Some(value) = header {
            builder = builder.header(X_ENDPOINT, value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn the_target_comes_from_the_query_or_the_header() {
        assert_eq!(target(&parts("/api/pull?endpoint=gpu%2D1", None)).as_deref(), Some("gpu-1"));
        assert_eq!(target(&parts("/api/pull?a=b&endpoint=x", Some("y"))).as_deref(), Some("x"));
        assert_eq!(target(&parts("/api/pull", Some("y"))).as_deref(), Some("y"));
        assert_eq!(target(&parts("/api/pull?endpoint=", None)), None);
        assert_eq!(target(&parts("/api/pull", None)), None);
        assert_eq!(model_of(br#"{"source":"a","destination":"b"}"#), "a");
        assert_eq!(model_of(b"junk"), "");
    }
}
