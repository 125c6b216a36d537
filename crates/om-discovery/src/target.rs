//! One endpoint as discovery keeps it: its client, its `/api/show` cache and
//! when it is next due, and what kind of probe that will be.

use parking_lot::Mutex;
use tokio::time::Instant;

use om_client::Client;
use om_registry::EndpointSpec;

use crate::cache::ShowCache;
use crate::settings::Settings;

/// What a probe asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProbeKind {
    /// `/api/version`, `/api/tags`, `/api/show` as needed, `/api/ps`.
    Full,
    /// `/api/ps` only.
    Ps,
}

/// One endpoint of the fleet.
///
/// The mutable part sits behind a short `parking_lot` lock that is never
/// held across an `.await`: probes take it to read or fill the cache and to
/// record when they ended.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) spec: EndpointSpec,
    pub(crate) client: Client,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    cache: ShowCache,
    /// Consecutive failed probes; 0 while healthy.
    failures: u32,
    next_full: Instant,
    next_ps: Instant,
}

impl Target {
    /// A target due for a full probe at once.
    pub(crate) fn new(spec: EndpointSpec, client: Client, now: Instant) -> Self {
        let state =
            State { cache: ShowCache::default(), failures: 0, next_full: now, next_ps: now };
        Self { spec, client, state: Mutex::new(state) }
    }

    /// When the next probe is due.
    pub(crate) fn due(&self) -> Instant {
        let state = self.state.lock();
        state.next_full.min(state.next_ps)
    }

    /// The probe to run at `now`: full when one is due (a failed endpoint
    /// always gets a full one), else `/api/ps` only.
    pub(crate) fn kind_at(&self, now: Instant) -> ProbeKind {
        let state = self.state.lock();
        if state.failures > 0 || state.next_full <= now { ProbeKind::Full } else { ProbeKind::Ps }
    }

    /// Records a probe of `kind` that succeeded at `now`.
    pub(crate) fn succeeded(&self, kind: ProbeKind, now: Instant, settings: &Settings) {
        let mut state = self.state.lock();
        state.failures = 0;
        if kind == ProbeKind::Full {
            state.next_full = now + settings.interval;
        }
        state.next_ps = now + settings.ps_interval;
    }

    /// Records a probe that failed at `now`: the next one, full, waits for
    /// the backoff of this many consecutive failures.
    pub(crate) fn failed(&self, now: Instant, settings: &Settings) {
        let mut state = self.state.lock();
        state.failures = state.failures.saturating_add(1);
        let next = now + settings.backoff(state.failures);
        state.next_full = next;
        state.next_ps = next;
    }

    /// Runs `f` on the `/api/show` cache under the lock.
    pub(crate) fn with_cache<R>(&self, f: impl FnOnce(&mut ShowCache) -> R) -> R {
        f(&mut self.state.lock().cache)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use om_client::http_client;
    use om_core::EndpointId;

    use super::*;

    fn target(now: Instant) -> Target {
        let url: om_core::EndpointUrl = "127.0.0.1:1".parse().unwrap();
        let client = Client::new(http_client(), url.clone());
        Target::new(EndpointSpec::new(EndpointId::new("a"), url), client, now)
    }

    #[tokio::test(start_paused = true)]
    async fn healthy_endpoints_alternate_full_and_ps_probes() {
        let settings = Settings::default();
        let start = Instant::now();
        let target = target(start);
        assert_eq!((target.due(), target.kind_at(start)), (start, ProbeKind::Full));
        target.succeeded(ProbeKind::Full, start, &settings);
        let ps = start + settings.ps_interval;
        assert_eq!((target.due(), target.kind_at(ps)), (ps, ProbeKind::Ps));
        target.succeeded(ProbeKind::Ps, ps, &settings);
        let full = start + settings.interval;
        assert_eq!(target.kind_at(full), ProbeKind::Full);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_with_full_probes() {
        let settings = Settings {
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(3),
            ..Settings::default()
        };
        let start = Instant::now();
        let target = target(start);
        let mut waits = Vec::new();
        let mut now = start;
        for _ in 0..4 {
            target.failed(now, &settings);
            waits.push(target.due() - now);
            now = target.due();
            assert_eq!(target.kind_at(now), ProbeKind::Full);
        }
        assert_eq!(waits, [1, 2, 3, 3].map(Duration::from_secs));
        target.succeeded(ProbeKind::Full, now, &settings);
        assert_eq!(target.due(), now + settings.ps_interval);
    }
}
