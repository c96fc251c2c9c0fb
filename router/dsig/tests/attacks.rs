//! Attacks on the verifier, each asserting the exact error.

mod common;

use common::*;
use xoev_dsig::{ReferenceTarget, SignOptions, VerifyError, VerifyErrorKind, sign, verify};
use xoev_xml::{Limits, XmlError};

const MESSAGE: &str = r#"<x:nachricht xmlns:x="urn:xoev:test" Id="msg-1"><x:kopf><x:leser>ags:08111000</x:leser><x:autor>psw:01003110</x:autor></x:kopf><x:inhalt>Betrag 100 EUR</x:inhalt></x:nachricht>"#;

fn signed_with(name: &str, reference: ReferenceTarget, input: &str) -> String {
    let mut o = SignOptions::default();
    o.reference = reference;
    let out = sign(input.as_bytes(), &key(name), Some(&cert(name)), &o).expect("sign");
    String::from_utf8(out).expect("utf8")
}

fn signed(name: &str) -> String {
    signed_with(name, ReferenceTarget::WholeDocument, MESSAGE)
}

fn check(xml: &str) -> Result<(), VerifyError> {
    check_with(xml, &ca_store(), &opts())
}

fn check_with(
    xml: &str,
    trust: &xoev_dsig::TrustStore,
    o: &xoev_dsig::VerifyOptions,
) -> Result<(), VerifyError> {
    let doc = xoev_xml::parse(xml.as_bytes(), &Limits::default()).expect("well-formed");
    verify(&doc, trust, o).map(|_| ())
}

/// The text between `open` and `close` in `xml`.
fn between<'a>(xml: &'a str, open: &str, close: &str) -> &'a str {
    let start = xml.find(open).expect("open") + open.len();
    let end = start + xml[start..].find(close).expect("close");
    &xml[start..end]
}

fn signature_element(xml: &str) -> &str {
    let start = xml.find("<ds:Signature").expect("signature");
    let end = xml.find("</ds:Signature>").expect("end") + "</ds:Signature>".len();
    &xml[start..end]
}

#[test]
fn untouched_message_verifies() {
    assert_eq!(check(&signed("p256")), Ok(()));
    assert_eq!(
        check(&signed_with("rsa2048", ReferenceTarget::RootId, MESSAGE)),
        Ok(())
    );
}

#[test]
fn rejects_wrapped_document_as_nested_signature() {
    let xml = signed("p256");
    let wrapped = format!("<evil>{xml}</evil>");
    assert_eq!(
        check(&wrapped),
        Err(VerifyError::NestedSignature { line: 1 })
    );
}

#[test]
fn rejects_signed_element_moved_below_a_new_root_as_root_not_signed() {
    // Classic wrapping: the original (signed) element is kept deeper, a forged
    // message takes the root, and the reference still resolves by ID.
    let xml = signed_with("p256", ReferenceTarget::RootId, MESSAGE);
    let sig = signature_element(&xml);
    let original = xml.replace(sig, "");
    let forged = format!(
        r#"<x:nachricht xmlns:x="urn:xoev:test" Id="forged"><x:kopf><x:leser>ags:09999999</x:leser></x:kopf>{sig}<x:anhang>{original}</x:anhang></x:nachricht>"#
    );
    assert_eq!(check(&forged), Err(VerifyError::RootNotSigned));
}

#[test]
fn rejects_reference_to_an_element_that_is_not_the_root() {
    // A genuine signature over the header only, placed under a root it does not cover.
    let header =
        r#"<x:kopf xmlns:x="urn:xoev:test" Id="kopf-1"><x:leser>ags:08111000</x:leser></x:kopf>"#;
    let signed_header = signed_with("p256", ReferenceTarget::RootId, header);
    let sig = signature_element(&signed_header);
    let doc = format!(
        r#"<x:nachricht xmlns:x="urn:xoev:test">{}<x:inhalt>Betrag 1000000 EUR</x:inhalt>{sig}</x:nachricht>"#,
        signed_header.replace(sig, "")
    );
    assert_eq!(check(&doc), Err(VerifyError::RootNotSigned));
}

