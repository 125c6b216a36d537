//! HTTPS on `serve`: the certificate chain and key read once at bind, and
//! the handshake of each accepted connection (bounded like a request head).

use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::Error;
use crate::settings::TlsFiles;

/// The server settings for `files`.
///
/// # Errors
///
/// [`Error::Tls`] naming the file that cannot be read, holds no PEM
/// certificate or key, or whose key does not match the certificate.
pub(crate) fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, Error> {
    let fail =
        |path: &std::path::Path, reason: String| Error::Tls { path: path.to_owned(), reason };
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| fail(&files.cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(fail(&files.cert, "holds no PEM certificate".to_owned()));
    }
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(|e| fail(&files.key, e.to_string()))?;
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| fail(&files.key, e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
