//! [`Fleet::forward`]: a native request forwarded as it came — the gateway's
//! path. The body goes to the chosen instance unchanged and its response
//! comes back as the lines the instance wrote, while routing, permits,
//! failover before the first line and outcome recording work as for a task.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use http::{HeaderValue, Method};
use om_client::{Client, Lines, RawRequest};
use om_core::wire::{LineEnd, Metrics as WireMetrics, is_json_line, line_end};
use om_core::{
    Capabilities, EndpointId, Error, ErrorKind, ModelName, RequestId, TaskCategory, TaskId,
};
use om_router::{RouteRequest, detect_category};
use tokio::time::Sleep;
use tokio_util::sync::WaitForCancellationFutureOwned;
use tracing::Instrument;

use crate::call::{Call, End};
use crate::drive::FirstLine;
use crate::fleet::Fleet;
use crate::job::{Job, Kind};
use crate::options::Options;

/// The native call a forwarded request makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `POST /api/generate`.
    Generate,
    /// `POST /api/chat`.
    Chat,
    /// `POST /api/embed`.
    Embed,
    /// `POST /api/embeddings` (legacy).
    Embeddings,
    /// `POST /api/show`.
    Show,
    /// `POST /api/pull`.
    Pull,
    /// `POST /api/push`.
    Push,
    /// `POST /api/create`.
    Create,
    /// `POST /api/copy`.
    Copy,
    /// `DELETE /api/delete`.
    Delete,
}

impl Operation {
    /// The API path.
    pub fn path(self) -> &'static str {
        match self {
            Self::Generate => "/api/generate",
            Self::Chat => "/api/chat",
            Self::Embed => "/api/embed",
            Self::Embeddings => "/api/embeddings",
            Self::Show => "/api/show",
            Self::Pull => "/api/pull",
            Self::Push => "/api/push",
            Self::Create => "/api/create",
            Self::Copy => "/api/copy",
            Self::Delete => "/api/delete",
        }
    }

    /// The HTTP method (`DELETE` for delete, `POST` otherwise).
    pub fn method(self) -> Method {
        match self {
            Self::Delete => Method::DELETE,
            _ => Method::POST,
        }
    }

    /// A short stable name (`generate`, `chat`, …) for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generate => "generate",
            Self::Chat => "chat",
            Self::Embed => "embed",
            Self::Embeddings => "embeddings",
            Self::Show => "show",
            Self::Pull => "pull",
            Self::Push => "push",
            Self::Create => "create",
            Self::Copy => "copy",
            Self::Delete => "delete",
        }
    }

    /// Runs a model: routed to an instance of the requested model under an
    /// endpoint permit, with its outcome recorded (generate, chat, embed,
    /// embeddings).
    pub fn is_inference(self) -> bool {
        matches!(self, Self::Generate | Self::Chat | Self::Embed | Self::Embeddings)
    }

    /// Changes an endpoint's model store, so it needs an explicit target
    /// endpoint (pull, push, create, copy, delete).
    pub fn is_management(self) -> bool {
        matches!(self, Self::Pull | Self::Push | Self::Create | Self::Copy | Self::Delete)
    }

    /// The answer is complete only with a `done: true` line (generate and
    /// chat, streamed or not); the others are complete when the body ends.
    pub fn ends_with_done(self) -> bool {
        matches!(self, Self::Generate | Self::Chat)
    }

    /// Ollama's answer when `model` (as requested) is not installed: 404
    /// `model 'x' not found` for generate, chat, show and delete; `model "x"
    /// not found, try pulling it first` for embed and embeddings; `model "x"
    /// not found` for copy (`OLLAMA_API.md` §11.17).
    pub fn model_not_found(self, model: &str) -> Error {
        let message = match self {
            Self::Embed | Self::Embeddings => {
                format!("model \"{model}\" not found, try pulling it first")
            }
            Self::Copy => format!("model \"{model}\" not found"),
            _ => format!("model '{model}' not found"),
        };
        Error::new(ErrorKind::ModelNotFound, message).with_model(model)
    }
}

