//! `verify`: the profile's checks in order, cheapest and most telling first:
//! placement and structure, references and wrapping, key and trust,
//! signature over SignedInfo, then the digests of the signed content.

use std::collections::HashMap;

use rustls_pki_types::{CertificateDer, UnixTime};
use xoev_xml::{Document, Element, NodeId};

use crate::VerifyError;
use crate::algorithms::{SignatureAlgorithm, uri};
use crate::c14n::{Method, Sink, write_canonical};
use crate::keys::PublicKey;
use crate::signature::{ParsedReference, ParsedSignature, parse_signature};
use crate::trust::{TrustStore, VerifiedChain, cert_facts, sha256};

/// Settings of one verification.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// The time at which certificates must be valid.
    pub now: UnixTime,
    /// Most References accepted in SignedInfo.
    pub max_references: usize,
    /// Most Transforms accepted in one Reference.
    pub max_transforms: usize,
    /// Most X509Certificate elements accepted in KeyInfo.
    pub max_certificates: usize,
}

impl VerifyOptions {
    /// Options checking validity at `now`, with the profile's limits.
    pub fn new(now: UnixTime) -> Self {
        Self {
            now,
            max_references: 8,
            max_transforms: 4,
            max_certificates: 8,
        }
    }
}

impl Default for VerifyOptions {
    /// Options checking validity at the current system time.
    fn default() -> Self {
        Self::new(UnixTime::now())
    }
}

/// Where trust in the signer comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustAnchor {
    /// A pinned certificate or public key, with its label.
    Pinned {
        /// Label given when it was added.
        label: String,
    },
    /// A chain to a configured CA, with the CA's label.
    Ca {
        /// Label given when the CA was added.
        label: String,
    },
}

/// Who signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signer {
    /// The signer's certificate, if the key came from one.
    pub certificate: Option<CertificateDer<'static>>,
    /// SHA-256 of the certificate DER, or of the SPKI DER for a pinned key.
    pub fingerprint_sha256: [u8; 32],
    /// Certificate subject (RFC 4514 style), or the label of a pinned key.
    pub subject: String,
    /// What made the key trusted.
    pub anchor: TrustAnchor,
    /// The signature algorithm used.
    pub algorithm: SignatureAlgorithm,
}

/// A document whose signature verified. Only [`verify`] makes one.
///
/// The signed element is always the document root; the `ds:Signature` inside
/// it is not signed content. Read message data through
/// [`Verified::signed_descendants`], which skips the signature subtree.
#[derive(Clone, Debug)]
pub struct Verified<'d> {
    root: Element<'d>,
    signature: Element<'d>,
    signer: Signer,
}

impl<'d> Verified<'d> {
    /// The element the signature covers: always the document root.
    pub fn signed_element(&self) -> Element<'d> {
        self.root
    }

    /// Who signed.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The verified `ds:Signature` element (not itself signed content).
    pub fn signature_element(&self) -> Element<'d> {
        self.signature
    }

    /// Descendants of the signed element in document order, without the
    /// `ds:Signature` subtree.
    pub fn signed_descendants(&self) -> impl Iterator<Item = Element<'d>> + 'd {
        let signature = self.signature;
        self.root
            .descendants()
            .filter(move |e| !signature.contains(e.id()))
    }
}

/// Verifies the enveloped signature of `doc` under the profile in
/// `docs/signature-profile.md`: `Ok` if and only if a key from `trust`,
/// valid at `opts.now`, signed SignedInfo and every Reference digest
/// matches, with at least one Reference covering the root element.
pub fn verify<'d>(
    doc: &'d Document,
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> Result<Verified<'d>, VerifyError> {
    let root = doc.root();
    let (signature, ids) = locate(root)?;
    let parsed = parse_signature(signature, opts)?;
    let targets = resolve_references(root, signature, &parsed, &ids)?;

    let mut signed_info = Vec::with_capacity(1024);
    write_canonical(
        doc,
        Some(parsed.signed_info.id()),
        None,
        &parsed.c14n,
        parsed.c14n.with_comments(),
        &mut signed_info,
    );
    let signer = check_signer(&parsed, &signed_info, trust, opts)?;

    for (reference, target) in parsed.references.iter().zip(targets) {
        check_digest(doc, signature, reference, target)?;
    }
    Ok(Verified {
        root,
        signature,
        signer,
    })
}

