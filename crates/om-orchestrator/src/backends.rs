//! One `om-client` [`Client`] per endpoint, over the one shared pool,
//! created the first time the endpoint is used.

use std::collections::HashMap;

use om_client::{Client, HttpClient, Timeouts};
use om_core::EndpointId;
use om_registry::Endpoint;
use parking_lot::Mutex;

/// The endpoint clients of a fleet.
///
/// Clients retry nothing themselves (their default, [`om_client::RetryPolicy::NEVER`]): every retry is
/// the orchestrator's, which can go to another endpoint, spends one budget
/// and records each attempt in the registry.
#[derive(Debug)]
pub(crate) struct Backends {
    http: HttpClient,
    timeouts: Timeouts,
    limits: om_config::Limits,
    clients: Mutex<HashMap<EndpointId, Client>>,
}

impl Backends {
    pub(crate) fn new(http: HttpClient, timeouts: Timeouts, limits: om_config::Limits) -> Self {
        Self { http, timeouts, limits, clients: Mutex::new(HashMap::new()) }
    }

    /// The client of `endpoint`; a new one when the endpoint is new or has
    /// moved to another URL.
    pub(crate) fn client(&self, endpoint: &Endpoint) -> Client {
        let mut clients = self.clients.lock();
        if let Some(client) = clients.get(&endpoint.id)
            && client.endpoint() == &endpoint.url
        {
            return client.clone();
        }
        let client = Client::new(self.http.clone(), endpoint.url.clone())
            .with_api(endpoint.api)
            .with_api_key_from_env(endpoint.api_key_env.as_deref())
            .with_capabilities(endpoint.capabilities.clone())
            .with_timeouts(self.timeouts)
            .with_limits(&self.limits)
            .with_endpoint_id(&endpoint.id);
        clients.insert(endpoint.id.clone(), client.clone());
        client
    }
}
