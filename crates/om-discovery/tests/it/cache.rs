//! The `/api/show` cache, counted at a fake Ollama on paused time: a model
//! is shown once per digest until its details are older than the TTL.

use std::time::Duration;

use om_core::ModelName;
use om_discovery::Event;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::support::{Fake, VirtualClock, discovery, id, model, settings, spec, wait_for};

const STEP: Duration = Duration::from_millis(5);

#[tokio::test(start_paused = true)]
async fn show_is_asked_per_new_digest_and_after_the_ttl_only() {
    let _clock = VirtualClock::start(STEP);
    let fake =
        Fake::start(vec![model("a:1b", 'a'), model("b:1b", 'b'), model("c:1b", 'c')], None).await;
    // Full probes every 10 s, a 60 s show cache; `/api/ps` rarely, so the
    // counts below are about full probes.
    let settings = discovery_settings();
    let (discovery, registry, mut events) = discovery(vec![spec("fake", &fake.url())], settings);
    let start = Instant::now();

    // The one-shot probe shows every model once …
    let report = discovery.probe_all().await;
    assert!(report.is_any_up());
    assert_eq!(fake.count("/api/show"), 3);
    let snapshot = registry.snapshot();
    let name: ModelName = "a:1b".parse().unwrap();
    let a = snapshot.instance(snapshot.find_instance(&id("fake"), &name).unwrap());
    assert_eq!(a.info.context_length, Some(8192), "only /api/show says so");
    assert_eq!(a.info.parameters, Some(1_235_814_432));

    // … and the loop goes on from there instead of probing again at once.
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(discovery.run(shutdown.clone()));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(fake.count("/api/version"), 1, "the next full probe is 10 s after the first");

    // Three more full probes with nothing changed: tags asked, show not.
    tokio::time::sleep_until(start + Duration::from_secs(35)).await;
    assert_eq!(fake.count("/api/tags"), 4);
    assert_eq!(fake.count("/api/show"), 3);

    // A new digest is shown again, at once, and the details update.
    fake.set_models(vec![model("a:1b", 'a'), model("b:1b", 'b'), model("c:1b", 'd')]);
    let updated = wait_for(&mut events, Duration::from_secs(11), "an update", |e| {
        matches!(e, Event::ModelUpdated { .. })
    })
    .await;
    assert_eq!(updated.model(), Some(&"c:1b".parse().unwrap()));
    assert_eq!(fake.count("/api/show"), 4);

    // Past the TTL of the first fetch (60 s), the two unchanged models are
    // shown again; the changed one (fetched at 40 s) not yet.
    tokio::time::sleep_until(start + Duration::from_secs(75)).await;
    assert_eq!(fake.count("/api/show"), 6);

    // A removed model leaves the cache with the registry.
    fake.set_models(vec![model("a:1b", 'a')]);
    wait_for(&mut events, Duration::from_secs(11), "a removal", |e| {
        matches!(e, Event::ModelRemoved { .. })
    })
    .await;
    assert_eq!(registry.snapshot().instances().len(), 1);

    shutdown.cancel();
    task.await.unwrap();
}

fn discovery_settings() -> om_discovery::Settings {
    om_discovery::Settings { ps_interval: Duration::from_hours(1), ..settings() }
}
