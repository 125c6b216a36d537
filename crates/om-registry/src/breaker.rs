//! The circuit breaker of one instance: a pure state machine driven by an
//! explicit `now`, so tests run it on paused time.
//!
//! ```text
//!            N consecutive failures, or a failure ratio over a window
//!   Closed ──────────────────────────────────────────────────────────► Open { until }
//!     ▲                                                                   │
//!     │ M probe successes                          now ≥ until: the next  │
//!     │                                            admission half-opens   ▼
//!     └──────────────────────────────────────────────────────────── HalfOpen
//!                       (K probes at a time; one probe failure re-opens,
//!                        with the open timeout doubled up to a cap)
//! ```
//!
//! The breaker only sees faults of the instance (connect errors, 5xx,
//! broken streams, …). Backpressure (503 "server busy", 429) and
//! caller-side outcomes (cancellation, invalid requests) never trip it; the
//! registry turns backpressure into a short cooldown instead. Outcomes of
//! requests admitted before the breaker opened are ignored while it is open
//! or half-open: only probes decide whether it closes again.
//!
//! The registry keeps one [`Breaker`] per instance behind that instance's
//! lock and mirrors its state into atomics for the router.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Circuit-breaker settings, taken from om-config's `[breaker]` section
/// (where the defaults live: open after 5 consecutive failures or half of
/// the last 20 outcomes once there are 10, open 30 s doubling up to 5 min,
/// 2 probes at a time, closed after 3 probe successes).
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker (at least 1).
    pub failure_threshold: u32,
    /// Share of failures among the last [`ratio_window`](Self::ratio_window)
    /// outcomes that opens the breaker (in `(0, 1]`).
    pub failure_ratio: f64,
    /// How many recent outcomes the failure ratio looks at (at least 1).
    pub ratio_window: u32,
    /// The ratio rule applies only once the window holds this many outcomes.
    pub ratio_min_requests: u32,
    /// How long the breaker stays open after its first trip.
    pub open_timeout: Duration,
    /// The cap on the open time, which doubles with each consecutive trip.
    pub max_open_timeout: Duration,
    /// Probes admitted at a time while half-open (at least 1).
    pub half_open_probes: u32,
    /// Probe successes that close the breaker (at least 1).
    pub close_after: u32,
}

impl From<&om_config::Breaker> for BreakerConfig {
    fn from(section: &om_config::Breaker) -> Self {
        Self {
            failure_threshold: section.failure_threshold,
            failure_ratio: section.failure_ratio,
            ratio_window: section.ratio_window,
            ratio_min_requests: section.ratio_min_requests,
            open_timeout: section.open_timeout,
            max_open_timeout: section.max_open_timeout,
            half_open_probes: section.half_open_probes,
            close_after: section.close_after,
        }
    }
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self::from(&om_config::Breaker::default())
    }
}

impl BreakerConfig {
    /// The open time after `trips` consecutive trips (1 for the first):
    /// `open_timeout × 2^(trips-1)`, at most `max_open_timeout`.
    pub fn open_time(&self, trips: u32) -> Duration {
        let doublings = trips.saturating_sub(1).min(31);
        self.open_timeout.saturating_mul(1_u32 << doublings).min(self.max_open_timeout)
    }
}

/// Where a breaker is, as seen from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow.
    Closed,
    /// Requests are refused until `until`; the first admission after it
    /// half-opens the breaker.
    Open {
        /// When the breaker may half-open.
        until: Instant,
    },
    /// A limited number of probes may run; their outcomes decide.
    HalfOpen {
        /// Probes admitted and not yet finished.
        probes_in_flight: u32,
    },
}

impl BreakerState {
    /// A short stable name (`closed`, `open`, `half_open`) for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open { .. } => "open",
            Self::HalfOpen { .. } => "half_open",
        }
    }
}

/// A half-open admission. It belongs to one half-open period: an outcome
/// reported with a probe from an earlier period is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    period: u32,
}

/// The answer to [`Breaker::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The breaker is closed: go ahead.
    Allowed,
    /// The breaker is half-open and this request is one of its probes;
    /// report its outcome with the probe.
    Probe(Probe),
    /// The breaker refuses the request.
    Rejected {
        /// When the breaker may admit again, if known (it is not while
        /// every half-open probe slot is taken).
        retry_at: Option<Instant>,
    },
}

/// A change of state caused by an outcome, for logs and events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The breaker opened (from closed, or again from half-open).
    Opened {
        /// When it may half-open.
        until: Instant,
        /// Consecutive trips without closing in between (1 for the first),
        /// which set the backoff.
        trips: u32,
    },
    /// Enough probes succeeded: the breaker closed.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen,
}

