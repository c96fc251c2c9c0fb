//! Why a signature was not accepted.

use crate::algorithms::SignatureAlgorithm;

/// The two outcomes a caller acts on.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VerifyErrorKind {
    /// Unsigned, malformed signature, digest or signature mismatch, refused
    /// algorithm, wrapping: the message is not what a signer signed.
    SignatureInvalid,
    /// The signature may be sound, but no trusted, currently valid key made it.
    SignerUntrusted,
}

/// A verification failure; `Display` is one line naming the cause.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No `ds:Signature` child of the root element.
    #[error("document is not signed: no ds:Signature child of the root element")]
    Unsigned,
    /// The root element is itself a `ds:Signature` (an enveloping signature).
    #[error("enveloping signature refused: ds:Signature is the root element")]
    EnvelopingSignature,
    /// More than one `ds:Signature` child of the root element.
    #[error("more than one ds:Signature child of the root element")]
    MultipleSignatures,
    /// A `ds:Signature` somewhere other than directly under the root.
    #[error("ds:Signature at line {line} is not a child of the root element")]
    NestedSignature {
        /// Line of the misplaced signature.
        line: u32,
    },
    /// The signature's structure breaks the XML-DSig schema or the profile.
    #[error("malformed signature: {element}: {reason}")]
    MalformedSignature {
        /// The element concerned (local name).
        element: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// An element the profile does not allow at this place.
    #[error("unexpected element {name} in ds:{parent}")]
    UnexpectedElement {
        /// The element found (local name, with namespace if not XML-DSig).
        name: String,
        /// The XML-DSig parent element.
        parent: &'static str,
    },
    /// An algorithm refused on purpose (SHA-1, MD5, RIPEMD-160, HMAC, DSA).
    #[error("refused algorithm {algorithm}: {reason}")]
    RefusedAlgorithm {
        /// The algorithm URI.
        algorithm: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An algorithm or transform the profile does not implement.
    #[error("unsupported algorithm {algorithm}")]
    UnsupportedAlgorithm {
        /// The algorithm URI.
        algorithm: String,
    },
    /// Transforms in an order or combination the profile does not accept.
    #[error("unsupported transform chain: {reason}")]
    UnsupportedTransformChain {
        /// What is wrong with the chain.
        reason: &'static str,
    },
    /// More references, transforms or certificates than allowed.
    #[error("too many {what}: more than {limit}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A Reference URI that is not `""` or a same-document `#id`.
    #[error("unsupported Reference URI {uri:?}: only \"\" and same-document \"#id\" are accepted")]
    UnsupportedReferenceUri {
        /// The URI.
        uri: String,
    },
    /// A `#id` Reference whose id is not in the document.
    #[error("Reference URI {uri:?} does not resolve to an element")]
    ReferenceNotFound {
        /// The URI.
        uri: String,
    },
    /// Two elements carry the same Id/ID/id value.
    #[error("duplicate ID {id:?} in the document")]
    DuplicateId {
        /// The repeated value.
        id: String,
    },
    /// No Reference covers the root element (wrapping defence).
    #[error("no Reference covers the root element")]
    RootNotSigned,
    /// A Reference covering the signature lacks the enveloped-signature transform.
    #[error("Reference {uri:?} covers the signature but has no enveloped-signature transform")]
    MissingEnvelopedTransform {
        /// The URI.
        uri: String,
    },
    /// A base64 value that does not decode.
    #[error("invalid base64 in ds:{element}")]
    InvalidBase64 {
        /// The element holding it.
        element: &'static str,
    },
    /// A base64 value longer than the profile allows.
    #[error("ds:{element} is longer than {limit} characters")]
    Base64TooLong {
        /// The element holding it.
        element: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A DigestValue of the wrong length for its DigestMethod.
    #[error("DigestValue has {actual} bytes, the digest method produces {expected}")]
    DigestLengthMismatch {
        /// Bytes the digest produces.
        expected: usize,
        /// Bytes found.
        actual: usize,
    },
    /// A SignatureValue of the wrong length for the key.
    #[error("SignatureValue has {actual} bytes, the key requires {expected}")]
    SignatureLengthMismatch {
        /// Bytes the key's signatures have.
        expected: usize,
        /// Bytes found.
        actual: usize,
    },
    /// The digest of the referenced content differs from DigestValue.
    #[error("digest mismatch for Reference {uri:?}: the signed content was changed")]
    DigestMismatch {
        /// The Reference URI.
        uri: String,
    },
    /// The SignatureValue does not verify over the canonical SignedInfo.
    #[error("signature value does not verify with the signer's key")]
    SignatureMismatch,
    /// The SignatureMethod does not fit the signer's key type or curve.
    #[error("signature method {algorithm} does not match the signer's {key} key")]
    KeyAlgorithmMismatch {
        /// The SignatureMethod.
        algorithm: SignatureAlgorithm,
        /// The key's type.
        key: &'static str,
    },
    /// An RSA key below 2048 bits.
    #[error("RSA key of {bits} bits refused: at least 2048 bits are required")]
    WeakRsaKey {
        /// Modulus size.
        bits: usize,
    },
    /// A key type or curve the profile does not support.
    #[error("unsupported key in signer certificate: {reason}")]
    UnsupportedKey {
        /// What is unsupported.
        reason: &'static str,
    },
    /// A certificate in KeyInfo that cannot be parsed.
    #[error("invalid certificate in KeyInfo: {reason}")]
    InvalidCertificate {
        /// Parser message.
        reason: String,
    },
    /// KeyInfo carries no certificate and no pinned key fits.
    #[error(
        "no trusted key: KeyInfo has no certificate and no pinned key matches the signature method"
    )]
    NoTrustedKey,
    /// The KeyInfo certificate is neither pinned nor chains to a configured CA.
    #[error("signer certificate is not trusted: {reason}")]
    UntrustedCertificate {
        /// Why path building failed.
        reason: String,
    },
    /// The signer certificate has expired at the verification time.
    #[error("signer certificate expired (notAfter {not_after} s since epoch)")]
    CertificateExpired {
        /// notAfter, seconds since the Unix epoch.
        not_after: i64,
    },
    /// The signer certificate is not yet valid at the verification time.
    #[error("signer certificate not yet valid (notBefore {not_before} s since epoch)")]
    CertificateNotYetValid {
        /// notBefore, seconds since the Unix epoch.
        not_before: i64,
    },
}

