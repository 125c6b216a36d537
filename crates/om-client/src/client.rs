//! [`Client`]: every Ollama API call against one endpoint.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, USER_AGENT};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Method, Request, Response, Uri};
use om_http::ResponseBody;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use om_core::wire::{
    ChatRequest, ChatResponse, CopyRequest, CreateRequest, DeleteRequest, EmbedRequest,
    EmbedResponse, EmbeddingsRequest, EmbeddingsResponse, GenerateRequest, GenerateResponse,
    ListResponse, ProgressResponse, PsResponse, PullRequest, PushRequest, ShowRequest,
    ShowResponse, VersionResponse,
};
use om_core::{
    ApiKind, ChunkStream, DeclaredCapabilities, EndpointId, EndpointUrl, Error, ErrorKind, Result,
    TimeoutPhase,
};

use crate::body::BodyReader;
use crate::errors;
use crate::http::HttpClient;
use crate::ndjson::{FrameDecoder, LineDecoder, decode_frame};
use crate::openai::{self, Base, Translator};
use om_core::Backoff;

use crate::retry::RetryPolicy;
use crate::stream::{Chunk, Context, ndjson_stream};
use crate::timeouts::{Timeouts, deadline_after, earliest, run_until};

/// The `User-Agent` of every request.
pub const USER_AGENT_VALUE: &str = concat!("ollama-meta/", env!("CARGO_PKG_VERSION"));

/// How much of an error body is read for its message.
const MAX_ERROR_BODY_LEN: usize = 64 * 1024;

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const NDJSON: HeaderValue = HeaderValue::from_static("application/x-ndjson");

/// A client for one Ollama endpoint.
///
/// It holds a clone of the shared [`HttpClient`] (one pool for the whole
/// fleet) and the endpoint's address; cloning a `Client` is cheap. Every call
/// sends `Content-Type: application/json` with a body, an `Accept` header for
/// the response it expects, `User-Agent: ollama-meta/<version>`, and sets
/// `stream` explicitly, so behaviour never depends on server defaults.
///
/// For a loopback endpoint the `Host` header is set to the endpoint's own
/// authority, so Ollama's Host check never answers 403. No `Authorization`
/// header is sent unless [`Client::with_bearer_token`] configured one.
///
/// Errors carry the endpoint (its [`EndpointId`] when one was given, else the
/// URL) and, for model calls, the model as requested.
///
/// # Cancel safety
///
/// Every call may be dropped at any point. Dropping a call before its
/// response arrived, or dropping a returned [`ChunkStream`] before its end,
/// drops the response body, which closes the connection instead of
/// returning it to the pool; Ollama sees the disconnect and stops generating
/// (`OLLAMA_API.md` §8). Nothing is retried after a drop.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: HttpClient,
    endpoint: EndpointUrl,
    /// The endpoint as errors name it.
    label: Arc<str>,
    host: Option<HeaderValue>,
    authorization: Option<HeaderValue>,
    timeouts: Timeouts,
    retry: RetryPolicy,
    /// The waits of `retry`, with their jitter state.
    backoff: Backoff,
    max_line_len: usize,
    /// The largest answer read whole.
    max_body_len: usize,
    /// The API the endpoint speaks.
    api: ApiKind,
    /// What an OpenAI-compatible endpoint's models can do, as configured.
    capabilities: Option<Arc<DeclaredCapabilities>>,
    /// The endpoint's scheme and authority, parsed once, when it has no
    /// path of its own: then a request's URI is built from them and the
    /// call's static path, without formatting and parsing a URL each time.
    origin: Option<(Scheme, Authority)>,
}

impl Clone for Inner {
    fn clone(&self) -> Self {
        Self {
            http: self.http.clone(),
            endpoint: self.endpoint.clone(),
            label: self.label.clone(),
            host: self.host.clone(),
            authorization: self.authorization.clone(),
            timeouts: self.timeouts,
            retry: self.retry,
            backoff: Backoff::new(self.retry.backoff),
            max_line_len: self.max_line_len,
            max_body_len: self.max_body_len,
            api: self.api,
            capabilities: self.capabilities.clone(),
            origin: self.origin.clone(),
        }
    }
}

