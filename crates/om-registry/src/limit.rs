//! An endpoint's concurrency limit, learned from how its answers slow down.
//!
//! An Ollama server runs `OLLAMA_NUM_PARALLEL` requests at once and queues
//! the rest itself, where they can no longer fail over; and one box shares
//! its compute between everything it runs, so past some point another
//! request only makes every request slower. Neither number is visible from
//! outside. So the limit is found the way adaptive concurrency limiters
//! (TCP congestion control, Netflix's gradient limiter) find theirs, from
//! two signals of each answer:
//!
//! - *queued*: Ollama's metrics leave out the time a request waited for a
//!   parallel slot (`total_duration` minus load, prompt evaluation and
//!   generation); when that is a real share of the answer, the server runs
//!   fewer at once than the limit sends, and the limit drops by one;
//! - *slower*: its time per token against the best that instance has shown
//!   (its pace floor, per model, since a 70B model is slower than a 3B one
//!   on the same box); the smoothed ratio drives the rest:
//!
//! - while the ratio stays flat (at most [`LimitConfig::flat`]) and the
//!   limit is actually used (requests in flight reach it), it grows:
//!   doubling per round at first (slow start), then by one per round;
//! - above [`LimitConfig::tolerance`] it is cut by `tolerance / ratio` (at
//!   most halved);
//! - in between it shrinks by one per round: the limit settles where
//!   answers are just about flat (the pace floor drifts up slowly, so a
//!   settled limit is probed again now and then);
//! - a 503 "server busy" or 429 halves it.
//!
//! The configured `max_concurrency` is the ceiling, 1 the floor.

use std::num::NonZeroU32;

/// Settings of an adaptive limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimitConfig {
    /// The limit to start from (at least 1).
    pub initial: NonZeroU32,
    /// How much slower per token than its floor an answer may be and the
    /// limit still grow (default 2: a box whose throughput grows as the
    /// square root of its load gains up to there, so a batch gains too).
    pub flat: f64,
    /// How much slower it may be before the limit is cut, not just eased
    /// (at least `flat`; default 3).
    pub tolerance: f64,
}

impl Default for LimitConfig {
    fn default() -> Self {
        Self { initial: NonZeroU32::MIN, flat: 2.0, tolerance: 3.0 }
    }
}

/// Why the limit last changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitReason {
    /// Not changed since it started.
    Initial,
    /// Raised: answers within `flat` times the pace floor, with the limit
    /// in use.
    Raised,
    /// Lowered: answers slower than `flat` times the pace floor (eased by
    /// one), or than `tolerance` times it (cut).
    Slower,
    /// Cut: the endpoint answered 503 "server busy" or 429.
    Busy,
    /// Lowered: a request waited inside the server for a parallel slot.
    Queued,
    /// At the configured ceiling.
    Ceiling,
}

impl LimitReason {
    /// A stable `snake_case` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Raised => "raised",
            Self::Slower => "slower",
            Self::Busy => "busy",
            Self::Queued => "queued",
            Self::Ceiling => "ceiling",
        }
    }

    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_code(code: u8) -> Self {
        match code {
            1 => Self::Raised,
            2 => Self::Slower,
            3 => Self::Busy,
            4 => Self::Queued,
            5 => Self::Ceiling,
            _ => Self::Initial,
        }
    }
}

/// Weight of a new ratio in the smoothed one.
const SMOOTHING: f64 = 0.2;
/// A cut takes at most this share of the limit.
const MAX_CUT: f64 = 0.5;

/// The limit's state machine. Pure: the registry feeds it samples.
#[derive(Debug, Clone)]
pub struct Limiter {
    config: LimitConfig,
    ceiling: u32,
    limit: f64,
    /// Smoothed ratio of answer time per token to the baseline.
    ratio: Option<f64>,
    /// Still doubling: nothing has been too slow yet.
    slow_start: bool,
    reason: LimitReason,
}

