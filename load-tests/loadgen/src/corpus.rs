//! The pre-signed corpus: `count` distinct messages of one size, signed with one key, each with
//! its own `nachrichtenUUID` and a `leser` drawn from the population-weighted spread of Länder.
//!
//! Signing happens before a run (RSA-2048 signing costs about a millisecond per message), in
//! parallel, and the result can be cached in a file and reused: a fresh router data directory
//! per run means the same UUIDs are new to it.
//!
//! Invariants: every message of a corpus has the same length (the template has fixed-width
//! fields, and the signature of one key has a fixed length), that length is the requested
//! size rounded down by at most a few bytes, and `sha256` is the digest of `body`.
//!
//! File format (`.xlgc`): `XLGC1\n`, one line of JSON metadata, then per message:
//! 16 bytes UUID, 32 bytes SHA-256, 1 byte destination index, 4 bytes body length
//! (little-endian), the body.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use rand::SeedableRng;
use rustls_pki_types::CertificateDer;
use uuid::Uuid;
use xoev_dsig::{SignOptions, SigningKey, sign};
use xoev_mock_authority::{Digest, sha256};

use crate::error::LoadgenError;
use crate::pki::{KeyKind, LoadPki};
use crate::spread;
use crate::template::{MessageFields, Shape, render, wrapped_base64_len};

const MAGIC: &[u8] = b"XLGC1\n";
/// Bytes before each body in the file.
const RECORD_HEAD: usize = 16 + 32 + 1 + 4;

/// What to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CorpusSpec {
    /// Target size of each signed message in bytes.
    pub size: usize,
    /// Signature key type.
    pub key: KeyKind,
    /// Number of distinct messages.
    pub count: usize,
    /// Seed of UUIDs, destinations and attachment bytes.
    pub seed: u64,
}

/// Metadata stored with a corpus.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CorpusMeta {
    /// Requested size.
    pub size: usize,
    /// Actual size of every message.
    pub message_len: usize,
    /// Key type.
    pub key: KeyKind,
    /// Messages.
    pub count: usize,
    /// Seed.
    pub seed: u64,
    /// Whether the signing certificate is in KeyInfo (dropped only when the size demands it).
    pub keyinfo_certificate: bool,
    /// Message layout.
    pub shape: Shape,
    /// SHA-256 (hex) of the signing certificate.
    pub signer: String,
}

/// One pre-signed message.
#[derive(Clone, Debug)]
pub struct Message {
    /// Its `nachrichtenUUID`.
    pub id: Uuid,
    /// SHA-256 of `body`.
    pub sha256: Digest,
    /// Index into [`spread::LAENDER`].
    pub destination: u8,
    /// The signed bytes, sent unchanged.
    pub body: Bytes,
}

/// A corpus in memory.
#[derive(Clone, Debug)]
pub struct Corpus {
    /// What it is.
    pub meta: CorpusMeta,
    /// The messages, in send order.
    pub messages: Vec<Message>,
}

/// Hex of a byte string.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn message_fields(spec: &CorpusSpec, i: usize, attachment_len: usize) -> (MessageFields, u8) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(
        spec.seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(i as u64),
    );
    let land = spread::pick(&mut rng);
    let leser = spread::leser(&mut rng, land);
    let autor = spread::autor(&mut rng);
    (
        MessageFields::random(&mut rng, leser, autor, attachment_len),
        land as u8,
    )
}

fn sign_one(
    xml: &str,
    key: &SigningKey,
    cert: Option<&CertificateDer<'_>>,
) -> Result<Vec<u8>, LoadgenError> {
    // Default limits: 16 MiB text nodes, enough for every corpus size.
    sign(xml.as_bytes(), key, cert, &SignOptions::default())
        .map_err(|e| LoadgenError::Sign(e.to_string()))
}

/// How a corpus is laid out so its messages come out at the requested size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Plan {
    attachment_len: usize,
    with_cert: bool,
    shape: Shape,
}

