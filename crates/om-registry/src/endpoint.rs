//! Endpoints: what discovery declares about one Ollama server, its health,
//! and the live counters shared by every instance on it.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use om_core::{ApiKind, DeclaredCapabilities, EndpointId, EndpointUrl};
use tokio::time::Instant;

use crate::limit::{LimitConfig, LimitReason, Limiter};
use crate::tags::TagSet;

/// The configured side of an endpoint, as discovery (or the orchestrator,
/// from `om-config`'s `[[endpoints]]`) declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSpec {
    /// The unique name (`om-config`'s `name`, `host:port` by default).
    pub id: EndpointId,
    /// Where the server listens.
    pub url: EndpointUrl,
    /// The API it speaks.
    pub api: ApiKind,
    /// The environment variable holding its API key, sent as a bearer
    /// token (the key itself is never kept here).
    pub api_key_env: Option<String>,
    /// Relative share of the traffic (finite, greater than 0; default 1).
    pub weight: f64,
    /// Labels routing constraints can require (`gpu`, `laptop`).
    pub tags: Vec<String>,
    /// The most requests to send at once, when configured: the limit, or
    /// with `adaptive` the ceiling of the learned one.
    pub max_concurrency: Option<NonZeroU32>,
    /// Learn the limit from how answers slow down (see [`Limiter`]), up to
    /// `max_concurrency`; `None` keeps it fixed.
    pub adaptive: Option<LimitConfig>,
    /// What its models can do, as configured, for an API that does not
    /// say (OpenAI-compatible servers).
    pub capabilities: Option<Arc<DeclaredCapabilities>>,
}

impl EndpointSpec {
    /// An endpoint with weight 1, no tags and no concurrency limit.
    pub fn new(id: EndpointId, url: EndpointUrl) -> Self {
        Self {
            id,
            url,
            api: ApiKind::Ollama,
            api_key_env: None,
            weight: 1.0,
            tags: Vec::new(),
            max_concurrency: None,
            adaptive: None,
            capabilities: None,
        }
    }
}

impl From<&om_config::Endpoint> for EndpointSpec {
    /// A configured endpoint: its name, URL, weight, tags, limit (a fixed
    /// one; whoever learns limits sets `adaptive`) and declared
    /// capabilities.
    fn from(endpoint: &om_config::Endpoint) -> Self {
        Self {
            id: endpoint.name.clone(),
            url: endpoint.url.clone(),
            api: endpoint.kind,
            api_key_env: endpoint.api_key_env.clone(),
            weight: endpoint.weight,
            tags: endpoint.tags.clone(),
            max_concurrency: endpoint
                .max_concurrency
                .map(|n| NonZeroU32::try_from(n).unwrap_or(NonZeroU32::MAX)),
            adaptive: None,
            capabilities: endpoint.capabilities.as_ref().map(|names| Arc::new(names.declared())),
        }
    }
}

/// Whether an endpoint answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Not probed yet. Routable: an endpoint only has models once discovery
    /// has heard from it.
    Unknown,
    /// The last probe succeeded.
    Healthy,
    /// The last probe failed.
    Unhealthy {
        /// Why, in words (`connection refused`, `not an Ollama server: …`).
        reason: String,
        /// When it went down: kept from the first failed probe while the
        /// endpoint stays down.
        since: Instant,
    },
}

impl Health {
    /// An unhealthy state with this reason, down since `since`.
    pub fn unhealthy(reason: impl Into<String>, since: Instant) -> Self {
        Self::Unhealthy { reason: reason.into(), since }
    }

    /// True unless [`Health::Unhealthy`].
    pub fn is_routable(&self) -> bool {
        !matches!(self, Self::Unhealthy { .. })
    }

    /// True for [`Health::Healthy`].
    pub fn is_healthy(&self) -> bool {
        *self == Self::Healthy
    }

    /// The reason, when unhealthy.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Unhealthy { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

/// Live counters of one endpoint, shared by its instances and updated
/// without rebuilding the snapshot.
#[derive(Debug, Default)]
pub struct EndpointLive {
    in_flight: AtomicU32,
    /// Running and held requests with their expected durations.
    pub(crate) work: parking_lot::Mutex<crate::work::Work>,
    /// Nanoseconds of the last probe plus one; 0 when never probed.
    probe_latency: AtomicU64,
    /// The adaptive limit, when the endpoint has one.
    limiter: parking_lot::Mutex<Option<Limiter>>,
    /// Its value, for lock-free reads; 0 when the limit is fixed.
    limit: AtomicU32,
    /// [`LimitReason::code`] of its last change.
    limit_reason: AtomicU8,
}

impl EndpointLive {
    /// Requests running on the endpoint now, over all its models.
    #[inline]
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// How long the last health probe took.
    pub fn probe_latency(&self) -> Option<Duration> {
        match self.probe_latency.load(Ordering::Relaxed) {
            0 => None,
            n => Some(Duration::from_nanos(n - 1)),
        }
    }

