//! The shared compute of one simulated endpoint: every request that is
//! evaluating a prompt or generating tokens — on any loaded model, in any
//! parallel slot — draws on the same box.
//!
//! With `n` requests active, the box's aggregate throughput is `speedup(n)`
//! times a lone request's, where `speedup(n) = min(n^exponent,
//! max_speedup)`: batching on a GPU buys some throughput, never linear, and
//! only up to a point. Each active request gets an equal share,
//! `speedup(n) / n` of a lone request's speed (processor sharing).
//!
//! Work is measured in *lone seconds*: the time it would take with nothing
//! else running (one token costs `1 / tokens_per_sec`, prompt evaluation
//! costs the configured time to first token). Because every active request
//! progresses at the same share, one per-request *virtual clock* serves them
//! all: it advances at `share(n)` lone seconds per real second and is
//! re-anchored whenever `n` changes. A request that started at virtual time
//! `v0` has done `v − v0` of work, so pacing a token is "sleep until the
//! virtual clock reaches `v0 + work`", recomputed when `n` changes. This is
//! the virtual time of fair queueing (Demers, Keshav and Shenker, 1989;
//! Parekh and Gallager's GPS, 1993) specialised to equal weights.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Aggregate throughput of `active` requests relative to a lone one:
/// `min(active^exponent, max_speedup)`, and 1 for zero or one request.
///
/// `exponent` is clamped to `[0, 1]` and `max_speedup` to at least 1 (NaN
/// counts as the identity: exponent 1, no cap), so the result is always at
/// least 1 and never more than `active`.
pub(crate) fn speedup(exponent: f64, max_speedup: f64, active: usize) -> f64 {
    if active <= 1 {
        return 1.0;
    }
    let exponent = if exponent.is_nan() { 1.0 } else { exponent.clamp(0.0, 1.0) };
    let cap = if max_speedup.is_nan() { f64::INFINITY } else { max_speedup.max(1.0) };
    (active as f64).powf(exponent).min(cap)
}

/// The compute of one endpoint, shared by all of its requests.
#[derive(Debug)]
pub(crate) struct Compute {
    exponent: f64,
    max_speedup: f64,
    state: Mutex<State>,
    /// Woken whenever the number of active requests changes, so that
    /// sleeping pacers recompute their due time.
    changed: Notify,
}

#[derive(Debug)]
struct State {
    /// Requests evaluating a prompt or generating.
    active: usize,
    /// What each of them gets: `speedup(active) / active`, at most 1 (1 when
    /// idle or alone).
    share: f64,
    /// When `virtual_at` was last brought up to date.
    anchor: Instant,
    /// The per-request virtual clock at `anchor`, in lone seconds.
    virtual_at: Duration,
}

impl State {
    fn virtual_now(&self, now: Instant) -> Duration {
        let real = now.saturating_duration_since(self.anchor);
        // The common case of a lone request is kept exact (no float
        // rounding), so an idle endpoint paces exactly as before sharing.
        if self.share >= 1.0 {
            self.virtual_at + real
        } else {
            self.virtual_at + real.mul_f64(self.share)
        }
    }

    /// The instant the virtual clock reaches `target` if nothing changes;
    /// `None` when it already has.
    fn due(&self, target: Duration, now: Instant) -> Option<Instant> {
        let remaining = target.checked_sub(self.virtual_now(now)).filter(|r| !r.is_zero())?;
        let real = if self.share >= 1.0 {
            remaining
        } else {
            // Rounded up by a nanosecond so that waking at `due` never
            // finds the clock a hair short of the target.
            remaining.div_f64(self.share) + Duration::from_nanos(1)
        };
        Some(now + real)
    }
}

impl Compute {
    /// The compute of an idle endpoint whose batching follows `exponent`
    /// and `max_speedup` (see [`speedup`]).
    pub(crate) fn new(exponent: f64, max_speedup: f64) -> Self {
        Self {
            exponent,
            max_speedup,
            state: Mutex::new(State {
                active: 0,
                share: 1.0,
                anchor: Instant::now(),
                virtual_at: Duration::ZERO,
            }),
            changed: Notify::new(),
        }
    }

    /// The number of requests evaluating a prompt or generating now.
    #[cfg(test)]
    pub(crate) fn active(&self) -> usize {
        self.state.lock().active
    }

    /// Counts one more request as active until the returned guard drops.
    pub(crate) fn join(self: &Arc<Self>) -> Active {
        self.change(|n| n + 1);
        Active { compute: Arc::clone(self) }
    }

    fn change(&self, update: impl FnOnce(usize) -> usize) {
        {
            let mut state = self.state.lock();
            let now = Instant::now();
            // Bring the clock up to date at the old share before the share
            // changes: work done so far is not rescaled, only what is left.
            state.virtual_at = state.virtual_now(now);
            state.anchor = now;
            state.active = update(state.active);
            let n = state.active;
            state.share =
                if n <= 1 { 1.0 } else { speedup(self.exponent, self.max_speedup, n) / n as f64 };
        }
        self.changed.notify_waiters();
    }

    /// The per-request virtual clock now, in lone seconds.
    pub(crate) fn virtual_now(&self) -> Duration {
        self.state.lock().virtual_now(Instant::now())
    }

