//! The generator: drives the router with pre-signed messages over N HTTPS connections, flat out
//! or at a fixed rate, and records every answer.
//!
//! Fixed rate follows a global schedule: request `i` is due at `start + i / rate`. Workers take
//! the next index, wait until it is due, send, and measure latency from the *due* time, not
//! from when they got round to sending. When the router slows down and all workers are busy,
//! later requests go out late and that delay is part of their latency: the correction for
//! coordinated omission (as wrk2 does it). `schedule_lag` shows how late requests went out.
//!
//! Flat out, every worker sends its next request as soon as the previous answer arrived.
//!
//! Invariants: each corpus message is sent at most once per run (indices come from one
//! counter); every accepted (or duplicate) answer is announced to the authority when an
//! announcer is given.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use serde::Deserialize;
use xoev_mock_authority::{Histogram, unix_nanos};

use crate::announce::Announcer;
use crate::client::{Conn, Proto, Target, connect, post};
use crate::corpus::Corpus;
use crate::error::LoadgenError;
use crate::report::{CorpusInfo, Latency, RunReport, Second};
use crate::rss;
use crate::stats::{Outcome, Recorder, Sample};

/// How to drive.
#[derive(Clone, Debug)]
pub struct DriveOptions {
    /// Label in progress lines and the report.
    pub label: String,
    /// The router.
    pub target: Target,
    /// HTTP/1.1 or HTTP/2.
    pub proto: Proto,
    /// Connections.
    pub connections: usize,
    /// Requests in flight per HTTP/2 connection (ignored for HTTP/1.1).
    pub streams: usize,
    /// Messages per second, or flat out.
    pub rate: Option<f64>,
    /// Excluded from the totals at the start.
    pub warmup: Duration,
    /// Measuring window after the warm-up.
    pub duration: Duration,
    /// Per-request deadline.
    pub timeout: Duration,
    /// Send at most this many messages (else the whole corpus at most).
    pub limit: Option<usize>,
    /// Start over at the beginning of the corpus when it runs out (only for targets that do
    /// not deduplicate, like the HTTP ceiling).
    pub cycle: bool,
    /// Print a progress line every second to stderr.
    pub progress: bool,
    /// Authority control address, for progress lines (delivered, outstanding).
    pub authority_control: Option<SocketAddr>,
    /// Process whose RSS progress lines show (the router).
    pub watch_pid: Option<u32>,
}

struct Ctx {
    corpus: Arc<Corpus>,
    target: Target,
    proto: Proto,
    rate: Option<f64>,
    start: Instant,
    end: Instant,
    timeout: Duration,
    limit: usize,
    cycle: bool,
    next: AtomicU64,
    sent: AtomicU64,
    exhausted: AtomicBool,
    recorder: Recorder,
    lag: std::sync::Mutex<Histogram>,
    announcer: Option<Announcer>,
}

/// One connection shared by the workers that use it (1 for HTTP/1.1, `streams` for HTTP/2).
struct Slot {
    conn: tokio::sync::Mutex<Option<Conn>>,
}

impl Slot {
    async fn get(&self, ctx: &Ctx) -> Result<Conn, String> {
        let mut g = self.conn.lock().await;
        if let Some(c) = g.as_ref()
            && !c.is_closed()
        {
            return Ok(c.clone());
        }
        let c = connect(&ctx.target, ctx.proto).await?;
        *g = Some(c.clone());
        Ok(c)
    }

    async fn drop_conn(&self) {
        *self.conn.lock().await = None;
    }
}

#[derive(Deserialize)]
struct AcceptedAnswer {
    #[serde(default)]
    duplicate: bool,
}

