//! Model names with Ollama's normalisation, and the small id newtypes.
//!
//! Ollama names a model `[host/][namespace/]model[:tag]` with the defaults
//! `registry.ollama.ai`, `library` and `latest`, and compares names without
//! regard to case. So `Llama3.2`, `llama3.2:latest` and
//! `registry.ollama.ai/library/llama3.2:latest` are one model. [`ModelName`]
//! keeps the string it was parsed from (responses echo the request verbatim)
//! and compares, hashes and orders by the normalised full form.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The registry a bare model name belongs to.
pub const DEFAULT_HOST: &str = "registry.ollama.ai";
/// The namespace a bare model name belongs to.
pub const DEFAULT_NAMESPACE: &str = "library";
/// The tag a model name without `:tag` gets.
pub const DEFAULT_TAG: &str = "latest";

/// A model name, normalised the way Ollama normalises it.
///
/// Equality, hashing and ordering use the lower-cased full form
/// (`registry.ollama.ai/library/x:latest`); [`ModelName::as_requested`] gives
/// back the text it was parsed from.
///
/// ```
/// use om_core::ModelName;
/// let a: ModelName = "Llama3.2".parse()?;
/// let b: ModelName = "registry.ollama.ai/library/llama3.2:latest".parse()?;
/// assert_eq!(a, b);
/// assert_eq!(b.to_string(), "llama3.2:latest");
/// assert_eq!(a.as_requested(), "Llama3.2");
/// # Ok::<(), om_core::ParseNameError>(())
/// ```
#[derive(Clone)]
pub struct ModelName {
    requested: String,
    host: String,
    namespace: String,
    model: String,
    tag: String,
    /// Lower-cased full form, the identity of the name.
    key: String,
}

/// Why a string is not a valid model name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid model name {input:?}: {reason}")]
pub struct ParseNameError {
    /// The text that failed to parse.
    pub input: String,
    /// What was wrong with it.
    pub reason: &'static str,
}

impl ModelName {
    /// Parses a model name; the same as [`str::parse`].
    pub fn parse(input: &str) -> Result<Self, ParseNameError> {
        let err = |reason| ParseNameError { input: input.to_owned(), reason };
        let text = input.trim();
        if text.is_empty() {
            return Err(err("empty name"));
        }
        // A `@sha256:…` digest suffix names a specific blob; routing only
        // cares about the name, so it is dropped.
        let text = text.split_once('@').map_or(text, |(name, _)| name);
        let last_slash = text.rfind('/');
        let (path, tag) = match text.rfind(':') {
            Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
                (&text[..colon], &text[colon + 1..])
            }
            _ => (text, DEFAULT_TAG),
        };
        let parts: Vec<&str> = path.split('/').collect();
        let (host, namespace, model) = match parts.as_slice() {
            [model] => (DEFAULT_HOST, DEFAULT_NAMESPACE, *model),
            [namespace, model] => (DEFAULT_HOST, *namespace, *model),
            [host, namespace, model] => (*host, *namespace, *model),
            _ => return Err(err("too many '/' separated parts")),
        };
        if !is_valid_part(model, false) {
            return Err(err("model part must be non-empty letters, digits, '_', '-' or '.'"));
        }
        if !is_valid_part(namespace, false) {
            return Err(err("namespace must be non-empty letters, digits, '_', '-' or '.'"));
        }
        if !is_valid_part(host, true) {
            return Err(err("host must be non-empty letters, digits, '_', '-', '.' or ':'"));
        }
        if !is_valid_part(tag, false) {
            return Err(err("tag must be non-empty letters, digits, '_', '-' or '.'"));
        }
        let key = format!("{host}/{namespace}/{model}:{tag}").to_ascii_lowercase();
        Ok(Self {
            requested: input.to_owned(),
            host: host.to_owned(),
            namespace: namespace.to_owned(),
            model: model.to_owned(),
            tag: tag.to_owned(),
            key,
        })
    }

    /// The text this name was parsed from, verbatim.
    pub fn as_requested(&self) -> &str {
        &self.requested
    }

    /// The registry host (`registry.ollama.ai` by default).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The namespace (`library` by default).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The model part, without namespace or tag.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The tag (`latest` by default).
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The normalised full form, lower-cased: the name's identity.
    pub fn as_key(&self) -> &str {
        &self.key
    }

    /// The full internal form with original case, as Ollama prints it in some
    /// errors (`registry.ollama.ai/library/x:latest`).
    pub fn full(&self) -> String {
        format!("{}/{}/{}:{}", self.host, self.namespace, self.model, self.tag)
    }
}

fn is_valid_part(part: &str, is_host: bool) -> bool {
    !part.is_empty()
        && part.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') || (is_host && c == ':')
        })
}

