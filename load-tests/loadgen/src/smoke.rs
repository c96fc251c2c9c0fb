//! The smoke run for CI: a few hundred messages through real processes, proving the tools
//! work. It checks correctness only, never timing: every accepted message arrived at the
//! authority byte-identical, none was lost (also across an authority outage and a router
//! restart), tampered messages are refused and counted by problem type.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::announce::Announcer;
use crate::client::Proto;
use crate::corpus::{Corpus, Message};
use crate::drive::{DriveOptions, drive};
use crate::error::LoadgenError;
use crate::pki::KeyKind;
use crate::report::RunReport;
use crate::world::{Authority, Env, Router, RouterFiles};

/// Messages per corpus in the smoke run.
pub const PER_CORPUS: usize = 24;

fn options(
    label: &str,
    router: &Router,
    env: &Env,
    proto: Proto,
) -> Result<DriveOptions, LoadgenError> {
    Ok(DriveOptions {
        label: label.to_owned(),
        target: router.target(env, proto)?,
        proto,
        connections: 3,
        streams: 4,
        rate: None,
        warmup: Duration::ZERO,
        duration: Duration::from_secs(600),
        timeout: Duration::from_secs(60),
        limit: None,
        cycle: false,
        progress: false,
        authority_control: None,
        watch_pid: None,
    })
}

/// Runs `corpus` through the router, announcing acceptances; returns the report.
async fn send(
    corpus: Arc<Corpus>,
    opts: &DriveOptions,
    authority: &Authority,
) -> Result<RunReport, LoadgenError> {
    let (announcer, task) = Announcer::start(authority.control);
    let report = drive(corpus, opts, Some(announcer)).await?;
    task.finish().await?;
    eprintln!("smoke: {}", report.summary());
    Ok(report)
}

fn expect_all_accepted(r: &RunReport) -> Result<(), LoadgenError> {
    let answered = r.accepted + r.duplicate;
    if answered != r.sent || !r.rejected.is_empty() || !r.failed.is_empty() {
        return Err(LoadgenError::Check(format!(
            "{}: {} of {} sent were accepted; rejected {:?}, failed {:?}",
            r.label, answered, r.sent, r.rejected, r.failed
        )));
    }
    Ok(())
}

/// A copy of `corpus` whose attachment bytes are altered after signing (one base64
/// character changed), so the Reference digest no longer matches.
pub fn tampered(corpus: &Corpus) -> Result<Corpus, LoadgenError> {
    let mut out = corpus.clone();
    for m in &mut out.messages {
        let mut body = m.body.to_vec();
        let anchor = b"<xwas:mimeType>application/pdf</xwas:mimeType>";
        let at = body
            .windows(anchor.len())
            .position(|w| w == anchor)
            .and_then(|p| {
                let from = p + anchor.len();
                body.get(from..)?
                    .windows(13)
                    .position(|w| w == b"<xwas:inhalt>")
                    .map(|q| from + q + 13 + 20)
            })
            .ok_or_else(|| LoadgenError::Check("no attachment to tamper with".into()))?;
        let c = body
            .get_mut(at)
            .ok_or_else(|| LoadgenError::Check("attachment too short to tamper with".into()))?;
        *c = if *c == b'A' { b'B' } else { b'A' };
        *m = Message {
            body: Bytes::from(body),
            ..m.clone()
        };
    }
    Ok(out)
}

/// What the smoke run saw.
#[derive(Debug)]
pub struct SmokeSummary {
    /// Messages the router accepted (announced to the authority).
    pub accepted: u64,
    /// Distinct messages delivered.
    pub delivered: u64,
    /// Redeliveries (allowed: delivery is at-least-once).
    pub duplicates: u64,
    /// Tampered messages refused as `400 signature-invalid`.
    pub refused: u64,
    /// Router start-up, fresh and with a backlog (not judged).
    pub startup_s: (f64, f64),
}

