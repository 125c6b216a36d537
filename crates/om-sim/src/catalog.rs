//! The installed models of one endpoint (what `/api/tags` lists) and the
//! blobs uploaded to it; changed by pull, create, copy and delete.

use std::collections::HashSet;

use om_core::ModelName;

use crate::spec::ModelSpec;

/// One installed model and when it was last written.
#[derive(Debug, Clone)]
pub(crate) struct Installed {
    pub(crate) spec: ModelSpec,
    /// Unix nanoseconds.
    pub(crate) modified_at: i128,
}

/// The installed models, at most one per (normalised) name.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    models: Vec<Installed>,
    blobs: HashSet<String>,
}

/// How far apart the start-up models' `modified_at` are, so that the listing
/// order (newest first) is the spec order.
const STAGGER_NANOS: i128 = 3_600 * 1_000_000_000;

impl Catalog {
    /// A catalog of `models`, the first one the newest, as of `now` (Unix
    /// nanoseconds). A later duplicate name replaces an earlier one.
    pub(crate) fn new(models: &[ModelSpec], now: i128) -> Self {
        let mut catalog = Self::default();
        for (i, spec) in models.iter().enumerate() {
            catalog.upsert(spec.clone(), now - STAGGER_NANOS * (i as i128 + 1));
        }
        catalog
    }

    /// The model called `name`.
    pub(crate) fn find(&self, name: &ModelName) -> Option<&Installed> {
        self.models.iter().find(|m| m.spec.name == *name)
    }

    /// Every model, newest first (ties by name).
    pub(crate) fn list(&self) -> Vec<Installed> {
        let mut models = self.models.clone();
        models
            .sort_by(|a, b| b.modified_at.cmp(&a.modified_at).then(a.spec.name.cmp(&b.spec.name)));
        models
    }

    /// Installs `spec`, replacing a model of the same name.
    pub(crate) fn upsert(&mut self, spec: ModelSpec, modified_at: i128) {
        self.models.retain(|m| m.spec.name != spec.name);
        self.models.push(Installed { spec, modified_at });
    }

    /// Removes the model called `name`; false when it was not installed.
    pub(crate) fn remove(&mut self, name: &ModelName) -> bool {
        let before = self.models.len();
        self.models.retain(|m| m.spec.name != *name);
        self.models.len() != before
    }

    /// Records an uploaded blob (`sha256:…`).
    pub(crate) fn add_blob(&mut self, digest: &str) -> bool {
        self.blobs.insert(digest.to_owned())
    }

    /// True when the blob was uploaded or belongs to an installed model.
    pub(crate) fn has_blob(&self, digest: &str) -> bool {
        self.blobs.contains(digest)
            || digest
                .strip_prefix("sha256:")
                .is_some_and(|hex| self.models.iter().any(|m| m.spec.digest == hex))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::default_models;

    #[test]
    fn listing_is_newest_first_in_spec_order() {
        let catalog = Catalog::new(&default_models(), 1_000_000_000_000_000_000);
        let names: Vec<String> = catalog.list().iter().map(|m| m.spec.name.to_string()).collect();
        assert_eq!(names[0], "llama3.2:latest");
        assert_eq!(names[3], "nomic-embed-text:latest");
    }

    #[test]
    fn upsert_replaces_and_remove_reports() {
        let mut catalog = Catalog::new(&default_models(), 0);
        let name: ModelName = "LLAMA3.2".parse().unwrap();
        let spec = catalog.find(&name).unwrap().spec.clone();
        catalog.upsert(spec, 99);
        assert_eq!(catalog.list().len(), 4);
        assert_eq!(catalog.list()[0].modified_at, 99);
        assert!(catalog.remove(&name));
        assert!(!catalog.remove(&name));
        assert!(catalog.has_blob(&format!("sha256:{}", default_models()[1].digest)));
        assert!(!catalog.has_blob("sha256:00"));
    }
}
