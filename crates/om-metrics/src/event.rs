//! The event stream: what happened in the fleet, as plain data, broadcast to
//! whoever listens (progress bars, the gateway's status API, tests).
//!
//! Events are published through [`Metrics::publish`](crate::Metrics::publish)
//! and received from [`Metrics::subscribe`](crate::Metrics::subscribe), a
//! [`tokio::sync::broadcast`] channel with a bounded buffer:
//!
//! - Publishing never blocks and never fails; with no subscriber the event is
//!   simply dropped.
//! - Each subscriber sees every event published after it subscribed, in
//!   order, unless it falls behind by more than the buffer's capacity
//!   ([`Metrics::with_event_capacity`](crate::Metrics::with_event_capacity),
//!   [`DEFAULT_EVENT_CAPACITY`] by default). Then its next `recv` returns
//!   [`RecvError::Lagged(n)`](tokio::sync::broadcast::error::RecvError::Lagged)
//!   with the number of events it missed, and the one after that continues
//!   with the oldest event still buffered. A slow subscriber therefore loses
//!   events, it never slows down the publisher or the other subscribers.
//!   Treat `Lagged` as "some events were skipped" (a progress display can
//!   re-read a [`Snapshot`](crate::Snapshot)), not as an error.
//!
//! om-discovery does not depend on this crate; the orchestrator forwards its
//! changes as [`Event::Fleet`], the [`FleetEvent`] type both share.

use om_core::FleetEvent;
use serde::Serialize;

use crate::record::{BreakerTransition, TaskRecord, TaskStart};

/// The buffer size of the event channel unless configured otherwise.
pub const DEFAULT_EVENT_CAPACITY: usize = 1024;

/// Something that happened in the fleet.
///
/// Serialized with a `type` tag in `snake_case`, e.g.
/// `{"type":"model_loaded","endpoint":"gpu-box","model":"llama3.2:latest"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A task started (see [`Metrics::task_started`](crate::Metrics::task_started)).
    TaskStarted(TaskStart),
    /// A task finished (see [`Metrics::record_task`](crate::Metrics::record_task)).
    TaskFinished(TaskRecord),
    /// An instance's circuit breaker changed state (see
    /// [`Metrics::record_breaker_transition`](crate::Metrics::record_breaker_transition)).
    BreakerChanged(BreakerTransition),
    /// A change in the fleet seen by discovery (endpoint up or down, model
    /// added, removed, updated, loaded or unloaded). Serialized as the
    /// fleet event itself, with its own `type` tag.
    #[serde(untagged)]
    Fleet(FleetEvent),
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use om_core::{EndpointId, ErrorKind, ModelName, TaskCategory, TaskId};

    use super::*;
    use crate::record::{BreakerState, Outcome};

    #[test]
    fn events_serialize_with_a_type_tag() {
        let model: ModelName = "llama3.2".parse().unwrap();
        let loaded = Event::Fleet(FleetEvent::ModelLoaded {
            endpoint: EndpointId::new("gpu"),
            model: model.clone(),
        });
        assert_eq!(
            serde_json::to_value(&loaded).unwrap(),
            serde_json::json!({"type": "model_loaded", "endpoint": "gpu", "model": "llama3.2"})
        );
        let finished = Event::TaskFinished(TaskRecord {
            task: TaskId::new("t1"),
            category: Some(TaskCategory::CodeReview),
            endpoint: Some(EndpointId::new("gpu")),
            model: Some(model.clone()),
            outcome: Outcome::Err(ErrorKind::Busy),
            duration: Duration::from_millis(1500),
            attempts: 2,
        });
        assert_eq!(
            serde_json::to_value(&finished).unwrap(),
            serde_json::json!({
                "type": "task_finished", "task": "t1", "category": "code_review",
                "endpoint": "gpu", "model": "llama3.2", "outcome": "busy",
                "duration_seconds": 1.5, "attempts": 2
            })
        );
        let breaker = Event::BreakerChanged(BreakerTransition {
            endpoint: EndpointId::new("gpu"),
            model,
            from: BreakerState::HalfOpen,
            to: BreakerState::Open,
        });
        assert_eq!(
            serde_json::to_value(&breaker).unwrap(),
            serde_json::json!({
                "type": "breaker_changed", "endpoint": "gpu", "model": "llama3.2",
                "from": "half_open", "to": "open"
            })
        );
    }
}