#[test]
fn rejects_second_header_hidden_in_signature_object_as_unexpected_element() {
    let xml = signed("p256");
    let tampered = xml.replace(
        "</ds:Signature>",
        "<ds:Object><x:kopf xmlns:x=\"urn:xoev:test\"><x:leser>ags:09999999</x:leser></x:kopf></ds:Object></ds:Signature>",
    );
    assert_eq!(
        check(&tampered),
        Err(VerifyError::UnexpectedElement {
            name: "ds:Object".into(),
            parent: "Signature"
        })
    );
}

#[test]
fn rejects_second_header_hidden_in_key_info_as_unexpected_element() {
    let xml = signed("p256");
    let tampered = xml.replace(
        "<ds:X509Data>",
        "<x:kopf xmlns:x=\"urn:xoev:test\"/><ds:X509Data>",
    );
    assert_eq!(
        check(&tampered),
        Err(VerifyError::UnexpectedElement {
            name: "{urn:xoev:test}kopf".into(),
            parent: "KeyInfo"
        })
    );
}

#[test]
fn rejects_second_header_added_inside_the_root_as_digest_mismatch() {
    let xml = signed("p256");
    let tampered = xml.replace(
        "<x:inhalt>",
        "<x:kopf><x:leser>ags:09999999</x:leser></x:kopf><x:inhalt>",
    );
    assert_eq!(
        check(&tampered),
        Err(VerifyError::DigestMismatch { uri: String::new() })
    );
}

#[test]
fn rejects_duplicate_ids() {
    let xml = signed_with("p256", ReferenceTarget::RootId, MESSAGE);
    let tampered = xml.replace("<x:inhalt>", "<x:inhalt Id=\"msg-1\">");
    assert_eq!(
        check(&tampered),
        Err(VerifyError::DuplicateId { id: "msg-1".into() })
    );
    let lower = xml.replace("<x:inhalt>", "<x:inhalt id=\"msg-1\">");
    assert_eq!(
        check(&lower),
        Err(VerifyError::DuplicateId { id: "msg-1".into() })
    );
}

#[test]
fn rejects_id_moved_to_an_unrelated_element_as_root_not_signed() {
    let xml = signed_with("p256", ReferenceTarget::RootId, MESSAGE);
    let tampered = xml
        .replacen(" Id=\"msg-1\"", "", 1)
        .replace("<x:inhalt>", "<x:inhalt Id=\"msg-1\">");
    assert_eq!(check(&tampered), Err(VerifyError::RootNotSigned));
}

#[test]
fn rejects_text_injection_as_digest_mismatch() {
    let xml = signed("p256");
    let tampered = xml.replace("100 EUR", "1000 EUR");
    assert_eq!(
        check(&tampered),
        Err(VerifyError::DigestMismatch { uri: String::new() })
    );
    let cdata = xml.replace("100 EUR", "100<![CDATA[0]]> EUR");
    assert_eq!(
        check(&cdata),
        Err(VerifyError::DigestMismatch { uri: String::new() })
    );
}

#[test]
fn comment_injection_leaves_the_signed_text_unchanged() {
    // Same-document references drop comments (XML-DSig §4.4.3.3), so a comment
    // inside a value still verifies; the defence is that Element::text reads
    // all text children, so the router sees exactly the signed value.
    let xml = signed("p256");
    let tampered = xml.replace("ags:08111000", "ags:081<!-- -->11000");
    let doc = xoev_xml::parse(tampered.as_bytes(), &Limits::default()).expect("parse");
    let verified = verify(&doc, &ca_store(), &opts()).expect("comments are not signed content");
    let leser = verified
        .signed_descendants()
        .find(|e| e.local_name() == "leser")
        .expect("leser");
    assert_eq!(leser.text(), "ags:08111000");
}

#[test]
fn rejects_namespace_prefix_rebinding_as_digest_mismatch() {
    let xml = signed("p256");
    let rebound = xml.replacen("xmlns:x=\"urn:xoev:test\"", "xmlns:x=\"urn:evil\"", 1);
    assert_eq!(
        check(&rebound),
        Err(VerifyError::DigestMismatch { uri: String::new() })
    );
    let renamed = xml.replace("x:", "y:").replace("xmlns:x=", "xmlns:y=");
    assert_eq!(
        check(&renamed),
        Err(VerifyError::DigestMismatch { uri: String::new() })
    );
}

