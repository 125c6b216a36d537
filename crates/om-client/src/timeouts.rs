//! Per-phase time limits for one call, enforced with `tokio::time` so that
//! tests can run them with paused time.

use std::future::Future;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::Either;
use tokio::time::Instant;

use om_core::TimeoutPhase;

/// Time limits for the phases of one call; `None` means no limit.
///
/// Every limit maps to [`om_core::ErrorKind::Timeout`] with the matching
/// [`TimeoutPhase`]. The phases follow one another:
///
/// - `connect`: from the start of an attempt until a connection is ready (a
///   pooled connection is ready at once);
/// - `first_byte`: from then until the response head *and* the first body
///   bytes have arrived — for a non-streaming call that is the whole
///   generation, for a streaming one the model load plus prompt evaluation;
/// - `idle`: the longest gap between two body chunks after the first;
/// - `total`: the whole call, end to end, retries and backoff included, and
///   for a streaming call until the stream ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Until a connection is ready.
    pub connect: Option<Duration>,
    /// From connected until the first body bytes.
    pub first_byte: Option<Duration>,
    /// Between two body chunks.
    pub idle: Option<Duration>,
    /// The whole call.
    pub total: Option<Duration>,
}

impl From<&om_config::Timeouts> for Timeouts {
    fn from(section: &om_config::Timeouts) -> Self {
        Self {
            connect: Some(section.connect),
            first_byte: Some(section.first_byte),
            idle: Some(section.idle),
            total: section.total,
        }
    }
}

impl Default for Timeouts {
    /// om-config's `[timeouts]` defaults: limits that catch a dead or hung
    /// endpoint without cutting off a model load; no total limit, because a
    /// pull may rightly stream for hours.
    fn default() -> Self {
        Self::from(&om_config::Timeouts::default())
    }
}

impl Timeouts {
    /// No limit at all.
    pub const NONE: Self = Self { connect: None, first_byte: None, idle: None, total: None };
}

/// The earliest of a phase's own deadline and the call's total deadline,
/// with the phase that would be reported.
pub(crate) fn earliest(
    phase_deadline: Option<Instant>,
    phase: TimeoutPhase,
    total: Option<Instant>,
) -> Option<(Instant, TimeoutPhase)> {
    match (phase_deadline, total) {
        (Some(p), Some(t)) if t < p => Some((t, TimeoutPhase::Total)),
        (Some(p), _) => Some((p, phase)),
        (None, Some(t)) => Some((t, TimeoutPhase::Total)),
        (None, None) => None,
    }
}

/// `now + limit`, when there is a limit.
pub(crate) fn deadline_after(limit: Option<Duration>) -> Option<Instant> {
    limit.map(|d| Instant::now() + d)
}

/// Runs `fut` until `limit`, reporting the phase that ran out.
///
/// A combinator, not an `async fn`: an `async fn` keeps its argument and
/// the timeout wrapping it in separate places, so every future passed
/// through it would be held twice.
pub(crate) fn run_until<F: Future>(
    limit: Option<(Instant, TimeoutPhase)>,
    fut: F,
) -> impl Future<Output = Result<F::Output, TimeoutPhase>> {
    match limit {
        Some((at, phase)) => {
            Either::Left(tokio::time::timeout_at(at, fut).map(move |r| r.map_err(|_| phase)))
        }
        None => Either::Right(fut.map(Ok)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn earliest_prefers_the_sooner_deadline() {
        let now = Instant::now();
        let soon = now + Duration::from_secs(1);
        let late = now + Duration::from_secs(5);
        assert_eq!(
            earliest(Some(soon), TimeoutPhase::Idle, Some(late)),
            Some((soon, TimeoutPhase::Idle))
        );
        assert_eq!(
            earliest(Some(late), TimeoutPhase::Idle, Some(soon)),
            Some((soon, TimeoutPhase::Total))
        );
        assert_eq!(earliest(None, TimeoutPhase::Idle, None), None);
        let phase = run_until(Some((soon, TimeoutPhase::FirstByte)), std::future::pending::<()>())
            .await
            .unwrap_err();
        assert_eq!(phase, TimeoutPhase::FirstByte);
        assert_eq!(Instant::now(), soon);
    }
}
