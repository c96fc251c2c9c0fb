//! Algorithm URIs of the profile, and the ones refused by name.

/// Algorithm and namespace URIs.
pub mod uri {
    /// The XML-DSig namespace.
    pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
    /// The namespace of `InclusiveNamespaces`.
    pub const EXC_C14N_NS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

    /// Canonical XML 1.0.
    pub const C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
    /// Canonical XML 1.0 with comments.
    pub const C14N_WITH_COMMENTS: &str =
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
    /// Exclusive XML Canonicalization 1.0.
    pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
    /// Exclusive XML Canonicalization 1.0 with comments.
    pub const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
    /// The enveloped-signature transform.
    pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

    /// SHA-256 digest.
    pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
    /// SHA-384 digest.
    pub const SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
    /// SHA-512 digest.
    pub const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";

    /// RSA PKCS#1 v1.5 with SHA-256.
    pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    /// RSA PKCS#1 v1.5 with SHA-384.
    pub const RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
    /// RSA PKCS#1 v1.5 with SHA-512.
    pub const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
    /// RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32 (RFC 6931).
    pub const RSA_PSS_SHA256: &str = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1";
    /// RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48 (RFC 6931).
    pub const RSA_PSS_SHA384: &str = "http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1";
    /// RSASSA-PSS, SHA-512, MGF1-SHA-512, salt 64 (RFC 6931).
    pub const RSA_PSS_SHA512: &str = "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1";
    /// ECDSA with SHA-256 (raw r‖s).
    pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
    /// ECDSA with SHA-384 (raw r‖s).
    pub const ECDSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
    /// Ed25519 (RFC 9231).
    pub const ED25519: &str = "http://www.w3.org/2021/04/xmldsig-more#eddsa-ed25519";
}

/// Algorithms refused by name, with the reason given in the error.
pub(crate) fn refusal(algorithm: &str) -> Option<&'static str> {
    const SHA1: &str = "SHA-1 is broken for signatures (collisions)";
    const MD5: &str = "MD5 is broken";
    const RIPEMD: &str = "RIPEMD-160 is not allowed by the profile";
    const HMAC: &str = "HMAC is a shared-secret MAC, not a signature";
    const DSA: &str = "DSA is not allowed by the profile";
    let reason = match algorithm {
        "http://www.w3.org/2000/09/xmldsig#sha1"
        | "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
        | "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1"
        | "http://www.w3.org/2007/05/xmldsig-more#sha1-rsa-MGF1" => SHA1,
        "http://www.w3.org/2001/04/xmldsig-more#md5"
        | "http://www.w3.org/2001/04/xmldsig-more#rsa-md5" => MD5,
        "http://www.w3.org/2001/04/xmlenc#ripemd160"
        | "http://www.w3.org/2001/04/xmldsig-more#rsa-ripemd160"
        | "http://www.w3.org/2007/05/xmldsig-more#ripemd160-rsa-MGF1" => RIPEMD,
        "http://www.w3.org/2000/09/xmldsig#dsa-sha1"
        | "http://www.w3.org/2009/xmldsig11#dsa-sha256" => DSA,
        a if a.starts_with("http://www.w3.org/2000/09/xmldsig#hmac-")
            || a.starts_with("http://www.w3.org/2001/04/xmldsig-more#hmac-") =>
        {
            HMAC
        }
        _ => return None,
    };
    Some(reason)
}

/// A digest algorithm of the profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// SHA-256 (the default).
    #[default]
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl DigestAlgorithm {
    /// The algorithm named by `uri`, if it is in the profile.
    pub fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            uri::SHA256 => Some(Self::Sha256),
            uri::SHA384 => Some(Self::Sha384),
            uri::SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The algorithm URI.
    pub fn uri(self) -> &'static str {
        match self {
            Self::Sha256 => uri::SHA256,
            Self::Sha384 => uri::SHA384,
            Self::Sha512 => uri::SHA512,
        }
    }

    pub(crate) fn ring(self) -> &'static ring::digest::Algorithm {
        match self {
            Self::Sha256 => &ring::digest::SHA256,
            Self::Sha384 => &ring::digest::SHA384,
            Self::Sha512 => &ring::digest::SHA512,
        }
    }

    /// Digest length in bytes.
    pub fn len(self) -> usize {
        self.ring().output_len()
    }

    /// Never true; present because `len` is.
    pub fn is_empty(self) -> bool {
        false
    }
}

/// A signature algorithm of the profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// RSA PKCS#1 v1.5 with SHA-256.
    RsaSha256,
    /// RSA PKCS#1 v1.5 with SHA-384.
    RsaSha384,
    /// RSA PKCS#1 v1.5 with SHA-512.
    RsaSha512,
    /// RSASSA-PSS with SHA-256 (MGF1-SHA-256, salt length 32).
    RsaPssSha256,
    /// RSASSA-PSS with SHA-384 (MGF1-SHA-384, salt length 48).
    RsaPssSha384,
    /// RSASSA-PSS with SHA-512 (MGF1-SHA-512, salt length 64).
    RsaPssSha512,
    /// ECDSA with SHA-256, signature as raw r‖s.
    EcdsaSha256,
    /// ECDSA with SHA-384, signature as raw r‖s.
    EcdsaSha384,
    /// Ed25519.
    Ed25519,
}

/// The kind of key a signature algorithm needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyFamily {
    Rsa,
    Ec,
    Ed25519,
}

impl SignatureAlgorithm {
    /// The algorithm named by `uri`, if it is in the profile.
    pub fn from_uri(uri: &str) -> Option<Self> {
        Some(match uri {
            uri::RSA_SHA256 => Self::RsaSha256,
            uri::RSA_SHA384 => Self::RsaSha384,
            uri::RSA_SHA512 => Self::RsaSha512,
            uri::RSA_PSS_SHA256 => Self::RsaPssSha256,
            uri::RSA_PSS_SHA384 => Self::RsaPssSha384,
            uri::RSA_PSS_SHA512 => Self::RsaPssSha512,
            uri::ECDSA_SHA256 => Self::EcdsaSha256,
            uri::ECDSA_SHA384 => Self::EcdsaSha384,
            uri::ED25519 => Self::Ed25519,
            _ => return None,
        })
    }

    /// The algorithm URI.
    pub fn uri(self) -> &'static str {
        match self {
            Self::RsaSha256 => uri::RSA_SHA256,
            Self::RsaSha384 => uri::RSA_SHA384,
            Self::RsaSha512 => uri::RSA_SHA512,
            Self::RsaPssSha256 => uri::RSA_PSS_SHA256,
            Self::RsaPssSha384 => uri::RSA_PSS_SHA384,
            Self::RsaPssSha512 => uri::RSA_PSS_SHA512,
            Self::EcdsaSha256 => uri::ECDSA_SHA256,
            Self::EcdsaSha384 => uri::ECDSA_SHA384,
            Self::Ed25519 => uri::ED25519,
        }
    }

    pub(crate) fn family(self) -> KeyFamily {
        match self {
            Self::RsaSha256
            | Self::RsaSha384
            | Self::RsaSha512
            | Self::RsaPssSha256
            | Self::RsaPssSha384
            | Self::RsaPssSha512 => KeyFamily::Rsa,
            Self::EcdsaSha256 | Self::EcdsaSha384 => KeyFamily::Ec,
            Self::Ed25519 => KeyFamily::Ed25519,
        }
    }
}

impl std::fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.uri())
    }
}
