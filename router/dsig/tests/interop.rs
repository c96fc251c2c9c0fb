//! Fixtures signed by xmlsec1 and the JDK (see fixtures.sh) verify with this
//! crate in plain `cargo test`; tampered copies fail with the right error.

mod common;

use common::*;
use xoev_dsig::{SignatureAlgorithm, TrustAnchor, VerifyError, verify};

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(data("interop"))
        .expect("interop dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".xml"))
        .map(|n| {
            let bytes = read(&format!("interop/{n}"));
            (n, bytes)
        })
        .collect();
    out.sort();
    out
}

fn expected_algorithm(key: &str) -> SignatureAlgorithm {
    match key {
        "rsa2048" | "rsa3072" => SignatureAlgorithm::RsaSha256,
        "rsa2048pss" => SignatureAlgorithm::RsaPssSha256,
        "p256" => SignatureAlgorithm::EcdsaSha256,
        "p384" => SignatureAlgorithm::EcdsaSha384,
        "ed25519" => SignatureAlgorithm::Ed25519,
        other => panic!("unknown key {other}"),
    }
}

#[test]
fn every_xmlsec1_and_jdk_fixture_verifies_through_the_test_ca() {
    let all = fixtures();
    assert_eq!(
        all.len(),
        72,
        "3 documents x 6 signers x 2 C14N x 2 reference kinds"
    );
    for (name, bytes) in &all {
        let parts: Vec<&str> = name.trim_end_matches(".xml").split('-').collect();
        let key = parts[1];
        let doc = parse(bytes);
        let v = verify(&doc, &ca_store(), &opts()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.signer().algorithm, expected_algorithm(key), "{name}");
        assert_eq!(
            v.signer().anchor,
            TrustAnchor::Ca {
                label: "test-ca".into()
            },
            "{name}"
        );
        let signer = key.trim_end_matches("pss");
        assert!(
            v.signer()
                .subject
                .ends_with(&format!("CN=Test signer {signer}")),
            "{name}: {}",
            v.signer().subject
        );
    }
}

#[test]
fn every_fixture_with_a_changed_umlaut_fails_with_digest_mismatch() {
    for (name, bytes) in fixtures() {
        let text = String::from_utf8(bytes).expect("utf8");
        let sig = text.find("Signature").expect("signature");
        let at = text[..sig]
            .find('ß')
            .unwrap_or_else(|| panic!("{name}: no ß before the signature"));
        let tampered = format!("{}ss{}", &text[..at], &text[at + 'ß'.len_utf8()..]);
        let doc = parse(tampered.as_bytes());
        let uri = if name.ends_with("-doc.xml") {
            String::new()
        } else {
            let root = doc.root();
            format!(
                "#{}",
                root.attribute(None, "Id")
                    .or(root.attribute(None, "ID"))
                    .expect("id")
            )
        };
        assert_eq!(
            verify(&doc, &ca_store(), &opts()).map(|_| ()),
            Err(VerifyError::DigestMismatch { uri }),
            "{name}"
        );
    }
}

#[test]
fn fixtures_verify_with_only_the_signer_certificate_pinned() {
    for (name, bytes) in fixtures() {
        let key = name
            .split('-')
            .nth(1)
            .expect("key")
            .trim_end_matches("pss")
            .to_owned();
        let doc = parse(&bytes);
        let v =
            verify(&doc, &pinned_store(&key), &opts()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            v.signer().anchor,
            TrustAnchor::Pinned { label: key },
            "{name}"
        );
        // Another signer's pin does not help.
        let other = if name.contains("p256") {
            "p384"
        } else {
            "p256"
        };
        let e = verify(&doc, &pinned_store(other), &opts())
            .map(|_| ())
            .expect_err("wrong pin");
        assert!(
            matches!(e, VerifyError::UntrustedCertificate { .. }),
            "{name}: {e:?}"
        );
    }
}
