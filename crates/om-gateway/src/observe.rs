//! The gateway's own routes: `/metrics` (Prometheus text) and
//! `/api/meta/status` (the fleet as JSON).

use http::{Response, StatusCode};
use om_metrics::Snapshot;
use serde_json::json;

use crate::app::{App, VERSION};
use crate::body::Body;
use crate::reply;

/// Prometheus text format 0.0.4 of every metric; the queue depth is the
/// number of requests waiting for an instance right now.
pub(crate) fn metrics(app: &App) -> Response<Body> {
    let mut snapshot = app.fleet().metrics().snapshot();
    snapshot.queue_depth = waiting(&snapshot);
    reply::with(StatusCode::OK, reply::PROMETHEUS, Body::full(snapshot.to_prometheus()))
}

/// The fleet's status document ([`om_orchestrator::Fleet::status`]) plus
/// the gateway's own: version, address, uptime, whether auth is on, and
/// the requests in flight and waiting.
pub(crate) fn status(app: &App) -> Response<Body> {
    let shared = app.shared();
    let mut document = app.fleet().status();
    let snapshot = app.fleet().metrics().snapshot();
    document["queue_depth"] = json!(waiting(&snapshot));
    document["gateway"] = json!({
        "version": VERSION,
        "listen": shared.settings.listen.to_string(),
        "uptime_s": shared.started.elapsed().as_secs_f64(),
        "auth": shared.auth.is_on(),
        "max_body_bytes": shared.settings.max_body_bytes,
    });
    reply::json(StatusCode::OK, &document)
}

/// Requests started and not finished, minus those running on an instance:
/// the ones waiting for capacity (or backing off between attempts).
fn waiting(snapshot: &Snapshot) -> u64 {
    let started: u64 = snapshot.categories.iter().map(|c| c.tasks.in_progress()).sum();
    let running: u64 = snapshot.instances.iter().map(|i| i.stats.in_flight).sum();
    started.saturating_sub(running)
}
