//! The HTTP surface: one [`App`] per endpoint, the route table (gin's 404 and
//! 405 texts included), Ollama's host check, and the handlers by concern.

mod chat;
mod embed;
mod events;
mod generate;
mod inference;
mod manage;
mod models;
mod openai;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use om_core::ModelName;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::catalog::{Catalog, Installed};
use crate::clock::Clock;
use crate::compute::Compute;
use crate::error::{ApiError, Dropped};
use crate::fault::Faults;
use crate::reply::ReplyMode;
use crate::response::{self, Reply};
use crate::scheduler::{Scheduler, SchedulerConfig};
use crate::spec::{EndpointSpec, ModelSpec};
use om_core::rng::SplitMix64;

/// The largest request body read; Ollama has no limit, but a simulator has
/// no reason to buffer more.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Everything the handlers of one endpoint share (mini-redis's shape: one
/// `Arc`, short locks inside).
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) reply: ReplyMode,
    pub(crate) seed: u64,
    pub(crate) tokens_per_sec: f64,
    pub(crate) ttft: Duration,
    pub(crate) keep_alive: Duration,
    pub(crate) clock: Clock,
    pub(crate) faults: watch::Receiver<Faults>,
    pub(crate) rng: Mutex<SplitMix64>,
    pub(crate) catalog: Mutex<Catalog>,
    pub(crate) scheduler: Arc<Scheduler>,
    /// The box every prompt evaluation and generation of the endpoint
    /// shares, whatever the model or slot.
    pub(crate) compute: Arc<Compute>,
    /// Bound to a loopback address: Ollama then checks the `Host` header.
    pub(crate) loopback: bool,
    /// Numbers the `/v1` ids.
    pub(crate) requests: AtomicU64,
}

/// The request handler of one endpoint; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct App {
    shared: Arc<Shared>,
}