/// Finds the one `ds:Signature` child of the root and indexes ID attributes,
/// refusing other signatures anywhere and duplicate IDs (one pass).
fn locate<'d>(root: Element<'d>) -> Result<(Element<'d>, HashMap<&'d str, NodeId>), VerifyError> {
    if root.is(uri::DSIG_NS, "Signature") {
        return Err(VerifyError::EnvelopingSignature);
    }
    let mut signature = None;
    let mut ids: HashMap<&'d str, NodeId> = HashMap::new();
    for e in std::iter::once(root).chain(root.descendants()) {
        if e.is(uri::DSIG_NS, "Signature") {
            if e.parent() != Some(root) {
                return Err(VerifyError::NestedSignature {
                    line: e.position().line,
                });
            }
            if signature.replace(e).is_some() {
                return Err(VerifyError::MultipleSignatures);
            }
        }
        for a in e.attributes() {
            if a.namespace.is_none()
                && matches!(a.local_name, "Id" | "ID" | "id")
                && let Some(previous) = ids.insert(a.value, e.id())
                && previous != e.id()
            {
                return Err(VerifyError::DuplicateId {
                    id: a.value.to_owned(),
                });
            }
        }
    }
    signature.map(|s| (s, ids)).ok_or(VerifyError::Unsigned)
}

/// What a Reference selects.
#[derive(Clone, Copy)]
enum Target {
    WholeDocument,
    Element(NodeId),
}

fn resolve_references(
    root: Element<'_>,
    signature: Element<'_>,
    parsed: &ParsedSignature<'_>,
    ids: &HashMap<&str, NodeId>,
) -> Result<Vec<Target>, VerifyError> {
    let mut covers_root = false;
    let mut targets = Vec::with_capacity(parsed.references.len());
    for r in &parsed.references {
        let target = if r.uri.is_empty() {
            Target::WholeDocument
        } else if let Some(id) = r
            .uri
            .strip_prefix('#')
            .filter(|id| !id.is_empty() && !id.starts_with("xpointer("))
        {
            Target::Element(*ids.get(id).ok_or_else(|| VerifyError::ReferenceNotFound {
                uri: r.uri.to_owned(),
            })?)
        } else {
            return Err(VerifyError::UnsupportedReferenceUri {
                uri: r.uri.to_owned(),
            });
        };
        let covers_signature = match target {
            Target::WholeDocument => true,
            Target::Element(id) => root
                .document()
                .element(id)
                .is_some_and(|e| e.contains(signature.id())),
        };
        if covers_signature && !r.enveloped {
            return Err(VerifyError::MissingEnvelopedTransform {
                uri: r.uri.to_owned(),
            });
        }
        covers_root |= match target {
            Target::WholeDocument => true,
            Target::Element(id) => id == root.id(),
        };
        targets.push(target);
    }
    if !covers_root {
        return Err(VerifyError::RootNotSigned);
    }
    Ok(targets)
}

struct DigestSink {
    ctx: ring::digest::Context,
    buf: Vec<u8>,
}

impl Sink for DigestSink {
    fn put(&mut self, bytes: &[u8]) {
        // Batch small writes: ring's per-call overhead dominates otherwise.
        if self.buf.len() + bytes.len() > self.buf.capacity() {
            self.ctx.update(&self.buf);
            self.buf.clear();
            if bytes.len() >= self.buf.capacity() {
                self.ctx.update(bytes);
                return;
            }
        }
        self.buf.extend_from_slice(bytes);
    }
}

