//! Live per-instance state: counters and estimates that change with every
//! request, kept in atomics that the snapshot points to, so that a request
//! starting or finishing never rebuilds the catalog.
//!
//! Each [`InstanceLive`] has two halves:
//!
//! - **published atomics**, read lock-free by the router (in flight, breaker
//!   phase, open-until, cooldown-until, last use, the moving averages and the
//!   success rate);
//! - **the writer's state** behind a short `parking_lot` lock (the moving
//!   averages' exact values, the success window, the [`Breaker`]), taken only
//!   to record an outcome or to admit a request while the breaker is not
//!   closed. Every write re-publishes the atomics before the lock is
//!   released.
//!
//! A reader may see one atomic updated and the next not yet; routing
//! heuristics do not need more. What must be exact — how many half-open
//! probes run — is decided under the lock, in [`InstanceLive::begin`].

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use om_core::TaskCategory;
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::breaker::{Admission, Breaker, BreakerState, Probe, Transition};
use crate::clock::{Clock, Ticks};
use crate::config::Config;
use crate::endpoint::EndpointLive;
use crate::ewma::Ewma;
use crate::instance::InstanceId;
use crate::outcome::{Outcome, Verdict};

/// What the registry shares with every live cell: settings, the clock and
/// the per-category outcome totals.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) clock: Clock,
    pub(crate) category_trials: [AtomicU64; 7],
    /// Output lengths of successful requests per category, fleet-wide.
    pub(crate) category_outputs: [OutputCell; 7],
    /// The last [`Ticket`](crate::Ticket) number handed out.
    pub(crate) tickets: AtomicU64,
    /// `config.warm_window` in nanoseconds, for [`InstanceLive::view`].
    warm_nanos: u64,
}

impl Shared {
    pub(crate) fn new(config: Config, clock: Clock) -> Self {
        let warm_nanos = u64::try_from(config.warm_window.as_nanos()).unwrap_or(u64::MAX);
        Self {
            config,
            clock,
            category_trials: Default::default(),
            category_outputs: Default::default(),
            tickets: AtomicU64::new(0),
            warm_nanos,
        }
    }
}

// === breaker phase codes in the published atomic ===

const CLOSED: u32 = 0;
const OPEN: u32 = 1;
const HALF_OPEN: u32 = 2;
/// Half-open with every probe slot taken.
const HALF_OPEN_FULL: u32 = 3;

/// The atomics the router reads, kept on one cache line.
#[derive(Debug)]
#[repr(align(64))]
struct Published {
    in_flight: AtomicU32,
    breaker: AtomicU32,
    open_until: AtomicU64,
    cooldown_until: AtomicU64,
    last_used: AtomicU64,
    /// `f64` bits; NaN while unknown. Seconds.
    latency: AtomicU64,
    /// `f64` bits; NaN while unknown. Seconds.
    ttft: AtomicU64,
    /// `f64` bits; NaN while unknown.
    tokens_per_sec: AtomicU64,
    /// `f64` bits; NaN while unknown.
    success_rate: AtomicU64,
    /// `f64` bits; NaN while unknown. Seconds a cold request spent loading.
    load_time: AtomicU64,
}

fn store_f64(cell: &AtomicU64, value: Option<f64>) {
    cell.store(value.unwrap_or(f64::NAN).to_bits(), Ordering::Relaxed);
}

fn load_f64(cell: &AtomicU64) -> Option<f64> {
    let v = f64::from_bits(cell.load(Ordering::Relaxed));
    (!v.is_nan()).then_some(v)
}

/// The writer's half, behind the instance's lock.
#[derive(Debug)]
struct Stats {
    latency: Ewma,
    ttft: Ewma,
    tokens_per_sec: Ewma,
    load_time: Ewma,
    /// Recent successes (`true`) and faults (`false`).
    window: VecDeque<bool>,
    window_successes: u32,
    breaker: Breaker,
    outcomes: u64,
    cold_loads: u64,
    /// The best answer time per token seen here, drifting slowly up so
    /// that a model reloaded with other settings is not judged against a
    /// speed it no longer has: the baseline of the endpoint's adaptive
    /// limit.
    pace_floor: Option<f64>,
}

