//! Runs one verification stage N times, for counting CPU cycles with
//! `perf stat -e cycles:u` independent of machine load (criterion measures
//! wall time, which a shared machine distorts):
//!
//! ```text
//! cargo build --release -p xoev-dsig --example stage_cost
//! perf stat -e cycles:u,instructions:u target/release/examples/stage_cost STAGE N
//! ```
//! STAGE: parse | c14n-sha256 | verify-rsa2048 | verify-p256 | ring-rsa2048 | ring-p256 | setup.
//! Per-iteration cost = (count at N - count at 0) / N.

use std::time::Duration;

use ring::signature::{KeyPair, UnparsedPublicKey};
use rustls_pki_types::pem::PemObject;
use xoev_dsig::c14n::{Method, canonicalize};
use xoev_dsig::{
    SignOptions, SigningKey, TrustStore, UnixTime, VerifyOptions, certificates_from_pem, sign,
    verify,
};
use xoev_xml::Limits;

fn keys(file: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/keys")
            .join(file),
    )
    .expect("key")
}

fn message(size: usize) -> Vec<u8> {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xwas:wasser.antrag.0101 xmlns:xwas=\"http://www.xwasser.de/1.0\" xmlns:g2g=\"http://xoev.de/schemata/basisnachricht/g2g/1_0\">\n  <g2g:nachrichtenkopf.g2g><g2g:identifikation.nachricht><g2g:nachrichtenUUID>7d1e4a5c-1b2f-4c3d-9e8f-0a1b2c3d4e5f</g2g:nachrichtenUUID></g2g:identifikation.nachricht>\n  <g2g:leser><g2g:kennung>ags:08111000</g2g:kennung></g2g:leser><g2g:autor><g2g:kennung>psw:01003110</g2g:kennung></g2g:autor></g2g:nachrichtenkopf.g2g>\n",
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let stage = args.get(1).map(String::as_str).unwrap_or("setup");
    let n: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(0);
    let size = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(4096);
    let limits = Limits::default();
    let input = message(size);
    let mut trust = TrustStore::new();
    trust
        .add_ca_certificate(certificates_from_pem(&keys("ca.cert.pem")).remove(0), "ca")
        .expect("ca");
    let now = VerifyOptions::new(UnixTime::since_unix_epoch(Duration::from_secs(
        1_798_761_600,
    )));
    let signed = |name: &str| {
        let key = SigningKey::from_pem(
            std::str::from_utf8(&keys(&format!("{name}.key.pem"))).expect("utf8"),
        )
        .expect("key");
        let cert = certificates_from_pem(&keys(&format!("{name}.cert.pem"))).remove(0);
        sign(&input, &key, Some(&cert), &SignOptions::default()).expect("sign")
    };
    let rng = ring::rand::SystemRandom::new();
    let msg = vec![b'x'; 700];
    let mut sink = 0usize;
    match stage {
        "parse" => {
            for _ in 0..n {
                sink += xoev_xml::parse(&input, &limits)
                    .expect("parse")
                    .node_count();
            }
        }
        "c14n-sha256" => {
            let doc = xoev_xml::parse(&input, &limits).expect("parse");
            let mut out = Vec::with_capacity(input.len());
            for _ in 0..n {
                out.clear();
                canonicalize(&doc, None, None, &Method::default(), &mut out);
                sink += ring::digest::digest(&ring::digest::SHA256, &out).as_ref()[0] as usize;
            }
        }
        "verify-rsa2048" | "verify-p256" => {
            let bytes = signed(stage.trim_start_matches("verify-"));
            for _ in 0..n {
                let doc = xoev_xml::parse(&bytes, &limits).expect("parse");
                sink += verify(&doc, &trust, &now)
                    .expect("valid")
                    .signer()
                    .subject
                    .len();
            }
        }
        "ring-rsa2048" => {
            let der =
                rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(&keys("rsa2048.key.pem"))
                    .expect("pem");
            let k = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).expect("rsa");
            let mut sig = vec![0; k.public().modulus_len()];
            k.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, &msg, &mut sig)
                .expect("sign");
            let public = UnparsedPublicKey::new(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                k.public_key().as_ref().to_vec(),
            );
            for _ in 0..n {
                sink += usize::from(public.verify(&msg, &sig).is_ok());
            }
        }
        "ring-p256" => {
            let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(&keys("p256.key.pem"))
                .expect("pem");
            let k = ring::signature::EcdsaKeyPair::from_pkcs8(
                &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                der.secret_pkcs8_der(),
                &rng,
            )
            .expect("ec");
            let sig = k.sign(&rng, &msg).expect("sign");
            let public = UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                k.public_key().as_ref().to_vec(),
            );
            for _ in 0..n {
                sink += usize::from(public.verify(&msg, sig.as_ref()).is_ok());
            }
        }
        _ => {}
    }
    println!("{stage} x{n} ({} bytes): {sink}", input.len());
}