fn check_digest(
    doc: &Document,
    signature: Element<'_>,
    r: &ParsedReference<'_>,
    target: Target,
) -> Result<(), VerifyError> {
    let mut sink = DigestSink {
        ctx: ring::digest::Context::new(r.digest.ring()),
        buf: Vec::with_capacity(16 * 1024),
    };
    let default_c14n = Method::Inclusive {
        with_comments: false,
    };
    let method = r.c14n.as_ref().unwrap_or(&default_c14n);
    let exclude = r.enveloped.then(|| signature.id());
    // Same-document references ("" and "#id") select node-sets without
    // comments (XML-DSig §4.4.3.3), whatever the C14N method says.
    match target {
        Target::WholeDocument => write_canonical(doc, None, exclude, method, false, &mut sink),
        Target::Element(id) => {
            let inside_signature = signature.contains(id);
            if !(r.enveloped && inside_signature) {
                write_canonical(doc, Some(id), exclude, method, false, &mut sink);
            }
        }
    }
    let DigestSink { mut ctx, buf } = sink;
    ctx.update(&buf);
    let digest = ctx.finish();
    // Digests are public values: no constant-time comparison needed.
    if digest.as_ref() != r.digest_value.as_slice() {
        return Err(VerifyError::DigestMismatch {
            uri: r.uri.to_owned(),
        });
    }
    Ok(())
}

