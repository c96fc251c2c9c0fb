//! Signing: appends an enveloped `ds:Signature` as the last child of the root
//! and leaves every other input byte as it was.

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use xoev_xml::{Limits, XmlError};

use crate::algorithms::{DigestAlgorithm, KeyFamily, SignatureAlgorithm, uri};
use crate::base64;
use crate::c14n::{Method, write_canonical};

/// Why a private key cannot be used.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No `PRIVATE KEY` (PKCS#8) block in the PEM text.
    #[error("no PKCS#8 \"PRIVATE KEY\" block in PEM input")]
    NoPkcs8Pem,
    /// The PKCS#8 key is not RSA (2048–4096 bits), EC P-256/P-384 or Ed25519.
    #[error("unsupported or invalid PKCS#8 private key: {0}")]
    Unsupported(String),
}

/// Why a document could not be signed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The input is not acceptable XML.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The root already has a `ds:Signature` child.
    #[error("document is already signed")]
    AlreadySigned,
    /// `ReferenceTarget::RootId` but the root has no Id/ID/id attribute.
    #[error("root element has no Id, ID or id attribute to reference")]
    RootHasNoId,
    /// The requested algorithm does not fit the key.
    #[error("signature method {algorithm} does not fit a {key} key")]
    KeyAlgorithmMismatch {
        /// Requested algorithm.
        algorithm: SignatureAlgorithm,
        /// The key's type.
        key: &'static str,
    },
    /// ring refused to sign.
    #[error("signing failed in the crypto library")]
    Crypto,
}

enum Pair {
    Rsa(RsaKeyPair),
    EcP256(EcdsaKeyPair),
    EcP384(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private key for signing (PKCS#8: RSA 2048–4096, EC P-256/P-384, Ed25519).
pub struct SigningKey {
    pair: Pair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("type", &self.describe())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Reads an unencrypted PKCS#8 DER private key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let pair = if let Ok(k) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            Pair::Ed25519(k)
        } else if let Ok(k) =
            EcdsaKeyPair::from_pkcs8(&ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
        {
            Pair::EcP256(k)
        } else if let Ok(k) =
            EcdsaKeyPair::from_pkcs8(&ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING, der, &rng)
        {
            Pair::EcP384(k)
        } else {
            match RsaKeyPair::from_pkcs8(der) {
                Ok(k) => Pair::Rsa(k),
                Err(e) => return Err(KeyError::Unsupported(e.to_string())),
            }
        };
        Ok(Self { pair })
    }

    /// Reads the first `-----BEGIN PRIVATE KEY-----` block of `pem`.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let der =
            PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).map_err(|_| KeyError::NoPkcs8Pem)?;
        Self::from_pkcs8_der(der.secret_pkcs8_der())
    }

    /// The algorithm `sign` uses unless told otherwise: RSA → rsa-sha256,
    /// P-256 → ecdsa-sha256, P-384 → ecdsa-sha384, Ed25519 → eddsa-ed25519.
    pub fn default_algorithm(&self) -> SignatureAlgorithm {
        match self.pair {
            Pair::Rsa(_) => SignatureAlgorithm::RsaSha256,
            Pair::EcP256(_) => SignatureAlgorithm::EcdsaSha256,
            Pair::EcP384(_) => SignatureAlgorithm::EcdsaSha384,
            Pair::Ed25519(_) => SignatureAlgorithm::Ed25519,
        }
    }

