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

/// Loads the cached corpus for `spec` from `cache_dir`, or builds it and caches it when it
/// is at most `cache_limit` bytes, the limit of the whole cache (see [`prune_cache`]).
pub fn load_or_build(
    cache_dir: &Path,
    spec: &CorpusSpec,
    pki: &LoadPki,
    cache_limit: u64,
) -> Result<Corpus, LoadgenError> {
    let (key, cert) = pki.signer(spec.key)?;
    let fp = hex(&sha256(cert.as_ref()));
    let day = crate::template::today();
    let path: PathBuf = cache_dir.join(format!(
        "{}-{}-{}-{:x}-{}-{day}.xlgc",
        spec.key.name(),
        spec.size,
        spec.count,
        spec.seed,
        fp.get(..12).unwrap_or(&fp)
    ));
    // A cached corpus of the same key, size, seed and signer with at least as many messages
    // serves too: its first `count` messages are exactly the ones a build would sign.
    let prefix = format!("{}-{}-", spec.key.name(), spec.size);
    let suffix = format!(
        "-{:x}-{}-{day}.xlgc",
        spec.seed,
        fp.get(..12).unwrap_or(&fp)
    );
    let mut candidates: Vec<(usize, PathBuf)> = std::fs::read_dir(cache_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let count = name
                .strip_prefix(&prefix)?
                .strip_suffix(&suffix)?
                .parse()
                .ok()?;
            (count >= spec.count).then(|| (count, e.path()))
        })
        .collect();
    candidates.sort();
    for (_, p) in candidates {
        match Corpus::load(&p) {
            Ok(mut c) if c.meta.signer == fp => {
                c.messages.truncate(spec.count);
                c.meta.count = spec.count;
                return Ok(c);
            }
            Ok(_) => eprintln!("{}: signed by another key, ignored", p.display()),
            Err(e) => eprintln!("{e}; ignored"),
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
        // Room first, so the new file does not take the cache over its limit for a moment.
        prune_cache(
            cache_dir,
            &day,
            &prefix,
            &suffix,
            cache_limit - corpus.total_bytes(),
        );
        corpus.save(&path)?;
    }
    Ok(corpus)
}

