//! Go-style duration text: `300ms`, `5m`, `1h30m`, `-1m`, `1.5h`.
//!
//! Ollama's `keep_alive` strings and our configuration files both use Go's
//! `time.ParseDuration` syntax, so one parser serves both. Negative values are
//! allowed here; what a negative value means is up to the caller
//! (for `keep_alive` it means "forever").

use std::fmt;
use std::time::Duration;

/// A signed duration parsed from Go syntax, in whole nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoDuration {
    nanos: i128,
}

/// Why a duration string did not parse. The message matches Go's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseDurationError {
    /// The text is not a duration at all.
    #[error("time: invalid duration {0:?}")]
    Invalid(String),
    /// A number had no unit after it (`"300"`).
    #[error("time: missing unit in duration {0:?}")]
    MissingUnit(String),
    /// A unit that Go does not know.
    #[error("time: unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole input.
        input: String,
    },
}

impl GoDuration {
    /// Zero.
    pub const ZERO: Self = Self { nanos: 0 };

    /// A duration of `nanos` nanoseconds (may be negative).
    pub const fn from_nanos(nanos: i128) -> Self {
        Self { nanos }
    }

    /// Parses Go duration syntax (`"1h30m"`, `"-1m"`, `"0"`, `"2.5s"`).
    pub fn parse(input: &str) -> Result<Self, ParseDurationError> {
        let invalid = || ParseDurationError::Invalid(input.to_owned());
        let mut rest = input;
        let negative = match rest.as_bytes().first() {
            Some(b'-') => {
                rest = &rest[1..];
                true
            }
            Some(b'+') => {
                rest = &rest[1..];
                false
            }
            _ => false,
        };
        if rest == "0" {
            return Ok(Self::ZERO);
        }
        if rest.is_empty() {
            return Err(invalid());
        }
        let mut total: f64 = 0.0;
        while !rest.is_empty() {
            let number_len =
                rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
            let number = &rest[..number_len];
            if number.is_empty() || number == "." {
                return Err(invalid());
            }
            let value: f64 = number.parse().map_err(|_| invalid())?;
            rest = &rest[number_len..];
            let unit_len =
                rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let scale = match unit {
                "" => return Err(ParseDurationError::MissingUnit(input.to_owned())),
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                other => {
                    return Err(ParseDurationError::UnknownUnit {
                        unit: other.to_owned(),
                        input: input.to_owned(),
                    });
                }
            };
            total += value * scale;
        }
        let nanos = total.round() as i128;
        Ok(Self { nanos: if negative { -nanos } else { nanos } })
    }

    /// Nanoseconds, signed.
    pub const fn as_nanos(self) -> i128 {
        self.nanos
    }

    /// True when the duration is below zero.
    pub const fn is_negative(self) -> bool {
        self.nanos < 0
    }

    /// The duration as a std [`Duration`], or `None` when negative.
    pub fn to_std(self) -> Option<Duration> {
        u64::try_from(self.nanos).ok().map(Duration::from_nanos)
    }
}

impl From<Duration> for GoDuration {
    fn from(d: Duration) -> Self {
        Self { nanos: i128::try_from(d.as_nanos()).unwrap_or(i128::MAX) }
    }
}

impl fmt::Display for GoDuration {
    /// Formats compactly in Go syntax (`1h30m`, `250ms`, `0s`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_nanos(self.nanos, f)
    }
}

/// Formats a std duration in Go syntax, the way configuration is printed back.
pub fn format_duration(d: Duration) -> String {
    GoDuration::from(d).to_string()
}

fn format_nanos(nanos: i128, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if nanos == 0 {
        return f.write_str("0s");
    }
    if nanos < 0 {
        f.write_str("-")?;
    }
    let n = nanos.unsigned_abs();
    if n < 1_000_000_000 {
        // Below a second, use the largest unit that divides evenly.
        return if n.is_multiple_of(1_000_000) {
            write!(f, "{}ms", n / 1_000_000)
        } else if n.is_multiple_of(1_000) {
            write!(f, "{}us", n / 1_000)
        } else {
            write!(f, "{n}ns")
        };
    }
    let hours = n / 3_600_000_000_000;
    let minutes = (n / 60_000_000_000) % 60;
    let sub_minute = n % 60_000_000_000;
    if hours > 0 {
        write!(f, "{hours}h")?;
    }
    if minutes > 0 {
        write!(f, "{minutes}m")?;
    }
    if sub_minute > 0 {
        let secs = sub_minute / 1_000_000_000;
        let frac = sub_minute % 1_000_000_000;
        if frac == 0 {
            write!(f, "{secs}s")?;
        } else {
            let digits = format!("{frac:09}");
            write!(f, "{secs}.{}s", digits.trim_end_matches('0'))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parses_go_syntax() {
        let cases = [
            ("0", 0_i128),
            ("0s", 0),
            ("300ms", 300_000_000),
            ("5m", 300_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("-1m", -60_000_000_000),
            ("1.5h", 5_400_000_000_000),
            ("2us", 2_000),
            ("2µs", 2_000),
            ("7ns", 7),
        ];
        for (text, nanos) in cases {
            assert_eq!(GoDuration::parse(text).unwrap().as_nanos(), nanos, "{text}");
        }
    }

    #[test]
    fn errors_match_go_wording() {
        assert_eq!(
            GoDuration::parse("300").unwrap_err().to_string(),
            "time: missing unit in duration \"300\""
        );
        assert_eq!(GoDuration::parse("").unwrap_err().to_string(), "time: invalid duration \"\"");
        assert_eq!(
            GoDuration::parse("5d").unwrap_err().to_string(),
            "time: unknown unit \"d\" in duration \"5d\""
        );
        assert!(GoDuration::parse("m").is_err());
        assert!(GoDuration::parse("-").is_err());
    }

    #[test]
    fn displays_compactly() {
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(GoDuration::parse("-1m").unwrap().to_string(), "-1m");
    }

    proptest! {
        #[test]
        fn display_round_trips(nanos in -10_i128.pow(15)..10_i128.pow(15)) {
            let d = GoDuration::from_nanos(nanos);
            prop_assert_eq!(GoDuration::parse(&d.to_string()).unwrap(), d);
        }
    }
}