    fn describe(&self) -> &'static str {
        match self.pair {
            Pair::Rsa(_) => "RSA",
            Pair::EcP256(_) => "EC P-256",
            Pair::EcP384(_) => "EC P-384",
            Pair::Ed25519(_) => "Ed25519",
        }
    }

    /// The public key as a DER SubjectPublicKeyInfo (for pinning).
    pub fn public_key_spki_der(&self) -> Vec<u8> {
        match &self.pair {
            // AlgorithmIdentifier { rsaEncryption, NULL }
            Pair::Rsa(k) => spki(
                &[
                    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
                    0x05, 0x00,
                ],
                k.public_key().as_ref(),
            ),
            // { id-ecPublicKey, prime256v1 }
            Pair::EcP256(k) => spki(
                &[
                    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
                    0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
                ],
                k.public_key().as_ref(),
            ),
            // { id-ecPublicKey, secp384r1 }
            Pair::EcP384(k) => spki(
                &[
                    0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05,
                    0x2b, 0x81, 0x04, 0x00, 0x22,
                ],
                k.public_key().as_ref(),
            ),
            // { id-Ed25519 }
            Pair::Ed25519(k) => spki(
                &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70],
                k.public_key().as_ref(),
            ),
        }
    }

    fn family(&self) -> KeyFamily {
        match self.pair {
            Pair::Rsa(_) => KeyFamily::Rsa,
            Pair::EcP256(_) | Pair::EcP384(_) => KeyFamily::Ec,
            Pair::Ed25519(_) => KeyFamily::Ed25519,
        }
    }

    fn sign_bytes(
        &self,
        algorithm: SignatureAlgorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, SignError> {
        let rng = SystemRandom::new();
        let mismatch = || SignError::KeyAlgorithmMismatch {
            algorithm,
            key: self.describe(),
        };
        match &self.pair {
            Pair::Rsa(k) => {
                let padding: &'static dyn ring::signature::RsaEncoding = match algorithm {
                    SignatureAlgorithm::RsaSha256 => &ring::signature::RSA_PKCS1_SHA256,
                    SignatureAlgorithm::RsaSha384 => &ring::signature::RSA_PKCS1_SHA384,
                    SignatureAlgorithm::RsaSha512 => &ring::signature::RSA_PKCS1_SHA512,
                    SignatureAlgorithm::RsaPssSha256 => &ring::signature::RSA_PSS_SHA256,
                    SignatureAlgorithm::RsaPssSha384 => &ring::signature::RSA_PSS_SHA384,
                    SignatureAlgorithm::RsaPssSha512 => &ring::signature::RSA_PSS_SHA512,
                    _ => return Err(mismatch()),
                };
                let mut out = vec![0u8; k.public().modulus_len()];
                k.sign(padding, &rng, message, &mut out)
                    .map_err(|_| SignError::Crypto)?;
                Ok(out)
            }
            Pair::EcP256(k) if algorithm == SignatureAlgorithm::EcdsaSha256 => Ok(k
                .sign(&rng, message)
                .map_err(|_| SignError::Crypto)?
                .as_ref()
                .to_vec()),
            Pair::EcP384(k) if algorithm == SignatureAlgorithm::EcdsaSha384 => Ok(k
                .sign(&rng, message)
                .map_err(|_| SignError::Crypto)?
                .as_ref()
                .to_vec()),
            Pair::Ed25519(k) if algorithm == SignatureAlgorithm::Ed25519 => {
                Ok(k.sign(message).as_ref().to_vec())
            }
            _ => Err(mismatch()),
        }
    }
}

fn spki(algorithm_identifier: &[u8], key: &[u8]) -> Vec<u8> {
    let mut bits = Vec::with_capacity(key.len() + 1);
    bits.push(0); // no unused bits
    bits.extend_from_slice(key);
    let mut body = algorithm_identifier.to_vec();
    der_tlv(&mut body, 0x03, &bits);
    let mut out = Vec::with_capacity(body.len() + 4);
    der_tlv(&mut out, 0x30, &body);
    out
}

fn der_tlv(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, (len & 0xff) as u8]);
    }
    out.extend_from_slice(value);
}

/// What the signature's Reference points at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReferenceTarget {
    /// `URI=""`: the whole document, minus the signature.
    #[default]
    WholeDocument,
    /// `URI="#id"` with the root's Id/ID/id attribute.
    RootId,
}

/// How to sign.
#[non_exhaustive]
#[derive(Clone, Debug, Default)]
pub struct SignOptions {
    /// Canonicalization of SignedInfo and of the reference (default exclusive, no comments).
    pub c14n: Method,
    /// Digest of the reference (default SHA-256).
    pub digest: DigestAlgorithm,
    /// Reference target (default `URI=""`).
    pub reference: ReferenceTarget,
    /// Signature algorithm; `None` = the key's default (RSA keys may choose
    /// rsa-sha384/512 or RSA-PSS here).
    pub algorithm: Option<SignatureAlgorithm>,
    /// Parser limits for the input.
    pub limits: Limits,
}