impl App {
    pub(crate) fn new(
        spec: EndpointSpec,
        faults: watch::Receiver<Faults>,
        local_addr: SocketAddr,
    ) -> Self {
        let clock = Clock::new();
        let catalog = Catalog::new(&spec.models, clock.now_unix_nanos());
        let scheduler = Scheduler::new(SchedulerConfig {
            num_parallel: spec.num_parallel.max(1),
            max_queue: spec.max_queue,
            max_loaded_models: spec.max_loaded_models,
            load_time: spec.load_time,
        });
        Self {
            shared: Arc::new(Shared {
                name: spec.name,
                version: spec.version,
                reply: spec.reply,
                seed: spec.seed,
                tokens_per_sec: spec.tokens_per_sec,
                ttft: spec.ttft,
                keep_alive: spec.keep_alive,
                clock,
                faults,
                rng: Mutex::new(SplitMix64::new(spec.seed)),
                catalog: Mutex::new(catalog),
                scheduler: Arc::new(scheduler),
                compute: Arc::new(Compute::new(spec.batch_exponent, spec.max_speedup)),
                loopback: local_addr.ip().is_loopback(),
                requests: AtomicU64::new(0),
            }),
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The faults in force now.
    pub(crate) fn faults(&self) -> Faults {
        self.shared.faults.borrow().clone()
    }

    /// True while the flapping fault has the endpoint down.
    pub(crate) fn is_down(&self) -> bool {
        let since = Instant::now().duration_since(self.shared.clock.started());
        self.shared.faults.borrow().is_down(since)
    }

    /// The installed model called `name`.
    pub(crate) fn find(&self, name: &ModelName) -> Option<Installed> {
        self.shared.catalog.lock().find(name).cloned()
    }

    /// The installed model a request names, parsed leniently: a name that
    /// does not parse cannot be installed.
    pub(crate) fn find_text(&self, requested: &str) -> Option<Installed> {
        ModelName::parse(requested).ok().and_then(|name| self.find(&name))
    }

    /// Installs (or refreshes) a model now.
    pub(crate) fn install(&self, spec: ModelSpec) {
        let now = self.shared.clock.now_unix_nanos();
        self.shared.catalog.lock().upsert(spec, now);
    }

    /// The next request number (for `/v1` ids).
    pub(crate) fn next_request(&self) -> u64 {
        self.shared.requests.fetch_add(1, Ordering::Relaxed)
    }

    /// Serves one request.
    ///
    /// # Errors
    ///
    /// [`Dropped`] when the connection must close without a response.
    pub(crate) async fn handle(self, request: Request<Incoming>) -> Reply {
        if self.is_down() {
            return Err(Dropped);
        }
        if self.shared.loopback && !host_allowed(request.headers().get(header::HOST)) {
            return Ok(response::status(StatusCode::FORBIDDEN));
        }
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let Some((route, methods)) = Route::resolve(&path) else {
            return Ok(response::text(StatusCode::NOT_FOUND, "404 page not found"));
        };
        if !methods.contains(&method) {
            return Ok(response::text(StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed"));
        }
        let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) if err.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
                return Ok(response::error(&ApiError::bad_request("http: request body too large")));
            }
            // The client went away while sending.
            Err(_) => return Err(Dropped),
        };
        tracing::debug!(bytes = body.len(), "request body read");
        self.dispatch(route, &method, body).await
    }

    async fn dispatch(&self, route: Route, method: &Method, body: Bytes) -> Reply {
        match route {
            Route::Root => Ok(response::text(StatusCode::OK, "Ollama is running")),
            Route::Version => Ok(models::version(self)),
            Route::Status => Ok(models::status()),
            Route::Tags => Ok(models::tags(self)),
            Route::Ps => Ok(models::ps(self)),
            Route::Show => Ok(models::show(self, &body)),
            Route::Generate => generate::handle(self, &body).await,
            Route::Chat => chat::handle(self, &body).await,
            Route::Embed => embed::embed(self, &body).await,
            Route::Embeddings => embed::embeddings(self, &body).await,
            Route::Pull => Ok(manage::pull(self, &body)),
            Route::Push => Ok(manage::push(self, &body)),
            Route::Create => Ok(manage::create(self, &body)),
            Route::Copy => Ok(manage::copy(self, &body)),
            Route::Delete => Ok(manage::delete(self, &body)),
            Route::Blob(digest) => Ok(manage::blob(self, method, &digest, &body)),
            Route::OpenAiChat => openai::chat(self, &body).await,
            Route::OpenAiCompletions => openai::completions(self, &body).await,
            Route::OpenAiEmbeddings => openai::embeddings(self, &body).await,
            Route::OpenAiModels => Ok(openai::models(self)),
            Route::OpenAiModel(model) => Ok(openai::model(self, &model)),
        }
    }
}

/// The routes of `server/routes.go` the simulator serves.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Root,
    Version,
    Status,
    Tags,
    Ps,
    Show,
    Generate,
    Chat,
    Embed,
    Embeddings,
    Pull,
    Push,
    Create,
    Copy,
    Delete,
    Blob(String),
    OpenAiChat,
    OpenAiCompletions,
    OpenAiEmbeddings,
    OpenAiModels,
    OpenAiModel(String),
}

const GET_HEAD: &[Method] = &[Method::GET, Method::HEAD];
const GET: &[Method] = &[Method::GET];
const POST: &[Method] = &[Method::POST];
const DELETE: &[Method] = &[Method::DELETE];
const HEAD_POST: &[Method] = &[Method::HEAD, Method::POST];

