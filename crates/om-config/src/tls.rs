//! The `[tls]` section: what `https` endpoints are trusted with.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::check::Findings;
use crate::path::KeyPath;

/// TLS to the endpoints.
///
/// ```toml
/// [tls]
/// ca_file = "/etc/ollama-meta/fleet-ca.pem"  # trusted besides the platform's roots
/// ```
///
/// `https` endpoints are always checked against the platform's CA roots;
/// `ca_file` adds the certificates of a private CA (or a self-signed
/// server) in PEM form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    /// A PEM file of CA certificates to trust besides the platform's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

impl Tls {
    pub(crate) fn check(&self, at: &KeyPath, out: &mut Findings) {
        if let Some(path) = &self.ca_file {
            let message = format!("{} is not a readable file", path.display());
            out.require(path.is_file(), || at.key("ca_file"), &message);
        }
    }
}