#[derive(Deserialize)]
struct ProblemAnswer {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// Kind of a transport error string from [`crate::client`] (its prefix).
fn failure_kind(e: &str) -> String {
    e.split(':').next().unwrap_or("io").trim().to_owned()
}

/// Classifies an answer.
fn classify(status: u16, body: &[u8]) -> Outcome {
    if status == 202 {
        return match serde_json::from_slice::<AcceptedAnswer>(body) {
            Ok(a) if a.duplicate => Outcome::Duplicate,
            _ => Outcome::Accepted,
        };
    }
    match serde_json::from_slice::<ProblemAnswer>(body) {
        Ok(ProblemAnswer { kind: Some(k) }) => Outcome::Rejected(format!("{status} {k}")),
        _ => Outcome::Rejected(status.to_string()),
    }
}

async fn exchange(conn: &Conn, ctx: &Ctx, body: Bytes) -> Result<(u16, Bytes), String> {
    let req = post(&ctx.target, ctx.proto, body)?;
    let resp = conn.send(req).await?;
    let status = resp.status().as_u16();
    let body = Limited::new(resp.into_body(), 1 << 20)
        .collect()
        .await
        .map_err(|e| format!("io: answer body: {e}"))?
        .to_bytes();
    Ok((status, body))
}

async fn worker(ctx: Arc<Ctx>, slot: Arc<Slot>) {
    loop {
        let i = ctx.next.fetch_add(1, Ordering::Relaxed) as usize;
        if i >= ctx.limit {
            if i >= ctx.corpus.messages.len() {
                ctx.exhausted.store(true, Ordering::Relaxed);
            }
            return;
        }
        let m = if ctx.cycle {
            i % ctx.corpus.messages.len().max(1)
        } else {
            i
        };
        let Some(msg) = ctx.corpus.messages.get(m) else {
            return;
        };
        let due = match ctx.rate {
            Some(r) => ctx.start + Duration::from_secs_f64(i as f64 / r),
            None => Instant::now(),
        };
        if due >= ctx.end {
            return;
        }
        if ctx.rate.is_some() {
            tokio::time::sleep_until(due.into()).await;
        }
        // Past the end nothing more is sent, also not requests that are overdue (at a fixed
        // rate they are counted as `unsent_due`).
        if Instant::now() >= ctx.end {
            return;
        }
        let conn = match slot.get(&ctx).await {
            Ok(c) => c,
            Err(e) => {
                ctx.recorder.record(Sample {
                    done: Instant::now(),
                    latency: Duration::ZERO,
                    service: Duration::ZERO,
                    bytes: 0,
                    outcome: Outcome::Failed(failure_kind(&e)),
                });
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let sent = Instant::now();
        ctx.sent.fetch_add(1, Ordering::Relaxed);
        if ctx.rate.is_some() {
            let mut lag = ctx.lag.lock().unwrap_or_else(|p| p.into_inner());
            lag.record_duration(sent.saturating_duration_since(due));
        }
        let result =
            tokio::time::timeout(ctx.timeout, exchange(&conn, &ctx, msg.body.clone())).await;
        let done = Instant::now();
        let outcome = match result {
            Ok(Ok((status, body))) => classify(status, &body),
            Ok(Err(e)) => {
                slot.drop_conn().await;
                Outcome::Failed(failure_kind(&e))
            }
            Err(_) => {
                slot.drop_conn().await;
                Outcome::Failed("timeout".into())
            }
        };
        if matches!(outcome, Outcome::Accepted | Outcome::Duplicate)
            && let Some(a) = &ctx.announcer
        {
            a.accepted(msg.id, msg.sha256, unix_nanos(SystemTime::now()));
        }
        ctx.recorder.record(Sample {
            done,
            latency: done.saturating_duration_since(due),
            service: done.saturating_duration_since(sent),
            bytes: msg.body.len() as u64,
            outcome,
        });
    }
}

async fn authority_line(control: SocketAddr) -> String {
    match crate::http_util::get_ok(control, "/stats").await {
        Ok(body) => match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) => format!(
                " | authority delivered {} outstanding {} dup {} mismatched {}",
                v["ledger"]["delivered"],
                v["ledger"]["outstanding"],
                v["duplicates"],
                v["mismatches"]
            ),
            Err(_) => " | authority ?".into(),
        },
        Err(_) => " | authority unreachable".into(),
    }
}

async fn progress(ctx: Arc<Ctx>, opts: DriveOptions, done: Arc<AtomicBool>) {
    let mut sec = 1usize;
    loop {
        tokio::time::sleep_until((ctx.start + Duration::from_secs(sec as u64)).into()).await;
        if done.load(Ordering::Relaxed) {
            return;
        }
        let c = ctx.recorder.second(sec - 1);
        let mut line = format!(
            "[{}] {sec:>3}s accepted {:>6}/s  errors {:>4}  p50 {:>7.2} ms  p99 {:>7.2} ms  sent {}",
            opts.label,
            c.accepted,
            c.errors(),
            c.latency.quantile(0.5) as f64 / 1000.0,
            c.latency.quantile(0.99) as f64 / 1000.0,
            ctx.sent.load(Ordering::Relaxed),
        );
        if let Some(a) = opts.authority_control {
            line.push_str(&authority_line(a).await);
        }
        if let Some(r) = opts.watch_pid.and_then(rss::read) {
            line.push_str(&format!(" | router RSS {} MiB", r.rss_kib / 1024));
        }
        eprintln!("{line}");
        sec += 1;
    }
}

/// Runs the generator against `opts.target` with `corpus`; returns the report.
pub async fn drive(
    corpus: Arc<Corpus>,
    opts: &DriveOptions,
    announcer: Option<Announcer>,
) -> Result<RunReport, LoadgenError> {
    let streams = match opts.proto {
        Proto::H1 => 1,
        Proto::H2 => opts.streams.max(1),
    };
    let connections = opts.connections.max(1);
    // Open every connection before the clock starts.
    let mut slots = Vec::with_capacity(connections);
    let mut first_error = None;
    for _ in 0..connections {
        let conn = match connect(&opts.target, opts.proto).await {
            Ok(c) => Some(c),
            Err(e) => {
                first_error.get_or_insert(e);
                None
            }
        };
        slots.push(Arc::new(Slot {
            conn: tokio::sync::Mutex::new(conn),
        }));
    }
    if let Some(e) = first_error {
        return Err(LoadgenError::Http(format!(
            "cannot open connections to {}: {e}",
            opts.target.addr
        )));
    }
    let start = Instant::now();
    let limit = match (opts.limit, opts.cycle) {
        (Some(l), true) => l,
        (None, true) => usize::MAX,
        (l, false) => l.unwrap_or(usize::MAX).min(corpus.messages.len()),
    };
    let ctx = Arc::new(Ctx {
        corpus: corpus.clone(),
        target: opts.target.clone(),
        proto: opts.proto,
        rate: opts.rate,
        start,
        end: start + opts.warmup + opts.duration,
        timeout: opts.timeout,
        limit,
        cycle: opts.cycle,
        next: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        exhausted: AtomicBool::new(false),
        recorder: Recorder::new(start, opts.warmup, opts.duration),
        lag: std::sync::Mutex::new(Histogram::new()),
        announcer,
    });
    let finished = Arc::new(AtomicBool::new(false));
    let progress_task = opts
        .progress
        .then(|| tokio::spawn(progress(ctx.clone(), opts.clone(), finished.clone())));
    let mut workers = tokio::task::JoinSet::new();
    for slot in &slots {
        for _ in 0..streams {
            workers.spawn(worker(ctx.clone(), slot.clone()));
        }
    }
    while workers.join_next().await.is_some() {}
    let ended = Instant::now();
    finished.store(true, Ordering::Relaxed);
    if let Some(p) = progress_task {
        p.abort();
    }
    let (total, seconds) = ctx.recorder.finish();
    let window_end = ended.min(ctx.recorder.measure_until());
    let window_s = window_end
        .saturating_duration_since(ctx.recorder.measure_from())
        .as_secs_f64();
    let per_s = |n: f64| if window_s > 0.0 { n / window_s } else { 0.0 };
    let lag = ctx.lag.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let sent = ctx.sent.load(Ordering::Relaxed);
    // At a fixed rate: requests due before the end that were never sent (the router was too
    // slow to let them go out); their latency would have been at least their lateness.
    let unsent_due = opts.rate.map_or(0, |r| {
        let due = (r * (opts.warmup + opts.duration).as_secs_f64()).ceil() as u64;
        due.min(ctx.limit as u64).saturating_sub(sent)
    });
    Ok(RunReport {
        label: opts.label.clone(),
        proto: opts.proto,
        connections,
        streams,
        rate: opts.rate,
        warmup_s: opts.warmup.as_secs_f64(),
        window_s,
        corpus: CorpusInfo {
            key: corpus.meta.key,
            message_len: corpus.meta.message_len,
            count: corpus.messages.len(),
        },
        accepted: total.accepted,
        duplicate: total.duplicate,
        rejected: total.rejected.clone(),
        failed: total.failed.clone(),
        accepted_per_s: per_s(total.accepted as f64),
        mib_per_s: per_s(total.accepted_bytes as f64 / (1024.0 * 1024.0)),
        latency: Latency::of(&total.latency),
        service: Latency::of(&total.service),
        schedule_lag: Latency::of(&lag),
        corpus_exhausted: ctx.exhausted.load(Ordering::Relaxed),
        sent,
        unsent_due,
        timeline: seconds
            .iter()
            .enumerate()
            .map(|(t, c)| Second {
                t,
                accepted: c.accepted,
                errors: c.errors(),
                p99_ms: c.latency.quantile(0.99) as f64 / 1000.0,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_202_is_accepted_unless_it_says_duplicate() {
        assert_eq!(
            classify(202, br#"{"id": "x", "duplicate": false}"#),
            Outcome::Accepted
        );
        assert_eq!(
            classify(202, br#"{"id": "x", "duplicate": true}"#),
            Outcome::Duplicate
        );
        assert_eq!(classify(202, b"not json"), Outcome::Accepted);
    }

    #[test]
    fn a_problem_is_counted_by_status_and_type() {
        assert_eq!(
            classify(
                400,
                br#"{"type": "signature-invalid", "status": 400, "detail": "x"}"#
            ),
            Outcome::Rejected("400 signature-invalid".into())
        );
        assert_eq!(classify(502, b"<html>"), Outcome::Rejected("502".into()));
    }

    #[test]
    fn transport_errors_are_counted_by_their_prefix() {
        assert_eq!(failure_kind("connect: refused"), "connect");
        assert_eq!(failure_kind("tls: bad certificate"), "tls");
        assert_eq!(failure_kind("io: connection reset"), "io");
    }
}
