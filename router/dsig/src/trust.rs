//! Which keys may sign: pinned certificates, pinned public keys and CAs.
//! A certificate carried in a message is only a pointer into this store.

use std::collections::HashMap;
use std::sync::Arc;

use rustls_pki_types::{CertificateDer, TrustAnchor as WebpkiAnchor};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::keys::{KeyProblem, PublicKey};

/// Why a certificate or key cannot be added to a [`TrustStore`].
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// The certificate does not parse.
    #[error("certificate {label:?} is not a valid X.509 certificate")]
    InvalidCertificate {
        /// The label given.
        label: String,
    },
    /// The public key does not parse.
    #[error("public key {label:?} is not a valid SubjectPublicKeyInfo")]
    InvalidPublicKey {
        /// The label given.
        label: String,
    },
    /// An RSA key under 2048 bits.
    #[error("key {label:?} refused: RSA key of {bits} bits, at least 2048 are required")]
    WeakRsaKey {
        /// The label given.
        label: String,
        /// Modulus size.
        bits: usize,
    },
    /// A key type or curve outside the profile.
    #[error("key {label:?} refused: {reason}")]
    UnsupportedKey {
        /// The label given.
        label: String,
        /// What is unsupported.
        reason: &'static str,
    },
    /// The CA certificate is not usable as a trust anchor.
    #[error("CA certificate {label:?} is not usable as a trust anchor")]
    InvalidCaCertificate {
        /// The label given.
        label: String,
    },
}

fn key_error(problem: KeyProblem, label: &str) -> TrustError {
    match problem {
        KeyProblem::Invalid => TrustError::InvalidPublicKey {
            label: label.to_owned(),
        },
        KeyProblem::WeakRsa(bits) => TrustError::WeakRsaKey {
            label: label.to_owned(),
            bits,
        },
        KeyProblem::Unsupported(reason) => TrustError::UnsupportedKey {
            label: label.to_owned(),
            reason,
        },
    }
}

#[derive(Clone, Debug)]
pub(crate) struct PinnedCert {
    pub(crate) der: CertificateDer<'static>,
    pub(crate) key: PublicKey,
    pub(crate) label: String,
    pub(crate) subject: String,
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
    pub(crate) fingerprint: [u8; 32],
}

#[derive(Clone, Debug)]
pub(crate) struct PinnedKey {
    pub(crate) spki: Vec<u8>,
    pub(crate) key: PublicKey,
    pub(crate) label: String,
    pub(crate) fingerprint: [u8; 32],
}

#[derive(Clone, Debug)]
pub(crate) struct CaCert {
    pub(crate) anchor: WebpkiAnchor<'static>,
    pub(crate) label: String,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Inner {
    pub(crate) certs: Vec<PinnedCert>,
    pub(crate) cert_index: HashMap<[u8; 32], usize>,
    pub(crate) keys: Vec<PinnedKey>,
    pub(crate) cas: Vec<CaCert>,
    pub(crate) anchors: Vec<WebpkiAnchor<'static>>,
}

/// The keys a verifier trusts. Cheap to clone (shared; copied on write).
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    pub(crate) inner: Arc<Inner>,
    /// Chains already verified against exactly these anchors; replaced by every change.
    pub(crate) chains: Arc<ChainCache>,
}

/// End-entity certificates whose path to a configured CA was built and verified, by SHA-256 of
/// their DER. Path building and the check of the CA's signature cost more than the message's
/// own signature check, and a portal sends the same certificate with every message. An entry
/// keeps the period in which every certificate of its path is valid, so time is checked as
/// path building would; the trust anchor's own validity is not checked, as in rustls-webpki.
/// The cache belongs to one set of anchors: every change of the store starts a new one.
#[derive(Debug, Default)]
pub(crate) struct ChainCache {
    entries: std::sync::Mutex<HashMap<[u8; 32], VerifiedChain>>,
}

/// What a verified path establishes about its end-entity certificate.
#[derive(Clone, Debug)]
pub(crate) struct VerifiedChain {
    pub(crate) key: PublicKey,
    pub(crate) subject: String,
    pub(crate) label: String,
    /// Latest `notBefore` and earliest `notAfter` of the end entity and intermediates.
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
}

