//! Wall-clock timestamps derived from tokio's clock, so that `created_at`,
//! `modified_at` and `expires_at` move with paused time in tests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::time::Instant;

/// Maps tokio instants to Unix time from one anchor taken at start-up.
#[derive(Debug)]
pub(crate) struct Clock {
    anchor_wall: i128,
    anchor: Instant,
    /// The last `created_at` handed out, so consecutive ones strictly increase.
    last_stamp: Mutex<i128>,
}

impl Clock {
    /// A clock anchored at the current wall and tokio time.
    pub(crate) fn new() -> Self {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        Self {
            anchor_wall: wall.as_nanos().cast_signed(),
            anchor: Instant::now(),
            last_stamp: Mutex::new(0),
        }
    }

    /// The tokio instant the clock was anchored at (server start-up).
    pub(crate) fn started(&self) -> Instant {
        self.anchor
    }

    /// Unix nanoseconds at `instant`.
    pub(crate) fn unix_nanos_at(&self, instant: Instant) -> i128 {
        if instant >= self.anchor {
            self.anchor_wall + instant.duration_since(self.anchor).as_nanos().cast_signed()
        } else {
            self.anchor_wall - self.anchor.duration_since(instant).as_nanos().cast_signed()
        }
    }

    /// Unix nanoseconds now.
    pub(crate) fn now_unix_nanos(&self) -> i128 {
        self.unix_nanos_at(Instant::now())
    }

    /// A `created_at` value: now, but strictly after the previous one.
    pub(crate) fn stamp(&self) -> String {
        let now = self.now_unix_nanos();
        let mut last = self.last_stamp.lock();
        *last = now.max(*last + 1);
        om_core::time::format_unix_nanos(*last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn stamps_increase_even_when_time_stands_still() {
        let clock = Clock::new();
        let a = om_core::time::parse_rfc3339(&clock.stamp()).unwrap();
        let b = om_core::time::parse_rfc3339(&clock.stamp()).unwrap();
        assert!(b > a);
        tokio::time::advance(Duration::from_secs(5)).await;
        let c = om_core::time::parse_rfc3339(&clock.stamp()).unwrap();
        assert!(c - b >= 4_999_999_999);
    }
}
