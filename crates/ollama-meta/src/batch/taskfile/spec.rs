//! One task as written in a task file, and its checks on the way to a
//! [`Task`].

use std::fmt;
use std::time::Duration;

use om_core::wire::{Format, Message, Options};
use om_core::{
    Capabilities, Capability, GoDuration, ModelChoice, ModelName, Priority, Prompt, Task,
    TaskCategory,
};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A task as the file spells it. Unknown keys are refused, so a typo
/// (`promt`) is an error rather than a silently ignored setting. Values that
/// can be checked alone (names, durations) are checked while deserializing,
/// so their errors carry the parser's exact location.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaskSpec {
    #[serde(default, deserialize_with = "id", skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) messages: Option<Vec<Message>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) system: Option<String>,
    #[serde(default, deserialize_with = "named", skip_serializing_if = "Option::is_none")]
    pub(crate) category: Option<TaskCategory>,
    #[serde(default, deserialize_with = "named", skip_serializing_if = "Option::is_none")]
    pub(crate) priority: Option<Priority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) model: Option<ModelName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) models: Option<Vec<String>>,
    #[serde(default, deserialize_with = "capabilities", skip_serializing_if = "Option::is_none")]
    pub(crate) requires: Option<Capabilities>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) options: Option<Options>,
    #[serde(
        default,
        deserialize_with = "timeout",
        serialize_with = "go_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) format: Option<Format>,
    /// Files an Aider session edits (`ollama-meta aider` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) files: Option<Vec<String>>,
    /// Files an Aider session reads (`ollama-meta aider` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) read: Option<Vec<String>>,
}

/// A problem with one field of an otherwise readable task: the key it is
/// reported at (for its location) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldProblem {
    /// The key to point at; `None` points at the task itself.
    pub(crate) field: Option<&'static str>,
    /// What is wrong.
    pub(crate) message: String,
}

impl FieldProblem {
    fn at(field: &'static str, message: impl Into<String>) -> Self {
        Self { field: Some(field), message: message.into() }
    }
}

impl TaskSpec {
    /// The task, with `fallback_id` when the file gives none, or every
    /// rule it breaks.
    pub(crate) fn into_task(self, fallback_id: String) -> Result<Task, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let id = match self.id {
            Some(id) if id.trim().is_empty() => {
                problems.push(FieldProblem::at("id", "`id` is empty"));
                fallback_id
            }
            Some(id) => id,
            None => fallback_id,
        };
        let prompt = match (self.prompt, self.messages) {
            (Some(_), Some(_)) => {
                problems.push(FieldProblem::at(
                    "messages",
                    "`prompt` and `messages` are exclusive; give one of them",
                ));
                None
            }
            (None, None) => {
                problems.push(FieldProblem {
                    field: None,
                    message: "missing `prompt` (or `messages`)".to_owned(),
                });
                None
            }
            (Some(text), None) if text.trim().is_empty() => {
                problems.push(FieldProblem::at("prompt", "`prompt` is empty"));
                None
            }
            (None, Some(messages)) if messages.is_empty() => {
                problems.push(FieldProblem::at("messages", "`messages` is empty"));
                None
            }
            (Some(text), None) => Some(Prompt::Text(text)),
            (None, Some(messages)) => Some(Prompt::Messages(messages)),
        };
        let model = match (self.model, self.models) {
            (Some(_), Some(_)) => {
                problems.push(FieldProblem::at(
                    "models",
                    "`model` (a pin) and `models` (an allow-list) are exclusive; give one of them",
                ));
                ModelChoice::Any
            }
            (Some(model), None) => ModelChoice::Pinned(model),
            (None, Some(models)) => {
                if models.is_empty() {
                    problems.push(FieldProblem::at("models", "`models` is empty"));
                } else if models.iter().any(|m| m.trim().is_empty()) {
                    problems.push(FieldProblem::at("models", "`models` has an empty name"));
                }
                ModelChoice::AllowList(models)
            }
            (None, None) => ModelChoice::Any,
        };
        if let Some(format) = &self.format
            && !format.is_valid()
        {
            problems.push(FieldProblem::at(
                "format",
                "`format` must be \"json\" or a JSON schema object",
            ));
        }
        match prompt {
            Some(prompt) if problems.is_empty() => Ok(Task {
                id: id.into(),
                prompt,
                system: self.system,
                category: self.category,
                priority: self.priority.unwrap_or_default(),
                model,
                requires: self.requires.unwrap_or_default(),
                options: self.options,
                timeout: self.timeout,
                format: self.format,
            }),
            _ => Err(problems),
        }
    }
}