/// Entries at most; a full cache starts over (a few thousand signing certificates is far more
/// than the portals of one router use).
const CHAIN_CACHE_MAX: usize = 4096;

impl ChainCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], VerifiedChain>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The verified chain of this certificate if it is valid at `now` (Unix seconds).
    pub(crate) fn valid_at(&self, fingerprint: &[u8; 32], now: i64) -> Option<VerifiedChain> {
        self.entries()
            .get(fingerprint)
            .filter(|v| v.not_before <= now && now <= v.not_after)
            .cloned()
    }

    pub(crate) fn insert(&self, fingerprint: [u8; 32], chain: VerifiedChain) {
        let mut entries = self.entries();
        if entries.len() >= CHAIN_CACHE_MAX {
            entries.clear();
        }
        entries.insert(fingerprint, chain);
    }
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Parsed facts about a certificate that verification needs.
pub(crate) struct CertFacts {
    pub(crate) key: Result<PublicKey, KeyProblem>,
    pub(crate) spki: Vec<u8>,
    pub(crate) subject: String,
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
}

pub(crate) fn cert_facts(der: &[u8]) -> Option<CertFacts> {
    let (rest, cert) = X509Certificate::from_der(der).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let spki = cert.public_key();
    Some(CertFacts {
        key: PublicKey::from_spki(spki),
        spki: spki.raw.to_vec(),
        subject: cert.subject().to_string(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

impl TrustStore {
    /// An empty store: nothing verifies until something is added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts signatures made with the key of exactly this certificate
    /// (byte-identical DER in KeyInfo, or any signature without a
    /// certificate that verifies with its key), while it is valid.
    pub fn add_pinned_certificate(
        &mut self,
        der: CertificateDer<'static>,
        label: &str,
    ) -> Result<(), TrustError> {
        let facts = cert_facts(der.as_ref()).ok_or_else(|| TrustError::InvalidCertificate {
            label: label.to_owned(),
        })?;
        let key = facts.key.map_err(|p| key_error(p, label))?;
        let fingerprint = sha256(der.as_ref());
        self.chains = Arc::default();
        let inner = Arc::make_mut(&mut self.inner);
        inner.cert_index.insert(fingerprint, inner.certs.len());
        inner.certs.push(PinnedCert {
            der,
            key,
            label: label.to_owned(),
            subject: facts.subject,
            not_before: facts.not_before,
            not_after: facts.not_after,
            fingerprint,
        });
        Ok(())
    }

    /// Trusts end-entity certificates that chain (rustls-webpki path
    /// building, validity at verification time) to this CA certificate.
    pub fn add_ca_certificate(
        &mut self,
        der: CertificateDer<'static>,
        label: &str,
    ) -> Result<(), TrustError> {
        let anchor = webpki::anchor_from_trusted_cert(&der)
            .map_err(|_| TrustError::InvalidCaCertificate {
                label: label.to_owned(),
            })?
            .to_owned();
        self.chains = Arc::default();
        let inner = Arc::make_mut(&mut self.inner);
        inner.anchors.push(anchor.clone());
        inner.cas.push(CaCert {
            anchor,
            label: label.to_owned(),
        });
        Ok(())
    }

    /// Trusts a bare public key (DER SubjectPublicKeyInfo), for signers that
    /// send no certificate. No validity period applies.
    pub fn add_pinned_public_key(
        &mut self,
        spki_der: &[u8],
        label: &str,
    ) -> Result<(), TrustError> {
        let key = PublicKey::from_spki_der(spki_der).map_err(|p| key_error(p, label))?;
        self.chains = Arc::default();
        let inner = Arc::make_mut(&mut self.inner);
        inner.keys.push(PinnedKey {
            spki: spki_der.to_vec(),
            key,
            label: label.to_owned(),
            fingerprint: sha256(spki_der),
        });
        Ok(())
    }

    /// Is the store empty?
    pub fn is_empty(&self) -> bool {
        self.inner.certs.is_empty() && self.inner.keys.is_empty() && self.inner.cas.is_empty()
    }
}