/// Appends an enveloped `ds:Signature` as the last child of the root; the
/// input bytes are kept unchanged otherwise. The certificate, if given, goes
/// into KeyInfo/X509Data.
pub fn sign(
    input: &[u8],
    key: &SigningKey,
    certificate: Option<&CertificateDer<'_>>,
    opts: &SignOptions,
) -> Result<Vec<u8>, SignError> {
    let doc = xoev_xml::parse(input, &opts.limits)?;
    let root = doc.root();
    if root
        .child_elements()
        .any(|e| e.is(uri::DSIG_NS, "Signature"))
    {
        return Err(SignError::AlreadySigned);
    }
    let algorithm = opts.algorithm.unwrap_or_else(|| key.default_algorithm());
    if algorithm.family() != key.family() {
        return Err(SignError::KeyAlgorithmMismatch {
            algorithm,
            key: key.describe(),
        });
    }
    let (reference_uri, apex) = match opts.reference {
        ReferenceTarget::WholeDocument => (String::new(), None),
        ReferenceTarget::RootId => {
            let id = ["Id", "ID", "id"]
                .iter()
                .find_map(|n| root.attribute(None, n))
                .ok_or(SignError::RootHasNoId)?;
            (format!("#{id}"), Some(root.id()))
        }
    };

    // The signature is inserted where it is excluded again by the enveloped
    // transform, so the reference digest is that of the input as it is.
    let mut canonical = Vec::with_capacity(input.len());
    write_canonical(&doc, apex, None, &opts.c14n, false, &mut canonical);
    let digest = ring::digest::digest(opts.digest.ring(), &canonical);

    let (head, tail) = signature_xml(
        &opts.c14n,
        algorithm,
        opts.digest,
        &reference_uri,
        &base64::encode(digest.as_ref()),
        certificate,
    );
    let end = root.content_end_offset();
    let mut out = Vec::with_capacity(input.len() + head.len() + tail.len() + 512);
    out.extend_from_slice(input.get(..end).unwrap_or(input));
    if root.is_self_closing() {
        out.push(b'>');
    }
    let value_at = out.len() + head.len();
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(tail.as_bytes());
    if root.is_self_closing() {
        out.extend_from_slice(b"</");
        if let Some(p) = root.prefix() {
            out.extend_from_slice(p.as_bytes());
            out.push(b':');
        }
        out.extend_from_slice(root.local_name().as_bytes());
        out.push(b'>');
        out.extend_from_slice(input.get(end + 2..).unwrap_or(&[]));
    } else {
        out.extend_from_slice(input.get(end..).unwrap_or(&[]));
    }

    // SignedInfo's canonical form depends on the namespaces in scope where it
    // now sits, so canonicalize it from the document as it will be.
    let placed = xoev_xml::parse(&out, &opts.limits)?;
    let signed_info = placed
        .root()
        .child_elements()
        .filter(|e| e.is(uri::DSIG_NS, "Signature"))
        .last()
        .and_then(|s| s.child_elements().next())
        .ok_or(SignError::Crypto)?;
    let mut si = Vec::with_capacity(1024);
    write_canonical(
        &placed,
        Some(signed_info.id()),
        None,
        &opts.c14n,
        opts.c14n.with_comments(),
        &mut si,
    );
    let value = base64::encode(&key.sign_bytes(algorithm, &si)?);
    let mut signed = Vec::with_capacity(out.len() + value.len());
    signed.extend_from_slice(out.get(..value_at).unwrap_or(&out));
    signed.extend_from_slice(value.as_bytes());
    signed.extend_from_slice(out.get(value_at..).unwrap_or(&[]));
    Ok(signed)
}

/// The signature element split where the SignatureValue text goes.
fn signature_xml(
    c14n: &Method,
    algorithm: SignatureAlgorithm,
    digest: DigestAlgorithm,
    reference_uri: &str,
    digest_value: &str,
    certificate: Option<&CertificateDer<'_>>,
) -> (String, String) {
    let c14n_body = match c14n {
        Method::Exclusive {
            inclusive_prefixes, ..
        } if !inclusive_prefixes.is_empty() => format!(
            "<ec:InclusiveNamespaces xmlns:ec=\"{}\" PrefixList=\"{}\"/>",
            uri::EXC_C14N_NS,
            escape_attr(&inclusive_prefixes.join(" "))
        ),
        _ => String::new(),
    };
    let c14n_element = |name: &str| {
        if c14n_body.is_empty() {
            format!("<ds:{name} Algorithm=\"{}\"/>", c14n.uri())
        } else {
            format!(
                "<ds:{name} Algorithm=\"{}\">{c14n_body}</ds:{name}>",
                c14n.uri()
            )
        }
    };
    let head = format!(
        "<ds:Signature xmlns:ds=\"{ds}\"><ds:SignedInfo>{cm}<ds:SignatureMethod Algorithm=\"{sm}\"/>\
         <ds:Reference URI=\"{uri}\"><ds:Transforms><ds:Transform Algorithm=\"{env}\"/>{tr}</ds:Transforms>\
         <ds:DigestMethod Algorithm=\"{dm}\"/><ds:DigestValue>{dv}</ds:DigestValue></ds:Reference></ds:SignedInfo>\
         <ds:SignatureValue>",
        ds = uri::DSIG_NS,
        cm = c14n_element("CanonicalizationMethod"),
        sm = algorithm.uri(),
        uri = escape_attr(reference_uri),
        env = uri::ENVELOPED,
        tr = c14n_element("Transform"),
        dm = digest.uri(),
        dv = digest_value,
    );
    let mut tail = String::from("</ds:SignatureValue>");
    if let Some(cert) = certificate {
        tail.push_str("<ds:KeyInfo><ds:X509Data><ds:X509Certificate>");
        tail.push_str(&base64::encode(cert.as_ref()));
        tail.push_str("</ds:X509Certificate></ds:X509Data></ds:KeyInfo>");
    }
    tail.push_str("</ds:Signature>");
    (head, tail)
}

fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

/// Reads every `CERTIFICATE` block of a PEM text (for CLIs and configuration).
pub fn certificates_from_pem(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect()
}