/// How much the pace floor rises per answer.
const PACE_FLOOR_DRIFT: f64 = 0.002;

/// The smallest slowdown per token, in seconds, that says anything about
/// the box: below it an answer counts as flat, whatever its ratio. A model
/// that makes a token in microseconds (a simulator answering at once) is
/// "ten times slower" from scheduling noise alone, and a limit cut for that
/// queues what the box could run; a real model's token takes milliseconds.
const MIN_SLOWDOWN_PER_TOKEN: f64 = 0.001;

impl Stats {
    /// Takes one answer's time per token; returns how many times slower
    /// than the floor it was.
    fn pace_ratio(&mut self, sample: f64) -> f64 {
        let floor = self.pace_floor.map_or(sample, |f| (f * (1.0 + PACE_FLOOR_DRIFT)).min(sample));
        self.pace_floor = Some(floor);
        if sample - floor < MIN_SLOWDOWN_PER_TOKEN {
            return 1.0;
        }
        sample / floor
    }

    fn push(&mut self, success: bool, cap: u32) {
        if self.window.len() >= cap.max(1) as usize && self.window.pop_front() == Some(true) {
            self.window_successes -= 1;
        }
        self.window.push_back(success);
        self.window_successes += u32::from(success);
    }

    fn success_rate(&self) -> Option<f64> {
        (!self.window.is_empty())
            .then(|| f64::from(self.window_successes) / self.window.len() as f64)
    }
}

/// The live state of one instance (an endpoint × model pair); see the module
/// docs for what is published and what is locked.
pub struct InstanceLive {
    published: Published,
    id: InstanceId,
    stats: Mutex<Stats>,
    endpoint: Arc<EndpointLive>,
    model: Arc<ModelLive>,
    shared: Arc<Shared>,
}

impl fmt::Debug for InstanceLive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstanceLive")
            .field("id", &self.id)
            .field("in_flight", &self.published.in_flight.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A copy of the published atomics of one instance at one moment, for the
/// router. Times are in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveView {
    /// Requests running on the instance.
    pub in_flight: u32,
    /// The breaker would admit a request now: closed, open with its time up,
    /// or half-open with a free probe slot.
    pub admits: bool,
    /// A 503/429 cooldown is running.
    pub cooling_down: bool,
    /// The instance served a request within the warm window.
    pub recently_used: bool,
    /// Latency moving average (warm requests only).
    pub latency: Option<f64>,
    /// Time-to-first-token moving average (warm requests only).
    pub ttft: Option<f64>,
    /// Generation speed moving average.
    pub tokens_per_sec: Option<f64>,
    /// Share of successes among recent successes and faults.
    pub success_rate: Option<f64>,
    /// Moving average of the load time of requests that loaded the model.
    pub load_time: Option<f64>,
}

/// Everything known live about one instance, for displays and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveStats {
    /// Requests running on the instance.
    pub in_flight: u32,
    /// Latency moving average (warm requests only).
    pub latency: Option<Duration>,
    /// Time-to-first-token moving average (warm requests only).
    pub ttft: Option<Duration>,
    /// Generation speed moving average.
    pub tokens_per_sec: Option<f64>,
    /// Share of successes among recent successes and faults.
    pub success_rate: Option<f64>,
    /// The breaker's state when the stats were taken.
    pub breaker: BreakerState,
    /// When the last 503/429 cooldown ends (or ended: compare with now).
    pub cooldown_until: Option<Instant>,
    /// When the instance last served a request successfully.
    pub last_used: Option<Instant>,
    /// Outcomes recorded.
    pub outcomes: u64,
    /// Of those, outcomes that loaded the model (kept out of the latency
    /// estimates).
    pub cold_loads: u64,
}