#[test]
fn rejects_ec_key_with_rsa_signature_method_as_key_algorithm_mismatch() {
    let xml = signed("p256").replace(xoev_dsig::uri::ECDSA_SHA256, xoev_dsig::uri::RSA_SHA256);
    assert_eq!(
        check(&xml),
        Err(VerifyError::KeyAlgorithmMismatch {
            algorithm: xoev_dsig::SignatureAlgorithm::RsaSha256,
            key: "EC P-256"
        })
    );
}

#[test]
fn rejects_rsa_key_with_ecdsa_signature_method_as_key_algorithm_mismatch() {
    let xml = signed("rsa2048").replace(xoev_dsig::uri::RSA_SHA256, xoev_dsig::uri::ECDSA_SHA256);
    assert_eq!(
        check(&xml),
        Err(VerifyError::KeyAlgorithmMismatch {
            algorithm: xoev_dsig::SignatureAlgorithm::EcdsaSha256,
            key: "RSA"
        })
    );
}

fn with_signature_value(xml: &str, f: impl Fn(Vec<u8>) -> Vec<u8>) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let value = between(xml, "<ds:SignatureValue>", "</ds:SignatureValue>");
    let bytes = f(b64.decode(value).expect("base64"));
    xml.replace(value, &b64.encode(bytes))
}

#[test]
fn rejects_truncated_and_overlong_signature_values_as_length_mismatch() {
    let xml = signed("p256");
    let short = with_signature_value(&xml, |mut v| {
        v.pop();
        v
    });
    assert_eq!(
        check(&short),
        Err(VerifyError::SignatureLengthMismatch {
            expected: 64,
            actual: 63
        })
    );
    let long = with_signature_value(&xml, |mut v| {
        v.push(0);
        v
    });
    assert_eq!(
        check(&long),
        Err(VerifyError::SignatureLengthMismatch {
            expected: 64,
            actual: 65
        })
    );
    let rsa = with_signature_value(&signed("rsa3072"), |v| v[..256].to_vec());
    assert_eq!(
        check(&rsa),
        Err(VerifyError::SignatureLengthMismatch {
            expected: 384,
            actual: 256
        })
    );
}

#[test]
fn rejects_der_encoded_ecdsa_signature_value_as_length_mismatch() {
    // XML-DSig carries r‖s; a DER ECDSA-Sig-Value has the wrong length.
    let xml = signed("p256");
    let der = with_signature_value(&xml, |v| {
        let mut out = vec![0x30, 0x44, 0x02, 0x20];
        out.extend_from_slice(&v[..32]);
        out.extend_from_slice(&[0x02, 0x20]);
        out.extend_from_slice(&v[32..]);
        out
    });
    assert_eq!(
        check(&der),
        Err(VerifyError::SignatureLengthMismatch {
            expected: 64,
            actual: 70
        })
    );
}

#[test]
fn rejects_flipped_signature_bit_as_signature_mismatch() {
    let xml = with_signature_value(&signed("ed25519"), |mut v| {
        v[10] ^= 1;
        v
    });
    assert_eq!(check(&xml), Err(VerifyError::SignatureMismatch));
}

#[test]
fn rejects_changed_signed_info_as_signature_mismatch() {
    let xml = signed("rsa2048");
    let digest = between(&xml, "<ds:DigestValue>", "</ds:DigestValue>").to_owned();
    // Re-point the reference at a tampered body with a matching digest: the
    // signature over SignedInfo no longer holds.
    let tampered_body = xml.replace("100 EUR", "999 EUR");
    let doc = xoev_xml::parse(tampered_body.as_bytes(), &Limits::default()).expect("parse");
    let mut canonical = Vec::new();
    let sig_id = doc.root().child_elements().last().expect("sig").id();
    xoev_dsig::c14n::canonicalize(
        &doc,
        None,
        Some(sig_id),
        &Default::default(),
        &mut canonical,
    );
    use base64::Engine as _;
    let new_digest = base64::engine::general_purpose::STANDARD
        .encode(ring::digest::digest(&ring::digest::SHA256, &canonical));
    let forged = tampered_body.replace(&digest, &new_digest);
    assert_eq!(check(&forged), Err(VerifyError::SignatureMismatch));
}