/// Chooses the largest layout that fits `spec.size`: with the certificate in KeyInfo, then
/// without, padding with attachment bytes. When not even that fits, the minimal message
/// without certificate, which may be larger than asked (reported as `message_len`).
fn plan(
    spec: &CorpusSpec,
    key: &SigningKey,
    cert: &CertificateDer<'_>,
) -> Result<Plan, LoadgenError> {
    let (mut fields, _) = message_fields(spec, 0, 0);
    for with_cert in [true, false] {
        let signed = sign_one(&render(&fields), key, with_cert.then_some(cert))?;
        let Some(room) = spec.size.checked_sub(signed.len()) else {
            continue;
        };
        let mut n = room * 3 / 4;
        while n > 0 && wrapped_base64_len(n) > room {
            n -= 1;
        }
        while wrapped_base64_len(n + 1) <= room {
            n += 1;
        }
        return Ok(Plan {
            attachment_len: n,
            with_cert,
            shape: Shape::Full,
        });
    }
    fields.shape = Shape::Minimal;
    let smallest = sign_one(&render(&fields), key, None)?.len();
    eprintln!(
        "corpus {}: {} bytes do not fit header, signature and attachment; using the minimal message ({smallest} bytes, no certificate in KeyInfo)",
        spec.key.name(),
        spec.size
    );
    Ok(Plan {
        attachment_len: 0,
        with_cert: false,
        shape: Shape::Minimal,
    })
}

/// Signs `spec.count` messages on `threads` threads, printing progress to stderr.
pub fn build(
    spec: &CorpusSpec,
    key: &SigningKey,
    cert: &CertificateDer<'_>,
    threads: usize,
) -> Result<Corpus, LoadgenError> {
    let plan = plan(spec, key, cert)?;
    let cert_for_sig = plan.with_cert.then_some(cert);
    let threads = threads.max(1);
    let done = AtomicUsize::new(0);
    let started = Instant::now();
    let parts: Vec<Result<Vec<(usize, Message)>, LoadgenError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let done = &done;
                s.spawn(move || {
                    let mut out = Vec::with_capacity(spec.count / threads + 1);
                    for i in (t..spec.count).step_by(threads) {
                        let (mut fields, destination) =
                            message_fields(spec, i, plan.attachment_len);
                        fields.shape = plan.shape;
                        let signed = sign_one(&render(&fields), key, cert_for_sig)?;
                        out.push((
                            i,
                            Message {
                                id: fields.id,
                                sha256: sha256(&signed),
                                destination,
                                body: Bytes::from(signed),
                            },
                        ));
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if t == 0 && n % 5000 < threads {
                            eprintln!(
                                "corpus {}×{} B: {n}/{} signed ({:.0}/s)",
                                spec.key.name(),
                                spec.size,
                                spec.count,
                                n as f64 / started.elapsed().as_secs_f64().max(1e-3)
                            );
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(LoadgenError::Sign("signing thread panicked".into())))
            })
            .collect()
    });
    let mut all = Vec::with_capacity(spec.count);
    for p in parts {
        all.extend(p?);
    }
    all.sort_unstable_by_key(|(i, _)| *i);
    let messages: Vec<Message> = all.into_iter().map(|(_, m)| m).collect();
    let message_len = messages.first().map_or(0, |m| m.body.len());
    if let Some(odd) = messages.iter().find(|m| m.body.len() != message_len) {
        return Err(LoadgenError::Sign(format!(
            "message {} is {} bytes, the first is {message_len}",
            odd.id,
            odd.body.len()
        )));
    }
    Ok(Corpus {
        meta: CorpusMeta {
            size: spec.size,
            message_len,
            key: spec.key,
            count: spec.count,
            seed: spec.seed,
            keyinfo_certificate: plan.with_cert,
            shape: plan.shape,
            signer: hex(&sha256(cert.as_ref())),
        },
        messages,
    })
}

impl Corpus {
    /// Total body bytes.
    pub fn total_bytes(&self) -> u64 {
        self.messages.iter().map(|m| m.body.len() as u64).sum()
    }