/// One request to make, possibly several times.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    pub(crate) body: Option<Bytes>,
    pub(crate) accept: HeaderValue,
    /// Sent instead of the client's own `Authorization`, for this call only.
    pub(crate) authorization: Option<HeaderValue>,
    /// The `/v1` form to send an OpenAI-compatible endpoint instead of
    /// converting `body` ([`RawRequest::openai_body`](crate::RawRequest)).
    pub(crate) openai_body: Option<Bytes>,
}

/// A 2xx response head and the deadlines its body is read under.
pub(crate) struct Started {
    pub(crate) response: Response<ResponseBody>,
    pub(crate) first_byte: Option<Instant>,
    pub(crate) total: Option<Instant>,
    /// Converts an OpenAI-compatible endpoint's answer to native bytes.
    pub(crate) translator: Option<Box<Translator>>,
}

/// A configured byte count as a buffer size (saturating on 32-bit targets).
fn to_usize(bytes: u64) -> usize {
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

// === impl Client: construction ===

/// The scheme and authority of `endpoint`, as a URI's parts.
fn origin(endpoint: &EndpointUrl) -> Option<(Scheme, Authority)> {
    let uri: Uri = endpoint.to_string().parse().ok()?;
    let parts = uri.into_parts();
    Some((parts.scheme?, parts.authority?))
}

impl Client {
    /// A client for `endpoint` over the shared `http` pool, with default
    /// [`Timeouts`], [`RetryPolicy`] and limits.
    pub fn new(http: HttpClient, endpoint: EndpointUrl) -> Self {
        let limits = om_config::Limits::default();
        let host = endpoint
            .is_loopback()
            .then(|| HeaderValue::from_str(&endpoint.authority()).ok())
            .flatten();
        let origin = endpoint.path().is_empty().then(|| origin(&endpoint)).flatten();
        let inner = Inner {
            http,
            origin,
            label: endpoint.to_string().into(),
            endpoint,
            host,
            authorization: None,
            timeouts: Timeouts::default(),
            retry: RetryPolicy::NEVER,
            backoff: Backoff::new(RetryPolicy::NEVER.backoff),
            max_line_len: to_usize(limits.max_line_bytes),
            max_body_len: to_usize(limits.max_answer_bytes),
            api: ApiKind::Ollama,
            capabilities: None,
        };
        Self { inner: Arc::new(inner) }
    }

    /// Uses these time limits.
    #[must_use]
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        Arc::make_mut(&mut self.inner).timeouts = timeouts;
        self
    }

    /// Uses this retry policy.
    #[must_use]
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        let inner = Arc::make_mut(&mut self.inner);
        inner.retry = policy;
        inner.backoff = Backoff::new(policy.backoff);
        self
    }

    /// Sends `Authorization: Bearer <token>` on every request (Ollama's
    /// cloud, or a gateway with auth). Without it no `Authorization` header
    /// is ever sent.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] when the token cannot be a header value.
    pub fn with_bearer_token(mut self, token: &str) -> Result<Self> {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            Error::new(
                ErrorKind::Config,
                "bearer token contains characters not allowed in a header",
            )
        })?;
        value.set_sensitive(true);
        Arc::make_mut(&mut self.inner).authorization = Some(value);
        Ok(self)
    }

    /// Sends the API key in the environment variable `name` as a bearer
    /// token. Nothing is sent when `name` is `None`, or the variable is
    /// unset or not a valid header (configuration checks both when it
    /// loads; this only warns, without the key).
    #[must_use]
    pub fn with_api_key_from_env(self, name: Option<&str>) -> Self {
        let Some(name) = name else { return self };
        let Ok(key) = std::env::var(name) else {
            tracing::warn!(variable = name, "the API key's variable is not set");
            return self;
        };
        if let Ok(client) = self.clone().with_bearer_token(&key) {
            return client;
        }
        tracing::warn!(variable = name, "the API key is not a valid header value");
        self
    }

    /// Names the endpoint by its configured id in errors (instead of its URL).
    #[must_use]
    pub fn with_endpoint_id(mut self, id: &EndpointId) -> Self {
        Arc::make_mut(&mut self.inner).label = id.as_str().into();
        self
    }

    /// Refuses streamed lines longer than `limits.max_line_bytes` and
    /// whole answers larger than `limits.max_answer_bytes` (defaults: those
    /// of om-config's `[limits]`).
    #[must_use]
    pub fn with_limits(mut self, limits: &om_config::Limits) -> Self {
        let inner = Arc::make_mut(&mut self.inner);
        inner.max_line_len = to_usize(limits.max_line_bytes);
        inner.max_body_len = to_usize(limits.max_answer_bytes);
        self
    }

    /// Speaks `api` to the endpoint. For [`ApiKind::OpenAi`] every native
    /// call is sent as its `/v1` counterpart and answered as Ollama would
    /// (see the crate docs); the endpoint URL may end in `/v1` or not.
    #[must_use]
    pub fn with_api(mut self, api: ApiKind) -> Self {
        Arc::make_mut(&mut self.inner).api = api;
        self
    }

    /// Answers `show`, `tags` and `ps` of an OpenAI-compatible endpoint
    /// with these capabilities instead of guessing them from model names.
    #[must_use]
    pub fn with_capabilities(mut self, declared: Option<Arc<DeclaredCapabilities>>) -> Self {
        Arc::make_mut(&mut self.inner).capabilities = declared;
        self
    }

    /// The API the endpoint speaks.
    pub fn api(&self) -> ApiKind {
        self.inner.api
    }

    /// The longest line accepted from a stream (`streamed`), or of an
    /// answer read whole.
    pub(crate) fn line_limit(&self, streamed: bool) -> usize {
        if streamed { self.inner.max_line_len } else { self.inner.max_body_len }
    }

    /// The endpoint's address.
    pub fn endpoint(&self) -> &EndpointUrl {
        &self.inner.endpoint
    }

    /// The time limits in force.
    pub fn timeouts(&self) -> Timeouts {
        self.inner.timeouts
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry
    }
}

