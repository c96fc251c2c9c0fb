//! Sign with each key type and verify again, through CA and pinned trust.

mod common;

use common::*;
use xoev_dsig::{
    ReferenceTarget, SignOptions, SignatureAlgorithm, TrustAnchor, VerifyError, c14n::Method, sign,
    verify,
};

const MESSAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- vor der Wurzel -->
<x:nachricht xmlns:x="urn:xoev:test" xmlns="urn:default" Id="msg-1">
  <x:kopf><kennung>ags:08111000</kennung></x:kopf>
  <inhalt xml:lang="de">Grüße aus Straße &amp; Co.<![CDATA[<roh>]]></inhalt>
  <leer xmlns=""/>
</x:nachricht>
"#;

fn sign_with(name: &str, opts: &SignOptions) -> Vec<u8> {
    sign(MESSAGE.as_bytes(), &key(name), Some(&cert(name)), opts)
        .unwrap_or_else(|e| panic!("sign {name}: {e}"))
}

#[test]
fn every_key_type_signs_and_verifies_through_the_test_ca() {
    for (name, alg) in [
        ("rsa2048", SignatureAlgorithm::RsaSha256),
        ("rsa3072", SignatureAlgorithm::RsaSha256),
        ("p256", SignatureAlgorithm::EcdsaSha256),
        ("p384", SignatureAlgorithm::EcdsaSha384),
        ("ed25519", SignatureAlgorithm::Ed25519),
    ] {
        let signed = sign_with(name, &SignOptions::default());
        let doc = parse(&signed);
        let v = verify(&doc, &ca_store(), &opts()).unwrap_or_else(|e| panic!("verify {name}: {e}"));
        assert_eq!(v.signer().algorithm, alg, "{name}");
        assert_eq!(
            v.signer().anchor,
            TrustAnchor::Ca {
                label: "test-ca".into()
            }
        );
        assert!(
            v.signer().subject.contains(&format!("Test signer {name}")),
            "{}",
            v.signer().subject
        );
        assert_eq!(v.signed_element().local_name(), "nachricht");
    }
}

#[test]
fn rsa_variants_sign_and_verify() {
    for alg in [
        SignatureAlgorithm::RsaSha384,
        SignatureAlgorithm::RsaSha512,
        SignatureAlgorithm::RsaPssSha256,
        SignatureAlgorithm::RsaPssSha384,
        SignatureAlgorithm::RsaPssSha512,
    ] {
        let mut o = SignOptions::default();
        o.algorithm = Some(alg);
        let signed = sign_with("rsa2048", &o);
        let doc = parse(&signed);
        let v = verify(&doc, &pinned_store("rsa2048"), &opts())
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(v.signer().algorithm, alg);
    }
}

#[test]
fn all_c14n_methods_and_reference_kinds_round_trip() {
    let methods = [
        Method::Inclusive {
            with_comments: false,
        },
        Method::Inclusive {
            with_comments: true,
        },
        Method::Exclusive {
            with_comments: false,
            inclusive_prefixes: vec![],
        },
        Method::Exclusive {
            with_comments: true,
            inclusive_prefixes: vec!["x".into(), "#default".into()],
        },
    ];
    for method in methods {
        for reference in [ReferenceTarget::WholeDocument, ReferenceTarget::RootId] {
            let mut o = SignOptions::default();
            o.c14n = method.clone();
            o.reference = reference;
            let signed = sign_with("p256", &o);
            let doc = parse(&signed);
            if let Err(e) = verify(&doc, &pinned_store("p256"), &opts()) {
                panic!(
                    "{method:?} {reference:?}: {e}\n{}",
                    String::from_utf8_lossy(&signed)
                );
            }
        }
    }
}

#[test]
fn signing_keeps_the_input_bytes_and_appends_the_signature_last() {
    let signed = sign_with("p256", &SignOptions::default());
    let text = String::from_utf8(signed).expect("utf8");
    let cut = text.find("<ds:Signature").expect("signature");
    assert_eq!(
        &text[..cut],
        &MESSAGE[..MESSAGE.find("</x:nachricht>").expect("end")]
    );
    assert!(text.ends_with("</ds:Signature></x:nachricht>\n"));
}

#[test]
fn signs_a_self_closing_root() {
    let signed = xoev_dsig::sign(
        b"<r a='1'/>",
        &key("ed25519"),
        None,
        &SignOptions::default(),
    )
    .expect("sign");
    let mut trust = xoev_dsig::TrustStore::new();
    trust
        .add_pinned_public_key(&key("ed25519").public_key_spki_der(), "ed")
        .expect("pin");
    let doc = parse(&signed);
    let v = verify(&doc, &trust, &opts()).expect("verify");
    assert_eq!(
        v.signer().anchor,
        TrustAnchor::Pinned { label: "ed".into() }
    );
    assert!(v.signer().certificate.is_none());
}

#[test]
fn refuses_to_sign_twice() {
    let signed = sign_with("p256", &SignOptions::default());
    let e = sign(&signed, &key("p256"), None, &SignOptions::default()).expect_err("twice");
    assert!(matches!(e, xoev_dsig::SignError::AlreadySigned), "{e}");
}

#[test]
fn unsigned_document_is_reported_as_unsigned() {
    let doc = parse(MESSAGE.as_bytes());
    assert_eq!(
        verify(&doc, &ca_store(), &opts()).expect_err("unsigned"),
        VerifyError::Unsigned
    );
}

#[test]
fn signs_input_with_a_utf8_bom_and_keeps_the_bom() {
    let mut input = vec![0xEF, 0xBB, 0xBF];
    input.extend_from_slice(b"<r xmlns=\"urn:bom\"><a>\xC3\x9F</a></r>");
    let signed = sign(
        &input,
        &key("p256"),
        Some(&cert("p256")),
        &SignOptions::default(),
    )
    .expect("sign");
    assert!(signed.starts_with(&[0xEF, 0xBB, 0xBF, b'<', b'r']));
    assert!(signed.ends_with(b"</ds:Signature></r>"));
    let doc = parse(&signed);
    assert!(verify(&doc, &pinned_store("p256"), &opts()).is_ok());
    assert_eq!(doc.root().position().offset, 3);
}
