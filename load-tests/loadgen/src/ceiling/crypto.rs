//! The crypto ceiling: how many signatures per second ring verifies with the corpus's key on
//! all cores, over a SignedInfo-sized message (what the router verifies per message), and how
//! fast SHA-256 digests a message body (the Reference digest).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;

use crate::error::LoadgenError;
use crate::pki::KeyKind;

/// A canonical SignedInfo is about this long (exclusive C14N, one Reference, SHA-256).
pub const SIGNED_INFO_LEN: usize = 620;

/// Result of one measurement.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct CryptoCeiling {
    /// Key type.
    pub key: KeyKind,
    /// Threads used.
    pub threads: usize,
    /// Seconds measured.
    pub seconds: f64,
    /// Verifications per second, all threads.
    pub verify_per_s: f64,
    /// Verifications per second of one thread.
    pub verify_per_s_per_thread: f64,
    /// Body size digested.
    pub digest_len: usize,
    /// SHA-256 digests of `digest_len` bytes per second, all threads.
    pub digest_per_s: f64,
}

/// A public key and a valid signature over `message`.
struct Verifier {
    alg: &'static dyn signature::VerificationAlgorithm,
    public: Vec<u8>,
    message: Vec<u8>,
    signature: Vec<u8>,
}

fn verifier(kind: KeyKind, key_pem: &Path) -> Result<Verifier, LoadgenError> {
    let der = PrivatePkcs8KeyDer::from_pem_file(key_pem)
        .map_err(|e| LoadgenError::Key(format!("{}: {e}", key_pem.display())))?;
    let der = der.secret_pkcs8_der();
    let message: Vec<u8> = (0..SIGNED_INFO_LEN)
        .map(|i| b'a' + (i % 26) as u8)
        .collect();
    let rng = SystemRandom::new();
    let bad = |e: String| LoadgenError::Key(format!("{}: {e}", key_pem.display()));
    match kind {
        KeyKind::Rsa2048 => {
            let pair = RsaKeyPair::from_pkcs8(der).map_err(|e| bad(e.to_string()))?;
            let mut sig = vec![0u8; pair.public().modulus_len()];
            pair.sign(&signature::RSA_PKCS1_SHA256, &rng, &message, &mut sig)
                .map_err(|e| bad(e.to_string()))?;
            Ok(Verifier {
                alg: &signature::RSA_PKCS1_2048_8192_SHA256,
                public: pair.public_key().as_ref().to_vec(),
                message,
                signature: sig,
            })
        }
        KeyKind::EcdsaP256 => {
            let pair =
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
                    .map_err(|e| bad(e.to_string()))?;
            let sig = pair.sign(&rng, &message).map_err(|e| bad(e.to_string()))?;
            Ok(Verifier {
                alg: &signature::ECDSA_P256_SHA256_FIXED,
                public: pair.public_key().as_ref().to_vec(),
                message,
                signature: sig.as_ref().to_vec(),
            })
        }
    }
}

/// Runs `f` on `threads` threads for `time`; returns the calls per second in total.
fn rate(
    threads: usize,
    time: Duration,
    f: &(dyn Fn() -> bool + Sync),
) -> Result<f64, LoadgenError> {
    let stop = AtomicBool::new(false);
    let count = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if !f() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    n += 1;
                }
                count.fetch_add(n, Ordering::Relaxed);
            });
        }
        std::thread::sleep(time);
        stop.store(true, Ordering::Relaxed);
    });
    if failed.load(Ordering::Relaxed) {
        return Err(LoadgenError::Key("a signature did not verify".into()));
    }
    Ok(count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Measures the verification rate of `kind` with the key in `key_pem` on `threads` threads
/// (and on one thread), each for `time`, and the SHA-256 rate over `digest_len` bytes.
pub fn measure(
    kind: KeyKind,
    key_pem: &Path,
    threads: usize,
    time: Duration,
    digest_len: usize,
) -> Result<CryptoCeiling, LoadgenError> {
    let v = Arc::new(verifier(kind, key_pem)?);
    let check = || {
        UnparsedPublicKey::new(v.alg, &v.public)
            .verify(&v.message, &v.signature)
            .is_ok()
    };
    let single = rate(1, time, &check)?;
    let all = rate(threads, time, &check)?;
    let body = vec![0x5au8; digest_len];
    let digest = || {
        std::hint::black_box(ring::digest::digest(
            &ring::digest::SHA256,
            std::hint::black_box(&body),
        ));
        true
    };
    let digest_per_s = rate(threads, time, &digest)?;
    Ok(CryptoCeiling {
        key: kind,
        threads,
        seconds: time.as_secs_f64(),
        verify_per_s: all,
        verify_per_s_per_thread: single,
        digest_len,
        digest_per_s,
    })
}