impl Route {
    /// The route at `path` and the methods it allows.
    fn resolve(path: &str) -> Option<(Self, &'static [Method])> {
        let fixed = match path {
            "/" => (Self::Root, GET_HEAD),
            "/api/version" => (Self::Version, GET_HEAD),
            "/api/status" => (Self::Status, GET),
            "/api/tags" => (Self::Tags, GET_HEAD),
            "/api/ps" => (Self::Ps, GET),
            "/api/show" => (Self::Show, POST),
            "/api/generate" => (Self::Generate, POST),
            "/api/chat" => (Self::Chat, POST),
            "/api/embed" => (Self::Embed, POST),
            "/api/embeddings" => (Self::Embeddings, POST),
            "/api/pull" => (Self::Pull, POST),
            "/api/push" => (Self::Push, POST),
            "/api/create" => (Self::Create, POST),
            "/api/copy" => (Self::Copy, POST),
            "/api/delete" => (Self::Delete, DELETE),
            "/v1/chat/completions" => (Self::OpenAiChat, POST),
            "/v1/completions" => (Self::OpenAiCompletions, POST),
            "/v1/embeddings" => (Self::OpenAiEmbeddings, POST),
            "/v1/models" => (Self::OpenAiModels, GET),
            _ => return Self::resolve_param(path),
        };
        Some(fixed)
    }

    /// Routes with one path parameter (gin's `:digest`, `:model`: one
    /// non-empty segment).
    fn resolve_param(path: &str) -> Option<(Self, &'static [Method])> {
        let segment = |prefix: &str| {
            path.strip_prefix(prefix).filter(|rest| !rest.is_empty() && !rest.contains('/'))
        };
        if let Some(digest) = segment("/api/blobs/") {
            return Some((Self::Blob(digest.to_owned()), HEAD_POST));
        }
        if let Some(model) = segment("/v1/models/") {
            return Some((Self::OpenAiModel(percent_decode(model)), GET));
        }
        None
    }
}

/// Decodes `%XX` escapes in a path segment (model names may carry `:`).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Ollama's `allowedHostsMiddleware` for loopback-bound servers: local names
/// and loopback, private or unspecified addresses pass; anything else is
/// refused with a bare 403. A missing header passes.
fn host_allowed(host: Option<&http::HeaderValue>) -> bool {
    let Some(host) = host.and_then(|h| h.to_str().ok()) else { return true };
    let host = host.trim().to_ascii_lowercase();
    // Strip the port: `[::1]:80`, `127.0.0.1:80`, `localhost:80`.
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else if host.matches(':').count() == 1 {
        host.split(':').next().unwrap_or_default()
    } else {
        host.as_str()
    };
    if name.is_empty()
        || name == "localhost"
        || [".localhost", ".local", ".internal"].iter().any(|s| name.ends_with(s))
    {
        return true;
    }
    match name.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback() || ip.is_private() || ip.is_unspecified(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.is_unspecified() || (ip.segments()[0] & 0xfe00) == 0xfc00
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn routes_and_methods() {
        assert_eq!(Route::resolve("/api/tags").unwrap().0, Route::Tags);
        assert_eq!(
            Route::resolve("/api/blobs/sha256:ab").unwrap().0,
            Route::Blob("sha256:ab".to_owned())
        );
        assert_eq!(
            Route::resolve("/v1/models/llama3.2%3Alatest").unwrap().0,
            Route::OpenAiModel("llama3.2:latest".to_owned())
        );
        assert!(Route::resolve("/v1/models/a/b").is_none());
        assert!(Route::resolve("/api/nope").is_none());
        assert!(!Route::resolve("/api/ps").unwrap().1.contains(&Method::HEAD));
    }

    #[test]
    fn host_check() {
        let ok = |h: &str| host_allowed(Some(&HeaderValue::from_str(h).unwrap()));
        assert!(host_allowed(None));
        for good in
            ["localhost:11434", "127.0.0.1:80", "[::1]:11434", "10.1.2.3", "box.local", "0.0.0.0"]
        {
            assert!(ok(good), "{good}");
        }
        for bad in ["example.com", "8.8.8.8:80", "evil.localhost.com"] {
            assert!(!ok(bad), "{bad}");
        }
    }
}