/// Why [`InstanceLive::begin`] refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker of {instance} is open")]
pub struct Rejected {
    /// The instance (boxed: an id is large).
    pub instance: Box<InstanceId>,
    /// When it may admit again, if known.
    pub retry_at: Option<Instant>,
}

/// What recording an outcome changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The breaker changed state.
    pub transition: Option<Transition>,
    /// The outcome was a cold load and did not move the latency estimates.
    pub cold_load: bool,
    /// The endpoint's learned concurrency limit after the outcome, when it
    /// adapts.
    pub limit: Option<(u32, crate::LimitReason)>,
}

impl InstanceLive {
    pub(crate) fn new(
        id: InstanceId,
        endpoint: Arc<EndpointLive>,
        model: Arc<ModelLive>,
        shared: Arc<Shared>,
    ) -> Self {
        let nan = f64::NAN.to_bits();
        Self {
            published: Published {
                in_flight: AtomicU32::new(0),
                breaker: AtomicU32::new(CLOSED),
                open_until: AtomicU64::new(0),
                cooldown_until: AtomicU64::new(0),
                last_used: AtomicU64::new(0),
                latency: AtomicU64::new(nan),
                ttft: AtomicU64::new(nan),
                tokens_per_sec: AtomicU64::new(nan),
                success_rate: AtomicU64::new(nan),
                load_time: AtomicU64::new(nan),
            },
            stats: Mutex::new(Stats {
                latency: Ewma::default(),
                ttft: Ewma::default(),
                tokens_per_sec: Ewma::default(),
                load_time: Ewma::default(),
                window: VecDeque::new(),
                window_successes: 0,
                breaker: Breaker::new(shared.config.breaker.clone()),
                outcomes: 0,
                cold_loads: 0,
                pace_floor: None,
            }),
            id,
            endpoint,
            model,
            shared,
        }
    }

    /// The instance this state belongs to.
    pub fn id(&self) -> &InstanceId {
        &self.id
    }

    /// Requests running on the instance now.
    #[inline]
    pub fn in_flight(&self) -> u32 {
        self.published.in_flight.load(Ordering::Relaxed)
    }

    /// Reads the published atomics (no lock).
    #[inline]
    pub fn view(&self, now: Ticks) -> LiveView {
        let p = &self.published;
        let admits = match p.breaker.load(Ordering::Relaxed) {
            CLOSED | HALF_OPEN => true,
            OPEN => now.0 >= p.open_until.load(Ordering::Relaxed),
            _ => false,
        };
        let last_used = p.last_used.load(Ordering::Relaxed);
        let warm_nanos = self.shared.warm_nanos;
        LiveView {
            in_flight: p.in_flight.load(Ordering::Relaxed),
            admits,
            cooling_down: now.0 < p.cooldown_until.load(Ordering::Relaxed),
            recently_used: last_used != 0 && now.0.saturating_sub(last_used) <= warm_nanos,
            latency: load_f64(&p.latency),
            ttft: load_f64(&p.ttft),
            tokens_per_sec: load_f64(&p.tokens_per_sec),
            success_rate: load_f64(&p.success_rate),
            load_time: load_f64(&p.load_time),
        }
    }

    /// Everything known, for displays (takes the instance's lock briefly).
    pub fn stats(&self) -> LiveStats {
        let clock = self.shared.clock;
        let stats = self.stats.lock();
        let p = &self.published;
        LiveStats {
            in_flight: p.in_flight.load(Ordering::Relaxed),
            latency: stats.latency.value().map(Duration::from_secs_f64),
            ttft: stats.ttft.value().map(Duration::from_secs_f64),
            tokens_per_sec: stats.tokens_per_sec.value(),
            success_rate: stats.success_rate(),
            breaker: stats.breaker.state(),
            cooldown_until: clock.instant(p.cooldown_until.load(Ordering::Relaxed)),
            last_used: clock.instant(p.last_used.load(Ordering::Relaxed)),
            outcomes: stats.outcomes,
            cold_loads: stats.cold_loads,
        }
    }