/// A native request to forward: the body to send unchanged, and what
/// routing needs to know about it. Plain data; the front end fills it from
/// the body it received.
#[derive(Debug, Clone)]
pub struct Forward {
    /// The request's id (the task id in metrics and logs).
    pub id: RequestId,
    /// The call to make.
    pub operation: Operation,
    /// The model as requested (upstream echoes this text in its answer).
    pub model: String,
    /// The JSON body, sent as is.
    pub body: Bytes,
    /// What the model must be able to do (`tools` for a request with tools,
    /// `thinking` for `think`, `vision` for images, `insert` for `suffix`).
    /// Instances that can are preferred; when none of the model's can, the
    /// request still goes to one, whose own error then names what is
    /// missing.
    pub capabilities: Capabilities,
    /// Estimated prompt size in tokens, for the context-window check (as
    /// with capabilities, a preference: the model's server truncates).
    pub prompt_tokens: u64,
    /// The request's `num_predict`, when it sets a non-negative one.
    pub num_predict: Option<u64>,
    /// The category, when the front end knows it.
    pub category: Option<TaskCategory>,
    /// Text the category is detected from when `category` is `None` (the
    /// last user message, say; a few KiB are plenty).
    pub sample: String,
    /// The answer is streamed, so its first line measures the time to first
    /// token; a non-streamed answer's first line is its whole latency.
    pub streaming: bool,
    /// Sent upstream as `Authorization`; `None` sends none.
    pub authorization: Option<HeaderValue>,
    /// The request as an OpenAI client wrote it, when it came through a
    /// `/v1` face: an OpenAI-compatible endpoint gets it instead of the
    /// conversion of `body` (see `om_client::RawRequest::openai_body`).
    pub openai_body: Option<Bytes>,
}

impl Forward {
    /// A request with no requirements, not streamed, without
    /// `Authorization`.
    pub fn new(
        id: RequestId,
        operation: Operation,
        model: impl Into<String>,
        body: impl Into<Bytes>,
    ) -> Self {
        Self {
            id,
            operation,
            model: model.into(),
            body: body.into(),
            capabilities: Capabilities::NONE,
            prompt_tokens: 0,
            num_predict: None,
            category: None,
            sample: String::new(),
            streaming: false,
            authorization: None,
            openai_body: None,
        }
    }

    fn raw(&self) -> RawRequest {
        let mut raw = RawRequest::post(self.operation.path(), self.body.clone())
            .with_method(self.operation.method())
            .for_model(self.model.clone());
        raw.authorization.clone_from(&self.authorization);
        raw.openai_body.clone_from(&self.openai_body);
        raw
    }
}

impl Fleet {
    /// Forwards `request` to an instance of its model and returns once the
    /// instance's first line has arrived.
    ///
    /// Inference ([`Operation::is_inference`]) runs as
    /// [`execute_with`](Self::execute_with) does until that first line:
    /// routing on the requested model with its capabilities and context
    /// need, a permit of the chosen endpoint, waiting when every eligible
    /// instance is busy, failover within the budget on an error that
    /// another instance may cure (a refused connection, a 5xx, a 503, a
    /// hang, an `{"error"}` first line, the model missing there). From the
    /// first line on the instance is fixed: the [`Forwarded`] stream yields
    /// its lines unchanged, and records the outcome (the final line's
    /// metrics, or the error) in the registry and the metrics when it ends.
    ///
    /// [`Operation::Show`] goes to an instance that has the model, without a
    /// permit (metadata must not wait behind generation) and unrecorded.
    ///
    /// # Errors
    ///
    /// The last attempt's error when the budget is spent or the error is
    /// final (upstream's status and message, e.g. 400 `"x" does not support
    /// thinking`); [`Operation::model_not_found`] when no endpoint has the
    /// model; [`ErrorKind::InvalidRequest`] for a model name that does not
    /// parse or a management operation (see [`forward_to`](Self::forward_to));
    /// [`ErrorKind::NoBackend`] when no instance can serve it now and
    /// waiting cannot help; the deadline and cancellation errors of
    /// `options`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the request: the upstream connection is
    /// closed, the permit released and the attempt recorded as neither
    /// success nor fault. Dropping the [`Forwarded`] does the same.
    pub fn forward(
        &self,
        request: Forward,
        options: Options,
    ) -> impl Future<Output = Result<Forwarded, Error>> + Send + use<> {
        let span = tracing::debug_span!(
            "forward",
            request_id = %request.id,
            operation = request.operation.as_str(),
            model = %request.model,
        );
        let fleet = self.clone();
        async move {
            match request.operation {
                op if op.is_inference() || op == Operation::Show => {
                    fleet.forward_routed(request, options).await
                }
                op => Err(Error::new(
                    ErrorKind::InvalidRequest,
                    format!("{} changes a model store: it needs a target endpoint", op.as_str()),
                )),
            }
        }
        .instrument(span)
    }

