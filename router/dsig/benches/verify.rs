//! Verifications per second for 4 KiB and 1 MiB messages with RSA-2048 and
//! ECDSA P-256, beside the raw ring signature check alone and the parse and
//! C14N+digest stages on their own; the 1 MiB case twice: many small elements, and one
//! base64 attachment (the load generator's shape).
//!
//! Run: cargo bench -p xoev-dsig --bench verify

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ring::signature::{KeyPair, UnparsedPublicKey};
use xoev_dsig::c14n::{Method, canonicalize};
use xoev_dsig::{
    SignOptions, SigningKey, TrustStore, UnixTime, VerifyOptions, certificates_from_pem, sign,
    verify,
};
use xoev_xml::Limits;

fn keys(file: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/keys")
        .join(file);
    std::fs::read(&path).expect("test key")
}

/// An XÖV-like message of about `size` bytes: header plus repeated body records.
fn message(size: usize) -> Vec<u8> {
    let mut s = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<xwas:wasser.antrag.0101 xmlns:xwas="http://www.xwasser.de/1.0" xmlns:g2g="http://xoev.de/schemata/basisnachricht/g2g/1_0">
  <g2g:nachrichtenkopf.g2g><g2g:identifikation.nachricht><g2g:nachrichtenUUID>7d1e4a5c-1b2f-4c3d-9e8f-0a1b2c3d4e5f</g2g:nachrichtenUUID></g2g:identifikation.nachricht>
  <g2g:leser><g2g:kennung>ags:08111000</g2g:kennung></g2g:leser><g2g:autor><g2g:kennung>psw:01003110</g2g:kennung></g2g:autor></g2g:nachrichtenkopf.g2g>
"#,
    );
    let mut i = 0;
    while s.len() < size.saturating_sub(600) {
        s.push_str(&format!(
            "  <xwas:messstelle nummer=\"{i}\" typ=\"Brunnen\"><xwas:bezeichnung>Brunnen Nr. {i} an der Königstraße</xwas:bezeichnung><xwas:wert einheit=\"m³\">{}.{}</xwas:wert></xwas:messstelle>\n",
            i * 7,
            i % 10
        ));
        i += 1;
    }
    s.push_str("</xwas:wasser.antrag.0101>\n");
    s.into_bytes()
}

/// The shape of the load generator's 1 MiB messages: the same header, then one attachment of
/// base64 text wrapped at 76 characters (where C14N escaping and digesting see long text).
fn attachment_message(size: usize) -> Vec<u8> {
    use base64::Engine;
    let head = message(0);
    let head = String::from_utf8(head).expect("utf8");
    let head = head
        .trim_end()
        .trim_end_matches("</xwas:wasser.antrag.0101>");
    let raw: Vec<u8> = (0..size * 3 / 4).map(|i| (i * 31 % 251) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
    let mut s = String::from(head);
    s.push_str("  <xwas:anlage>");
    for line in b64.as_bytes().chunks(76) {
        s.push('\n');
        s.push_str(std::str::from_utf8(line).expect("ascii"));
    }
    s.push_str("\n  </xwas:anlage>\n</xwas:wasser.antrag.0101>\n");
    s.into_bytes()
}

fn bench(c: &mut Criterion) {
    let now = VerifyOptions::new(UnixTime::since_unix_epoch(Duration::from_secs(
        1_798_761_600,
    )));
    let mut trust = TrustStore::new();
    let ca = certificates_from_pem(&keys("ca.cert.pem")).remove(0);
    trust.add_ca_certificate(ca, "ca").expect("ca");
    let limits = Limits::default();

    for (name, size) in [
        ("4KiB", 4 * 1024),
        ("1MiB", 1024 * 1024),
        ("1MiB-attachment", 1024 * 1024),
    ] {
        let input = if name.ends_with("attachment") {
            attachment_message(size)
        } else {
            message(size)
        };
        for key_name in ["rsa2048", "p256"] {
            let key = SigningKey::from_pem(
                std::str::from_utf8(&keys(&format!("{key_name}.key.pem"))).expect("utf8"),
            )
            .expect("key");
            let cert = certificates_from_pem(&keys(&format!("{key_name}.cert.pem"))).remove(0);
            let signed = sign(&input, &key, Some(&cert), &SignOptions::default()).expect("sign");
            let mut g = c.benchmark_group(format!("{name}/{key_name}"));
            g.throughput(Throughput::Elements(1));
            g.bench_function("parse+verify", |b| {
                b.iter(|| {
                    let doc = xoev_xml::parse(&signed, &limits).expect("parse");
                    verify(&doc, &trust, &now).map(|_| ()).expect("valid");
                })
            });
            g.finish();
        }
        // Stages without the signature check: parse, and C14N + SHA-256 of the message.
        let mut g = c.benchmark_group(format!("{name}/stages"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("parse", |b| {
            b.iter(|| xoev_xml::parse(&input, &limits).expect("parse"))
        });
        let doc = xoev_xml::parse(&input, &limits).expect("parse");
        let mut out = Vec::with_capacity(input.len());
        g.bench_function("c14n+sha256", |b| {
            b.iter(|| {
                out.clear();
                canonicalize(&doc, None, None, &Method::default(), &mut out);
                ring::digest::digest(&ring::digest::SHA256, &out)
            })
        });
        g.finish();
    }

    // The raw ring check over a SignedInfo-sized message, for comparison.
    let message = vec![b'x'; 700];
    let rng = ring::rand::SystemRandom::new();
    let mut g = c.benchmark_group("ring-only");
    g.throughput(Throughput::Elements(1));
    let rsa_der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(&keys("rsa2048.key.pem"))
        .expect("pem");
    let rsa = ring::signature::RsaKeyPair::from_pkcs8(rsa_der.secret_pkcs8_der()).expect("rsa");
    let mut sig = vec![0; rsa.public().modulus_len()];
    rsa.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, &message, &mut sig)
        .expect("sign");
    let rsa_pub = UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        rsa.public_key().as_ref().to_vec(),
    );
    g.bench_function("rsa2048-sha256", |b| {
        b.iter(|| rsa_pub.verify(&message, &sig).expect("ok"))
    });
    let ec_der =
        rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(&keys("p256.key.pem")).expect("pem");
    let ec = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        ec_der.secret_pkcs8_der(),
        &rng,
    )
    .expect("ec");
    let ec_sig = ec.sign(&rng, &message).expect("sign");
    let ec_pub = UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_FIXED,
        ec.public_key().as_ref().to_vec(),
    );
    g.bench_function("p256-sha256", |b| {
        b.iter(|| ec_pub.verify(&message, ec_sig.as_ref()).expect("ok"))
    });
    g.finish();
}

use rustls_pki_types::pem::PemObject;

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
