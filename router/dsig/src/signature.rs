//! Reads a `ds:Signature` element strictly into a [`ParsedSignature`]: the
//! XML-DSig schema order, only the profile's elements, bounded values.
//! Nothing here trusts or verifies anything; it only refuses early.

use xoev_xml::{Element, Node};

use crate::algorithms::{DigestAlgorithm, SignatureAlgorithm, refusal, uri};
use crate::base64;
use crate::c14n::{C14nError, Method};
use crate::{VerifyError, VerifyOptions};

/// Longest SignatureValue text accepted (RSA-8192 is 1368 base64 characters).
const MAX_SIGNATURE_VALUE_CHARS: usize = 4096;
/// Longest DigestValue text accepted (SHA-512 is 88 base64 characters).
const MAX_DIGEST_VALUE_CHARS: usize = 256;
/// Longest X509Certificate text accepted.
const MAX_CERTIFICATE_CHARS: usize = 64 * 1024;

pub(crate) struct ParsedSignature<'d> {
    pub(crate) signed_info: Element<'d>,
    pub(crate) c14n: Method,
    pub(crate) algorithm: SignatureAlgorithm,
    pub(crate) references: Vec<ParsedReference<'d>>,
    pub(crate) value: Vec<u8>,
    /// DER certificates from KeyInfo/X509Data, in document order.
    pub(crate) certificates: Vec<Vec<u8>>,
}

pub(crate) struct ParsedReference<'d> {
    pub(crate) uri: &'d str,
    pub(crate) enveloped: bool,
    /// `None`: no C14N transform, so inclusive C14N 1.0 without comments applies.
    pub(crate) c14n: Option<Method>,
    pub(crate) digest: DigestAlgorithm,
    pub(crate) digest_value: Vec<u8>,
}

fn is_ds(e: &Element<'_>, local: &str) -> bool {
    e.is(uri::DSIG_NS, local)
}

fn unexpected(e: &Element<'_>, parent: &'static str) -> VerifyError {
    let name = match e.namespace() {
        Some(uri::DSIG_NS) => format!("ds:{}", e.local_name()),
        Some(ns) => format!("{{{ns}}}{}", e.local_name()),
        None => e.local_name().to_owned(),
    };
    VerifyError::UnexpectedElement { name, parent }
}

/// Child elements of an XML-DSig element whose content model is elements
/// only: white space and comments may separate them, text and PIs may not.
fn element_children<'d>(
    e: &Element<'d>,
    parent: &'static str,
) -> Result<Vec<Element<'d>>, VerifyError> {
    let mut out = Vec::new();
    for child in e.children() {
        match child {
            Node::Element(c) => out.push(c),
            Node::Text(t) if t.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) => {}
            Node::Comment(_) => {}
            Node::Text(_) => {
                return Err(VerifyError::MalformedSignature {
                    element: parent,
                    reason: "text where only elements are allowed",
                });
            }
            Node::ProcessingInstruction { .. } => {
                return Err(VerifyError::MalformedSignature {
                    element: parent,
                    reason: "processing instruction inside the signature",
                });
            }
        }
    }
    Ok(out)
}

fn no_children(e: &Element<'_>, name: &'static str) -> Result<(), VerifyError> {
    match element_children(e, name)?.first() {
        Some(c) => Err(unexpected(c, name)),
        None => Ok(()),
    }
}

/// Text content of an element that must hold only text (base64 values).
fn text_only(e: &Element<'_>, name: &'static str) -> Result<String, VerifyError> {
    if let Some(c) = e.child_elements().next() {
        return Err(unexpected(&c, name));
    }
    Ok(e.text())
}

fn algorithm_attr<'d>(e: &Element<'d>, name: &'static str) -> Result<&'d str, VerifyError> {
    let alg = e
        .attribute(None, "Algorithm")
        .ok_or(VerifyError::MalformedSignature {
            element: name,
            reason: "missing Algorithm attribute",
        })?;
    if let Some(reason) = refusal(alg) {
        return Err(VerifyError::RefusedAlgorithm {
            algorithm: alg.to_owned(),
            reason,
        });
    }
    Ok(alg)
}

