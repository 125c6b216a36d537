//! Registry time: `tokio::time::Instant`s stored as ticks (nanoseconds since
//! the registry's epoch, plus one) so that live state fits in atomics.

use std::time::Duration;

use tokio::time::Instant;

/// A point in registry time: nanoseconds since the registry was created,
/// plus one, so that `0` can mean "never" inside the atomics.
///
/// Get one from [`Snapshot::ticks`](crate::Snapshot::ticks) once per routing
/// decision and pass it to the lock-free reads of
/// [`InstanceLive`](crate::InstanceLive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticks(pub(crate) u64);

impl Ticks {
    /// The raw value; `0` never occurs for a real instant.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

/// Converts between instants and ticks for one registry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    epoch: Instant,
}

impl Clock {
    pub(crate) fn new(epoch: Instant) -> Self {
        Self { epoch }
    }

    /// `at` as ticks; instants before the epoch count as the epoch.
    #[inline]
    pub(crate) fn ticks(self, at: Instant) -> Ticks {
        let nanos = at.saturating_duration_since(self.epoch).as_nanos();
        Ticks(u64::try_from(nanos).unwrap_or(u64::MAX - 1) + 1)
    }

    /// The instant of a stored tick value, `None` for `0` ("never").
    pub(crate) fn instant(self, ticks: u64) -> Option<Instant> {
        (ticks != 0).then(|| self.epoch + Duration::from_nanos(ticks - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn round_trips_and_never_is_zero() {
        let epoch = Instant::now();
        let clock = Clock::new(epoch);
        assert_eq!(clock.ticks(epoch), Ticks(1));
        let later = epoch + Duration::from_millis(1500);
        let ticks = clock.ticks(later);
        assert_eq!(clock.instant(ticks.0), Some(later));
        assert_eq!(clock.instant(0), None);
        // Before the epoch saturates rather than wrapping.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(Clock::new(Instant::now()).ticks(epoch), Ticks(1));
    }
}