#[test]
fn rejects_doctype_and_entity_tricks_before_any_signature_work() {
    let xxe = format!(
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}",
        signed("p256")
    );
    assert!(matches!(
        xoev_xml::parse(xxe.as_bytes(), &Limits::default()),
        Err(XmlError::DoctypeForbidden { .. })
    ));
    let laughs = "<!DOCTYPE l [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><l>&b;</l>";
    assert!(matches!(
        xoev_xml::parse(laughs.as_bytes(), &Limits::default()),
        Err(XmlError::DoctypeForbidden { .. })
    ));
    let undefined = signed("p256").replace("100 EUR", "&b; EUR");
    assert!(matches!(
        xoev_xml::parse(undefined.as_bytes(), &Limits::default()),
        Err(XmlError::UndefinedEntity { name, .. }) if name == "b"
    ));
}

#[test]
fn rejects_depth_and_attribute_bombs_with_limit_errors() {
    let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
    assert!(matches!(
        xoev_xml::parse(deep.as_bytes(), &Limits::default()),
        Err(XmlError::TooDeep { limit: 64, .. })
    ));
    let attrs: String = (0..100).map(|i| format!(" a{i}='1'")).collect();
    let wide = format!("<r{attrs}/>");
    assert!(matches!(
        xoev_xml::parse(wide.as_bytes(), &Limits::default()),
        Err(XmlError::TooManyAttributes { limit: 64, .. })
    ));
}

#[test]
fn rejects_huge_base64_blobs_before_decoding() {
    let xml = signed("p256");
    let value = between(&xml, "<ds:SignatureValue>", "</ds:SignatureValue>");
    let huge = xml.replace(value, &"A".repeat(1 << 20));
    assert_eq!(
        check(&huge),
        Err(VerifyError::Base64TooLong {
            element: "SignatureValue",
            limit: 4096
        })
    );
    let cert = between(&xml, "<ds:X509Certificate>", "</ds:X509Certificate>");
    let huge_cert = xml.replace(cert, &"QUFB".repeat(1 << 16));
    assert_eq!(
        check(&huge_cert),
        Err(VerifyError::Base64TooLong {
            element: "X509Certificate",
            limit: 65536
        })
    );
    let digest = between(&xml, "<ds:DigestValue>", "</ds:DigestValue>");
    let huge_digest = xml.replace(digest, &"QUFB".repeat(100));
    assert_eq!(
        check(&huge_digest),
        Err(VerifyError::Base64TooLong {
            element: "DigestValue",
            limit: 256
        })
    );
    let text = format!("<r>{}</r>", "A".repeat(17 << 20));
    assert!(matches!(
        xoev_xml::parse(text.as_bytes(), &Limits::default()),
        Err(XmlError::TextTooLong { .. })
    ));
}

#[test]
fn rejects_wrong_digest_length() {
    let xml = signed("p256");
    let digest = between(&xml, "<ds:DigestValue>", "</ds:DigestValue>");
    let tampered = xml.replace(digest, "AAAA");
    assert_eq!(
        check(&tampered),
        Err(VerifyError::DigestLengthMismatch {
            expected: 32,
            actual: 3
        })
    );
}