// === impl Client: the API ===

impl Client {
    /// `GET /`: succeeds when the server answers `200` (`Ollama is running`).
    ///
    /// # Cancel safety
    ///
    /// See [`Client`]: dropping the future cancels the request.
    pub async fn heartbeat(&self) -> Result<()> {
        let call = Self::get("/", JSON);
        self.unit(call, None).await
    }

    /// `GET /api/version`.
    ///
    /// # Cancel safety
    ///
    /// See [`Client`]: dropping the future cancels the request.
    pub async fn version(&self) -> Result<VersionResponse> {
        self.json(Self::get("/api/version", JSON), None).await
    }

    /// `GET /api/tags`: the models installed on the endpoint.
    ///
    /// # Cancel safety
    ///
    /// See [`Client`]: dropping the future cancels the request.
    pub async fn list(&self) -> Result<ListResponse> {
        self.json(Self::get("/api/tags", JSON), None).await
    }

    /// `GET /api/ps`: the models loaded in memory.
    ///
    /// # Cancel safety
    ///
    /// See [`Client`]: dropping the future cancels the request.
    pub async fn ps(&self) -> Result<PsResponse> {
        self.json(Self::get("/api/ps", JSON), None).await
    }

    /// `POST /api/show`: a model's details, template and `model_info`.
    ///
    /// # Cancel safety
    ///
    /// See [`Client`]: dropping the future cancels the request.
    pub async fn show(&self, request: &ShowRequest) -> Result<ShowResponse> {
        let model = Some(request.target().to_owned());
        let call = self.post("/api/show", &request, JSON, model.as_deref())?;
        self.json(call, model).await
    }

    /// `POST /api/generate` with `stream: true`: the chunks as they arrive.
    ///
    /// The returned stream ends after the `done: true` chunk; see
    /// [`Client::chat`] for how it ends on failure.
    ///
    /// # Cancel safety
    ///
    /// See [`Client`]: dropping the future or the stream cancels generation.
    pub async fn generate(
        &self,
        mut request: GenerateRequest,
    ) -> Result<ChunkStream<GenerateResponse>> {
        request.stream = Some(true);
        let model = request.model.clone();
        self.stream("/api/generate", &request, model).await
    }