impl VerifyError {
    /// Which of the two outcomes this is.
    pub fn kind(&self) -> VerifyErrorKind {
        match self {
            Self::NoTrustedKey
            | Self::UntrustedCertificate { .. }
            | Self::CertificateExpired { .. }
            | Self::CertificateNotYetValid { .. }
            | Self::InvalidCertificate { .. } => VerifyErrorKind::SignerUntrusted,
            _ => VerifyErrorKind::SignatureInvalid,
        }
    }

    /// A short stable label for metrics (bounded set).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Unsigned => "unsigned",
            Self::MultipleSignatures | Self::NestedSignature { .. } | Self::EnvelopingSignature => {
                "misplaced_signature"
            }
            Self::MalformedSignature { .. }
            | Self::UnexpectedElement { .. }
            | Self::InvalidBase64 { .. } => "malformed_signature",
            Self::RefusedAlgorithm { .. } | Self::WeakRsaKey { .. } => "refused_algorithm",
            Self::UnsupportedAlgorithm { .. }
            | Self::UnsupportedTransformChain { .. }
            | Self::UnsupportedKey { .. } => "unsupported_algorithm",
            Self::TooMany { .. } | Self::Base64TooLong { .. } => "limit_exceeded",
            Self::UnsupportedReferenceUri { .. }
            | Self::ReferenceNotFound { .. }
            | Self::DuplicateId { .. }
            | Self::RootNotSigned
            | Self::MissingEnvelopedTransform { .. } => "reference_rejected",
            Self::DigestLengthMismatch { .. } | Self::SignatureLengthMismatch { .. } => {
                "bad_length"
            }
            Self::DigestMismatch { .. } => "digest_mismatch",
            Self::SignatureMismatch => "signature_mismatch",
            Self::KeyAlgorithmMismatch { .. } => "key_algorithm_mismatch",
            Self::InvalidCertificate { .. } => "invalid_certificate",
            Self::NoTrustedKey | Self::UntrustedCertificate { .. } => "untrusted",
            Self::CertificateExpired { .. } | Self::CertificateNotYetValid { .. } => {
                "certificate_not_valid_now"
            }
        }
    }
}
