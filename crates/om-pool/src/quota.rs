//! Limits on how many agents may exist per model and per endpoint.

use std::collections::HashMap;
use std::fmt;

use om_core::{EndpointId, ModelName};

use crate::placement::Placement;

/// One quota that stopped a new agent from being placed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Quota {
    /// The most agents of one model.
    Model {
        /// The model.
        model: ModelName,
        /// Its limit.
        limit: usize,
    },
    /// The most agents on one endpoint.
    Endpoint {
        /// The endpoint.
        endpoint: EndpointId,
        /// Its limit.
        limit: usize,
    },
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Model { model, limit } => write!(f, "at most {limit} agents of model {model}"),
            Self::Endpoint { endpoint, limit } => {
                write!(f, "at most {limit} agents on endpoint {endpoint}")
            }
        }
    }
}

/// The configured per-model and per-endpoint limits. A named limit wins over
/// the default; with neither, there is no limit beyond the pool's maximum.
#[derive(Debug, Clone, Default)]
pub(crate) struct Quotas {
    pub(crate) models: HashMap<ModelName, usize>,
    pub(crate) endpoints: HashMap<EndpointId, usize>,
    pub(crate) per_model: Option<usize>,
    pub(crate) per_endpoint: Option<usize>,
}

impl Quotas {
    pub(crate) fn model(&self, model: &ModelName) -> usize {
        self.models.get(model).copied().or(self.per_model).unwrap_or(usize::MAX)
    }

    pub(crate) fn endpoint(&self, endpoint: &EndpointId) -> usize {
        self.endpoints.get(endpoint).copied().or(self.per_endpoint).unwrap_or(usize::MAX)
    }

    /// True when at least one agent may ever exist at `placement`.
    pub(crate) fn admits(&self, placement: &Placement) -> bool {
        self.model(&placement.model) > 0 && self.endpoint(&placement.endpoint) > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_limits_win_over_defaults() {
        let mut quotas = Quotas::default();
        let llama: ModelName = "llama3.2".parse().unwrap();
        let qwen: ModelName = "qwen".parse().unwrap();
        assert_eq!(quotas.model(&llama), usize::MAX);
        quotas.per_model = Some(3);
        quotas.models.insert("Llama3.2:latest".parse().unwrap(), 1);
        assert_eq!(quotas.model(&llama), 1);
        assert_eq!(quotas.model(&qwen), 3);
        quotas.endpoints.insert("cpu".into(), 0);
        assert!(!quotas.admits(&Placement::new(qwen.clone(), "cpu")));
        assert!(quotas.admits(&Placement::new(qwen, "gpu")));
    }
}