    /// `POST /api/generate` with `stream: false`: the whole response.
    ///
    /// # Cancel safety
    ///
    /// See [`Client`]: dropping the future cancels generation.
    pub async fn generate_once(&self, mut request: GenerateRequest) -> Result<GenerateResponse> {
        request.stream = Some(false);
        let model = request.model.clone();
        let call = self.post("/api/generate", &request, JSON, Some(&model))?;
        self.json(call, Some(model)).await
    }

    /// `POST /api/chat` with `stream: true`: the chunks as they arrive.
    ///
    /// `tools`, `images`, `format`, `think`, `keep_alive` and `options` pass
    /// through unchanged. The stream ends after the `done: true` chunk. It
    /// ends with an error instead on an `{"error": …}` line
    /// ([`ErrorKind::Stream`], Ollama's message verbatim), a line that is not
    /// a chat chunk ([`ErrorKind::Protocol`]), a broken connection or a body
    /// that ends before `done: true` ([`ErrorKind::Disconnected`]) or a
    /// timeout; such an error is [partial](Error::is_partial) when chunks
    /// were already yielded.
    ///
    /// # Cancel safety
    ///
    /// See [`Client`]: dropping the future or the stream cancels generation.
    pub async fn chat(&self, mut request: ChatRequest) -> Result<ChunkStream<ChatResponse>> {
        request.stream = Some(true);
        let model = request.model.clone();
        self.stream("/api/chat", &request, model).await
    }

    /// `POST /api/chat` with `stream: false`: the whole response.
    ///
    /// # Cancel safety
    ///
    /// See [`Client`]: dropping the future cancels generation.
    pub async fn chat_once(&self, mut request: ChatRequest) -> Result<ChatResponse> {
        request.stream = Some(false);
        let model = request.model.clone();
        let call = self.post("/api/chat", &request, JSON, Some(&model))?;
        self.json(call, Some(model)).await
    }

    /// `POST /api/embed`: unit-length vectors, one per input.
    ///
    /// # Cancel safety
    ///
    /// See [`Client`]: dropping the future cancels the request.
    pub async fn embed(&self, request: &EmbedRequest) -> Result<EmbedResponse> {
        let call = self.post("/api/embed", request, JSON, Some(&request.model))?;
        self.json(call, Some(request.model.clone())).await
    }

    /// `POST /api/embeddings` (legacy): one vector, not normalised.
    ///
    /// # Cancel safety
    ///
    /// See [`Client`]: dropping the future cancels the request.
    pub async fn embeddings(&self, request: &EmbeddingsRequest) -> Result<EmbeddingsResponse> {
        let call = self.post("/api/embeddings", request, JSON, Some(&request.model))?;
        self.json(call, Some(request.model.clone())).await
    }

    /// `POST /api/pull` with `stream: true`: progress until `success`.
    ///
    /// # Cancel safety
    ///
    /// See [`Client`]: dropping the stream closes the connection, which
    /// cancels the download.
    pub async fn pull(&self, mut request: PullRequest) -> Result<ChunkStream<ProgressResponse>> {
        request.stream = Some(true);
        let model = request.target().to_owned();
        self.stream("/api/pull", &request, model).await
    }

    /// `POST /api/push` with `stream: true`: progress until `success`.
    ///
    /// # Cancel safety
    ///
    /// See [`Client`]: dropping the stream closes the connection, which
    /// cancels the upload.
    pub async fn push(&self, mut request: PushRequest) -> Result<ChunkStream<ProgressResponse>> {
        request.stream = Some(true);
        let model = request.target().to_owned();
        self.stream("/api/push", &request, model).await
    }

    /// `POST /api/create` with `stream: true`: progress until `success`.
    ///
    /// # Cancel safety
    ///
    /// See [`Client`]: dropping the stream closes the connection.
    pub async fn create(
        &self,
        mut request: CreateRequest,
    ) -> Result<ChunkStream<ProgressResponse>> {
        request.stream = Some(true);
        let model = request.model.clone();
        self.stream("/api/create", &request, model).await
    }