/// Reads a C14N method element (CanonicalizationMethod or Transform) with
/// its optional `ec:InclusiveNamespaces` child.
fn c14n_method(e: &Element<'_>, name: &'static str, alg: &str) -> Result<Method, VerifyError> {
    // Name the unsupported algorithm before complaining about its parameters.
    if let Err(C14nError::Unsupported(algorithm)) = Method::from_uri(alg, None) {
        return Err(VerifyError::UnsupportedAlgorithm { algorithm });
    }
    let children = element_children(e, name)?;
    let mut prefix_list = None;
    for (i, child) in children.iter().enumerate() {
        let ok = i == 0 && child.is(uri::EXC_C14N_NS, "InclusiveNamespaces");
        if !ok {
            return Err(unexpected(child, name));
        }
        prefix_list = Some(child.attribute(None, "PrefixList").ok_or(
            VerifyError::MalformedSignature {
                element: "InclusiveNamespaces",
                reason: "missing PrefixList attribute",
            },
        )?);
    }
    Method::from_uri(alg, prefix_list).map_err(|e| match e {
        C14nError::Unsupported(algorithm) => VerifyError::UnsupportedAlgorithm { algorithm },
        C14nError::PrefixListNotAllowed | C14nError::InvalidPrefix(_) => {
            VerifyError::MalformedSignature {
                element: "InclusiveNamespaces",
                reason: "PrefixList not valid for this method",
            }
        }
    })
}

pub(crate) fn parse_signature<'d>(
    signature: Element<'d>,
    opts: &VerifyOptions,
) -> Result<ParsedSignature<'d>, VerifyError> {
    let children = element_children(&signature, "Signature")?;
    let mut iter = children.into_iter();
    let signed_info =
        iter.next()
            .filter(|e| is_ds(e, "SignedInfo"))
            .ok_or(VerifyError::MalformedSignature {
                element: "Signature",
                reason: "SignedInfo must be the first child",
            })?;
    let value_el = iter.next().filter(|e| is_ds(e, "SignatureValue")).ok_or(
        VerifyError::MalformedSignature {
            element: "Signature",
            reason: "SignatureValue must follow SignedInfo",
        },
    )?;
    let value = base64::decode(
        &text_only(&value_el, "SignatureValue")?,
        "SignatureValue",
        MAX_SIGNATURE_VALUE_CHARS,
    )?;

    let mut certificates = Vec::new();
    let mut seen_key_info = false;
    for extra in iter {
        // ds:Object (and anything else) is refused: content there is not
        // covered by an enveloped signature and only invites wrapping.
        if !is_ds(&extra, "KeyInfo") || seen_key_info {
            return Err(unexpected(&extra, "Signature"));
        }
        seen_key_info = true;
        read_key_info(&extra, opts, &mut certificates)?;
    }

    // SignedInfo: CanonicalizationMethod, SignatureMethod, Reference+.
    let si_children = element_children(&signed_info, "SignedInfo")?;
    let mut si = si_children.into_iter();
    let c14n_el = si
        .next()
        .filter(|e| is_ds(e, "CanonicalizationMethod"))
        .ok_or(VerifyError::MalformedSignature {
            element: "SignedInfo",
            reason: "CanonicalizationMethod must be the first child",
        })?;
    let c14n_alg = algorithm_attr(&c14n_el, "CanonicalizationMethod")?;
    let c14n = c14n_method(&c14n_el, "CanonicalizationMethod", c14n_alg)?;

    let sm_el = si.next().filter(|e| is_ds(e, "SignatureMethod")).ok_or(
        VerifyError::MalformedSignature {
            element: "SignedInfo",
            reason: "SignatureMethod must follow CanonicalizationMethod",
        },
    )?;
    let sm_alg = algorithm_attr(&sm_el, "SignatureMethod")?;
    let algorithm =
        SignatureAlgorithm::from_uri(sm_alg).ok_or_else(|| VerifyError::UnsupportedAlgorithm {
            algorithm: sm_alg.to_owned(),
        })?;
    no_children(&sm_el, "SignatureMethod")?;

    let mut references = Vec::new();
    for r in si {
        if !is_ds(&r, "Reference") {
            return Err(unexpected(&r, "SignedInfo"));
        }
        if references.len() == opts.max_references {
            return Err(VerifyError::TooMany {
                what: "references",
                limit: opts.max_references,
            });
        }
        references.push(read_reference(&r, opts)?);
    }
    if references.is_empty() {
        return Err(VerifyError::MalformedSignature {
            element: "SignedInfo",
            reason: "no Reference",
        });
    }
    Ok(ParsedSignature {
        signed_info,
        c14n,
        algorithm,
        references,
        value,
        certificates,
    })
}