    /// Writes the corpus to `path` (see the module docs for the format).
    pub fn save(&self, path: &Path) -> Result<(), LoadgenError> {
        let meta = serde_json::to_string(&self.meta)
            .map_err(|e| LoadgenError::Usage(format!("corpus metadata: {e}")))?;
        let mut out = Vec::with_capacity(
            MAGIC.len()
                + meta.len()
                + 1
                + self.messages.len() * RECORD_HEAD
                + self.total_bytes() as usize,
        );
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(meta.as_bytes());
        out.push(b'\n');
        for m in &self.messages {
            let len = u32::try_from(m.body.len()).map_err(|_| LoadgenError::CorpusFormat {
                path: path.to_owned(),
                reason: "message over 4 GiB".into(),
            })?;
            out.extend_from_slice(m.id.as_bytes());
            out.extend_from_slice(&m.sha256);
            out.push(m.destination);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&m.body);
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &out).map_err(|e| LoadgenError::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| LoadgenError::io(path, e))
    }

    /// Reads a corpus written by [`Corpus::save`]. Bodies share one buffer (no copies).
    pub fn load(path: &Path) -> Result<Corpus, LoadgenError> {
        let data = Bytes::from(std::fs::read(path).map_err(|e| LoadgenError::io(path, e))?);
        let bad = |reason: &str| LoadgenError::CorpusFormat {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = data
            .strip_prefix(MAGIC)
            .ok_or_else(|| bad("no XLGC1 magic"))?;
        let nl = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("no metadata line"))?;
        let meta: CorpusMeta = serde_json::from_slice(rest.get(..nl).unwrap_or_default())
            .map_err(|e| bad(&format!("metadata: {e}")))?;
        let mut at = MAGIC.len() + nl + 1;
        let mut messages = Vec::with_capacity(meta.count);
        while at < data.len() {
            let head = data
                .get(at..at + RECORD_HEAD)
                .ok_or_else(|| bad("truncated record header"))?;
            let (id, rest) = head.split_at(16);
            let (digest, rest) = rest.split_at(32);
            let (destination, len) = rest.split_at(1);
            let len = u32::from_le_bytes(len.try_into().map_err(|_| bad("length"))?) as usize;
            let start = at + RECORD_HEAD;
            let end = start
                .checked_add(len)
                .ok_or_else(|| bad("length overflow"))?;
            if end > data.len() {
                return Err(bad("truncated body"));
            }
            messages.push(Message {
                id: Uuid::from_slice(id).map_err(|_| bad("uuid"))?,
                sha256: digest.try_into().map_err(|_| bad("digest"))?,
                destination: destination.first().copied().unwrap_or(0),
                body: data.slice(start..end),
            });
            at = end;
        }
        if messages.len() != meta.count {
            return Err(bad(&format!(
                "{} messages, metadata says {}",
                messages.len(),
                meta.count
            )));
        }
        Ok(Corpus { meta, messages })
    }
}

/// Loads the cached corpus for `spec` from `cache_dir`, or builds it (and caches it when it
/// is at most `cache_limit` bytes).
pub fn load_or_build(
    cache_dir: &Path,
    spec: &CorpusSpec,
    pki: &LoadPki,
    cache_limit: u64,
) -> Result<Corpus, LoadgenError> {
    let (key, cert) = pki.signer(spec.key)?;
    let fp = hex(&sha256(cert.as_ref()));
    let path: PathBuf = cache_dir.join(format!(
        "{}-{}-{}-{:x}-{}.xlgc",
        spec.key.name(),
        spec.size,
        spec.count,
        spec.seed,
        fp.get(..12).unwrap_or(&fp)
    ));
    if path.exists() {
        match Corpus::load(&path) {
            Ok(c) if c.meta.signer == fp && c.meta.count == spec.count => return Ok(c),
            Ok(_) => eprintln!("{}: stale corpus, rebuilding", path.display()),
            Err(e) => eprintln!("{e}; rebuilding"),
        }
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let started = Instant::now();
    let corpus = build(spec, &key, &cert, threads)?;
    eprintln!(
        "corpus {}×{} B ×{}: signed in {:.1} s",
        spec.key.name(),
        corpus.meta.message_len,
        spec.count,
        started.elapsed().as_secs_f64()
    );
    if corpus.total_bytes() <= cache_limit {
        std::fs::create_dir_all(cache_dir).map_err(|e| LoadgenError::io(cache_dir, e))?;
        corpus.save(&path)?;
    }
    Ok(corpus)
}
