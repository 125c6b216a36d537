//! Many endpoints in one runtime on paused time: 200 simulators discovered
//! at once; and 200 fakes probed with bounded concurrency while one silent
//! endpoint holds a slot until its timeout without delaying anybody else.

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use om_discovery::{Event, Settings};
use om_sim::EndpointSpec;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::support::{
    Fake, Gauge, Silent, VirtualClock, discovery, id, model, settings, spec, wait_for,
};

const STEP: Duration = Duration::from_millis(1);
const ENDPOINTS: usize = 200;

#[tokio::test(start_paused = true)]
async fn two_hundred_simulated_endpoints() {
    let _clock = VirtualClock::start(STEP);
    let sims: Vec<_> = (0..ENDPOINTS)
        .map(|i| om_sim::spawn(EndpointSpec::default().with_name(format!("sim-{i}"))))
        .collect();
    let endpoints =
        sims.iter().enumerate().map(|(i, sim)| spec(&format!("sim-{i:03}"), &sim.url())).collect();
    let (discovery, registry, _events) = discovery(endpoints, settings());

    let report = discovery.probe_all().await;
    assert_eq!(report.up(), ENDPOINTS);
    let added = report.events.iter().filter(|e| matches!(e, Event::ModelAdded { .. })).count();
    assert_eq!(added, ENDPOINTS * 4);
    let snapshot = registry.snapshot();
    assert_eq!(snapshot.instances().len(), ENDPOINTS * 4);
    assert_eq!(snapshot.models().len(), 4);
    assert!(snapshot.endpoints().iter().all(|e| e.health.is_healthy()));

    for sim in sims {
        sim.stop().await;
    }
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded_and_a_silent_endpoint_delays_nobody() {
    let _clock = VirtualClock::start(STEP);
    let limit = 8;
    let gauge = Arc::new(Gauge::default());
    let mut fakes = Vec::with_capacity(ENDPOINTS);
    for _ in 0..ENDPOINTS {
        let fake = Fake::start(vec![model("tiny:1b", 'a')], Some(Arc::clone(&gauge))).await;
        fake.set_delay(Duration::from_millis(5));
        fakes.push(fake);
    }
    let silent = Silent::start().await;
    // The silent endpoint comes first, so it takes a slot from the start.
    let mut endpoints = vec![spec("silent", &silent.url())];
    endpoints
        .extend(fakes.iter().enumerate().map(|(i, f)| spec(&format!("fake-{i:03}"), &f.url())));
    let settings =
        Settings { concurrency: NonZeroUsize::new(limit).expect("not zero"), ..settings() };
    let timeout = settings.probe_timeout;
    let (discovery, registry, mut events) = discovery(endpoints, settings);
    let shutdown = CancellationToken::new();
    let start = Instant::now();
    let task = tokio::spawn(discovery.run(shutdown.clone()));

    // Every fake is up before the silent endpoint's first request times out.
    let mut up = HashSet::new();
    while up.len() < ENDPOINTS {
        let event = wait_for(&mut events, timeout, "a fake up", |e| {
            matches!(e, Event::EndpointUp { .. } | Event::EndpointDown { .. })
        })
        .await;
        match event {
            Event::EndpointUp { endpoint, .. } => assert!(up.insert(endpoint)),
            other => panic!("{other:?} before every fake was up"),
        }
    }
    assert!(start.elapsed() < timeout, "all fakes up after {:?}", start.elapsed());
    // The silent endpoint held one slot all along; the others shared the
    // rest, and used them.
    assert!(gauge.max() < limit, "{} requests at once", gauge.max());
    assert!(gauge.max() >= limit / 2, "only {} requests at once", gauge.max());

    // Meanwhile the loop keeps going: the first fakes get `/api/ps` probes
    // every second while the silent one still waits for its timeout.
    let down =
        wait_for(&mut events, timeout, "silent down", |e| matches!(e, Event::EndpointDown { .. }))
            .await;
    assert_eq!(down.endpoint(), &id("silent"));
    assert!(fakes[0].count("/api/ps") >= 2, "{} ps probes", fakes[0].count("/api/ps"));
    let snapshot = registry.snapshot();
    let healthy = snapshot.endpoints().iter().filter(|e| e.health.is_healthy()).count();
    assert_eq!(healthy, ENDPOINTS);

    shutdown.cancel();
    task.await.unwrap();
}