impl Limiter {
    /// A limit starting at `config.initial`, never above `ceiling`.
    pub fn new(config: LimitConfig, ceiling: NonZeroU32) -> Self {
        let ceiling = ceiling.get();
        let initial = config.initial.get().min(ceiling);
        Self {
            config,
            ceiling,
            limit: f64::from(initial),
            ratio: None,
            slow_start: true,
            reason: if initial == ceiling { LimitReason::Ceiling } else { LimitReason::Initial },
        }
    }

    /// Whether it was made with these settings.
    pub(crate) fn is_configured_as(&self, config: LimitConfig, ceiling: NonZeroU32) -> bool {
        self.config == config && self.ceiling == ceiling.get()
    }

    /// The limit now.
    pub fn limit(&self) -> u32 {
        // In [1, ceiling] by construction; the cast only drops the fraction.
        (self.limit.floor() as u32).clamp(1, self.ceiling)
    }

    /// Why it last changed.
    pub fn reason(&self) -> LimitReason {
        self.reason
    }

    /// An answer `ratio` times slower per token than its instance's
    /// baseline ended while `in_flight` requests (it included) were running
    /// on the endpoint.
    pub fn on_answer(&mut self, ratio: f64, in_flight: u32) {
        if !ratio.is_finite() || ratio <= 0.0 {
            return;
        }
        let smoothed = self.ratio.map_or(ratio, |r| r + SMOOTHING * (ratio - r));
        self.ratio = Some(smoothed);
        let tolerance = self.config.tolerance.max(self.config.flat).max(1.0);
        if smoothed > tolerance {
            self.slow_start = false;
            self.set(
                (self.limit * (tolerance / smoothed).max(MAX_CUT)).max(1.0),
                LimitReason::Slower,
            );
        } else if smoothed > self.config.flat {
            self.slow_start = false;
            self.set(self.limit - 1.0 / self.limit, LimitReason::Slower);
        } else if smoothed <= self.config.flat && in_flight >= self.limit() {
            // Only a limit in use says anything about a higher one. One
            // answer per request of a round: doubling per round in slow
            // start, one more per round after.
            let step = if self.slow_start { 1.0 } else { 1.0 / self.limit };
            self.set(self.limit + step, LimitReason::Raised);
        }
    }

    /// An answer waited inside the server for a parallel slot: the server
    /// runs fewer at once than the limit sends. `admitted_with` is how many
    /// were in flight when the request began, it included: one admitted
    /// above the limit now was sent under a higher one, which the cuts
    /// since have answered; cutting again for it would take the limit below
    /// the slots (every request of a round over them waits).
    pub fn on_queued(&mut self, admitted_with: Option<u32>) {
        if admitted_with.is_some_and(|n| n > self.limit()) {
            return;
        }
        self.slow_start = false;
        self.set(self.limit - 1.0, LimitReason::Queued);
    }

    /// The endpoint answered 503 "server busy" or 429.
    pub fn on_busy(&mut self) {
        self.slow_start = false;
        self.set((self.limit * MAX_CUT).max(1.0), LimitReason::Busy);
    }