    pub(crate) fn set_probe_latency(&self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX - 1);
        self.probe_latency.store(nanos.saturating_add(1), Ordering::Relaxed);
    }

    /// The learned concurrency limit and why it is what it is; `None` when
    /// the limit is fixed.
    pub fn learned_limit(&self) -> Option<(u32, LimitReason)> {
        match self.limit.load(Ordering::Relaxed) {
            0 => None,
            n => Some((n, LimitReason::from_code(self.limit_reason.load(Ordering::Relaxed)))),
        }
    }

    /// The concurrency limit in force: the learned one when the endpoint
    /// adapts, else `configured`.
    #[inline]
    pub fn limit_or(&self, configured: u32) -> u32 {
        self.learned_limit().map_or(configured, |(limit, _)| limit)
    }

    /// Starts, keeps or drops the adaptive limit as `spec` says: a limiter
    /// with the same settings keeps what it has learnt.
    pub(crate) fn configure(&self, spec: &EndpointSpec) {
        let mut limiter = self.limiter.lock();
        match (spec.adaptive, limiter.as_mut()) {
            (None, _) => *limiter = None,
            (Some(config), current) => {
                let ceiling = spec.max_concurrency.unwrap_or(NonZeroU32::MAX);
                if current.is_none_or(|l| !l.is_configured_as(config, ceiling)) {
                    *limiter = Some(Limiter::new(config, ceiling));
                }
            }
        }
        self.publish(limiter.as_ref());
    }

    /// An answer `ratio` times slower per token than its instance's best
    /// ended; `in_flight` requests ran on the endpoint, it included.
    pub(crate) fn on_answer(&self, ratio: f64, in_flight: u32) {
        self.adjust(|l| l.on_answer(ratio, in_flight));
    }

    /// A request waited inside the server for a parallel slot; it began
    /// with `admitted_with` requests in flight, when that is known.
    pub(crate) fn on_queued(&self, admitted_with: Option<u32>) {
        self.adjust(|l| l.on_queued(admitted_with));
    }

    /// The endpoint pushed back (503 "server busy", 429).
    pub(crate) fn on_busy(&self) {
        self.adjust(Limiter::on_busy);
    }

    fn adjust(&self, change: impl FnOnce(&mut Limiter)) {
        let mut limiter = self.limiter.lock();
        if let Some(l) = limiter.as_mut() {
            change(l);
            self.publish(Some(l));
        }
    }

    fn publish(&self, limiter: Option<&Limiter>) {
        let (limit, reason) = limiter.map_or((0, 0), |l| (l.limit(), l.reason().code()));
        self.limit_reason.store(reason, Ordering::Relaxed);
        self.limit.store(limit, Ordering::Relaxed);
    }

    pub(crate) fn start(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn end(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One endpoint in a [`Snapshot`](crate::Snapshot).
#[derive(Debug)]
pub struct Endpoint {
    /// The unique name.
    pub id: EndpointId,
    /// Where it listens.
    pub url: EndpointUrl,
    /// The API it speaks.
    pub api: ApiKind,
    /// The environment variable holding its API key.
    pub api_key_env: Option<String>,
    /// Relative share of the traffic.
    pub weight: f64,
    /// Its labels.
    pub tags: Vec<String>,
    /// The configured concurrency limit.
    pub max_concurrency: Option<NonZeroU32>,
    /// What its models can do, as configured.
    pub capabilities: Option<Arc<DeclaredCapabilities>>,
    /// What `/api/version` said.
    pub version: Option<String>,
    /// Whether it answers.
    pub health: Health,
    /// Live counters (in flight, probe latency).
    pub live: Arc<EndpointLive>,
    /// `tags` as interned ids of the snapshot.
    pub(crate) tag_set: TagSet,
}

impl Endpoint {
    /// How many requests it takes at once: the learned limit when it is
    /// adaptive, else the configured one, else 1.
    #[inline]
    pub fn capacity(&self) -> u32 {
        self.live.limit_or(self.max_concurrency.map_or(1, NonZeroU32::get))
    }

    /// True when the endpoint carries every tag of `required`.
    #[inline]
    pub fn has_tags(&self, required: &TagSet) -> bool {
        self.tag_set.contains(required)
    }
}