    /// `POST /api/copy`: `200` with an empty body on success.
    ///
    /// # Cancel safety
    ///
    /// See [`Client`]: dropping the future cancels the request.
    pub async fn copy(&self, request: &CopyRequest) -> Result<()> {
        let call = self.post("/api/copy", request, JSON, Some(&request.source))?;
        self.unit(call, Some(request.source.clone())).await
    }

    /// `DELETE /api/delete` with a JSON body: `200` with an empty body on
    /// success.
    ///
    /// # Cancel safety
    ///
    /// See [`Client`]: dropping the future cancels the request.
    pub async fn delete(&self, request: &DeleteRequest) -> Result<()> {
        let model = request.target().to_owned();
        let mut call = self.post("/api/delete", request, JSON, Some(&model))?;
        call.method = Method::DELETE;
        self.unit(call, Some(model)).await
    }
}

// === impl Client: machinery ===

impl Client {
    fn get(path: &'static str, accept: HeaderValue) -> Call {
        Call {
            method: Method::GET,
            path,
            body: None,
            accept,
            authorization: None,
            openai_body: None,
        }
    }

    fn post<B: Serialize>(
        &self,
        path: &'static str,
        body: &B,
        accept: HeaderValue,
        model: Option<&str>,
    ) -> Result<Call> {
        let body = serde_json::to_vec(body).map_err(|e| {
            self.context(model.map(str::to_owned))
                .annotate(Error::new(ErrorKind::InvalidRequest, "request body does not serialise"))
                .with_source(e)
        })?;
        Ok(Call {
            method: Method::POST,
            path,
            body: Some(body.into()),
            accept,
            authorization: None,
            openai_body: None,
        })
    }

    pub(crate) fn context(&self, model: Option<String>) -> Context {
        Context { endpoint: self.inner.label.clone(), model }
    }

    /// A streaming call: retries until a 2xx head, then decodes the body.
    async fn stream<B: Serialize, T: Chunk>(
        &self,
        path: &'static str,
        request: &B,
        model: String,
    ) -> Result<ChunkStream<T>> {
        let call = self.post(path, request, NDJSON, Some(&model))?;
        let context = self.context(Some(model));
        let started = self.execute(&call, &context).await?;
        let reader = self.reader(started);
        let frames = FrameDecoder::with_lines(LineDecoder::new(self.inner.max_line_len));
        Ok(ndjson_stream(reader, frames, context))
    }

    /// A non-streaming call that returns one JSON value.
    async fn json<T: DeserializeOwned>(&self, call: Call, model: Option<String>) -> Result<T> {
        let context = self.context(model);
        let started = self.execute(&call, &context).await?;
        let body = self
            .reader(started)
            .read_all(self.inner.max_body_len, &context.endpoint)
            .await
            .map_err(|e| context.annotate(e))?;
        if body.iter().all(u8::is_ascii_whitespace) {
            let error = Error::new(
                ErrorKind::Protocol,
                format!("empty response body from {}", context.endpoint),
            );
            return Err(context.annotate(error));
        }
        decode_frame(&body, false).map_err(|e| context.annotate(e))
    }

    /// A non-streaming call whose success body is ignored.
    async fn unit(&self, call: Call, model: Option<String>) -> Result<()> {
        let context = self.context(model);
        let started = self.execute(&call, &context).await?;
        // Reading to the end returns the connection to the pool.
        self.reader(started)
            .read_all(MAX_ERROR_BODY_LEN, &context.endpoint)
            .await
            .map_err(|e| context.annotate(e))?;
        Ok(())
    }

    pub(crate) fn reader(&self, started: Started) -> BodyReader {
        BodyReader::new(
            started.response.into_body(),
            started.first_byte,
            self.inner.timeouts.idle,
            started.total,
        )
        .translated(started.translator)
    }