    fn set(&mut self, limit: f64, reason: LimitReason) {
        let ceiling = f64::from(self.ceiling);
        self.limit = limit.clamp(1.0, ceiling);
        self.reason = if self.limit >= ceiling && reason == LimitReason::Raised {
            LimitReason::Ceiling
        } else {
            reason
        };
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn limiter(initial: u32, ceiling: u32) -> Limiter {
        let config =
            LimitConfig { initial: NonZeroU32::new(initial).unwrap(), ..LimitConfig::default() };
        Limiter::new(config, NonZeroU32::new(ceiling).unwrap())
    }

    #[test]
    fn fast_answers_with_the_limit_in_use_raise_it_to_the_ceiling() {
        let mut l = limiter(1, 64);
        let mut rounds = 0;
        while l.limit() < 64 {
            // A saturated pipeline: every answer finds the limit in use.
            for _ in 0..l.limit() {
                l.on_answer(1.0, l.limit());
            }
            rounds += 1;
        }
        assert!(rounds <= 7, "slow start doubles per round: {rounds} rounds");
        assert_eq!(l.reason(), LimitReason::Ceiling);
    }

    #[test]
    fn reasons_round_trip_through_their_codes() {
        use LimitReason::*;
        for reason in [Initial, Raised, Slower, Busy, Queued, Ceiling] {
            assert_eq!(LimitReason::from_code(reason.code()), reason);
        }
    }

    #[test]
    fn a_limit_not_in_use_does_not_grow() {
        let mut l = limiter(4, 64);
        for _ in 0..100 {
            l.on_answer(1.0, 2);
        }
        assert_eq!((l.limit(), l.reason()), (4, LimitReason::Initial));
    }

    #[test]
    fn slower_answers_cut_it_and_busy_halves_it() {
        let mut l = limiter(16, 64);
        l.on_answer(4.0, 16);
        assert_eq!((l.limit(), l.reason()), (12, LimitReason::Slower), "cut by 3 / 4");
        l.on_answer(100.0, 12);
        assert_eq!(l.limit(), 6, "at most halved");
        l.on_busy();
        assert_eq!((l.limit(), l.reason()), (3, LimitReason::Busy));
        for _ in 0..10 {
            l.on_busy();
        }
        assert_eq!(l.limit(), 1, "never below one");
    }

    #[test]
    fn a_box_with_square_root_throughput_settles_at_its_knee() {
        // n requests at once each run n / sqrt(n) = sqrt(n) times slower,
        // and the box gains nothing past 4 (its 2x cap): from below and from
        // above the limit settles there.
        for start in [1, 16] {
            let mut l = limiter(start, 64);
            for _ in 0..2_000 {
                let n = l.limit();
                l.on_answer(f64::from(n).sqrt(), n);
            }
            assert!((3..=5).contains(&l.limit()), "from {start} settled at {}", l.limit());
        }
    }

    #[test]
    fn queueing_inside_the_server_brings_the_limit_to_its_slots() {
        // Eight slots that batch perfectly; a request beyond them waits.
        let mut l = limiter(1, 64);
        for i in 0..2_000_u32 {
            let n = l.limit();
            // Answers come from every request in flight, the queued ones
            // among them in proportion.
            if n > 8 && i % n < n - 8 {
                l.on_queued(Some(n));
            } else {
                l.on_answer(1.0, n);
            }
        }
        assert!((7..=10).contains(&l.limit()), "settled at {}", l.limit());
    }

    #[test]
    fn requests_sent_under_a_higher_limit_do_not_cut_it_again() {
        let mut l = limiter(1, 64);
        while l.limit() < 8 {
            let n = l.limit();
            l.on_answer(1.0, n);
        }
        // Four slots, eight sent: the four that waited cut it to four.
        for _ in 0..4 {
            let n = l.limit();
            l.on_queued(Some(n));
        }
        assert_eq!(l.limit(), 4);
        // Later answers of that round, admitted with up to eight in flight,
        // waited too; the cuts already answered them.
        l.on_queued(Some(6));
        assert_eq!(l.limit(), 4, "not below the slots");
        l.on_queued(Some(4));
        assert_eq!(l.limit(), 3, "one admitted within the limit still cuts");
    }

    proptest! {
        #[test]
        fn the_limit_stays_between_one_and_the_ceiling(
            initial in 1_u32..100,
            ceiling in 1_u32..100,
            events in proptest::collection::vec((0.0_f64..10.0, 0_u32..200, any::<bool>()), 0..200),
        ) {
            let mut l = limiter(initial, ceiling);
            for (ratio, in_flight, busy) in events {
                if busy { l.on_busy() } else { l.on_answer(ratio, in_flight) }
                prop_assert!((1..=ceiling).contains(&l.limit()));
            }
        }
    }
}
