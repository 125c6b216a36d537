//! One request from arrival to answer: its id and span, authentication,
//! the route table, the body limit, and the handler.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, HeaderValue, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use om_core::RequestId;
use om_http::RequestBody;
use om_orchestrator::{Fleet, Forward, Forwarded, Options, QueueLimit};
use serde_json::json;
use tokio::time::Instant;
use tracing::Instrument;

use crate::auth::Auth;
use crate::body::Body;
use crate::reply::Face;
use crate::request_id::{RequestIds, X_REQUEST_ID};
use crate::route::Route;
use crate::served::Served;
use crate::settings::Settings;
use crate::{anthropic, manage, native, observe, openai, reply, responses};

/// The version `/api/version` reports: the gateway's own.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The request handler; cheap to clone (one `Arc`).
#[derive(Debug, Clone)]
pub(crate) struct App {
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) fleet: Fleet,
    pub(crate) settings: Settings,
    pub(crate) auth: Auth,
    ids: RequestIds,
    /// Numbers the `/v1` completion ids.
    completions: AtomicU64,
    pub(crate) started: Instant,
    /// Counts the endpoints that answered, when the caller asked.
    served: Option<Served>,
}

impl App {
    pub(crate) fn new(fleet: Fleet, settings: Settings, served: Option<Served>) -> Self {
        let auth = Auth::new(settings.auth_token.as_deref());
        Self {
            shared: Arc::new(Shared {
                fleet,
                settings,
                auth,
                ids: RequestIds::new(),
                completions: AtomicU64::new(0),
                started: Instant::now(),
                served,
            }),
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    pub(crate) fn fleet(&self) -> &Fleet {
        &self.shared.fleet
    }

    /// Forwards a model request to the fleet, naming the backend that
    /// took it in the request's span (and in the [`Served`] tally).
    pub(crate) async fn forward(&self, request: Forward) -> Result<Forwarded, om_core::Error> {
        let operation = request.operation;
        let settings = &self.shared.settings;
        let options =
            Options::default().with_start_by(Instant::now() + settings.request_timeout).with_queue(
                QueueLimit { max_waiting: settings.max_queue, max_wait: settings.queue_timeout },
            );
        let answer = self.fleet().forward(request, options).await?;
        tracing::Span::current().record("backend", answer.endpoint().as_str());
        if let Some(served) = &self.shared.served
            && operation.is_inference()
        {
            served.add(answer.endpoint());
        }
        Ok(answer)
    }

    /// Whether clients may read what the gateway says about its backends
    /// (see [`reply::public_message`]): only when a token authenticates
    /// every caller.
    pub(crate) fn reveal(&self) -> bool {
        self.shared.settings.auth_token.is_some()
    }

    /// The next `/v1` completion number.
    pub(crate) fn next_completion(&self) -> u64 {
        self.shared.completions.fetch_add(1, Ordering::Relaxed)
    }

    /// The `Authorization` to send upstream: the client's own, only when
    /// the settings say so.
    pub(crate) fn upstream_authorization(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        self.shared
            .settings
            .forward_authorization
            .then(|| headers.get(AUTHORIZATION))
            .flatten()
            // Copied, not cloned: a parsed header value is a slice of the
            // connection's read buffer, which a clone kept for as long as
            // the answer streams would pin.
            .and_then(|value| {
                let mut copy = HeaderValue::from_bytes(value.as_bytes()).ok()?;
                copy.set_sensitive(true);
                Some(copy)
            })
    }

    /// Answers one request. Every answer carries the request's id in
    /// `X-Request-Id`, and everything logged for it is in one span — at
    /// info level, so that an info line (a breaker opening, a warning)
    /// names the request it happened in.
    ///
    /// # Cancel safety
    ///
    /// The connection drops the future when the client goes away; whatever the
    /// request holds upstream (a connection, a permit) is released then.
    pub(crate) async fn handle(self, request: Request<RequestBody>) -> Response<Body> {
        let id = self.shared.ids.assign(request.headers());
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            method = %request.method(),
            path = request.uri().path(),
            model = tracing::field::Empty,
            backend = tracing::field::Empty,
        );
        let started = Instant::now();
        let mut response = self.route(request, &id).instrument(span.clone()).await;
        if let Ok(value) = HeaderValue::from_str(id.as_str()) {
            response.headers_mut().insert(X_REQUEST_ID, value);
        }
        tracing::debug!(
            parent: &span,
            status = response.status().as_u16(),
            head_ms = started.elapsed().as_secs_f64() * 1000.0,
            "answering"
        );
        response
    }

    /// The answer to every request of a connection past the connection
    /// limit: 503 with `Retry-After`, in the shape of the route's face.
    pub(crate) fn over_connection_limit(&self, request: &Request<RequestBody>) -> Response<Body> {
        let limit = self.shared.settings.max_connections;
        let error = om_core::Error::new(
            om_core::ErrorKind::Busy,
            format!("the gateway is serving its limit of {limit} connections; try again shortly"),
        )
        .with_retry_after(Duration::from_secs(1));
        Face::of_path(request.uri().path()).failure(&error, true)
    }

    async fn route(&self, request: Request<RequestBody>, id: &RequestId) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let Some((route, methods)) = Route::resolve(parts.uri.path()) else {
            return reply::text(StatusCode::NOT_FOUND, "404 page not found");
        };
        if !methods.contains(&parts.method) {
            return reply::text(StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed");
        }
        if !route.is_public() && !self.shared.auth.admits(&parts.headers) {
            return unauthorized(route.face());
        }
        let body = if route.has_body() {
            match self.read_body(&parts, body).await {
                Ok(body) => body,
                Err(failure) => return too_large(&failure, route.face()),
            }
        } else {
            drop(body);
            Bytes::new()
        };
        let fleet = self.fleet();
        match route {
            Route::Root => reply::text(StatusCode::OK, "Ollama is running"),
            Route::Version => reply::json(StatusCode::OK, &json!({ "version": VERSION })),
            Route::Tags => reply::json(StatusCode::OK, &fleet.list_models()),
            Route::Ps => {
                let ps = fleet.running_models(self.shared.settings.listing_timeout).await;
                reply::json(StatusCode::OK, &ps)
            }
            // Each face's handler boxed: inline, every request's future would
            // be as large as the largest of them (a pull's, the `/v1` ones).
            Route::Model(operation) => {
                Box::pin(native::model(self, operation, &parts, body, id)).await
            }
            Route::Manage(operation) => {
                Box::pin(manage::handle(self, operation, &parts, body, id)).await
            }
            Route::OpenAiChat => Box::pin(openai::chat(self, &parts, &body, id)).await,
            Route::OpenAiCompletions => {
                Box::pin(openai::completions(self, &parts, &body, id)).await
            }
            Route::OpenAiEmbeddings => Box::pin(openai::embeddings(self, &parts, &body, id)).await,
            Route::OpenAiModels => openai::models(self),
            Route::OpenAiModel(model) => openai::model(self, &model),
            Route::OpenAiResponses => Box::pin(responses::create(self, &parts, &body, id)).await,
            Route::AnthropicMessages => {
                Box::pin(anthropic::messages(self, &parts, &body, id)).await
            }
            Route::AnthropicCountTokens => anthropic::count_tokens(&body),
            Route::Metrics => observe::metrics(self),
            Route::Status => observe::status(self),
        }
    }

    /// Reads the request body, refusing more than the limit: at once from
    /// `Content-Length`, else as soon as the bytes read pass it.
    async fn read_body(&self, parts: &Parts, body: RequestBody) -> Result<Bytes, BodyFailure> {
        let limit = self.shared.settings.max_body_bytes;
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64) {
            return Err(BodyFailure::TooLarge(limit));
        }
        let timeout = self.shared.settings.body_read_timeout;
        let Ok(read) = tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await
        else {
            return Err(BodyFailure::Slow(timeout));
        };
        match read {
            // A copy of exactly the body's size: a body of one frame is a
            // slice of the connection's read buffer, and the request keeps
            // its body for as long as its answer streams, which would pin
            // that buffer (up to 16 KiB) for all that time.
            Ok(collected) => Ok(Bytes::copy_from_slice(&collected.to_bytes())),
            Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
                Err(BodyFailure::TooLarge(limit))
            }
            Err(err) => {
                tracing::debug!(error = %err, "request body not read");
                Err(BodyFailure::Broken)
            }
        }
    }
}

