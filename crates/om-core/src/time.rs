//! RFC 3339 timestamps in Ollama's style, without a date-time dependency.
//!
//! Ollama prints `created_at` as UTC with nanoseconds and trailing zeros
//! trimmed (`2025-10-26T17:21:21.196249Z`). Parsing back is only needed for
//! ordering (`modified_at`, `expires_at`), so [`parse_rfc3339`] returns Unix
//! nanoseconds and accepts any offset.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Formats a time as UTC RFC 3339 with trimmed fractional seconds.
pub fn format_rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    format_unix_nanos(i128::try_from(since.as_nanos()).unwrap_or(i128::MAX))
}

/// Formats Unix nanoseconds as UTC RFC 3339 with trimmed fractional seconds.
pub fn format_unix_nanos(nanos: i128) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let (hh, mm, ss) = (rem / 3600, (rem / 60) % 60, rem % 60);
    let mut out = format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}");
    if frac != 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Parses an RFC 3339 timestamp (any offset, optional fraction) into Unix
/// nanoseconds. Returns `None` when the text is not one.
#[expect(clippy::many_single_char_names, reason = "y, d, h, s mirror the RFC 3339 fields")]
pub fn parse_rfc3339(text: &str) -> Option<i128> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut frac: i128 = 0;
    if let Some(after) = rest.strip_prefix('.') {
        let len = after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len());
        if len == 0 {
            return None;
        }
        let digits = &after[..len.min(9)];
        frac = digits.parse::<i128>().ok()? * 10_i128.pow(9 - digits.len() as u32);
        rest = &after[len..];
    }
    let offset_secs: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset_secs;
    Some(i128::from(secs) * 1_000_000_000 + frac)
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (y, m, d).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(format_unix_nanos(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix_nanos(1_761_499_281_196_249_000), "2025-10-26T17:21:21.196249Z");
        assert_eq!(
            parse_rfc3339("2025-05-04T17:37:44.706015396-07:00"),
            Some(1_746_405_464_706_015_396)
        );
        assert_eq!(parse_rfc3339("nonsense"), None);
        assert_eq!(parse_rfc3339("2025-13-01T00:00:00Z"), None);
    }

    proptest! {
        #[test]
        fn round_trips(nanos in 0_i128..4_102_444_800_000_000_000) {
            prop_assert_eq!(parse_rfc3339(&format_unix_nanos(nanos)), Some(nanos));
        }
    }
}
