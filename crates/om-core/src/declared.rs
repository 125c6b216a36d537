//! Capabilities a configuration declares for an endpoint's models, for
//! servers whose API does not say what a model can do (the OpenAI API
//! lists model ids only).

use std::collections::BTreeMap;

use crate::task::{Capabilities, Capability, UnknownNameError};

/// What an endpoint's models can do, as declared: one set for every model,
/// sets for named models, or both (a named model's set wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclaredCapabilities {
    /// For every model not named in `models`.
    pub all: Option<Capabilities>,
    /// By model id, as the server lists it.
    pub models: BTreeMap<String, Capabilities>,
}

impl DeclaredCapabilities {
    /// The same set for every model.
    pub fn all(capabilities: Capabilities) -> Self {
        Self { all: Some(capabilities), models: BTreeMap::new() }
    }

    /// This declaration with `model`'s own set.
    #[must_use]
    pub fn with_model(mut self, model: impl Into<String>, capabilities: Capabilities) -> Self {
        self.models.insert(model.into(), capabilities);
        self
    }

    /// What is declared for `model`, if anything.
    pub fn of(&self, model: &str) -> Option<Capabilities> {
        self.models.get(model).copied().or(self.all)
    }

    /// Parses capability names strictly, as a configuration must: the
    /// first unknown one is the error.
    ///
    /// # Errors
    ///
    /// [`UnknownNameError`] naming the word and the capabilities there are.
    pub fn parse_names<'a>(
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Capabilities, UnknownNameError> {
        names.into_iter().map(str::parse::<Capability>).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_model_wins_over_the_endpoint_wide_set() {
        let text = Capabilities::of(&[Capability::Completion]);
        let vision = Capabilities::of(&[Capability::Completion, Capability::Vision]);
        let declared = DeclaredCapabilities::all(text).with_model("qwen2.5-vl", vision);
        assert_eq!(declared.of("qwen2.5-vl"), Some(vision));
        assert_eq!(declared.of("other"), Some(text));
        assert_eq!(DeclaredCapabilities::default().of("x"), None);
    }

    #[test]
    fn names_parse_strictly() {
        let parsed = DeclaredCapabilities::parse_names(["Vision", "tools"]).unwrap();
        assert_eq!(parsed, Capabilities::of(&[Capability::Vision, Capability::Tools]));
        let err = DeclaredCapabilities::parse_names(["vision", "image"]).unwrap_err();
        assert!(err.to_string().starts_with("unknown capability \"image\""), "{err}");
    }
}
