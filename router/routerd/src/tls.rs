//! rustls configurations, always on the ring provider (never a process-wide default).
//!
//! TLS 1.2 and 1.3 only (rustls has no older versions and never renegotiates), rustls' default
//! cipher suites, ALPN h2 and http/1.1.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::ClientAuth;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read certificates from {path}: {message}")]
    Certs { path: PathBuf, message: String },
    #[error("{path} holds no certificate")]
    NoCerts { path: PathBuf },
    #[error("cannot read a PKCS#8/PKCS#1/SEC1 private key from {path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("client certificate verifier: {0}")]
    Verifier(String),
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |message: String| TlsError::Certs {
        path: path.to_owned(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::NoCerts {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Key {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

pub fn roots(paths: &[PathBuf]) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for p in paths {
        for c in load_certs(p)? {
            roots.add(c).map_err(|e| TlsError::Certs {
                path: p.clone(),
                message: e.to_string(),
            })?;
        }
    }
    Ok(roots)
}

/// The public listener's configuration.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_auth: ClientAuth,
    client_ca: &[PathBuf],
) -> Result<ServerConfig, TlsError> {
    let builder =
        ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Optional | ClientAuth::Required => {
            let verifier = WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots(client_ca)?),
                provider(),
            );
            let verifier = if client_auth == ClientAuth::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(load_certs(cert)?, load_key(key)?)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A client configuration trusting exactly `ca` (pinned CAs), with an optional client
/// certificate for mutual TLS.
pub fn client_config(
    ca: &[PathBuf],
    client: Option<(&Path, &Path)>,
) -> Result<ClientConfig, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(ca)?);
    // No ALPN here: hyper-rustls sets it from the HTTP versions it enables.
    Ok(match client {
        Some((cert, key)) => builder.with_client_auth_cert(load_certs(cert)?, load_key(key)?)?,
        None => builder.with_no_client_auth(),
    })
}

/// SHA-256 of a DER certificate: how the router names and pins certificates.
pub fn fingerprint(der: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The bytes of a lower- or upper-case hex string; `None` for an odd length or a non-hex digit.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki;

    #[test]
    fn refuses_a_certificate_with_a_key_that_does_not_match() {
        let tmp = tempfile::tempdir().unwrap();
        pki::generate(tmp.path(), "r.test").unwrap();
        let e = server_config(
            &tmp.path().join(pki::ROUTER_CERT),
            &tmp.path().join(pki::AUTHORITY_KEY),
            ClientAuth::None,
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("TLS configuration rejected"), "{e}");
    }

    #[test]
    fn refuses_a_key_file_that_holds_no_key() {
        let tmp = tempfile::tempdir().unwrap();
        pki::generate(tmp.path(), "r.test").unwrap();
        let e = server_config(
            &tmp.path().join(pki::ROUTER_CERT),
            &tmp.path().join(pki::ROUTER_CERT),
            ClientAuth::None,
            &[],
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read a PKCS#8/PKCS#1/SEC1 private key from"),
            "{e}"
        );
    }

    #[test]
    fn refuses_a_client_ca_file_without_certificates() {
        let tmp = tempfile::tempdir().unwrap();
        pki::generate(tmp.path(), "r.test").unwrap();
        let e = server_config(
            &tmp.path().join(pki::ROUTER_CERT),
            &tmp.path().join(pki::ROUTER_KEY),
            ClientAuth::Required,
            &[tmp.path().join(pki::ROUTER_KEY)],
        )
        .unwrap_err();
        assert!(e.to_string().contains("holds no certificate"), "{e}");
    }
}