    /// Starts a request at `now`: asks the breaker and, when it admits,
    /// counts the request in flight until the returned guard drops.
    ///
    /// While the breaker is closed this takes no lock. While it is half-open
    /// the decision is made under the instance's lock, so however many tasks
    /// race here, at most `half_open_probes` probes run at a time.
    ///
    /// # Errors
    ///
    /// [`Rejected`] when the breaker is open, or half-open with every probe
    /// slot taken.
    pub fn begin(self: &Arc<Self>, now: Instant) -> Result<InFlight, Rejected> {
        let probe = if self.published.breaker.load(Ordering::Relaxed) == CLOSED {
            None
        } else {
            let mut stats = self.stats.lock();
            let admission = stats.breaker.admit(now);
            self.publish_breaker(&stats.breaker);
            match admission {
                Admission::Allowed => None,
                Admission::Probe(probe) => Some(probe),
                Admission::Rejected { retry_at } => {
                    return Err(Rejected { instance: Box::new(self.id.clone()), retry_at });
                }
            }
        };
        self.published.in_flight.fetch_add(1, Ordering::Relaxed);
        self.endpoint.start();
        let admitted_with = self.endpoint.in_flight();
        Ok(InFlight { live: Arc::clone(self), probe, finished: false, work: None, admitted_with })
    }

    /// Records an outcome of a request that did not go through
    /// [`begin`](Self::begin) (so it is not a probe).
    pub fn record(&self, outcome: &Outcome, now: Instant) -> Recorded {
        self.record_with(outcome, None, None, now)
    }

    /// `admitted_with`: the requests in flight on the endpoint when this one
    /// began, it included, when it went through [`begin`](Self::begin).
    fn record_with(
        &self,
        outcome: &Outcome,
        probe: Option<Probe>,
        admitted_with: Option<u32>,
        now: Instant,
    ) -> Recorded {
        let config = &self.shared.config;
        let clock = self.shared.clock;
        let cold_load = outcome.is_cold_load(config);
        let mut pace_ratio = None;
        let transition = {
            let mut stats = self.stats.lock();
            stats.outcomes += 1;
            stats.cold_loads += u64::from(cold_load);
            let alpha = config.ewma_alpha;
            let transition = match outcome.verdict {
                Verdict::Success => {
                    if cold_load && let Some(load) = outcome.load_duration {
                        stats.load_time.observe(load.as_secs_f64(), alpha);
                    }
                    if !cold_load {
                        if let Some(latency) = outcome.latency {
                            stats.latency.observe(latency.as_secs_f64(), alpha);
                        }
                        // Time per token against the floor: Ollama's own
                        // generation speed. When the server's measured work
                        // (prompt and generation) is under a quarter of the
                        // answer, or took no time at all, its compute is
                        // not what the answer waited on: the rest is
                        // overhead on the way, which grows with load
                        // whatever the server does, so the answer counts as
                        // flat. An answer with no metrics at all falls back
                        // on the whole latency over the tokens, the prompt
                        // counted as one.
                        let overhead_bound = matches!(
                            (outcome.work, outcome.latency),
                            (Some(work), Some(latency)) if work * 4 < latency
                        );
                        pace_ratio = match (outcome.tokens_per_sec, outcome.latency) {
                            _ if overhead_bound => Some(1.0),
                            (Some(rate), _) if rate > 0.0 => Some(stats.pace_ratio(1.0 / rate)),
                            _ if outcome.work.is_some() => Some(1.0),
                            (_, Some(latency)) => Some(stats.pace_ratio(
                                latency.as_secs_f64() / (outcome.tokens.unwrap_or(0) as f64 + 1.0),
                            )),
                            _ => None,
                        };
                        if let Some(ttft) = outcome.ttft {
                            stats.ttft.observe(ttft.as_secs_f64(), alpha);
                        }
                    }
                    if let Some(rate) = outcome.tokens_per_sec.filter(|r| *r > 0.0) {
                        stats.tokens_per_sec.observe(rate, alpha);
                    }
                    stats.push(true, config.success_window);
                    stats.breaker.on_success(probe, now)
                }
                Verdict::Fault(_) => {
                    stats.push(false, config.success_window);
                    stats.breaker.on_failure(probe, now)
                }
                Verdict::Busy { retry_after } => {
                    self.endpoint.on_busy();
                    stats.breaker.on_release(probe);
                    let wait = retry_after.unwrap_or(config.cooldown).min(config.max_cooldown);
                    let until = clock.ticks(now + wait).0;
                    self.published.cooldown_until.fetch_max(until, Ordering::Relaxed);
                    None
                }
                Verdict::Neutral(_) => {
                    // A speed measured before the request was stopped is
                    // still the instance's speed: a slow box whose first
                    // request was cut short must not stay unmeasured.
                    if let Some(rate) = outcome.tokens_per_sec.filter(|r| *r > 0.0) {
                        stats.tokens_per_sec.observe(rate, alpha);
                    }
                    stats.breaker.on_release(probe);
                    None
                }
            };
            let p = &self.published;
            store_f64(&p.latency, stats.latency.value());
            store_f64(&p.ttft, stats.ttft.value());
            store_f64(&p.tokens_per_sec, stats.tokens_per_sec.value());
            store_f64(&p.success_rate, stats.success_rate());
            store_f64(&p.load_time, stats.load_time.value());
            self.publish_breaker(&stats.breaker);
            transition
        };
        if outcome.verdict.is_success() && outcome.waited_for_a_slot() {
            self.endpoint.on_queued(admitted_with);
        } else if let Some(ratio) = pace_ratio {
            self.endpoint.on_answer(ratio, self.endpoint.in_flight());
        }
        if outcome.verdict.is_success() {
            self.published.last_used.fetch_max(clock.ticks(now).0, Ordering::Relaxed);
        }
        if outcome.verdict.is_success()
            && let (Some(category), Some(tokens)) = (outcome.category, outcome.tokens)
        {
            self.model.cells[category as usize].output.add(tokens);
            self.shared.category_outputs[category as usize].add(tokens);
        }
        if let (Some(category), Some(reward)) = (outcome.category, outcome.reward()) {
            self.reward(category, reward);
        }
        Recorded { transition, cold_load, limit: self.endpoint.learned_limit() }
    }

