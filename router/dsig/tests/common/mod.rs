//! Shared test helpers: the committed test keys, trust stores, a fixed clock.
#![allow(dead_code)]

use std::path::PathBuf;

use xoev_dsig::{
    CertificateDer, SigningKey, TrustStore, UnixTime, VerifyOptions, certificates_from_pem,
};
use xoev_xml::{Document, Limits};

/// 2027-01-01T00:00:00Z: inside the validity of the committed test certificates.
pub const NOW: u64 = 1_798_761_600;

pub fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

pub fn read(path: &str) -> Vec<u8> {
    std::fs::read(data(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

pub fn key(name: &str) -> SigningKey {
    let pem = String::from_utf8(read(&format!("keys/{name}.key.pem"))).expect("utf8");
    SigningKey::from_pem(&pem).unwrap_or_else(|e| panic!("key {name}: {e}"))
}

pub fn cert(name: &str) -> CertificateDer<'static> {
    certificates_from_pem(&read(&format!("keys/{name}.cert.pem")))
        .into_iter()
        .next()
        .expect("certificate")
}

pub fn opts() -> VerifyOptions {
    VerifyOptions::new(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        NOW,
    )))
}

pub fn opts_at(secs: u64) -> VerifyOptions {
    VerifyOptions::new(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        secs,
    )))
}

/// Trusts the test CA only.
pub fn ca_store() -> TrustStore {
    let mut t = TrustStore::new();
    t.add_ca_certificate(cert("ca"), "test-ca").expect("ca");
    t
}

/// Pins one signer certificate.
pub fn pinned_store(name: &str) -> TrustStore {
    let mut t = TrustStore::new();
    t.add_pinned_certificate(cert(name), name).expect("pin");
    t
}

pub fn parse(bytes: &[u8]) -> Document {
    xoev_xml::parse(bytes, &Limits::default()).unwrap_or_else(|e| panic!("parse: {e}"))
}
