//! The event stream: order, what recording publishes, publishing with no
//! subscriber, and how a lagging subscriber skips and recovers.

use std::time::Duration;

use om_core::{FleetEvent, TaskCategory, TaskId};
use om_metrics::{BreakerState, BreakerTransition, Event, Metrics, Outcome, TaskRecord, TaskStart};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::support::{endpoint, model};

fn model_added(i: usize) -> Event {
    Event::Fleet(FleetEvent::ModelAdded {
        endpoint: endpoint("gpu"),
        model: model(&format!("m{i}")),
    })
}

#[tokio::test]
async fn subscribers_see_published_and_recorded_events_in_order() {
    let metrics = Metrics::new();
    let mut events = metrics.subscribe();
    let gpu = endpoint("gpu");
    let coder = model("qwen2.5-coder:7b");

    let up = Event::Fleet(FleetEvent::EndpointUp {
        endpoint: gpu.clone(),
        version: Some("0.12.6".to_owned()),
    });
    assert_eq!(metrics.publish(up.clone()), 1);
    let start = TaskStart { task: TaskId::new("t1"), category: Some(TaskCategory::Coding) };
    metrics.task_started(start.clone());
    let transition = BreakerTransition {
        endpoint: gpu.clone(),
        model: coder.clone(),
        from: BreakerState::Closed,
        to: BreakerState::Open,
    };
    metrics.record_breaker_transition(transition.clone());
    let finished = TaskRecord {
        task: TaskId::new("t1"),
        category: Some(TaskCategory::Coding),
        endpoint: Some(gpu.clone()),
        model: Some(coder.clone()),
        outcome: Outcome::Ok,
        duration: Duration::from_secs(2),
        attempts: 1,
    };
    metrics.record_task(finished.clone());
    let down = Event::Fleet(FleetEvent::EndpointDown {
        endpoint: gpu,
        reason: "connection refused".to_owned(),
    });
    metrics.publish(down.clone());

    for want in [
        up,
        Event::TaskStarted(start),
        Event::BreakerChanged(transition),
        Event::TaskFinished(finished),
        down,
    ] {
        assert_eq!(events.recv().await.expect("buffered"), want);
    }
    assert_eq!(events.try_recv(), Err(TryRecvError::Empty));
}

#[tokio::test]
async fn publishing_without_subscribers_is_fine_and_not_replayed() {
    let metrics = Metrics::new();
    assert_eq!(metrics.publish(model_added(0)), 0);
    let mut late = metrics.subscribe();
    assert_eq!(late.try_recv(), Err(TryRecvError::Empty), "events before subscribing are gone");
    assert_eq!(metrics.publish(model_added(1)), 1);
    assert_eq!(late.recv().await.expect("buffered"), model_added(1));
}

#[tokio::test]
async fn a_lagging_subscriber_skips_the_oldest_and_recovers() {
    let metrics = Metrics::with_event_capacity(4);
    let mut slow = metrics.subscribe();
    let mut fast = metrics.subscribe();
    for i in 0..10 {
        metrics.publish(model_added(i));
        // The fast subscriber keeps up and sees everything.
        assert_eq!(fast.recv().await.expect("kept up"), model_added(i));
    }
    // The slow one missed 6 events, is told so once, then continues with
    // the 4 still buffered.
    assert_eq!(slow.recv().await, Err(RecvError::Lagged(6)));
    for i in 6..10 {
        assert_eq!(slow.recv().await.expect("buffered"), model_added(i));
    }
    assert_eq!(slow.try_recv(), Err(TryRecvError::Empty));
    // And it keeps working afterwards.
    metrics.publish(model_added(10));
    assert_eq!(slow.recv().await.expect("live again"), model_added(10));
}

#[tokio::test]
async fn zero_capacity_is_raised_to_one() {
    let metrics = Metrics::with_event_capacity(0);
    let mut events = metrics.subscribe();
    metrics.publish(model_added(0));
    metrics.publish(model_added(1));
    assert_eq!(events.recv().await, Err(RecvError::Lagged(1)));
    assert_eq!(events.recv().await.expect("the newest is kept"), model_added(1));
}

#[tokio::test]
async fn closed_when_every_handle_is_dropped() {
    let metrics = Metrics::new();
    let mut events = metrics.subscribe();
    let clone = metrics.clone();
    drop(metrics);
    clone.publish(model_added(0));
    drop(clone);
    assert_eq!(events.recv().await.expect("still buffered"), model_added(0));
    assert_eq!(events.recv().await, Err(RecvError::Closed));
}