/// An id: text, or a number written without quotes (`id: 7`).
fn id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct IdVisitor;

    impl Visitor<'_> for IdVisitor {
        type Value = Option<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a whole number")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    deserializer.deserialize_any(IdVisitor)
}

/// A closed name (priority, category), parsed leniently (`HIGH`,
/// `code-review`) with a message that lists what is accepted.
///
/// Parsing happens inside the visitor, so the error is the value's own
/// (located at the value, not at the enclosing task).
fn named<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr<Err = om_core::UnknownNameError>,
{
    deserializer.deserialize_any(TextVisitor {
        expecting: "a name",
        parse: |text: &str| text.parse::<T>().map_err(|e| e.to_string()),
        seconds: None,
    })
}

/// Capability names; unlike discovery (which ignores names it does not
/// model) a task must not silently drop a requirement, so unknown names are
/// errors.
fn capabilities<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Capabilities>, D::Error> {
    struct CapabilitiesVisitor;

    impl<'de> Visitor<'de> for CapabilitiesVisitor {
        type Value = Option<Capabilities>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of capabilities")
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut caps = Capabilities::NONE;
            while let Some(name) = seq.next_element::<String>()? {
                caps = caps.with(name.parse::<Capability>().map_err(de::Error::custom)?);
            }
            Ok(Some(caps))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    deserializer.deserialize_any(CapabilitiesVisitor)
}

/// A positive duration in Go syntax (`90s`, `2m30s`), or a number of
/// seconds.
fn timeout<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    fn positive(duration: Duration) -> Result<Duration, String> {
        if duration.is_zero() {
            Err("timeout must be more than zero".to_owned())
        } else {
            Ok(duration)
        }
    }

    deserializer.deserialize_any(TextVisitor {
        expecting: "a duration such as \"90s\" or a number of seconds",
        parse: |text: &str| {
            let parsed = GoDuration::parse(text.trim())
                .map_err(|e| format!("timeout {text:?} is not a duration such as \"90s\" ({e})"))?;
            let duration =
                parsed.to_std().ok_or_else(|| format!("timeout {text:?} is negative"))?;
            positive(duration)
        },
        seconds: Some(|secs: f64| {
            let duration = Duration::try_from_secs_f64(secs)
                .map_err(|_| format!("timeout {secs} is not a positive number of seconds"))?;
            positive(duration)
        }),
    })
}

/// Reads an optional scalar as text (or, when `seconds` is given, a number)
/// and parses it, raising the parse error from inside the visitor.
struct TextVisitor<P, T>
where
    P: FnOnce(&str) -> Result<T, String>,
{
    expecting: &'static str,
    parse: P,
    seconds: Option<fn(f64) -> Result<T, String>>,
}

impl<P, T> TextVisitor<P, T>
where
    P: FnOnce(&str) -> Result<T, String>,
{
    fn number<E: de::Error>(
        self,
        value: f64,
        unexpected: de::Unexpected<'_>,
    ) -> Result<Option<T>, E> {
        match self.seconds {
            Some(seconds) => seconds(value).map(Some).map_err(E::custom),
            None => Err(E::invalid_type(unexpected, &self)),
        }
    }
}

impl<P, T> Visitor<'_> for TextVisitor<P, T>
where
    P: FnOnce(&str) -> Result<T, String>,
{
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        (self.parse)(v).map(Some).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.number(v as f64, de::Unexpected::Unsigned(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.number(v as f64, de::Unexpected::Signed(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.number(v, de::Unexpected::Float(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

#[expect(clippy::ref_option, reason = "serde's serialize_with passes the field by reference")]
fn go_duration<S: Serializer>(value: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(duration) => serializer.serialize_str(&om_core::format_duration(*duration)),
        None => serializer.serialize_none(),
    }
}
