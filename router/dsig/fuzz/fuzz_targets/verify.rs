//! Verification of any document never panics and never accepts a document
//! the test key did not sign (the fuzzer cannot forge Ed25519).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use xoev_dsig::{verify, TrustStore, UnixTime, VerifyOptions};

/// Public key of router/dsig/tests/data/keys/ed25519.key.pem (SPKI DER).
const SPKI_PEM: &str = include_str!("../../tests/data/keys/ed25519.pub.pem");

fn trust() -> &'static TrustStore {
    static TRUST: OnceLock<TrustStore> = OnceLock::new();
    TRUST.get_or_init(|| {
        use xoev_dsig::CertificateDer;
        let mut t = TrustStore::new();
        let b64: String = SPKI_PEM.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = decode_base64(&b64);
        t.add_pinned_public_key(&der, "fuzz").expect("test key");
        let cert_pem = include_str!("../../tests/data/keys/ca.cert.pem");
        for cert in xoev_dsig::certificates_from_pem(cert_pem.as_bytes()) {
            let _ = t.add_ca_certificate(CertificateDer::from(cert.as_ref().to_vec()), "ca");
        }
        t
    })
}

fn decode_base64(s: &str) -> Vec<u8> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=') {
        let Some(v) = T.iter().position(|t| *t == c) else { continue };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = xoev_xml::parse(data, &xoev_xml::Limits::default()) else { return };
    let opts = VerifyOptions::new(UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_798_761_600)));
    if let Ok(v) = verify(&doc, trust(), &opts) {
        let _ = v.signer();
    }
});