    /// Sends `call` until it gets a 2xx head, retrying what the policy
    /// allows; every error is annotated with `context`. For an
    /// OpenAI-compatible endpoint the call is sent as its `/v1`
    /// counterpart, and the answer's head says what the converted body is
    /// (NDJSON or one JSON object).
    pub(crate) async fn execute(&self, call: &Call, context: &Context) -> Result<Started> {
        // One send for both kinds: two would each take the attempt's
        // whole size in this future.
        let translated = if self.inner.api == ApiKind::OpenAi {
            let base = Base::of(self.inner.endpoint.path());
            let limit = self.inner.max_body_len.max(self.inner.max_line_len);
            let (call, translator) =
                openai::translate(call, base, limit, self.inner.capabilities.clone())
                    .map_err(|e| context.annotate(e))?;
            Some((call, Box::new(translator)))
        } else {
            None
        };
        let sent = translated.as_ref().map_or(call, |(call, _)| call);
        let mut started = self.execute_as_sent(sent, context).await?;
        if let Some((_, translator)) = translated {
            let content_type = if translator.is_stream() { NDJSON } else { JSON };
            started.response.headers_mut().insert(CONTENT_TYPE, content_type);
            started.translator = Some(translator);
        }
        Ok(started)
    }

    async fn execute_as_sent(&self, call: &Call, context: &Context) -> Result<Started> {
        let total = deadline_after(self.inner.timeouts.total);
        let policy = self.inner.retry;
        let mut attempt = 1;
        loop {
            let error = match self.attempt(call, total).await {
                Ok(started) => return Ok(started),
                Err(error) => context.annotate(error),
            };
            if attempt >= policy.max_attempts || !error.is_resendable() {
                return Err(error);
            }
            let delay = self.inner.backoff.delay_after(attempt, error.retry_after());
            if total.is_some_and(|total| Instant::now() + delay >= total) {
                // Sleeping would only run into the total limit.
                return Err(error);
            }
            tracing::debug!(
                endpoint = %context.endpoint,
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %error,
                kind = error.kind_name(),
                "retrying",
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One attempt: connect, send, and wait for the head. A non-2xx head
    /// becomes an error carrying Ollama's message.
    async fn attempt(&self, call: &Call, total: Option<Instant>) -> Result<Started> {
        let endpoint = &*self.inner.label;
        let timeouts = self.inner.timeouts;
        let http = &self.inner.http;
        let connect_limit =
            earliest(deadline_after(timeouts.connect), TimeoutPhase::Connect, total);
        let first_byte = deadline_after(timeouts.first_byte);
        let head_limit = earliest(first_byte, TimeoutPhase::FirstByte, total);
        let timed_out = |phase| errors::timeout(phase, endpoint, false);
        let failed = |e| errors::from_request_error(e, endpoint);

        // Phase 1: until a connection (pooled or new) can carry the request.
        let request = self.build(call)?;
        let connection =
            run_until(connect_limit, http.connect(request.uri())).await.map_err(timed_out)?;
        let connection = connection.map_err(failed)?;
        // Phase 2: until the head (and, in the body reader, the first bytes).
        let reused = connection.is_reused();
        let mut sent = run_until(head_limit, connection.send(request)).await.map_err(timed_out)?;
        if reused && sent.as_ref().is_err_and(om_http::Error::is_closed) {
            // The endpoint closed the pooled connection just as it was
            // taken, before answering anything: the request goes again, once,
            // on a new connection. Boxed, as the refusal below: rare paths
            // that would otherwise double the size of every attempt.
            sent = Box::pin(async {
                let request = self.build(call)?;
                let connection = run_until(connect_limit, http.connect_new(request.uri()))
                    .await
                    .map_err(timed_out)?
                    .map_err(failed)?;
                run_until(head_limit, connection.send(request)).await.map_err(timed_out)
            })
            .await?;
        }
        let response = sent.map_err(failed)?;
        if response.status().is_success() {
            return Ok(Started { response, first_byte, total, translator: None });
        }
        Err(Box::pin(self.refusal(response, first_byte, total)).await)
    }

    /// The error a non-2xx answer stands for, with Ollama's message from
    /// its body.
    async fn refusal(
        &self,
        response: Response<ResponseBody>,
        first_byte: Option<Instant>,
        total: Option<Instant>,
    ) -> Error {
        let endpoint = &*self.inner.label;
        let status = response.status();
        let (head, body) = response.into_parts();
        let reader = BodyReader::new(body, first_byte, self.inner.timeouts.idle, total);
        match reader.read_prefix(MAX_ERROR_BODY_LEN).await {
            Ok(body) => errors::from_status(status, &head.headers, &body),
            Err(failure) => failure.into_error(endpoint, false),
        }
    }

    fn build(&self, call: &Call) -> Result<Request<Bytes>> {
        let inner = &*self.inner;
        let uri: Uri = match &inner.origin {
            Some((scheme, authority)) => {
                let mut parts = http::uri::Parts::default();
                parts.scheme = Some(scheme.clone());
                parts.authority = Some(authority.clone());
                parts.path_and_query = Some(PathAndQuery::from_static(call.path));
                Uri::from_parts(parts).map_err(|e| {
                    Error::new(ErrorKind::Internal, "cannot build the request URL").with_source(e)
                })?
            }
            None => inner.endpoint.join(call.path).parse().map_err(|e| {
                Error::new(ErrorKind::Config, format!("{} is not a valid URL", inner.endpoint))
                    .with_source(e)
            })?,
        };
        let mut builder = Request::builder()
            .method(call.method.clone())
            .uri(uri)
            .header(ACCEPT, call.accept.clone())
            .header(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        if let Some(host) = &inner.host {
            builder = builder.header(HOST, host.clone());
        }
        if let Some(authorization) = call.authorization.as_ref().or(inner.authorization.as_ref()) {
            builder = builder.header(AUTHORIZATION, authorization.clone());
        }
        let body = match &call.body {
            Some(body) => {
                builder = builder.header(CONTENT_TYPE, JSON);
                body.clone()
            }
            None => Bytes::new(),
        };
        builder.body(body).map_err(|e| {
            Error::new(ErrorKind::Internal, "cannot build the HTTP request").with_source(e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::http_client;

    fn built(url: &str, call: &Call) -> Request<Bytes> {
        Client::new(http_client(), url.parse().unwrap()).build(call).unwrap()
    }

    #[test]
    fn the_uri_is_the_endpoint_joined_with_the_path() {
        let call = Client::get("/api/tags", JSON);
        for (url, want) in [
            ("http://127.0.0.1:11434", "http://127.0.0.1:11434/api/tags"),
            ("https://gpu.example:8443/", "https://gpu.example:8443/api/tags"),
            ("localhost:11434", "http://localhost:11434/api/tags"),
            ("[::1]:7000", "http://[::1]:7000/api/tags"),
            // Behind a reverse proxy's prefix: joined, not replaced.
            ("http://proxy.example/ollama", "http://proxy.example:80/ollama/api/tags"),
        ] {
            assert_eq!(built(url, &call).uri().to_string(), want, "{url}");
        }
    }

    #[test]
    fn host_is_set_for_loopback_upstreams_only() {
        let call = Client::get("/api/tags", JSON);
        // The connection would drop the default port from its own Host; ours keeps the
        // upstream's authority exactly.
        let loopback = built("http://127.0.0.1:80", &call);
        assert_eq!(loopback.headers()[HOST], "127.0.0.1:80");
        assert_eq!(built("localhost:11434", &call).headers()[HOST], "localhost:11434");
        assert_eq!(built("[::1]:7000", &call).headers()[HOST], "[::1]:7000");
        // A remote upstream gets the connection's Host from the URI.
        assert!(built("http://10.0.0.2:11434", &call).headers().get(HOST).is_none());
        assert!(loopback.headers().get(AUTHORIZATION).is_none());
    }

    #[test]
    fn headers_per_call() {
        let client = Client::new(http_client(), "127.0.0.1:11434".parse().unwrap());
        let call = client.post("/api/chat", &serde_json::json!({}), NDJSON, None).unwrap();
        let request = client.build(&call).unwrap();
        assert_eq!(request.uri(), "http://127.0.0.1:11434/api/chat");
        assert_eq!(request.headers()[ACCEPT], "application/x-ndjson");
        assert_eq!(request.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(request.headers()[USER_AGENT], USER_AGENT_VALUE);
        assert!(USER_AGENT_VALUE.starts_with("ollama-meta/"));
    }
}
