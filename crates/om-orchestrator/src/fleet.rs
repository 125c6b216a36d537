//! [`Fleet`]: the composition root — registry, router, metrics, endpoint
//! clients and permits in one cheap handle — and its builder.

use std::collections::BTreeMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;

use om_client::{HttpClient, HttpConfig, Timeouts};
use om_config::ModelSettings;
use om_core::{Error, ErrorKind, ModelName, TaskCategory};
use om_discovery::Discovery;
use om_metrics::Metrics;
use om_registry::{EndpointSpec, LimitConfig, Registry};
use om_router::{Router, RouterConfig, Strategy};
use tokio_util::sync::CancellationToken;

use crate::backends::Backends;
use crate::permits::Permits;
use crate::settings::Settings;
use crate::workers::Workers;

/// The fleet as the request path sees it: where tasks are executed.
///
/// A `Fleet` is a handle: cloning it is cheap and clones share everything.
/// It holds
///
/// - the [`Registry`], the one source of truth for the catalog and live
///   instance state (discovery writes the catalog, [`Fleet::execute`]
///   records every attempt's outcome);
/// - the [`Router`], which ranks instances from registry snapshots;
/// - the [`Metrics`], observability only;
/// - one `om-client` client per endpoint over one shared connection pool,
///   and one semaphore per endpoint that bounds the requests sent to it.
///
/// Build one with [`Fleet::from_config`] (which also returns the background
/// [`Workers`]) or [`Fleet::builder`].
#[derive(Debug, Clone)]
pub struct Fleet {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) registry: Registry,
    pub(crate) router: Router,
    pub(crate) metrics: Metrics,
    pub(crate) settings: Settings,
    pub(crate) backends: Backends,
    pub(crate) permits: Permits,
    pub(crate) backoff: om_core::Backoff,
    pub(crate) models: BTreeMap<ModelName, ModelSettings>,
}

impl Fleet {
    /// A builder with default settings, an empty registry, the default
    /// router and new metrics.
    pub fn builder() -> FleetBuilder {
        FleetBuilder::new()
    }

    /// Builds the fleet `config` describes: the shared HTTP pool, a client
    /// per endpoint with the configured timeouts, the registry seeded with
    /// the configured endpoints, the router with the configured strategy,
    /// new metrics, and the discovery worker that fills the catalog.
    ///
    /// Spawn the returned [`Workers`] with a shutdown token (after
    /// [`Workers::probe_all`], to start with a known fleet). Until discovery
    /// has probed an endpoint the catalog has no models there, and tasks
    /// that only it could serve wait for the probe (bounded by their
    /// deadline).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] for settings the loader did not check (an
    /// unknown strategy in a hand-built `Config`, an invalid weight).
    pub fn from_config(config: &om_config::Config) -> Result<(Self, Workers), Error> {
        FleetBuilder::from_config(config)?.build()
    }

    /// The registry: catalog and live state.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The router.
    pub fn router(&self) -> &Router {
        &self.inner.router
    }

    /// The metrics every attempt and task is recorded into.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The concurrency limit of `endpoint` now: learned, or its own, else
    /// the fleet's default.
    pub(crate) fn capacity(&self, endpoint: &om_registry::Endpoint) -> NonZeroU32 {
        let configured = endpoint.max_concurrency.unwrap_or(self.inner.settings.max_concurrency);
        NonZeroU32::new(endpoint.live.limit_or(configured.get())).unwrap_or(NonZeroU32::MIN)
    }
}

