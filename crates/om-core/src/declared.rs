//! Capabilities a configuration declares for an endpoint's models, for
//! servers whose API does not say what a model can do (the OpenAI API
//! lists model ids only).

use std::collections::BTreeMap;

use crate::task::Capabilities;

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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Capability;

    #[test]
    fn a_named_model_wins_over_the_endpoint_wide_set() {
        let text = Capabilities::of(&[Capability::Completion]);
        let vision = Capabilities::of(&[Capability::Completion, Capability::Vision]);
        let declared = DeclaredCapabilities::all(text).with_model("qwen2.5-vl", vision);
        assert_eq!(declared.of("qwen2.5-vl"), Some(vision));
        assert_eq!(declared.of("other"), Some(text));
        assert_eq!(DeclaredCapabilities::default().of("x"), None);
    }
}
