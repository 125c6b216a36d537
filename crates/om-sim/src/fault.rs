//! Injected failures: what can go wrong, as plain data, and how a request
//! rolls the dice.

use std::time::Duration;

use om_core::rng::SplitMix64;

/// The failures a simulated endpoint injects. Everything is off by default.
///
/// Rates are probabilities in `[0, 1]` drawn from the endpoint's seeded
/// generator, so a run is reproducible; `1.0` makes a fault certain. Token
/// counts are content pieces already streamed when the fault strikes (`0`
/// means before the first one, which for `error_line_after_tokens` becomes a
/// plain 500 response, as Ollama does for errors before the first line).
///
/// Faults apply to the inference routes (`/api/generate`, `/api/chat`,
/// `/api/embed`, `/api/embeddings` and their `/v1` forms); `flapping` applies
/// to every connection.
///
/// ```
/// use om_sim::Faults;
/// let faults = Faults::default().with_error_rate(1.0);
/// assert!(!faults.is_none());
/// assert!(Faults::default().is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Share of inference requests answered 500 `{"error":"simulated failure"}`
    /// before the first byte.
    pub error_rate: f64,
    /// Share of inference requests answered 503 with Ollama's exact busy body.
    pub busy_rate: f64,
    /// Accept inference requests and never answer them.
    pub hang_before_first_byte: bool,
    /// After this many tokens, pause for this long (once).
    pub stall_after_tokens: Option<(u64, Duration)>,
    /// After this many tokens, drop the connection without finishing the body.
    pub disconnect_after_tokens: Option<u64>,
    /// After this many tokens, write one line that is not JSON, then go on.
    pub malformed_line_after_tokens: Option<u64>,
    /// After this many tokens, write `{"error":"simulated failure"}` and end
    /// the stream (status stays 200, no `done` line).
    pub error_line_after_tokens: Option<u64>,
    /// Extra time added to every model load.
    pub slow_load: Duration,
    /// `(down_for, period)`: in every `period` since start-up, the first
    /// `down_for` refuse service — new connections are closed at once and
    /// requests on open ones drop the connection.
    pub flapping: Option<(Duration, Duration)>,
}

/// The error text of injected failures.
pub(crate) const SIMULATED_FAILURE: &str = "simulated failure";

impl Faults {
    /// True when no fault is set.
    pub fn is_none(&self) -> bool {
        *self == Self::default()
    }

    /// With this 500 rate.
    #[must_use]
    pub fn with_error_rate(mut self, rate: f64) -> Self {
        self.error_rate = rate;
        self
    }

    /// With this 503 rate.
    #[must_use]
    pub fn with_busy_rate(mut self, rate: f64) -> Self {
        self.busy_rate = rate;
        self
    }

    /// Hanging before the first byte (or not).
    #[must_use]
    pub fn with_hang_before_first_byte(mut self, hang: bool) -> Self {
        self.hang_before_first_byte = hang;
        self
    }

    /// Stalling for `pause` after `tokens` tokens.
    #[must_use]
    pub fn with_stall_after_tokens(mut self, tokens: u64, pause: Duration) -> Self {
        self.stall_after_tokens = Some((tokens, pause));
        self
    }

    /// Dropping the connection after `tokens` tokens.
    #[must_use]
    pub fn with_disconnect_after_tokens(mut self, tokens: u64) -> Self {
        self.disconnect_after_tokens = Some(tokens);
        self
    }

    /// Writing a non-JSON line after `tokens` tokens.
    #[must_use]
    pub fn with_malformed_line_after_tokens(mut self, tokens: u64) -> Self {
        self.malformed_line_after_tokens = Some(tokens);
        self
    }

    /// Ending with an error line after `tokens` tokens.
    #[must_use]
    pub fn with_error_line_after_tokens(mut self, tokens: u64) -> Self {
        self.error_line_after_tokens = Some(tokens);
        self
    }

    /// Adding `extra` to every load.
    #[must_use]
    pub fn with_slow_load(mut self, extra: Duration) -> Self {
        self.slow_load = extra;
        self
    }

    /// Being down for `down_for` in every `period`.
    #[must_use]
    pub fn with_flapping(mut self, down_for: Duration, period: Duration) -> Self {
        self.flapping = Some((down_for, period));
        self
    }

    /// True when, `since_start` after start-up, the endpoint is in a down
    /// phase of `flapping`.
    pub(crate) fn is_down(&self, since_start: Duration) -> bool {
        match self.flapping {
            Some((down_for, period)) if !period.is_zero() => {
                let phase = since_start.as_nanos() % period.as_nanos();
                phase < down_for.as_nanos()
            }
            Some((down_for, _)) => !down_for.is_zero(),
            None => false,
        }
    }

    /// Rolls the per-request dice: what happens before the first byte.
    pub(crate) fn roll(&self, rng: &mut SplitMix64) -> Verdict {
        // Both dice are always rolled so that one rate does not shift the
        // sequence the other sees.
        let error = rng.chance(self.error_rate);
        let busy = rng.chance(self.busy_rate);
        if self.hang_before_first_byte {
            Verdict::Hang
        } else if error {
            Verdict::Error
        } else if busy {
            Verdict::Busy
        } else {
            Verdict::Serve
        }
    }
}

/// What the dice decided for one inference request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Serve normally.
    Serve,
    /// Never answer.
    Hang,
    /// 500 before the first byte.
    Error,
    /// 503 busy.
    Busy,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flapping_phases() {
        let f = Faults::default().with_flapping(Duration::from_secs(2), Duration::from_secs(10));
        assert!(f.is_down(Duration::from_secs(0)));
        assert!(f.is_down(Duration::from_millis(1999)));
        assert!(!f.is_down(Duration::from_secs(2)));
        assert!(!f.is_down(Duration::from_secs(9)));
        assert!(f.is_down(Duration::from_secs(11)));
        assert!(!Faults::default().is_down(Duration::ZERO));
    }

    #[test]
    fn certain_rates_decide() {
        let mut rng = SplitMix64::new(0);
        assert_eq!(Faults::default().with_error_rate(1.0).roll(&mut rng), Verdict::Error);
        assert_eq!(Faults::default().with_busy_rate(1.0).roll(&mut rng), Verdict::Busy);
        assert_eq!(
            Faults::default().with_hang_before_first_byte(true).roll(&mut rng),
            Verdict::Hang
        );
        assert_eq!(Faults::default().roll(&mut rng), Verdict::Serve);
    }
}