/// Builds a [`Fleet`] from explicit parts: for tests, for embedding, and for
/// plugging in a custom routing [`Strategy`].
///
/// ```
/// use std::sync::Arc;
/// use om_orchestrator::{Fleet, Settings};
/// use om_registry::EndpointSpec;
/// use om_router::{LeastLoaded, RouterConfig, Router};
///
/// let (fleet, _workers) = Fleet::builder()
///     .endpoint(EndpointSpec::new("gpu".into(), "127.0.0.1:11434".parse()?))
///     .router(Router::new(RouterConfig::default()).with_strategy(Arc::new(LeastLoaded)))
///     .settings(Settings { max_attempts: 2, ..Settings::default() })
///     .build()?;
/// assert_eq!(fleet.registry().snapshot().endpoints().len(), 1);
/// assert_eq!(fleet.router().strategy_for(None).name(), "least_loaded");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub struct FleetBuilder {
    registry: Option<Registry>,
    registry_config: om_registry::Config,
    router: Option<Router>,
    router_config: RouterConfig,
    strategies: Vec<(Option<TaskCategory>, Arc<dyn Strategy>)>,
    metrics: Option<Metrics>,
    settings: Settings,
    http: Option<HttpClient>,
    timeouts: Timeouts,
    limits: om_config::Limits,
    models: BTreeMap<ModelName, ModelSettings>,
    endpoints: Vec<EndpointSpec>,
    discovery: Option<om_discovery::Settings>,
    workers: Workers,
}

impl std::fmt::Debug for FleetBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetBuilder")
            .field("settings", &self.settings)
            .field("endpoints", &self.endpoints)
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

impl FleetBuilder {
    fn new() -> Self {
        Self {
            registry: None,
            registry_config: om_registry::Config::default(),
            router: None,
            router_config: RouterConfig::default(),
            strategies: Vec::new(),
            metrics: None,
            settings: Settings::default(),
            http: None,
            timeouts: Timeouts::default(),
            limits: om_config::Limits::default(),
            models: BTreeMap::new(),
            endpoints: Vec::new(),
            discovery: None,
            workers: Workers::new(),
        }
    }

    /// A builder set up as [`Fleet::from_config`] does it; change what you
    /// like before [`build`](Self::build) (a custom strategy, say).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] for an unknown strategy name, or a
    /// `tls.ca_file` that holds no usable certificate.
    pub fn from_config(config: &om_config::Config) -> Result<Self, Error> {
        let routing = &config.routing;
        let router_config = RouterConfig::from_config(routing)
            .map_err(|e| Error::new(ErrorKind::Config, format!("routing: {e}")))?;
        let timeouts = &config.timeouts;
        let tls = om_client::tls_config(config.tls.ca_file.as_deref())?;
        let mut builder = Self::new()
            .router_config(router_config)
            .registry_config(om_registry::Config::from_config(routing, &config.breaker))
            .settings(Settings::from_config(config))
            .http(
                HttpConfig {
                    connect_timeout: Some(timeouts.connect),
                    tls: Some(tls),
                    ..HttpConfig::default()
                }
                .build(),
            )
            .timeouts(Timeouts::from(timeouts))
            .limits(config.limits.clone());
        builder.models.clone_from(&config.models);
        builder = builder.discovery(om_discovery::Settings::from(&config.discovery));
        for endpoint in &config.endpoints {
            builder = builder.endpoint(EndpointSpec::from(endpoint));
        }
        Ok(builder)
    }

    /// Uses this registry (shared with whoever else holds it) instead of a
    /// new one.
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Settings of a new registry (ignored with [`registry`](Self::registry)).
    pub fn registry_config(mut self, config: om_registry::Config) -> Self {
        self.registry_config = config;
        self
    }

    /// Uses this router instead of one built from the router settings.
    pub fn router(mut self, router: Router) -> Self {
        self.router = Some(router);
        self
    }

    /// Settings of the router to build (ignored with [`router`](Self::router)).
    pub fn router_config(mut self, config: RouterConfig) -> Self {
        self.router_config = config;
        self
    }

    /// Routes every category without a strategy of its own with `strategy`.
    pub fn strategy(mut self, strategy: Arc<dyn Strategy>) -> Self {
        self.strategies.push((None, strategy));
        self
    }

    /// Routes tasks of `category` with `strategy`.
    pub fn category_strategy(
        mut self,
        category: TaskCategory,
        strategy: Arc<dyn Strategy>,
    ) -> Self {
        self.strategies.push((Some(category), strategy));
        self
    }