    /// Sends `request` as is to the endpoint named `endpoint`, for the
    /// management calls ([`Operation::is_management`]) that must not be
    /// routed: no permit, no failover, nothing recorded.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidRequest`] naming the fleet's endpoints when there
    /// is no endpoint of that name; otherwise the endpoint's own error
    /// before its first line.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future or the [`Forwarded`] closes the connection (which
    /// stops a pull upstream).
    pub fn forward_to(
        &self,
        endpoint: &EndpointId,
        request: Forward,
    ) -> impl Future<Output = Result<Forwarded, Error>> + Send + use<> {
        let fleet = self.clone();
        let endpoint = endpoint.clone();
        async move {
            let client = {
                let snapshot = fleet.inner.registry.snapshot();
                let Some(index) = snapshot.find_endpoint(&endpoint) else {
                    let names: Vec<&str> =
                        snapshot.endpoints().iter().map(|e| e.id.as_str()).collect();
                    return Err(Error::new(
                        ErrorKind::InvalidRequest,
                        format!(
                            "no endpoint named {:?}; the fleet has {}",
                            endpoint.as_str(),
                            names.join(", ")
                        ),
                    ));
                };
                fleet.inner.backends.client(snapshot.endpoint(index))
            };
            let (lines, first) = open_plain(&endpoint, &client, request.raw()).await?;
            Ok(Forwarded::plain(endpoint, None, request.operation, lines, first))
        }
    }

    /// Routes `request` through the attempt driver: inference under a
    /// permit, recorded; `/api/show` without one and unrecorded.
    async fn forward_routed(&self, request: Forward, options: Options) -> Result<Forwarded, Error> {
        let model = parse_model(&request)?;
        let category = request.category.unwrap_or_else(|| detect_category(&request.sample));
        let (kind, route) = if request.operation.is_inference() {
            let route = RouteRequest::for_model(model.clone())
                .with_capabilities(request.capabilities)
                .with_tokens(request.prompt_tokens, request.num_predict)
                .with_category(category);
            (Kind::Forward, route)
        } else {
            (Kind::Metadata, RouteRequest::for_model(model.clone()).with_category(category))
        };
        let id = TaskId::new(request.id.as_str());
        let mut job = Job::forwarded(self.clone(), id, kind, category, route, options);
        let raw = request.raw();
        match job.drive(&FirstLine { raw: &raw, streaming: request.streaming }).await {
            Ok((call, (lines, first))) => {
                Ok(Forwarded::running(job, call, request.operation, lines, first))
            }
            Err(error) => {
                let error = self.explain(error, &request, &model);
                Err(job.fail(error, String::new()).into_error())
            }
        }
    }

    /// Ollama's own 404 for a model no endpoint has, instead of "no route"
    /// — but only when every endpoint answered: with one down the model
    /// may well be there, and a client told 404 would go and pull it. Then
    /// the answer stays "no backend" (503: try again).
    fn explain(&self, error: Error, request: &Forward, model: &ModelName) -> Error {
        let snapshot = self.inner.registry.snapshot();
        if error.kind() == ErrorKind::NoBackend && snapshot.find_model(model).is_none() {
            let down = snapshot.endpoints().iter().filter(|e| e.health.reason().is_some()).count();
            if down == 0 {
                return request.operation.model_not_found(&request.model);
            }
            return error.with_model(request.model.clone());
        }
        error
    }
}

fn parse_model(request: &Forward) -> Result<ModelName, Error> {
    request.model.parse().map_err(|e| {
        Error::new(ErrorKind::InvalidRequest, "invalid model name")
            .with_model(request.model.clone())
            .with_source(e)
    })
}

/// Sends the attempt's request and waits for its first line.
///
/// # Cancel safety
///
/// Dropping it closes the connection; the call stays unfinished.
pub(crate) async fn open_call(
    call: &mut Call,
    raw: RawRequest,
    streaming: bool,
) -> Result<(Lines, Bytes), Error> {
    call.sending();
    let (lines, first) = open_plain(call.endpoint(), call.client(), raw).await?;
    let Some(first) = first else {
        return Err(Error::new(
            ErrorKind::Disconnected,
            format!("{} answered with an empty body", call.endpoint()),
        )
        .with_endpoint(call.endpoint().as_str())
        .with_model(call.model().to_string()));
    };
    if streaming {
        call.first_chunk();
    }
    Ok((lines, first))
}

/// An answer with a line that is not JSON: a broken server or proxy.
fn not_json(endpoint: &EndpointId, model: Option<String>) -> Error {
    let error = Error::new(
        ErrorKind::Protocol,
        format!("the answer from {endpoint} has a line that is not JSON"),
    )
    .with_endpoint(endpoint.as_str());
    match model {
        Some(model) => error.with_model(model),
        None => error,
    }
}