/// The circuit-breaker state machine of one instance (see the module docs).
#[derive(Debug, Clone)]
pub struct Breaker {
    config: BreakerConfig,
    phase: Phase,
    consecutive_failures: u32,
    /// Recent outcomes while closed, `true` for a failure.
    window: VecDeque<bool>,
    window_failures: u32,
    /// Trips since the breaker last closed; sets the open time.
    trips: u32,
    /// Which half-open period is current; probes carry it.
    period: u32,
    probes_in_flight: u32,
    probe_successes: u32,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        let window = VecDeque::with_capacity(config.ratio_window as usize);
        Self {
            config,
            phase: Phase::Closed,
            consecutive_failures: 0,
            window,
            window_failures: 0,
            trips: 0,
            period: 0,
            probes_in_flight: 0,
            probe_successes: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        match self.phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { until } => BreakerState::Open { until },
            Phase::HalfOpen => BreakerState::HalfOpen { probes_in_flight: self.probes_in_flight },
        }
    }

    /// Whether [`admit`](Self::admit) would let a request through at `now`,
    /// without changing anything.
    pub fn would_admit(&self, now: Instant) -> bool {
        match self.phase {
            Phase::Closed => true,
            Phase::Open { until } => now >= until,
            Phase::HalfOpen => self.probes_in_flight < self.config.half_open_probes.max(1),
        }
    }

    /// Asks to start a request at `now`. An open breaker whose time is up
    /// half-opens here, and the request becomes its first probe.
    pub fn admit(&mut self, now: Instant) -> Admission {
        match self.phase {
            Phase::Closed => Admission::Allowed,
            Phase::Open { until } if now < until => Admission::Rejected { retry_at: Some(until) },
            Phase::Open { .. } => {
                self.phase = Phase::HalfOpen;
                self.period = self.period.wrapping_add(1);
                self.probes_in_flight = 0;
                self.probe_successes = 0;
                self.take_probe()
            }
            Phase::HalfOpen => {
                if self.probes_in_flight < self.config.half_open_probes.max(1) {
                    self.take_probe()
                } else {
                    Admission::Rejected { retry_at: None }
                }
            }
        }
    }

    fn take_probe(&mut self) -> Admission {
        self.probes_in_flight += 1;
        Admission::Probe(Probe { period: self.period })
    }

    /// True when `probe` belongs to the current half-open period.
    fn is_current(&self, probe: Option<Probe>) -> bool {
        self.phase == Phase::HalfOpen && probe.is_some_and(|p| p.period == self.period)
    }

    /// Records a successful request (`probe` is what [`admit`](Self::admit)
    /// returned for it, if it was a probe).
    pub fn on_success(&mut self, probe: Option<Probe>, _now: Instant) -> Option<Transition> {
        match self.phase {
            Phase::Closed => {
                self.consecutive_failures = 0;
                self.push_window(false);
                None
            }
            Phase::Open { .. } => None,
            Phase::HalfOpen => {
                if !self.is_current(probe) {
                    return None;
                }
                self.probes_in_flight = self.probes_in_flight.saturating_sub(1);
                self.probe_successes += 1;
                if self.probe_successes >= self.config.close_after.max(1) {
                    self.close();
                    Some(Transition::Closed)
                } else {
                    None
                }
            }
        }
    }

    /// Records a fault of the instance.
    pub fn on_failure(&mut self, probe: Option<Probe>, now: Instant) -> Option<Transition> {
        match self.phase {
            Phase::Closed => {
                self.consecutive_failures += 1;
                self.push_window(true);
                let len = self.window.len() as u32;
                let ratio_tripped = len >= self.config.ratio_min_requests.max(1)
                    && f64::from(self.window_failures)
                        >= self.config.failure_ratio * f64::from(len);
                if self.consecutive_failures >= self.config.failure_threshold.max(1)
                    || ratio_tripped
                {
                    Some(self.trip(now))
                } else {
                    None
                }
            }
            Phase::Open { .. } => None,
            Phase::HalfOpen => self.is_current(probe).then(|| self.trip(now)),
        }
    }

    /// Records that a request ended without a verdict on the instance
    /// (cancelled, refused as busy, invalid): a probe frees its slot.
    pub fn on_release(&mut self, probe: Option<Probe>) {
        if self.is_current(probe) {
            self.probes_in_flight = self.probes_in_flight.saturating_sub(1);
        }
    }

    fn push_window(&mut self, failed: bool) {
        let cap = self.config.ratio_window.max(1) as usize;
        if self.window.len() == cap && self.window.pop_front() == Some(true) {
            self.window_failures -= 1;
        }
        self.window.push_back(failed);
        self.window_failures += u32::from(failed);
    }

    fn trip(&mut self, now: Instant) -> Transition {
        self.trips = self.trips.saturating_add(1);
        let until = now + self.config.open_time(self.trips);
        self.phase = Phase::Open { until };
        self.consecutive_failures = 0;
        self.window.clear();
        self.window_failures = 0;
        self.probes_in_flight = 0;
        self.probe_successes = 0;
        Transition::Opened { until, trips: self.trips }
    }

    fn close(&mut self) {
        self.phase = Phase::Closed;
        self.trips = 0;
        self.probes_in_flight = 0;
        self.probe_successes = 0;
        self.consecutive_failures = 0;
        self.window.clear();
        self.window_failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use tokio::time::{advance, sleep};

    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(BreakerConfig::default())
    }

    fn fail_n(b: &mut Breaker, n: u32) -> Option<Transition> {
        let mut last = None;
        for _ in 0..n {
            assert_eq!(b.admit(Instant::now()), Admission::Allowed);
            last = b.on_failure(None, Instant::now());
        }
        last
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures() {
        let mut b = breaker();
        assert_eq!(fail_n(&mut b, 4), None);
        assert_eq!(b.state(), BreakerState::Closed);
        let t0 = Instant::now();
        assert_eq!(
            fail_n(&mut b, 1),
            Some(Transition::Opened { until: t0 + Duration::from_secs(30), trips: 1 })
        );
        assert_eq!(
            b.admit(Instant::now()),
            Admission::Rejected { retry_at: Some(t0 + Duration::from_secs(30)) }
        );
        assert!(!b.would_admit(Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_resets_the_consecutive_count() {
        let mut b = breaker();
        fail_n(&mut b, 4);
        b.on_success(None, Instant::now());
        assert_eq!(fail_n(&mut b, 4), None);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn opens_on_failure_ratio() {
        let mut b = breaker();
        // Alternating outcomes never reach 5 in a row, but half of 10 fail.
        let mut opened = None;
        for i in 0..10 {
            if i % 2 == 0 {
                b.on_success(None, Instant::now());
            } else {
                opened = b.on_failure(None, Instant::now());
            }
        }
        assert!(matches!(opened, Some(Transition::Opened { trips: 1, .. })), "{opened:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn half_opens_then_closes_after_enough_probe_successes() {
        let mut b = breaker();
        fail_n(&mut b, 5);
        sleep(Duration::from_secs(30)).await;
        assert!(b.would_admit(Instant::now()));
        let Admission::Probe(p1) = b.admit(Instant::now()) else { panic!("not a probe") };
        let Admission::Probe(p2) = b.admit(Instant::now()) else { panic!("not a probe") };
        // Two probes at a time by default.
        assert_eq!(b.admit(Instant::now()), Admission::Rejected { retry_at: None });
        assert_eq!(b.state(), BreakerState::HalfOpen { probes_in_flight: 2 });
        assert_eq!(b.on_success(Some(p1), Instant::now()), None);
        assert_eq!(b.on_success(Some(p2), Instant::now()), None);
        let Admission::Probe(p3) = b.admit(Instant::now()) else { panic!("not a probe") };
        assert_eq!(b.on_success(Some(p3), Instant::now()), Some(Transition::Closed));
        assert_eq!(b.state(), BreakerState::Closed);
        // A fresh start: it takes five failures again.
        assert_eq!(fail_n(&mut b, 4), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_failure_reopens_with_doubled_backoff_up_to_the_cap() {
        let mut b = breaker();
        fail_n(&mut b, 5);
        let mut expected = [60, 120, 240, 300, 300].into_iter();
        let mut open_for = 30;
        for trips in 2..=6 {
            sleep(Duration::from_secs(open_for)).await;
            let Admission::Probe(p) = b.admit(Instant::now()) else { panic!("not a probe") };
            let now = Instant::now();
            open_for = expected.next().unwrap();
            assert_eq!(
                b.on_failure(Some(p), now),
                Some(Transition::Opened { until: now + Duration::from_secs(open_for), trips })
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn outcomes_of_requests_admitted_before_the_trip_are_ignored() {
        let mut b = breaker();
        fail_n(&mut b, 5);
        // A request that started while closed finishes now.
        assert_eq!(b.on_success(None, Instant::now()), None);
        assert_eq!(b.on_failure(None, Instant::now()), None);
        advance(Duration::from_secs(30)).await;
        let Admission::Probe(p) = b.admit(Instant::now()) else { panic!("not a probe") };
        assert_eq!(b.on_success(None, Instant::now()), None);
        assert_eq!(b.state(), BreakerState::HalfOpen { probes_in_flight: 1 });
        b.on_release(Some(p));
        assert_eq!(b.state(), BreakerState::HalfOpen { probes_in_flight: 0 });
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_from_an_earlier_half_open_period_does_not_count() {
        let mut b = breaker();
        fail_n(&mut b, 5);
        advance(Duration::from_secs(30)).await;
        let Admission::Probe(old) = b.admit(Instant::now()) else { panic!("not a probe") };
        let Admission::Probe(failing) = b.admit(Instant::now()) else { panic!("not a probe") };
        b.on_failure(Some(failing), Instant::now());
        advance(Duration::from_mins(1)).await;
        let Admission::Probe(_new) = b.admit(Instant::now()) else { panic!("not a probe") };
        // The old probe finishing must not free the new period's slot.
        b.on_release(Some(old));
        assert_eq!(b.on_success(Some(old), Instant::now()), None);
        assert_eq!(b.state(), BreakerState::HalfOpen { probes_in_flight: 1 });
    }

    #[test]
    fn open_time_doubles_and_caps() {
        let c = BreakerConfig::default();
        let secs: Vec<u64> = (1..=7).map(|t| c.open_time(t).as_secs()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 300, 300, 300]);
        assert_eq!(c.open_time(u32::MAX), c.max_open_timeout);
    }
}