    /// Adds `reward` (in `[0, 1]`; NaN is ignored) to the model's learned
    /// affinity for `category`, as an outcome of that quality does, without
    /// counting a request: for work judged as a whole after its requests
    /// were recorded one by one (an Aider session's edit).
    pub fn reward(&self, category: TaskCategory, reward: f64) {
        if reward.is_nan() {
            return;
        }
        self.model.add(category, reward);
        self.shared.category_trials[category as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Mirrors the breaker into the atomics; called with the lock held.
    fn publish_breaker(&self, breaker: &Breaker) {
        let p = &self.published;
        let code = match breaker.state() {
            BreakerState::Closed => CLOSED,
            BreakerState::Open { until } => {
                p.open_until.store(self.shared.clock.ticks(until).0, Ordering::Relaxed);
                OPEN
            }
            BreakerState::HalfOpen { probes_in_flight } => {
                if probes_in_flight < breaker.config().half_open_probes.max(1) {
                    HALF_OPEN
                } else {
                    HALF_OPEN_FULL
                }
            }
        };
        p.breaker.store(code, Ordering::Relaxed);
    }

    fn release_probe(&self, probe: Probe) {
        let mut stats = self.stats.lock();
        stats.breaker.on_release(Some(probe));
        self.publish_breaker(&stats.breaker);
    }
}

/// A request in flight on one instance (tower's `PeakEwma` handle shape).
///
/// It counts in the instance's and the endpoint's in-flight numbers until
/// dropped. Report how the request went with [`finish`](Self::finish); a
/// guard dropped without it (the request was cancelled) frees its half-open
/// probe slot, if it held one, and records nothing.
#[derive(Debug)]
#[must_use = "the request counts as in flight until the guard drops"]
pub struct InFlight {
    live: Arc<InstanceLive>,
    probe: Option<Probe>,
    finished: bool,
    /// The entry in the endpoint's expected work, once [`expect`](Self::expect)ed.
    work: Option<u64>,
    /// Requests in flight on the endpoint when this one began, it included.
    admitted_with: u32,
}

impl InFlight {
    /// The instance.
    pub fn instance(&self) -> &InstanceId {
        &self.live.id
    }

    /// True when this request is one of the half-open breaker's probes.
    pub fn is_probe(&self) -> bool {
        self.probe.is_some()
    }

    /// Counts the request as `expected` seconds of work on its endpoint,
    /// from now until the guard drops, for completion-time routing
    /// ([`EndpointLive::expected_wait`]). Calling it again replaces the
    /// estimate.
    pub fn expect(&mut self, expected: Duration) {
        let now = self.live.shared.clock.ticks(Instant::now());
        let mut work = self.live.endpoint.work.lock();
        if let Some(id) = self.work.take() {
            work.end(id);
        }
        self.work = Some(work.start(now, expected));
    }

    /// Records the outcome and ends the request.
    pub fn finish(mut self, outcome: &Outcome, now: Instant) -> Recorded {
        self.finished = true;
        self.live.record_with(outcome, self.probe, Some(self.admitted_with), now)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.live.published.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.live.endpoint.end();
        if let Some(id) = self.work {
            self.live.endpoint.work.lock().end(id);
        }
        if !self.finished
            && let Some(probe) = self.probe
        {
            self.live.release_probe(probe);
        }
    }
}

/// Learned quality of one model per task category, from outcome rewards.
#[derive(Debug, Default)]
pub struct ModelLive {
    cells: [AffinityCell; 7],
}

#[derive(Debug, Default)]
struct AffinityCell {
    trials: AtomicU64,
    /// Sum of rewards in millionths, so that adding is one atomic operation.
    reward_micros: AtomicU64,
    output: OutputCell,
}

/// Output lengths (`eval_count`) seen: a count and a sum, each one atomic
/// add, so that the mean is cheap to read and never locks.
#[derive(Debug, Default)]
pub(crate) struct OutputCell {
    count: AtomicU64,
    tokens: AtomicU64,
}

impl OutputCell {
    fn add(&self, tokens: u64) {
        self.tokens.fetch_add(tokens, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The mean output length, `None` before the first.
    pub(crate) fn mean(&self) -> Option<f64> {
        let count = self.count.load(Ordering::Relaxed);
        (count > 0).then(|| self.tokens.load(Ordering::Relaxed) as f64 / count as f64)
    }
}

/// What a model has shown in one category.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affinity {
    /// Outcomes with a reward.
    pub trials: u64,
    /// Their rewards, summed (each in `[0, 1]`).
    pub reward_sum: f64,
}

impl Affinity {
    /// The mean reward, `None` before the first trial.
    #[inline]
    pub fn mean(self) -> Option<f64> {
        (self.trials > 0).then(|| (self.reward_sum / self.trials as f64).clamp(0.0, 1.0))
    }
}

impl ModelLive {
    /// The model's record in `category`.
    #[inline]
    pub fn affinity(&self, category: TaskCategory) -> Affinity {
        let cell = &self.cells[category as usize];
        Affinity {
            trials: cell.trials.load(Ordering::Relaxed),
            reward_sum: cell.reward_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }

    /// The mean output length (tokens) of the model's successful requests
    /// in `category`, `None` before the first.
    #[inline]
    pub fn mean_output(&self, category: TaskCategory) -> Option<f64> {
        self.cells[category as usize].output.mean()
    }

    fn add(&self, category: TaskCategory, reward: f64) {
        let cell = &self.cells[category as usize];
        cell.reward_micros
            .fetch_add((reward.clamp(0.0, 1.0) * 1e6).round() as u64, Ordering::Relaxed);
        cell.trials.fetch_add(1, Ordering::Relaxed);
    }
}