/// Finds the trusted key and checks the signature over canonical SignedInfo.
fn check_signer(
    parsed: &ParsedSignature<'_>,
    signed_info: &[u8],
    trust: &TrustStore,
    opts: &VerifyOptions,
) -> Result<Signer, VerifyError> {
    let inner = &trust.inner;
    let now = i64::try_from(opts.now.as_secs()).unwrap_or(i64::MAX);
    let algorithm = parsed.algorithm;
    let signer = |certificate: Option<CertificateDer<'static>>,
                  fingerprint_sha256,
                  subject: String,
                  anchor| Signer {
        certificate,
        fingerprint_sha256,
        subject,
        anchor,
        algorithm,
    };

    if parsed.certificates.is_empty() {
        // No certificate: try every pinned key of the right type.
        let mut tried = false;
        let mut last = VerifyError::NoTrustedKey;
        for c in &inner.certs {
            if c.key.family() != algorithm.family() || now < c.not_before || now > c.not_after {
                continue;
            }
            tried = true;
            match c.key.verify(algorithm, signed_info, &parsed.value) {
                Ok(()) => {
                    return Ok(signer(
                        Some(c.der.clone()),
                        c.fingerprint,
                        c.subject.clone(),
                        TrustAnchor::Pinned {
                            label: c.label.clone(),
                        },
                    ));
                }
                Err(e) => last = e,
            }
        }
        for k in &inner.keys {
            if k.key.family() != algorithm.family() {
                continue;
            }
            tried = true;
            match k.key.verify(algorithm, signed_info, &parsed.value) {
                Ok(()) => {
                    return Ok(signer(
                        None,
                        k.fingerprint,
                        k.label.clone(),
                        TrustAnchor::Pinned {
                            label: k.label.clone(),
                        },
                    ));
                }
                Err(e) => last = e,
            }
        }
        return Err(if tried {
            last
        } else {
            VerifyError::NoTrustedKey
        });
    }

    // SHA-256 of each KeyInfo certificate: the key of pinned certificates and of verified
    // chains.
    let fingerprints: Vec<[u8; 32]> = parsed.certificates.iter().map(|d| sha256(d)).collect();
    // 1. A pinned certificate, byte for byte.
    for fingerprint in &fingerprints {
        if let Some(c) = inner
            .cert_index
            .get(fingerprint)
            .and_then(|i| inner.certs.get(*i))
        {
            if now < c.not_before {
                return Err(VerifyError::CertificateNotYetValid {
                    not_before: c.not_before,
                });
            }
            if now > c.not_after {
                return Err(VerifyError::CertificateExpired {
                    not_after: c.not_after,
                });
            }
            c.key.verify(algorithm, signed_info, &parsed.value)?;
            return Ok(signer(
                Some(c.der.clone()),
                c.fingerprint,
                c.subject.clone(),
                TrustAnchor::Pinned {
                    label: c.label.clone(),
                },
            ));
        }
    }
    // 2. A certificate carrying a pinned public key (parsed only if keys are pinned).
    for der in parsed
        .certificates
        .iter()
        .filter(|_| !inner.keys.is_empty())
    {
        let Some(facts) = cert_facts(der) else {
            continue;
        };
        if let Some(k) = inner.keys.iter().find(|k| k.spki == facts.spki) {
            k.key.verify(algorithm, signed_info, &parsed.value)?;
            return Ok(signer(
                None,
                k.fingerprint,
                k.label.clone(),
                TrustAnchor::Pinned {
                    label: k.label.clone(),
                },
            ));
        }
    }
    // 3. A chain to a configured CA; the first certificate that chains is the signer.
    if inner.anchors.is_empty() {
        return Err(VerifyError::UntrustedCertificate {
            reason: "certificate is not pinned and no CA is configured".to_owned(),
        });
    }
    for (der, fingerprint) in parsed.certificates.iter().zip(&fingerprints) {
        if let Some(chain) = trust.chains.valid_at(fingerprint, now) {
            chain.key.verify(algorithm, signed_info, &parsed.value)?;
            return Ok(signer(
                Some(CertificateDer::from(der.to_vec())),
                *fingerprint,
                chain.subject,
                TrustAnchor::Ca { label: chain.label },
            ));
        }
    }
    let all: Vec<CertificateDer<'_>> = parsed
        .certificates
        .iter()
        .map(|d| CertificateDer::from(d.as_slice()))
        .collect();
    let mut last_reason = String::from("no certificate chains to a configured CA");
    for (i, der) in all.iter().enumerate() {
        let Ok(ee) = webpki::EndEntityCert::try_from(der) else {
            last_reason = "certificate cannot be parsed for path building".to_owned();
            continue;
        };
        let intermediates: Vec<CertificateDer<'_>> = all
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, c)| c.clone())
            .collect();
        match ee.verify_for_usage(
            WEBPKI_ALGS,
            &inner.anchors,
            &intermediates,
            opts.now,
            AnyEku,
            None,
            None,
        ) {
            Ok(path) => {
                let anchor = path.anchor();
                let label = inner
                    .cas
                    .iter()
                    .find(|c| {
                        c.anchor.subject == anchor.subject
                            && c.anchor.subject_public_key_info == anchor.subject_public_key_info
                    })
                    .map(|c| c.label.clone())
                    .unwrap_or_default();
                let facts =
                    cert_facts(der.as_ref()).ok_or_else(|| VerifyError::InvalidCertificate {
                        reason: "unparseable".to_owned(),
                    })?;
                let key: PublicKey = facts.key.map_err(|p| p.into_verify_error())?;
                key.verify(algorithm, signed_info, &parsed.value)?;
                let fingerprint = fingerprints.get(i).copied().unwrap_or_else(|| sha256(der));
                // Cached only when the validity of every certificate on the path is known.
                let validity = path.intermediate_certificates().try_fold(
                    (facts.not_before, facts.not_after),
                    |(nb, na), c| {
                        cert_facts(c.der().as_ref())
                            .map(|f| (nb.max(f.not_before), na.min(f.not_after)))
                    },
                );
                if let Some((not_before, not_after)) = validity {
                    let chain = VerifiedChain {
                        key,
                        subject: facts.subject.clone(),
                        label: label.clone(),
                        not_before,
                        not_after,
                    };
                    trust.chains.insert(fingerprint, chain);
                }
                let owned = CertificateDer::from(der.as_ref().to_vec());
                return Ok(signer(
                    Some(owned),
                    fingerprint,
                    facts.subject,
                    TrustAnchor::Ca { label },
                ));
            }
            Err(webpki::Error::CertExpired { not_after, .. }) if i == 0 => {
                return Err(VerifyError::CertificateExpired {
                    not_after: i64::try_from(not_after.as_secs()).unwrap_or(i64::MAX),
                });
            }
            Err(webpki::Error::CertNotValidYet { not_before, .. }) if i == 0 => {
                return Err(VerifyError::CertificateNotYetValid {
                    not_before: i64::try_from(not_before.as_secs()).unwrap_or(i64::MAX),
                });
            }
            Err(e) => last_reason = format!("{e:?}"),
        }
    }
    Err(VerifyError::UntrustedCertificate {
        reason: last_reason,
    })
}

/// Certificate signature algorithms accepted in CA chains.
static WEBPKI_ALGS: &[&dyn rustls_pki_types::SignatureVerificationAlgorithm] = &[
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P256_SHA384,
    webpki::ring::ECDSA_P384_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
    webpki::ring::ED25519,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512,
    webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// Document signing has no standard extended key usage; any (or none) is accepted.
struct AnyEku;

impl webpki::ExtendedKeyUsageValidator for AnyEku {
    fn validate(&self, _iter: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}