/// The smoke run; `Err(Check)` when a message was lost, altered, or wrongly accepted.
pub async fn run_smoke(env: &Env) -> Result<SmokeSummary, LoadgenError> {
    let started = Instant::now();
    let dir = env.run_dir("smoke")?;
    let mut authority = Authority::start(env, &dir, false).await?;
    let files = RouterFiles::write(env, &dir, authority.inbox)?;
    let mut router = Router::start(env, &files, Duration::from_secs(60)).await?;
    let fresh_startup = router.startup.as_secs_f64();
    let mut announced = 0u64;

    let sets = [
        (2048, KeyKind::Rsa2048, PER_CORPUS, Proto::H1, None),
        (2048, KeyKind::EcdsaP256, PER_CORPUS, Proto::H2, None),
        (4096, KeyKind::Rsa2048, PER_CORPUS, Proto::H2, Some(200.0)),
        (4096, KeyKind::EcdsaP256, PER_CORPUS, Proto::H1, Some(200.0)),
        (65536, KeyKind::Rsa2048, PER_CORPUS, Proto::H1, None),
        (65536, KeyKind::EcdsaP256, PER_CORPUS, Proto::H2, None),
        (1 << 20, KeyKind::EcdsaP256, 3, Proto::H1, None),
    ];
    for (i, (size, key, count, proto, rate)) in sets.into_iter().enumerate() {
        let corpus = env.corpus(size, key, count, 0x5_0000 + i as u64)?;
        let mut opts = options(&format!("smoke-{}-{size}", key.name()), &router, env, proto)?;
        opts.rate = rate;
        let r = send(corpus, &opts, &authority).await?;
        expect_all_accepted(&r)?;
        announced += r.accepted + r.duplicate;
    }

    // Tampered copies: refused, counted by type, never delivered.
    let original = env.corpus(4096, KeyKind::EcdsaP256, 6, 0x5_0100)?;
    let bad = Arc::new(tampered(&original)?);
    let opts = options("smoke-tampered", &router, env, Proto::H1)?;
    let r = send(bad, &opts, &authority).await?;
    let refused = r
        .rejected
        .get("400 signature-invalid")
        .copied()
        .unwrap_or(0);
    if refused != 6 || r.accepted + r.duplicate != 0 {
        return Err(LoadgenError::Check(format!(
            "tampered messages: want 6× '400 signature-invalid', got accepted {} rejected {:?} failed {:?}",
            r.accepted, r.rejected, r.failed
        )));
    }

    // Outage: accepted while the authority is down, kept across a router restart.
    authority.down().await?;
    let corpus = env.corpus(4096, KeyKind::Rsa2048, 40, 0x5_0200)?;
    let opts = options("smoke-outage", &router, env, Proto::H1)?;
    let r = send(corpus, &opts, &authority).await?;
    expect_all_accepted(&r)?;
    announced += r.accepted + r.duplicate;
    let during = authority.ledger().await?;
    if during.outstanding < 40 {
        return Err(LoadgenError::Check(format!(
            "authority is down, yet only {} messages are outstanding (want ≥ 40)",
            during.outstanding
        )));
    }
    let depth = router.depth().await?;
    if depth.queued + depth.delivering < 40 {
        return Err(LoadgenError::Check(format!(
            "router queue holds {} messages during the outage (want ≥ 40)",
            depth.queued + depth.delivering
        )));
    }
    router.stop()?;
    let mut router = Router::start(env, &files, Duration::from_secs(60)).await?;
    let backlog_startup = router.startup.as_secs_f64();
    authority.up().await?;

    let (ledger, _, drained) = authority.wait_drained(Duration::from_secs(60)).await?;
    router.stop()?;
    let _ = authority.proc.stop("INT", Duration::from_secs(10));
    if ledger.announced != announced {
        return Err(LoadgenError::Check(format!(
            "the generator saw {announced} acceptances, the authority's ledger {}",
            ledger.announced
        )));
    }
    if !drained || ledger.outstanding != 0 {
        return Err(LoadgenError::Check(format!(
            "{} accepted messages never arrived",
            ledger.outstanding
        )));
    }
    if ledger.mismatched != 0 {
        return Err(LoadgenError::Check(format!(
            "{} messages arrived with other bytes than sent",
            ledger.mismatched
        )));
    }
    if ledger.unannounced != 0 {
        return Err(LoadgenError::Check(format!(
            "{} messages arrived that the router never accepted",
            ledger.unannounced
        )));
    }
    eprintln!(
        "smoke: ok in {:.1} s: {} accepted, {} delivered byte-identical, {} duplicate deliveries, {refused} tampered refused; start-up {fresh_startup:.2} s fresh, {backlog_startup:.2} s with backlog (not judged)",
        started.elapsed().as_secs_f64(),
        announced,
        ledger.delivered,
        ledger.duplicates
    );
    Ok(SmokeSummary {
        accepted: announced,
        delivered: ledger.delivered,
        duplicates: ledger.duplicates,
        refused,
        startup_s: (fresh_startup, backlog_startup),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::CorpusMeta;

    fn corpus_of(body: &str) -> Corpus {
        Corpus {
            meta: CorpusMeta {
                size: body.len(),
                message_len: body.len(),
                key: KeyKind::EcdsaP256,
                count: 1,
                seed: 0,
                keyinfo_certificate: true,
                shape: crate::template::Shape::Full,
                signer: String::new(),
            },
            messages: vec![Message {
                id: uuid::Uuid::nil(),
                sha256: [0; 32],
                destination: 0,
                body: Bytes::from(body.to_owned()),
            }],
        }
    }

    #[test]
    fn tampering_changes_exactly_one_attachment_byte() {
        let body = format!(
            "<a><xwas:mimeType>application/pdf</xwas:mimeType>\n<xwas:inhalt>{}</xwas:inhalt></a>",
            "Q".repeat(40)
        );
        let t = tampered(&corpus_of(&body)).expect("tampered");
        let new = &t.messages[0].body;
        let diffs: Vec<usize> = (0..body.len())
            .filter(|&i| new[i] != body.as_bytes()[i])
            .collect();
        assert_eq!(diffs.len(), 1);
        assert!(body[diffs[0]..].starts_with('Q'));
    }

    #[test]
    fn tampering_a_message_without_attachment_is_an_error() {
        let err = tampered(&corpus_of("<a/>")).expect_err("no attachment");
        assert_eq!(
            err.to_string(),
            "check failed: no attachment to tamper with"
        );
    }
}