/// Sends `raw` and waits for the first line (which must be JSON: a broken
/// one fails over like any failure before the first byte); an `{"error"}` first line (a
/// server that failed after its 200 head but before any output) is an
/// [`ErrorKind::Stream`] error, so it can still fail over.
async fn open_plain(
    endpoint: &EndpointId,
    client: &Client,
    raw: RawRequest,
) -> Result<(Lines, Option<Bytes>), Error> {
    let model = raw.model.clone();
    let mut lines = client.send_lines(raw).await?;
    match lines.next().await {
        Some(Ok(first)) => {
            if !is_json_line(&first) {
                return Err(not_json(endpoint, model));
            }
            if first.starts_with(b"{\"error\"")
                && let Some(LineEnd::Error(message)) = line_end(&first)
            {
                let error = Error::new(ErrorKind::Stream, message).with_endpoint(endpoint.as_str());
                return Err(match model {
                    Some(model) => error.with_model(model),
                    None => error,
                });
            }
            Ok((lines, Some(first)))
        }
        Some(Err(error)) => Err(error),
        None => Ok((lines, None)),
    }
}

/// The lines of one instance's answer to a forwarded request.
///
/// Yields each line the instance wrote, unchanged (with its `\n`; a
/// non-streamed answer is one item without one), then ends. When the
/// answer breaks after its first line — the connection drops, a limit
/// passes, generation ends without its `done: true` line — the stream ends
/// with one `Err` whose [`Error::is_partial`] is true: the caller ends its
/// own response with an error line, and must not retry elsewhere. An
/// `{"error"}` line from the instance is yielded as a line (it already is
/// the error line) and ends the answer.
///
/// For inference the outcome is recorded in the registry and the metrics
/// when the answer ends: on the `done: true` line (its metrics: tokens,
/// speed, load time) or at the end of the body, or as a failure.
///
/// # Cancel safety
///
/// Dropping it before its end closes the upstream connection (Ollama stops
/// generating), releases the permit and records the attempt as neither
/// success nor fault, and the request as cancelled.
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Forwarded {
    endpoint: EndpointId,
    model: Option<ModelName>,
    operation: Operation,
    content_type: Option<HeaderValue>,
    first: Option<Bytes>,
    /// `None` once the body has ended or failed.
    lines: Option<Lines>,
    /// `None` once the outcome is recorded (and for unrecorded calls).
    /// Boxed: the job and its call are most of the answer's size, and the
    /// answer is moved from future to future on its way to the client.
    running: Option<Box<Running>>,
    /// The answer is complete (its final or error line passed): what
    /// follows cannot fail it.
    complete: bool,
}

#[derive(Debug)]
struct Running {
    job: Job,
    call: Call,
    lines: u64,
    deadline: Option<Pin<Box<Sleep>>>,
    cancel: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
}

impl Forwarded {
    fn running(job: Job, call: Call, operation: Operation, lines: Lines, first: Bytes) -> Self {
        // The answer has begun: `start_by` is met, only the overall
        // deadline applies now.
        let deadline = job.options.deadline.map(|d| Box::pin(tokio::time::sleep_until(d)));
        let cancel = job.options.cancel.clone().map(|t| Box::pin(t.cancelled_owned()));
        Self {
            endpoint: call.endpoint().clone(),
            model: Some(call.model().clone()),
            operation,
            content_type: lines.content_type().cloned(),
            first: Some(first),
            lines: Some(lines),
            running: Some(Box::new(Running { job, call, lines: 0, deadline, cancel })),
            complete: false,
        }
    }

    fn plain(
        endpoint: EndpointId,
        model: Option<ModelName>,
        operation: Operation,
        lines: Lines,
        first: Option<Bytes>,
    ) -> Self {
        let content_type = lines.content_type().cloned();
        // A body that ended before its first line must not be polled again.
        let lines = first.is_some().then_some(lines);
        Self {
            endpoint,
            model,
            operation,
            content_type,
            first,
            lines,
            running: None,
            complete: false,
        }
    }

    /// The endpoint answering.
    pub fn endpoint(&self) -> &EndpointId {
        &self.endpoint
    }

    /// The model answering, as the endpoint lists it (`None` for management
    /// calls).
    pub fn model(&self) -> Option<&ModelName> {
        self.model.as_ref()
    }

    /// The call made.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// The upstream response's `Content-Type`, to answer with: NDJSON for a
    /// stream, `application/json; charset=utf-8` for one object.
    pub fn content_type(&self) -> Option<&HeaderValue> {
        self.content_type.as_ref()
    }