#[test]
fn refuses_sha1_md5_hmac_dsa_and_ripemd160_by_name() {
    let xml = signed("p256");
    let cases = [
        (
            xoev_dsig::uri::SHA256,
            "http://www.w3.org/2000/09/xmldsig#sha1",
            "SHA-1 is broken for signatures (collisions)",
        ),
        (
            xoev_dsig::uri::SHA256,
            "http://www.w3.org/2001/04/xmldsig-more#md5",
            "MD5 is broken",
        ),
        (
            xoev_dsig::uri::SHA256,
            "http://www.w3.org/2001/04/xmlenc#ripemd160",
            "RIPEMD-160 is not allowed by the profile",
        ),
        (
            xoev_dsig::uri::ECDSA_SHA256,
            "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
            "HMAC is a shared-secret MAC, not a signature",
        ),
        (
            xoev_dsig::uri::ECDSA_SHA256,
            "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
            "HMAC is a shared-secret MAC, not a signature",
        ),
        (
            xoev_dsig::uri::ECDSA_SHA256,
            "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
            "DSA is not allowed by the profile",
        ),
        (
            xoev_dsig::uri::ECDSA_SHA256,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
            "SHA-1 is broken for signatures (collisions)",
        ),
    ];
    for (from, to, reason) in cases {
        let tampered = xml.replace(from, to);
        assert_eq!(
            check(&tampered),
            Err(VerifyError::RefusedAlgorithm {
                algorithm: to.into(),
                reason
            }),
            "{to}"
        );
    }
}

#[test]
fn refuses_unsupported_transforms_and_c14n_11() {
    let xml = signed("p256");
    let c14n11 = xml.replacen(
        xoev_dsig::uri::EXC_C14N,
        "http://www.w3.org/2006/12/xml-c14n11",
        1,
    );
    assert_eq!(
        check(&c14n11),
        Err(VerifyError::UnsupportedAlgorithm {
            algorithm: "http://www.w3.org/2006/12/xml-c14n11".into()
        })
    );
    let xslt = xml.replace(
        "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
        "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"/>",
    );
    assert_eq!(
        check(&xslt),
        Err(VerifyError::UnsupportedAlgorithm {
            algorithm: "http://www.w3.org/TR/1999/REC-xslt-19991116".into()
        })
    );
}

#[test]
fn rejects_missing_enveloped_transform_and_wrong_transform_order() {
    let xml = signed("p256");
    let env = "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>";
    let without = xml.replace(env, "");
    assert_eq!(
        check(&without),
        Err(VerifyError::MissingEnvelopedTransform { uri: String::new() })
    );
    let exc = "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>";
    let swapped = xml.replace(&format!("{env}{exc}"), &format!("{exc}{env}"));
    assert_eq!(
        check(&swapped),
        Err(VerifyError::UnsupportedTransformChain {
            reason: "enveloped-signature must come once, before canonicalization"
        })
    );
}

#[test]
fn refuses_external_and_xpointer_references() {
    let xml = signed("p256");
    for uri in [
        "http://example.org/doc.xml",
        "#xpointer(/)",
        "doc.xml#msg-1",
    ] {
        let tampered = xml.replace("URI=\"\"", &format!("URI=\"{uri}\""));
        assert_eq!(
            check(&tampered),
            Err(VerifyError::UnsupportedReferenceUri { uri: uri.into() }),
            "{uri}"
        );
    }
    let missing = xml.replace("URI=\"\"", "URI=\"#nowhere\"");
    assert_eq!(
        check(&missing),
        Err(VerifyError::ReferenceNotFound {
            uri: "#nowhere".into()
        })
    );
}

#[test]
fn rejects_too_many_references() {
    let xml = signed("p256");
    let reference = format!(
        "<ds:Reference URI=\"\">{}</ds:Reference>",
        between(&xml, "<ds:Reference URI=\"\">", "</ds:Reference>")
    );
    let many = xml.replace(&reference, &reference.repeat(9));
    assert_eq!(
        check(&many),
        Err(VerifyError::TooMany {
            what: "references",
            limit: 8
        })
    );
}

#[test]
fn rejects_two_signatures_under_the_root() {
    let xml = signed("p256");
    let sig = signature_element(&xml).to_owned();
    let twice = xml.replace(&sig, &format!("{sig}{sig}"));
    assert_eq!(check(&twice), Err(VerifyError::MultipleSignatures));
}

#[test]
fn certificate_from_an_unknown_ca_proves_nothing() {
    let e = check(&signed("stranger")).expect_err("untrusted");
    assert!(
        matches!(e, VerifyError::UntrustedCertificate { .. }),
        "{e:?}"
    );
    assert_eq!(e.kind(), VerifyErrorKind::SignerUntrusted);
}

