//! XML Signature (enveloped, same-document references) with inclusive and
//! exclusive C14N 1.0, on quick-xml (via `xoev-xml`) and ring. No I/O, no
//! async. The accepted profile is in `docs/signature-profile.md`.
//!
//! Invariants:
//! - [`verify`] returns a [`Verified`] only if a key from the [`TrustStore`]
//!   (pinned, or a CA chain valid at [`VerifyOptions::now`]) signed SignedInfo,
//!   every Reference digest matches, and one Reference covers the root.
//! - A certificate carried in KeyInfo only selects a trusted key; it is
//!   never trusted by itself. KeyValue is ignored.
//! - Only the unique `ds:Signature` child of the root is considered; any other
//!   `ds:Signature`, duplicate IDs, `ds:Object`, external URIs, and algorithms
//!   outside the profile are refused with a precise [`VerifyError`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod algorithms;
mod base64;
pub mod c14n;
mod error;
mod keys;
mod sign;
mod signature;
mod trust;
mod verify;

pub use algorithms::{DigestAlgorithm, SignatureAlgorithm, uri};
pub use error::{VerifyError, VerifyErrorKind};
pub use keys::MIN_RSA_BITS;
pub use sign::{
    KeyError, ReferenceTarget, SignError, SignOptions, SigningKey, certificates_from_pem, sign,
};
pub use trust::{TrustError, TrustStore};
pub use verify::{Signer, TrustAnchor, Verified, VerifyOptions, verify};

pub use rustls_pki_types::{CertificateDer, UnixTime};
