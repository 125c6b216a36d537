//! Health: an endpoint killed and restarted on the same port goes down and
//! comes back; dead, silent and garbage-speaking endpoints are marked
//! unhealthy with a reason while the others are discovered.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use om_discovery::{Event, ProbeStatus};
use om_registry::Health;
use om_sim::{EndpointSpec, SimServer};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::support::{
    Fake, Garbage, Silent, VirtualClock, discovery, id, model, refused_url, settings, spec,
    wait_for,
};

const STEP: Duration = Duration::from_millis(5);

/// A simulator on `addr`, running until its token is cancelled.
async fn serve(addr: SocketAddr) -> (SocketAddr, CancellationToken, JoinHandle<()>) {
    let server = SimServer::bind(addr, EndpointSpec::default()).await.expect("bind the simulator");
    let addr = server.local_addr();
    let stop = CancellationToken::new();
    let task = tokio::spawn(server.run(stop.clone()));
    (addr, stop, task)
}

#[tokio::test(start_paused = true)]
async fn a_killed_endpoint_goes_down_and_comes_back_on_the_same_port() {
    let _clock = VirtualClock::start(STEP);
    let (addr, stop, sim) = serve(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await;
    let (discovery, registry, mut events) =
        discovery(vec![spec("sim", &format!("http://{addr}"))], settings());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(discovery.run(shutdown.clone()));
    let up = Duration::from_secs(5);
    wait_for(&mut events, up, "up", |e| matches!(e, Event::EndpointUp { .. })).await;
    assert!(registry.snapshot().endpoints()[0].health.is_healthy());

    stop.cancel();
    sim.await.unwrap();
    let killed = Instant::now();
    let down = wait_for(&mut events, Duration::from_secs(2), "down", |e| {
        matches!(e, Event::EndpointDown { .. })
    })
    .await;
    assert_eq!(
        down,
        Event::EndpointDown { endpoint: id("sim"), reason: "connection refused".into() }
    );
    let snapshot = registry.snapshot();
    let endpoint = &snapshot.endpoints()[0];
    assert_eq!(endpoint.health.reason(), Some("connection refused"));
    assert_eq!(snapshot.instances().len(), 4, "the last known models are kept");

    // Down for a while: probed with backoff (1 s, 2 s, 4 s, 4 s …), no
    // events while it stays down.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert!(events.try_recv().is_err(), "staying down is not news");
    let (_, stop, sim) = serve(addr).await;
    let back = wait_for(&mut events, Duration::from_secs(5), "up again", |e| {
        matches!(e, Event::EndpointUp { .. })
    })
    .await;
    assert_eq!(back, Event::EndpointUp { endpoint: id("sim"), version: Some("0.33.0".into()) });
    assert!(killed.elapsed() <= Duration::from_secs(8 + 4 + 1), "within one capped backoff");
    assert_eq!(registry.snapshot().endpoints()[0].health, Health::Healthy);

    shutdown.cancel();
    task.await.unwrap();
    stop.cancel();
    sim.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn broken_endpoints_are_unhealthy_with_a_reason_and_do_not_stall_the_others() {
    let _clock = VirtualClock::start(STEP);
    let good = om_sim::spawn(EndpointSpec::default());
    let garbage = Garbage::start().await;
    let silent = Silent::start().await;
    let html = Fake::start(vec![model("tiny:1b", 'a')], None).await;
    html.set_garbage_tags(true);
    let dead = refused_url().await;
    let endpoints = vec![
        spec("silent", &silent.url()),
        spec("garbage", &garbage.url()),
        spec("dead", &dead),
        spec("html", &html.url()),
        spec("good", &good.url()),
    ];
    let (discovery, registry, _events) = discovery(endpoints, settings());

    let start = Instant::now();
    let report = discovery.probe_all().await;
    assert!(start.elapsed() < Duration::from_secs(3), "one timeout, not one per endpoint");
    let statuses: Vec<(&str, &ProbeStatus)> =
        report.endpoints.iter().map(|e| (e.endpoint.as_str(), &e.status)).collect();
    assert_eq!(statuses.len(), 5);
    let reason = |i: usize| statuses[i].1.reason().unwrap_or_default().to_owned();
    assert_eq!(reason(0), "timeout: no answer from /api/version within 2s");
    assert_eq!(
        reason(1),
        "invalid response from /api/version: not an HTTP/1.1 head: invalid HTTP version"
    );
    assert_eq!(reason(2), "connection refused");
    assert_eq!(reason(3), "invalid response from /api/tags: expected value at line 1 column 1");
    assert!(matches!(statuses[4].1, ProbeStatus::Up { models: 4, .. }), "{:?}", statuses[4]);
    assert_eq!((report.up(), report.down()), (1, 4));
    assert!(report.is_any_up());

    let snapshot = registry.snapshot();
    for (name, status) in &statuses {
        let endpoint = snapshot.endpoint(snapshot.find_endpoint(&id(name)).unwrap());
        assert_eq!(endpoint.health.reason(), status.reason(), "{name}");
    }
    let up = snapshot.endpoint(snapshot.find_endpoint(&id("good")).unwrap());
    assert!(up.live.probe_latency().is_some());
    assert_eq!(up.version.as_deref(), Some("0.33.0"));
    good.stop().await;
}

#[tokio::test(start_paused = true)]
async fn all_down_is_reported_as_such() {
    let _clock = VirtualClock::start(STEP);
    let dead = refused_url().await;
    let (discovery, _registry, _events) = discovery(vec![spec("dead", &dead)], settings());
    let report = discovery.probe_all().await;
    assert!(!report.is_any_up());
    assert_eq!(
        report.events,
        [Event::EndpointDown { endpoint: id("dead"), reason: "connection refused".into() }]
    );
}