    /// Waits until the per-request virtual clock reaches `target` (returns at
    /// once when it has), following every change in the number of active
    /// requests on the way.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is taken, so dropping the future only stops
    /// waiting.
    pub(crate) async fn wait_until(&self, target: Duration) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the state is read, so a change between the
            // read and the sleep still wakes us.
            changed.as_mut().enable();
            let due = self.state.lock().due(target, Instant::now());
            let Some(due) = due else { return };
            tokio::select! {
                () = tokio::time::sleep_until(due) => return,
                () = &mut changed => {}
            }
        }
    }

    /// Does `work` lone seconds of work from now at the shared speed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, like [`Compute::wait_until`].
    pub(crate) async fn run(&self, work: Duration) {
        if work.is_zero() {
            return;
        }
        let target = self.virtual_now() + work;
        self.wait_until(target).await;
    }
}

/// One request's hold on the compute: it counts as active until dropped.
///
/// Held from the start of prompt evaluation to the end of generation and
/// dropped with the generation, so a client that goes away stops slowing
/// the others at once.
#[derive(Debug)]
pub(crate) struct Active {
    compute: Arc<Compute>,
}

impl Active {
    /// The compute this request draws on.
    pub(crate) fn compute(&self) -> &Compute {
        &self.compute
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.compute.change(|n| n.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQRT_HALF: f64 = std::f64::consts::FRAC_1_SQRT_2;

    fn compute() -> Arc<Compute> {
        Arc::new(Compute::new(0.5, 2.0))
    }

    /// Seconds from `start` to now.
    fn since(start: Instant) -> f64 {
        start.elapsed().as_secs_f64()
    }

    fn close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-9, "{actual} is not {expected}");
    }

    /// Timers fire on tokio's millisecond ticks, so a finish is due at the
    /// first tick at or after the exact time.
    fn near(actual: f64, expected: f64) {
        assert!(
            actual >= expected - 1e-9 && actual < expected + 0.0015,
            "{actual} is not {expected} (to the next millisecond)"
        );
    }

    #[test]
    fn speedup_is_capped_and_sub_linear() {
        close(speedup(0.5, 2.0, 0), 1.0);
        close(speedup(0.5, 2.0, 1), 1.0);
        close(speedup(0.5, 2.0, 2), std::f64::consts::SQRT_2);
        close(speedup(0.5, 2.0, 4), 2.0);
        close(speedup(0.5, 2.0, 9), 2.0);
        close(speedup(1.0, f64::INFINITY, 7), 7.0);
        close(speedup(0.0, 8.0, 7), 1.0);
        // Out-of-range settings are clamped, never amplified.
        close(speedup(3.0, 100.0, 3), 3.0);
        close(speedup(0.5, 0.1, 4), 1.0);
        close(speedup(f64::NAN, f64::NAN, 3), 3.0);
    }

    /// Spawns a request that joins at once and does `work`; yields its
    /// finishing time in seconds from now.
    fn request(c: &Arc<Compute>, work: Duration) -> tokio::task::JoinHandle<f64> {
        let c = Arc::clone(c);
        let start = Instant::now();
        tokio::spawn(async move {
            let _active = c.join();
            c.run(work).await;
            since(start)
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_request_runs_at_full_speed() {
        let c = compute();
        let done = request(&c, Duration::from_secs(2)).await.unwrap();
        near(done, 2.0);
        assert_eq!(c.active(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_requests_share() {
        let c = compute();
        let a = request(&c, Duration::from_secs(1));
        let b = request(&c, Duration::from_secs(1));
        // Each at speedup(2)/2 = 0.707 of full speed.
        near(a.await.unwrap(), 1.0 / SQRT_HALF);
        near(b.await.unwrap(), 1.0 / SQRT_HALF);
        let four: Vec<_> = (0..4).map(|_| request(&c, Duration::from_secs(1))).collect();
        for r in four {
            // Aggregate 2× (the cap), so each at half speed.
            near(r.await.unwrap(), 2.0);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn company_mid_way_slows_from_that_point() {
        let c = compute();
        let a = request(&c, Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(400)).await;
        let b = request(&c, Duration::from_secs(10));
        // 0.4 s alone, then the remaining 0.6 lone seconds at 0.707.
        near(a.await.unwrap(), 0.4 + 0.6 / SQRT_HALF);
        drop(b);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_companion_frees_its_share() {
        let c = compute();
        let a = request(&c, Duration::from_secs(1));
        let b = request(&c, Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(500)).await;
        b.abort();
        // 0.5 s at 0.707, then alone for the rest.
        near(a.await.unwrap(), 0.5 + (1.0 - 0.5 * SQRT_HALF));
        assert_eq!(c.active(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn independent_settings_do_not_interfere() {
        let c = Arc::new(Compute::new(1.0, f64::INFINITY));
        let all: Vec<_> = (0..3).map(|_| request(&c, Duration::from_millis(750))).collect();
        for r in all {
            near(r.await.unwrap(), 0.75);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn zero_work_does_not_sleep() {
        let c = compute();
        let _active = c.join();
        let start = Instant::now();
        c.run(Duration::ZERO).await;
        c.wait_until(Duration::ZERO).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