fn read_reference<'d>(
    r: &Element<'d>,
    opts: &VerifyOptions,
) -> Result<ParsedReference<'d>, VerifyError> {
    let uri = r
        .attribute(None, "URI")
        .ok_or(VerifyError::MalformedSignature {
            element: "Reference",
            reason: "missing URI attribute",
        })?;
    let children = element_children(r, "Reference")?;
    let mut iter = children.into_iter().peekable();
    let mut enveloped = false;
    let mut c14n = None;
    if let Some(transforms) = iter.next_if(|e| is_ds(e, "Transforms")) {
        let list = element_children(&transforms, "Transforms")?;
        if list.is_empty() {
            return Err(VerifyError::MalformedSignature {
                element: "Transforms",
                reason: "no Transform",
            });
        }
        if list.len() > opts.max_transforms {
            return Err(VerifyError::TooMany {
                what: "transforms",
                limit: opts.max_transforms,
            });
        }
        for t in &list {
            if !is_ds(t, "Transform") {
                return Err(unexpected(t, "Transforms"));
            }
            let alg = algorithm_attr(t, "Transform")?;
            if alg == uri::ENVELOPED {
                if enveloped || c14n.is_some() {
                    return Err(VerifyError::UnsupportedTransformChain {
                        reason: "enveloped-signature must come once, before canonicalization",
                    });
                }
                no_children(t, "Transform")?;
                enveloped = true;
            } else {
                if c14n.is_some() {
                    return Err(VerifyError::UnsupportedTransformChain {
                        reason: "more than one canonicalization transform",
                    });
                }
                c14n = Some(c14n_method(t, "Transform", alg)?);
            }
        }
    }
    let dm = iter.next().filter(|e| is_ds(e, "DigestMethod")).ok_or(
        VerifyError::MalformedSignature {
            element: "Reference",
            reason: "DigestMethod missing or out of order",
        },
    )?;
    let dm_alg = algorithm_attr(&dm, "DigestMethod")?;
    let digest =
        DigestAlgorithm::from_uri(dm_alg).ok_or_else(|| VerifyError::UnsupportedAlgorithm {
            algorithm: dm_alg.to_owned(),
        })?;
    no_children(&dm, "DigestMethod")?;
    let dv =
        iter.next()
            .filter(|e| is_ds(e, "DigestValue"))
            .ok_or(VerifyError::MalformedSignature {
                element: "Reference",
                reason: "DigestValue missing or out of order",
            })?;
    if let Some(extra) = iter.next() {
        return Err(unexpected(&extra, "Reference"));
    }
    let digest_value = base64::decode(
        &text_only(&dv, "DigestValue")?,
        "DigestValue",
        MAX_DIGEST_VALUE_CHARS,
    )?;
    if digest_value.len() != digest.len() {
        return Err(VerifyError::DigestLengthMismatch {
            expected: digest.len(),
            actual: digest_value.len(),
        });
    }
    Ok(ParsedReference {
        uri,
        enveloped,
        c14n,
        digest,
        digest_value,
    })
}

/// Collects X509Certificate values; KeyName, KeyValue and the other X509Data
/// children are accepted and ignored (keys come only from the trust store).
fn read_key_info(
    key_info: &Element<'_>,
    opts: &VerifyOptions,
    certificates: &mut Vec<Vec<u8>>,
) -> Result<(), VerifyError> {
    for child in element_children(key_info, "KeyInfo")? {
        if is_ds(&child, "KeyName") || is_ds(&child, "KeyValue") {
            continue;
        }
        if !is_ds(&child, "X509Data") {
            return Err(unexpected(&child, "KeyInfo"));
        }
        for item in element_children(&child, "X509Data")? {
            if is_ds(&item, "X509Certificate") {
                if certificates.len() == opts.max_certificates {
                    return Err(VerifyError::TooMany {
                        what: "certificates",
                        limit: opts.max_certificates,
                    });
                }
                certificates.push(base64::decode(
                    &text_only(&item, "X509Certificate")?,
                    "X509Certificate",
                    MAX_CERTIFICATE_CHARS,
                )?);
            } else if !(is_ds(&item, "X509IssuerSerial")
                || is_ds(&item, "X509SubjectName")
                || is_ds(&item, "X509SKI"))
            {
                return Err(unexpected(&item, "X509Data"));
            }
        }
    }
    Ok(())
}
