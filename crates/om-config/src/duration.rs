//! Serde for durations: written as Go duration text (`30s`, `1h30m`, `250ms`)
//! or as a number of seconds, printed back as Go text.
//!
//! Use with `#[serde(with = "crate::duration")]`, or `crate::duration::option`
//! for an `Option<Duration>`.

use std::fmt;
use std::time::Duration;

use om_core::{GoDuration, ParseDurationError, format_duration};
use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;

const HINT: &str = "write e.g. 30s, 500ms, 1h30m, or a number of seconds";

pub(crate) fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format_duration(*value))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

/// The same for `Option<Duration>`; absent means `None`.
pub(crate) mod option {
    use super::{Deserializer, Duration, DurationVisitor, Serializer, Visitor, de, fmt};

    #[expect(clippy::ref_option, reason = "serde's `with` passes `&Option<T>`")]
    pub(crate) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => super::serialize(d, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        deserializer.deserialize_option(OptionVisitor)
    }

    struct OptionVisitor;

    impl<'de> Visitor<'de> for OptionVisitor {
        type Value = Option<Duration>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            DurationVisitor.expecting(f)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_any(DurationVisitor).map(Some)
        }
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"30s\" or a number of seconds")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        parse(text).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<Duration, E> {
        Ok(Duration::from_secs(seconds))
    }

    fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Duration, E> {
        u64::try_from(seconds)
            .map(Duration::from_secs)
            .map_err(|_| E::custom(format!("invalid duration {seconds}: must not be negative")))
    }

    fn visit_f64<E: de::Error>(self, seconds: f64) -> Result<Duration, E> {
        Duration::try_from_secs_f64(seconds).map_err(|_| {
            E::custom(format!(
                "invalid duration {seconds}: must be a non-negative number of seconds"
            ))
        })
    }
}

/// Parses Go duration text into a non-negative duration, with a message that
/// says what was wrong and how to write it instead.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    parse_signed(text)?
        .to_std()
        .ok_or_else(|| format!("invalid duration {text:?}: must not be negative"))
}

/// Parses Go duration text, negative values allowed (`keep_alive` uses a
/// negative value for "forever").
pub(crate) fn parse_signed(text: &str) -> Result<GoDuration, String> {
    GoDuration::parse(text.trim()).map_err(|e| {
        let why = match e {
            ParseDurationError::MissingUnit(_) => "missing unit".to_owned(),
            ParseDurationError::UnknownUnit { unit, .. } => format!("unknown unit {unit:?}"),
            ParseDurationError::Invalid(_) => "not a duration".to_owned(),
        };
        format!("invalid duration {text:?}: {why} ({HINT})")
    })
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(with = "crate::duration")]
        d: Duration,
        #[serde(with = "crate::duration::option", default)]
        o: Option<Duration>,
    }

    #[test]
    fn accepts_text_and_seconds() {
        let h: Holder = serde_json::from_str(r#"{"d": "1h30m", "o": 2.5}"#).unwrap();
        assert_eq!(h.d, Duration::from_mins(90));
        assert_eq!(h.o, Some(Duration::from_millis(2500)));
        let h: Holder = serde_json::from_str(r#"{"d": 7}"#).unwrap();
        assert_eq!(h, Holder { d: Duration::from_secs(7), o: None });
        let h: Holder = serde_json::from_str(r#"{"d": "250ms", "o": null}"#).unwrap();
        assert_eq!(h.o, None);
    }

    #[test]
    fn prints_go_text() {
        let h = Holder { d: Duration::from_millis(200), o: Some(Duration::from_secs(90)) };
        assert_eq!(serde_json::to_string(&h).unwrap(), r#"{"d":"200ms","o":"1m30s"}"#);
    }

    #[test]
    fn refuses_bad_text_with_a_hint() {
        let err = parse("30x").unwrap_err();
        assert_eq!(
            err,
            "invalid duration \"30x\": unknown unit \"x\" (write e.g. 30s, 500ms, 1h30m, or a number of seconds)"
        );
        assert!(parse("30").unwrap_err().contains("missing unit"));
        assert!(parse("-5s").unwrap_err().contains("must not be negative"));
        assert!(serde_json::from_str::<Holder>(r#"{"d": -1}"#).is_err());
        assert!(serde_json::from_str::<Holder>(r#"{"d": true}"#).is_err());
    }
}