    /// Looks at a line on its way out, for the record: the final line's
    /// metrics, or an error line.
    fn observe(&mut self, line: &[u8]) {
        let Some(running) = self.running.as_mut() else { return };
        running.lines += 1;
        if !self.operation.ends_with_done() {
            return;
        }
        match line_end(line) {
            Some(LineEnd::Done(metrics)) => {
                self.complete = true;
                self.end_ok(metrics);
            }
            Some(LineEnd::Error(message)) => {
                let error = Error::new(ErrorKind::Stream, message)
                    .with_endpoint(self.endpoint.as_str())
                    .with_model(self.model_text());
                // The line itself tells the client; nothing more to yield,
                // whatever the instance writes after it.
                self.end_err(error, false);
                self.complete = true;
                self.lines = None;
            }
            None => {}
        }
    }

    fn model_text(&self) -> String {
        self.model.as_ref().map(ToString::to_string).unwrap_or_default()
    }

    /// Records the success and releases the instance.
    fn end_ok(&mut self, metrics: WireMetrics) {
        if let Some(running) = self.running.take() {
            let Running { job, mut call, lines, .. } = *running;
            call.collected.metrics = metrics;
            call.collected.chunks = lines;
            call.collected.done = true;
            let finished = call.finish(&job.fleet.inner, &End::Done);
            drop(job.succeed(finished));
        }
    }

    /// Ends the answer with `error` (partial: a line has gone out), records
    /// the failure — the instance's fault, or `stopped` for the request's
    /// own cancellation or deadline — and returns a copy to yield; nothing
    /// once the answer was complete.
    fn end_err(&mut self, error: Error, stopped: bool) -> Option<Error> {
        if self.complete {
            return None;
        }
        self.complete = true;
        let error = error.with_partial(true);
        let copy = Error::new(error.kind(), error.message())
            .with_partial(true)
            .with_endpoint(self.endpoint.as_str())
            .with_model(self.model_text());
        if let Some(running) = self.running.take() {
            let Running { mut job, call, .. } = *running;
            let end = if stopped { End::Stopped(&error) } else { End::Failed(&error) };
            let finished = call.finish(&job.fleet.inner, &end);
            job.attempts.push(finished.attempt);
            drop(job.fail(error, String::new()));
        }
        Some(copy)
    }
}

impl Stream for Forwarded {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            this.observe(&first);
            return Poll::Ready(Some(Ok(first)));
        }
        if let Some(running) = this.running.as_mut() {
            let stop = if running.cancel.as_mut().is_some_and(|c| c.as_mut().poll(cx).is_ready()) {
                Some(running.job.canceled())
            } else if running.deadline.as_mut().is_some_and(|d| d.as_mut().poll(cx).is_ready()) {
                Some(running.job.out_of_time("streaming"))
            } else {
                None
            };
            if let Some(error) = stop {
                this.lines = None;
                return Poll::Ready(this.end_err(error, true).map(Err));
            }
        }
        let Some(lines) = this.lines.as_mut() else { return Poll::Ready(None) };
        match std::task::ready!(lines.poll_next_unpin(cx)) {
            Some(Ok(line)) if !is_json_line(&line) => {
                // Never pass a broken line on as if it were the answer.
                this.lines = None;
                let error = not_json(&this.endpoint, this.model.as_ref().map(ToString::to_string));
                Poll::Ready(this.end_err(error, false).map(Err))
            }
            Some(Ok(line)) => {
                this.observe(&line);
                Poll::Ready(Some(Ok(line)))
            }
            Some(Err(error)) => {
                this.lines = None;
                Poll::Ready(this.end_err(error, false).map(Err))
            }
            None => {
                this.lines = None;
                if this.operation.ends_with_done() && !this.complete {
                    let error = Error::new(
                        ErrorKind::Disconnected,
                        format!("the answer from {} ended before its final line", this.endpoint),
                    );
                    return Poll::Ready(this.end_err(error, false).map(Err));
                }
                this.complete = true;
                this.end_ok(WireMetrics::default());
                Poll::Ready(None)
            }
        }
    }
}

impl Drop for Forwarded {
    fn drop(&mut self) {
        if let Some(running) = &self.running {
            let error = running.job.canceled();
            self.end_err(error, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_map_to_ollama_paths_and_errors() {
        assert_eq!(Operation::Delete.method(), Method::DELETE);
        assert_eq!(Operation::Embed.path(), "/api/embed");
        assert!(Operation::Chat.ends_with_done() && !Operation::Embed.ends_with_done());
        assert!(Operation::Pull.is_management() && !Operation::Show.is_inference());
        assert_eq!(Operation::Chat.model_not_found("x").message(), "model 'x' not found");
        let embed = Operation::Embeddings.model_not_found("x");
        assert_eq!(embed.message(), "model \"x\" not found, try pulling it first");
        assert_eq!(embed.http_status(), 404);
    }
}