impl fmt::Display for ModelName {
    /// The shortest display form, as `/api/tags` lists it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.eq_ignore_ascii_case(DEFAULT_HOST) {
            if self.namespace.eq_ignore_ascii_case(DEFAULT_NAMESPACE) {
                write!(f, "{}:{}", self.model, self.tag)
            } else {
                write!(f, "{}/{}:{}", self.namespace, self.model, self.tag)
            }
        } else {
            write!(f, "{}/{}/{}:{}", self.host, self.namespace, self.model, self.tag)
        }
    }
}

impl fmt::Debug for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModelName({:?})", self.requested)
    }
}

impl FromStr for ModelName {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl PartialEq for ModelName {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for ModelName {}

impl Hash for ModelName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl PartialOrd for ModelName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ModelName {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

impl Serialize for ModelName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.requested)
    }
}

impl<'de> Deserialize<'de> for ModelName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

macro_rules! id_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a string as this id.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }
    };
}

id_newtype!(
    /// The configured name of one Ollama endpoint (`gpu-box`, `laptop`).
    EndpointId
);
id_newtype!(
    /// The id of one task in a batch; unique within the batch.
    TaskId
);
id_newtype!(
    /// The id of one request through the gateway or orchestrator.
    RequestId
);

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn defaults_fill_in() {
        let n = ModelName::parse("qwen2.5-coder").unwrap();
        assert_eq!(n.host(), DEFAULT_HOST);
        assert_eq!(n.namespace(), DEFAULT_NAMESPACE);
        assert_eq!(n.model(), "qwen2.5-coder");
        assert_eq!(n.tag(), "latest");
        assert_eq!(n.full(), "registry.ollama.ai/library/qwen2.5-coder:latest");
    }

    #[test]
    fn equivalent_spellings_are_equal() {
        let forms =
            ["x", "x:latest", "X:LATEST", "library/x", "registry.ollama.ai/library/x:latest"];
        let first = ModelName::parse(forms[0]).unwrap();
        for form in forms {
            assert_eq!(ModelName::parse(form).unwrap(), first, "{form}");
        }
        assert_ne!(first, ModelName::parse("x:7b").unwrap());
        assert_ne!(first, ModelName::parse("me/x").unwrap());
    }

    #[test]
    fn display_is_shortest_form() {
        let cases = [
            ("llama3.2", "llama3.2:latest"),
            ("me/coder:q4", "me/coder:q4"),
            ("hf.co/user/repo:Q4_K_M", "hf.co/user/repo:Q4_K_M"),
            ("localhost:5000/ns/m:1", "localhost:5000/ns/m:1"),
            ("x@sha256:abcd", "x:latest"),
        ];
        for (input, shown) in cases {
            assert_eq!(ModelName::parse(input).unwrap().to_string(), shown);
        }
    }

    #[test]
    fn rejects_bad_names() {
        for bad in ["", "  ", "a/b/c/d", "x:", ":tag", "bad name", "a//b", "x y:z"] {
            let err = ModelName::parse(bad).unwrap_err();
            assert_eq!(err.input, bad);
        }
    }

    #[test]
    fn serde_keeps_requested_text() {
        let n: ModelName = serde_json::from_str("\"Llama3.2\"").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"Llama3.2\"");
        assert!(serde_json::from_str::<ModelName>("\"a b\"").is_err());
    }

    fn part() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,12}"
    }

    proptest! {
        #[test]
        fn display_and_full_round_trip(
            host in prop::option::of("[a-z0-9]{1,8}\\.[a-z]{2,3}"),
            ns in prop::option::of(part()),
            model in part(),
            tag in prop::option::of(part()),
        ) {
            let mut text = String::new();
            if let Some(host) = &host {
                text.push_str(host);
                text.push('/');
                text.push_str(ns.as_deref().unwrap_or("library"));
                text.push('/');
            } else if let Some(ns) = &ns {
                text.push_str(ns);
                text.push('/');
            }
            text.push_str(&model);
            if let Some(tag) = &tag {
                text.push(':');
                text.push_str(tag);
            }
            let name = ModelName::parse(&text).unwrap();
            prop_assert_eq!(name.model(), model.as_str());
            let shown = ModelName::parse(&name.to_string()).unwrap();
            prop_assert_eq!(&shown, &name);
            prop_assert_eq!(shown.to_string(), name.to_string());
            let full = ModelName::parse(&name.full()).unwrap();
            prop_assert_eq!(&full, &name);
            let upper = ModelName::parse(&text.to_uppercase()).unwrap();
            prop_assert_eq!(&upper, &name);
        }
    }
}