    /// Records into these metrics instead of new ones.
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Uses these settings.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Shares this HTTP pool instead of building one.
    pub fn http(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// Size limits on what endpoints send back (a line of a stream, an
    /// answer read whole).
    pub fn limits(mut self, limits: om_config::Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Time limits of every call to an endpoint.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Options and `keep_alive` for every request to `model`.
    pub fn model_settings(mut self, model: ModelName, settings: ModelSettings) -> Self {
        self.models.insert(model, settings);
        self
    }

    /// Adds an endpoint to the registry when building (with the fleet's
    /// default concurrency when it sets none).
    pub fn endpoint(mut self, spec: EndpointSpec) -> Self {
        self.endpoints.push(spec);
        self
    }

    /// Discovers the endpoints with these settings: [`build`](Self::build)
    /// then returns the discovery worker (and the forwarding of its events
    /// to the metrics) in the [`Workers`]. Without it the catalog is the
    /// caller's to fill.
    pub fn discovery(mut self, settings: om_discovery::Settings) -> Self {
        self.discovery = Some(settings);
        self
    }

    /// Adds a background worker, run by [`Workers::run`] with the others.
    pub fn worker<F, Fut>(mut self, name: &'static str, worker: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.workers.push(name, worker);
        self
    }

    /// The fleet and its background workers.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] when an endpoint cannot be added to the
    /// registry (a weight that is not a positive number, a name used twice
    /// with discovery) or the discovery settings cannot run.
    pub fn build(mut self) -> Result<(Fleet, Workers), Error> {
        let registry = self.registry.unwrap_or_else(|| Registry::new(self.registry_config));
        let metrics = self.metrics.unwrap_or_default();
        let http = self.http.unwrap_or_else(|| HttpConfig::default().build());
        let settings = &self.settings;
        let endpoints: Vec<EndpointSpec> =
            self.endpoints.into_iter().map(|spec| limited(spec, settings)).collect();
        if let Some(settings) = self.discovery {
            // Discovery registers the endpoints itself.
            let discovery = Discovery::try_new(registry.clone(), &http, endpoints, settings)
                .map_err(|e| Error::new(ErrorKind::Config, e.to_string()))?;
            self.workers.set_discovery(discovery, metrics.clone());
        } else if !endpoints.is_empty() {
            let mut edit = registry.edit();
            for spec in endpoints {
                let id = spec.id.to_string();
                edit.upsert_endpoint(spec)
                    .map_err(|e| Error::new(ErrorKind::Config, e.to_string()).with_endpoint(id))?;
            }
            edit.publish();
        }
        let mut router = self.router.unwrap_or_else(|| Router::new(self.router_config));
        for (category, strategy) in self.strategies {
            router = match category {
                None => router.with_strategy(strategy),
                Some(category) => router.with_category_strategy(category, strategy),
            };
        }
        let inner = Inner {
            registry,
            router,
            metrics,
            backoff: om_core::Backoff::new(self.settings.backoff()),
            settings: self.settings,
            backends: Backends::new(http, self.timeouts, self.limits),
            permits: Permits::new(),
            models: self.models,
        };
        Ok((Fleet { inner: Arc::new(inner) }, self.workers))
    }
}

/// `spec` with the concurrency limit the settings give it: with adaptive
/// concurrency a learned one starting at the fleet's default and capped by
/// the endpoint's own limit (else the fleet's ceiling); without, its own
/// limit or the fleet's default.
fn limited(mut spec: EndpointSpec, settings: &Settings) -> EndpointSpec {
    if settings.adaptive_concurrency {
        let ceiling = spec.max_concurrency.unwrap_or(settings.concurrency_ceiling);
        spec.max_concurrency = Some(ceiling);
        let initial = settings.max_concurrency.min(ceiling);
        spec.adaptive = Some(LimitConfig { initial, ..LimitConfig::default() });
    } else {
        spec.max_concurrency = spec.max_concurrency.or(Some(settings.max_concurrency));
        spec.adaptive = None;
    }
    spec
}