/// Keeps the corpus cache within `budget` bytes before a new corpus is saved: removes
/// corpora of earlier days (their key can no longer match), those the new one supersedes
/// (same key, size, seed and signer, fewer messages), then the least recently written ones
/// until the rest fits. Files that are not corpora are left alone; a file that cannot be
/// removed is reported and skipped (a full cache only means signing again).
fn prune_cache(cache_dir: &Path, day: &str, prefix: &str, suffix: &str, budget: u64) {
    let mut kept: Vec<(std::time::SystemTime, u64, PathBuf)> = Vec::new();
    let remove = |p: &Path, why: &str| match std::fs::remove_file(p) {
        Ok(()) => eprintln!("corpus cache: removed {} ({why})", p.display()),
        Err(e) => eprintln!("corpus cache: cannot remove {}: {e}", p.display()),
    };
    for entry in std::fs::read_dir(cache_dir).into_iter().flatten().flatten() {
        let (Ok(name), Ok(md)) = (entry.file_name().into_string(), entry.metadata()) else {
            continue;
        };
        if !md.is_file() || !name.ends_with(".xlgc") {
            continue;
        }
        if !name.ends_with(&format!("-{day}.xlgc")) {
            remove(&entry.path(), "from an earlier day");
        } else if name.starts_with(prefix) && name.ends_with(suffix) {
            remove(&entry.path(), "superseded by a larger corpus");
        } else {
            let written = md.modified().unwrap_or(std::time::UNIX_EPOCH);
            kept.push((written, md.len(), entry.path()));
        }
    }
    kept.sort();
    let mut total: u64 = kept.iter().map(|(_, len, _)| len).sum();
    for (_, len, path) in kept {
        if total <= budget {
            break;
        }
        remove(&path, "over --cache-mib");
        total = total.saturating_sub(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

    fn p256() -> SigningKey {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("generate P-256");
        SigningKey::from_pkcs8_der(pkcs8.as_ref()).expect("load P-256")
    }

    /// Signing never checks the certificate; any DER-sized bytes do for size planning.
    fn fake_cert() -> CertificateDer<'static> {
        CertificateDer::from(vec![0x30; 480])
    }

    fn spec(size: usize, count: usize) -> CorpusSpec {
        CorpusSpec {
            size,
            key: KeyKind::EcdsaP256,
            count,
            seed: 9,
        }
    }

    #[test]
    fn every_message_has_the_requested_size_a_distinct_uuid_and_its_digest() {
        let c = build(&spec(4096, 6), &p256(), &fake_cert(), 2).expect("build");
        assert_eq!(c.messages.len(), 6);
        assert!(
            c.meta.message_len <= 4096 && c.meta.message_len >= 4090,
            "{:?}",
            c.meta
        );
        assert!(c.meta.keyinfo_certificate);
        assert_eq!(c.meta.shape, Shape::Full);
        let mut ids: Vec<_> = c.messages.iter().map(|m| m.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 6);
        for m in &c.messages {
            assert_eq!(m.body.len(), c.meta.message_len);
            assert_eq!(m.sha256, sha256(&m.body));
            let text = std::str::from_utf8(&m.body).expect("utf-8");
            assert!(text.contains(&m.id.hyphenated().to_string()));
            assert!(text.contains("SignatureValue>"), "signed");
        }
    }

    #[test]
    fn too_small_a_size_falls_back_to_the_minimal_message_without_certificate() {
        let c = build(&spec(1024, 2), &p256(), &fake_cert(), 1).expect("build");
        assert_eq!(c.meta.shape, Shape::Minimal);
        assert!(!c.meta.keyinfo_certificate);
        assert!(
            c.meta.message_len > 1024,
            "reported as it is: {}",
            c.meta.message_len
        );
    }

    #[test]
    fn the_same_spec_builds_the_same_messages() {
        let key = p256();
        let a = build(&spec(4096, 3), &key, &fake_cert(), 2).expect("a");
        let b = build(&spec(4096, 2), &key, &fake_cert(), 1).expect("b");
        assert_eq!(a.messages[0].id, b.messages[0].id);
        assert_eq!(a.messages[1].destination, b.messages[1].destination);
    }

    #[test]
    fn save_and_load_round_trip_and_bodies_share_one_buffer() {
        let c = build(&spec(4096, 3), &p256(), &fake_cert(), 1).expect("build");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.xlgc");
        c.save(&path).expect("save");
        let back = Corpus::load(&path).expect("load");
        assert_eq!(back.meta, c.meta);
        for (a, b) in back.messages.iter().zip(&c.messages) {
            assert_eq!(
                (a.id, a.sha256, a.destination),
                (b.id, b.sha256, b.destination)
            );
            assert_eq!(a.body, b.body);
        }
    }

    #[test]
    fn a_truncated_corpus_file_is_refused() {
        let c = build(&spec(4096, 2), &p256(), &fake_cert(), 1).expect("build");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.xlgc");
        c.save(&path).expect("save");
        let bytes = std::fs::read(&path).expect("read");
        std::fs::write(&path, &bytes[..bytes.len() - 10]).expect("write");
        let err = Corpus::load(&path).expect_err("truncated");
        assert_eq!(
            err.to_string(),
            format!("corpus file {}: truncated body", path.display())
        );
        std::fs::write(&path, b"nonsense").expect("write");
        let err = Corpus::load(&path).expect_err("no magic");
        assert_eq!(
            err.to_string(),
            format!("corpus file {}: no XLGC1 magic", path.display())
        );
    }

    #[test]
    fn the_cache_keeps_today_and_the_newest_corpora_within_its_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let day = "2026-12-07";
        let write = |name: &str, len: usize, age_secs: u64| {
            let path = dir.path().join(name);
            std::fs::write(&path, vec![0u8; len]).expect("write");
            let when = std::time::SystemTime::now() - std::time::Duration::from_secs(age_secs);
            std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(when))
                .expect("set mtime");
        };
        write("rsa2048-4096-1000-7-abc-2026-12-06.xlgc", 10, 0); // yesterday
        write("rsa2048-4096-1000-7-abc-2026-12-07.xlgc", 10, 0); // superseded
        write("p256-4096-500-7-abc-2026-12-07.xlgc", 100, 300); // oldest of today
        write("p256-2048-500-7-abc-2026-12-07.xlgc", 100, 200);
        write("rsa2048-1048576-30-7-abc-2026-12-07.xlgc", 100, 100);
        write("notes.txt", 1000, 400); // not a corpus
        prune_cache(
            dir.path(),
            day,
            "rsa2048-4096-",
            "-7-abc-2026-12-07.xlgc",
            250,
        );
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().into_string().expect("UTF-8"))
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "notes.txt",
                "p256-2048-500-7-abc-2026-12-07.xlgc",
                "rsa2048-1048576-30-7-abc-2026-12-07.xlgc",
            ]
        );
    }
}
