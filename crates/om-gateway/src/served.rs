//! [`Served`]: which endpoints answered the model requests that came
//! through one gateway, for a caller that gives each of its clients a
//! gateway of its own and wants to say afterwards where their work ran
//! (`ollama-meta aider` does, one per Aider session).

use std::collections::BTreeMap;
use std::sync::Arc;

use om_core::EndpointId;
use parking_lot::Mutex;

/// A shared tally of the endpoints that answered inference requests
/// (generate, chat, embed — not `/api/show` or listings), in the order of
/// their names. Cheap to clone: the clones count together.
///
/// ```
/// use om_gateway::Served;
///
/// let served = Served::new();
/// assert!(served.endpoints().is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Served {
    counts: Arc<Mutex<BTreeMap<EndpointId, u64>>>,
}

impl Served {
    /// An empty tally.
    pub fn new() -> Self {
        Self::default()
    }

    /// Each endpoint that answered, with how many requests it answered.
    pub fn endpoints(&self) -> Vec<(EndpointId, u64)> {
        self.counts.lock().iter().map(|(id, n)| (id.clone(), *n)).collect()
    }

    pub(crate) fn add(&self, endpoint: &EndpointId) {
        let mut counts = self.counts.lock();
        match counts.get_mut(endpoint) {
            Some(n) => *n += 1,
            None => {
                counts.insert(endpoint.clone(), 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_count_together() {
        let served = Served::new();
        let clone = served.clone();
        served.add(&EndpointId::new("b"));
        clone.add(&EndpointId::new("a"));
        clone.add(&EndpointId::new("b"));
        assert_eq!(served.endpoints(), vec![(EndpointId::new("a"), 1), (EndpointId::new("b"), 2)]);
    }
}
