//! The Responses route (`/v1/responses`), stateless as Ollama's: the
//! request becomes a native chat with `om_core::wire::openai`'s Responses
//! types, is forwarded like any other, and its answer is reshaped — one
//! response object, or the Responses events as the native lines arrive.
//! What Codex and the `openai` SDKs' `responses` call.

use http::request::Parts;
use http::{Response, StatusCode};
use om_core::RequestId;
use om_core::wire::ChatResponse;
use om_core::wire::openai::{OpenAiError, ResponseObject, ResponsesRequest, ResponsesStreamer};
use om_orchestrator::Operation;

use crate::app::App;
use crate::body::Body;
use crate::reply::{self, Face};
use crate::translate::{Events, decode, now_secs, send, sse, whole};

pub(crate) async fn create(
    app: &App,
    parts: &Parts,
    body: &[u8],
    id: &RequestId,
) -> Response<Body> {
    let request: ResponsesRequest = match decode(body) {
        Ok(request) => request,
        Err(message) => return reply::openai_error(&OpenAiError::invalid_request(message)),
    };
    let native = match request.to_native() {
        Ok(native) => native,
        Err(error) => return reply::openai_error(&error),
    };
    let response = format!("resp_{}", app.next_completion());
    let created = now_secs();
    let answer = match send(app, parts, id, Operation::Chat, &native, None, Face::OpenAi).await {
        Ok(answer) => answer,
        Err(reply) => return reply,
    };
    if request.stream {
        let streamer = ResponsesStreamer::new(&response, request.model.clone(), created);
        return sse(answer, ResponseEvents(streamer), app.reveal());
    }
    match whole::<ChatResponse>(app, answer, Face::OpenAi).await {
        Ok(native) => reply::openai_json(
            StatusCode::OK,
            &ResponseObject::from_native(&native, &response, created),
        ),
        Err(reply) => reply,
    }
}

/// Responses events from native chat lines.
struct ResponseEvents(ResponsesStreamer);

impl Events for ResponseEvents {
    fn line(&mut self, line: &[u8]) -> (String, bool) {
        match serde_json::from_slice::<ChatResponse>(line) {
            Ok(native) => self.0.push(&native),
            Err(e) => (self.0.error(&format!("unexpected line upstream: {e}")), true),
        }
    }

    fn error(&mut self, message: &str) -> String {
        self.0.error(message)
    }
}
