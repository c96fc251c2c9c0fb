//! Scenario 4 (backlog while the authority is down) with start-up under that backlog (5).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Options;
use super::machine::loadavg;
use crate::announce::Announcer;
use crate::client::Proto;
use crate::corpus::Corpus;
use crate::drive::{DriveOptions, drive};
use crate::error::LoadgenError;
use crate::report::RunReport;
use crate::rss::Sampler;
use crate::world::{Authority, Depth, Env, LedgerView, Router, RouterFiles, metric_sum};

/// The backlog scenario (4) with start-up under a backlog (5b).
#[derive(Clone, Debug, Serialize)]
pub struct Backlog {
    /// Messages queued.
    pub messages: usize,
    /// The fill run (authority down).
    pub fill: RunReport,
    /// Queue depth after the fill.
    pub depth_after_fill: Depth,
    /// Peak RSS during the fill (KiB).
    pub fill_peak_rss_kib: u64,
    /// RSS after the fill (KiB).
    pub rss_after_fill_kib: u64,
    /// Graceful stop with the backlog.
    pub stop_s: f64,
    /// Spawn → ready with the backlog.
    pub startup_s: f64,
    /// RSS right after the restart (KiB).
    pub restart_rss_kib: u64,
    /// Authority up → everything delivered.
    pub drain_s: f64,
    /// Messages per second while draining.
    pub drain_per_s: f64,
    /// Best one-second drain rate.
    pub drain_peak_per_s: f64,
    /// Nothing deliverable was left within the timeout.
    pub drained: bool,
    /// Messages the router gave up on (dead letters) by the end.
    pub dead_letters: u64,
    /// Messages still queued or delivering when the drain ended (non-zero: stuck or timed out).
    pub left_queued: u64,
    /// Destinations whose circuit breaker was open when the drain ended.
    pub circuits_open: u64,
    /// Peak RSS while draining (KiB).
    pub drain_peak_rss_kib: u64,
    /// Ledger after the drain.
    pub ledger: LedgerView,
    /// Load average before and after.
    pub load_before: [f64; 3],
    /// See `load_before`.
    pub load_after: [f64; 3],
}

pub(super) async fn backlog(
    env: &Env,
    o: &Options,
    corpus: Arc<Corpus>,
) -> Result<Backlog, LoadgenError> {
    let load_before = loadavg();
    let dir = env.run_dir("4-backlog")?;
    let mut authority = Authority::start(env, &dir, true).await?;
    let files = RouterFiles::write(env, &dir, authority.inbox)?;
    let mut router = Router::start(env, &files, Duration::from_secs(120)).await?;
    let sampler = Sampler::start(router.proc.pid(), Duration::from_millis(100));
    let opts = DriveOptions {
        label: "4-backlog-fill".into(),
        target: router.target(env, Proto::H1)?,
        proto: Proto::H1,
        connections: o.connections,
        streams: 1,
        rate: None,
        warmup: Duration::ZERO,
        duration: Duration::from_secs(24 * 3600),
        timeout: Duration::from_secs(60),
        limit: Some(o.backlog),
        cycle: false,
        progress: true,
        authority_control: Some(authority.control),
        watch_pid: Some(router.proc.pid()),
    };
    let (announcer, announce_task) = Announcer::start(authority.control);
    let fill = drive(corpus, &opts, Some(announcer)).await?;
    announce_task.finish().await?;
    eprintln!("{}", fill.summary());
    let depth_after_fill = router.depth().await?;
    let rss_after_fill = router.rss().unwrap_or_default();
    let fill_peak = sampler.max_rss_kib().max(rss_after_fill.hwm_kib);
    drop(sampler);
    let stopping = Instant::now();
    router.stop()?;
    let stop_s = stopping.elapsed().as_secs_f64();
    let router = Router::start(env, &files, Duration::from_secs(600)).await?;
    let restart_rss = router.rss().unwrap_or_default();
    eprintln!(
        "4-backlog: {} queued (depth {:?}); RSS after fill {} MiB (peak {} MiB); stop {:.1} s; restart to ready {:.2} s, RSS {} MiB",
        o.backlog,
        depth_after_fill,
        rss_after_fill.rss_kib / 1024,
        fill_peak / 1024,
        stop_s,
        router.startup.as_secs_f64(),
        restart_rss.rss_kib / 1024
    );
    let sampler = Sampler::start(router.proc.pid(), Duration::from_millis(100));
    let before = authority.ledger().await?;
    authority.up().await?;
    let up_at = Instant::now();
    let mut last = (up_at, before.delivered);
    let mut peak_rate: f64 = 0.0;
    // Done when the router holds nothing deliverable any more (dead letters stay), or on
    // timeout; the drain time ends with the last delivery, not with the last poll.
    let mut last_progress = up_at;
    let (ledger, depth_after, drained) = loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        // The router's depth first, then the authority's ledger: a message the router no
        // longer holds was answered 2xx by the authority, which records it before answering,
        // so a ledger read after an empty depth has it. (The other order counted a message
        // that completed between the two reads as not delivered.)
        let depth = router.depth().await?;
        let l = authority.ledger().await?;
        let now = Instant::now();
        if l.delivered > last.1 {
            last_progress = now;
        }
        let r = (l.delivered - last.1.min(l.delivered)) as f64
            / now.duration_since(last.0).as_secs_f64().max(1e-3);
        peak_rate = peak_rate.max(r);
        last = (now, l.delivered);
        eprintln!(
            "[4-backlog-drain] {:>4.0}s delivered {} outstanding {} ({r:.0}/s) | router queue {} delivering {} dead {} | router RSS {} MiB",
            up_at.elapsed().as_secs_f64(),
            l.delivered,
            l.outstanding,
            depth.queued,
            depth.delivering,
            depth.dead,
            router.rss().map_or(0, |r| r.rss_kib / 1024)
        );
        if l.outstanding == 0 || depth.queued + depth.delivering == 0 {
            break (l, depth, true);
        }
        // A drain that made no progress for a minute is stuck (see `circuits_open`).
        if up_at.elapsed() > o.drain_timeout.max(Duration::from_secs(600))
            || now.duration_since(last_progress) > Duration::from_secs(60)
        {
            break (l, depth, false);
        }
    };
    let circuits_open = metric_sum(
        &router.metrics().await.unwrap_or_default(),
        "xoev_router_delivery_circuit_open",
    ) as u64;
    let drain_s = last_progress.duration_since(up_at).as_secs_f64();
    let drain_peak = router
        .rss()
        .map_or(0, |r| r.hwm_kib)
        .max(sampler.max_rss_kib());
    drop(sampler);
    let mut router = router;
    router.stop()?;
    let _ = authority.proc.stop("INT", Duration::from_secs(10));
    let delivered = ledger.delivered - before.delivered.min(ledger.delivered);
    Ok(Backlog {
        messages: o.backlog,
        fill,
        depth_after_fill,
        fill_peak_rss_kib: fill_peak,
        rss_after_fill_kib: rss_after_fill.rss_kib,
        stop_s,
        startup_s: router.startup.as_secs_f64(),
        restart_rss_kib: restart_rss.rss_kib,
        drain_s,
        drain_per_s: delivered as f64 / drain_s.max(1e-3),
        drain_peak_per_s: peak_rate,
        drained,
        dead_letters: depth_after.dead,
        left_queued: depth_after.queued + depth_after.delivering,
        circuits_open,
        drain_peak_rss_kib: drain_peak,
        ledger,
        load_before,
        load_after: loadavg(),
    })
}