#[test]
fn key_value_without_trusted_key_is_not_trusted() {
    let out = sign(
        MESSAGE.as_bytes(),
        &key("stranger"),
        None,
        &SignOptions::default(),
    )
    .expect("sign");
    let xml = String::from_utf8(out).expect("utf8").replace(
        "</ds:SignatureValue>",
        "</ds:SignatureValue><ds:KeyInfo><ds:KeyValue><ds:RSAKeyValue/></ds:KeyValue></ds:KeyInfo>",
    );
    assert_eq!(check(&xml), Err(VerifyError::NoTrustedKey));
}

#[test]
fn rejects_expired_and_not_yet_valid_signers() {
    let xml = signed("p256");
    let in_2040 = opts_at(2_208_988_800);
    let e = check_with(&xml, &ca_store(), &in_2040).expect_err("expired");
    assert!(matches!(e, VerifyError::CertificateExpired { .. }), "{e:?}");
    assert_eq!(e.kind(), VerifyErrorKind::SignerUntrusted);
    let e = check_with(&xml, &pinned_store("p256"), &in_2040).expect_err("expired pinned");
    assert!(matches!(e, VerifyError::CertificateExpired { .. }), "{e:?}");
    let in_2020 = opts_at(1_577_836_800);
    let e = check_with(&xml, &pinned_store("p256"), &in_2020).expect_err("early");
    assert!(
        matches!(e, VerifyError::CertificateNotYetValid { .. }),
        "{e:?}"
    );
}

/// The verified-chain cache (a CA path is built once per signing certificate) must not
/// change any verdict: time, the signature and the store's own anchors are checked every time.
#[test]
fn a_cached_chain_is_never_used_outside_its_validity() {
    let xml = signed("p256");
    let store = ca_store();
    assert_eq!(check_with(&xml, &store, &opts()), Ok(()));
    let e = check_with(&xml, &store, &opts_at(2_208_988_800)).expect_err("expired");
    assert!(matches!(e, VerifyError::CertificateExpired { .. }), "{e:?}");
    let e = check_with(&xml, &store, &opts_at(1_577_836_800)).expect_err("early");
    assert!(
        matches!(e, VerifyError::CertificateNotYetValid { .. }),
        "{e:?}"
    );
    assert_eq!(check_with(&xml, &store, &opts()), Ok(()));
}

#[test]
fn a_cached_chain_still_needs_a_matching_signature() {
    let xml = signed("rsa2048");
    let store = ca_store();
    assert_eq!(check_with(&xml, &store, &opts()), Ok(()));
    // Same certificate, another message's signature value.
    let other = signed_with(
        "rsa2048",
        ReferenceTarget::WholeDocument,
        &MESSAGE.replace("<", "\n<"),
    );
    let value = between(&other, "<ds:SignatureValue>", "</ds:SignatureValue>");
    let own = between(&xml, "<ds:SignatureValue>", "</ds:SignatureValue>");
    assert_ne!(value, own);
    let forged = xml.replace(own, value);
    assert_eq!(
        check_with(&forged, &store, &opts()),
        Err(VerifyError::SignatureMismatch)
    );
}