/// Why a request body could not be read.
enum BodyFailure {
    TooLarge(usize),
    /// Not all of it came within the time limit.
    Slow(Duration),
    /// The client stopped sending mid-body.
    Broken,
}

fn too_large(failure: &BodyFailure, face: Face) -> Response<Body> {
    let (status, message) = match failure {
        &BodyFailure::TooLarge(limit) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body too large (the limit is {limit} bytes)"),
        ),
        BodyFailure::Broken => {
            (StatusCode::BAD_REQUEST, "the request body could not be read".to_owned())
        }
        BodyFailure::Slow(limit) => (
            StatusCode::REQUEST_TIMEOUT,
            format!("the request body did not arrive within {} s", limit.as_secs_f64()),
        ),
    };
    face.error(status, &message)
}

fn unauthorized(face: Face) -> Response<Body> {
    const MESSAGE: &str = "unauthorized: send Authorization: Bearer <token>";
    let mut response = face.error(StatusCode::UNAUTHORIZED, MESSAGE);
    response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(forward_authorization: bool) -> App {
        let (fleet, _workers) = Fleet::builder().build().expect("an empty fleet");
        App::new(fleet, Settings { forward_authorization, ..Settings::default() }, None)
    }

    #[test]
    fn the_clients_authorization_goes_upstream_only_when_configured() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer client"));
        assert_eq!(app(false).upstream_authorization(&headers), None);
        assert_eq!(
            app(true).upstream_authorization(&headers),
            Some(HeaderValue::from_static("Bearer client"))
        );
        assert_eq!(app(true).upstream_authorization(&HeaderMap::new()), None);
    }
}