/// A path through an intermediate that expires before the signer's certificate: once the
/// intermediate has expired the signer is untrusted, cached or not.
#[test]
fn a_cached_chain_ends_when_its_intermediate_expires() {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
        date_time_ymd,
    };
    let params = |cn: &str, ca: bool, until: i32| {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        p.distinguished_name = dn;
        p.is_ca = if ca {
            IsCa::Ca(BasicConstraints::Unconstrained)
        } else {
            IsCa::ExplicitNoCa
        };
        p.not_before = date_time_ymd(2025, 1, 1);
        p.not_after = date_time_ymd(until, 1, 1);
        p
    };
    let root_key = KeyPair::generate().expect("key");
    let root_params = params("root", true, 2040);
    let root = root_params.self_signed(&root_key).expect("root");
    let mid_key = KeyPair::generate().expect("key");
    let mid = params("intermediate", true, 2028)
        .signed_by(&mid_key, &Issuer::new(root_params, &root_key))
        .expect("intermediate");
    let ee_key = KeyPair::generate().expect("key");
    let ee = params("signer", false, 2035)
        .signed_by(
            &ee_key,
            &Issuer::new(params("intermediate", true, 2028), &mid_key),
        )
        .expect("signer");
    let signing =
        xoev_dsig::SigningKey::from_pkcs8_der(&ee_key.serialize_der()).expect("signing key");
    let out = sign(
        MESSAGE.as_bytes(),
        &signing,
        Some(&ee.der().clone()),
        &SignOptions::default(),
    )
    .expect("sign");
    // The intermediate travels in KeyInfo after the signer's certificate.
    use base64::Engine as _;
    let mid_b64 = base64::engine::general_purpose::STANDARD.encode(mid.der());
    let xml = String::from_utf8(out).expect("utf8").replace(
        "</ds:X509Certificate>",
        &format!("</ds:X509Certificate><ds:X509Certificate>{mid_b64}</ds:X509Certificate>"),
    );
    let mut store = xoev_dsig::TrustStore::new();
    store
        .add_ca_certificate(root.der().clone(), "root")
        .expect("root ca");
    assert_eq!(check_with(&xml, &store, &opts()), Ok(()));
    let in_2030 = opts_at(1_893_456_000);
    assert!(check_with(&xml, &store, &in_2030).is_err());
    assert_eq!(check_with(&xml, &store, &opts()), Ok(()));
}

#[test]
fn a_chain_cached_by_a_changed_copy_of_a_store_is_not_trusted_by_the_original() {
    let mut original = xoev_dsig::TrustStore::new();
    original
        .add_ca_certificate(cert("other-ca"), "other")
        .expect("other ca");
    let mut extended = original.clone();
    extended
        .add_ca_certificate(cert("ca"), "test-ca")
        .expect("ca");
    let xml = signed("p256");
    assert_eq!(check_with(&xml, &extended, &opts()), Ok(()));
    let e = check_with(&xml, &original, &opts()).expect_err("only the copy trusts the test CA");
    assert!(
        matches!(e, VerifyError::UntrustedCertificate { .. }),
        "{e:?}"
    );
}

#[test]
fn rejects_weak_rsa_signer_certificate_from_a_trusted_ca() {
    use base64::Engine as _;
    let xml = signed("p256");
    let cert_b64 = between(&xml, "<ds:X509Certificate>", "</ds:X509Certificate>");
    let weak = base64::engine::general_purpose::STANDARD.encode(cert("rsa1024").as_ref());
    let tampered = xml
        .replace(cert_b64, &weak)
        .replace(xoev_dsig::uri::ECDSA_SHA256, xoev_dsig::uri::RSA_SHA256);
    assert_eq!(
        check(&tampered),
        Err(VerifyError::WeakRsaKey { bits: 1024 })
    );
    let mut t = xoev_dsig::TrustStore::new();
    assert_eq!(
        t.add_pinned_certificate(cert("rsa1024"), "weak"),
        Err(xoev_dsig::TrustError::WeakRsaKey {
            label: "weak".into(),
            bits: 1024
        })
    );
}

#[test]
fn rejects_text_inside_signed_info_structure() {
    let xml = signed("p256").replace("<ds:SignatureMethod", "junk<ds:SignatureMethod");
    assert_eq!(
        check(&xml),
        Err(VerifyError::MalformedSignature {
            element: "SignedInfo",
            reason: "text where only elements are allowed"
        })
    );
}

#[test]
fn rejects_enveloping_signature() {
    let xml = signature_element(&signed("p256")).to_owned();
    assert_eq!(check(&xml), Err(VerifyError::EnvelopingSignature));
}

#[test]
fn verified_view_skips_the_signature_subtree() {
    let xml = signed("p256");
    let doc = xoev_xml::parse(xml.as_bytes(), &Limits::default()).expect("parse");
    let v = verify(&doc, &ca_store(), &opts()).expect("valid");
    assert!(
        v.signed_descendants()
            .all(|e| e.namespace() != Some(xoev_dsig::uri::DSIG_NS))
    );
    assert_eq!(v.signed_descendants().count(), 4);
}
