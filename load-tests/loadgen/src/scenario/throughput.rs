//! One throughput run (scenarios 1, 2, 3) against a fresh router and authority.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Options;
use super::machine::loadavg;
use super::monitor::{Cores, Tick, monitor, thread_cores, tick_at};
use crate::announce::Announcer;
use crate::client::Proto;
use crate::corpus::Corpus;
use crate::drive::{DriveOptions, drive};
use crate::error::LoadgenError;
use crate::procs::Proc;
use crate::report::RunReport;
use crate::rss::Sampler;
use crate::world::{Authority, Env, LedgerView, Router, RouterFiles, Stages};

/// Router-side observations of one throughput run.
#[derive(Clone, Debug, Serialize)]
pub struct Throughput {
    /// Scenario id and variant.
    pub name: String,
    /// The generator's report.
    pub run: RunReport,
    /// Start-up (spawn → ready) of this router.
    pub startup_s: f64,
    /// RSS after start, before load (KiB).
    pub idle_rss_kib: u64,
    /// Peak RSS (VmHWM) over the run and drain (KiB).
    pub peak_rss_kib: u64,
    /// Most router threads seen (sampled every 100 ms).
    pub peak_threads: u64,
    /// Distinct deliveries per second during the measuring window.
    pub delivered_per_s: f64,
    /// Queue depth (queued + delivering) at the start and the end of the window.
    pub depth_start: u64,
    /// See `depth_start`.
    pub depth_end: u64,
    /// Queue growth over the window (messages per second; ≤ 0 means delivery kept pace).
    pub depth_growth_per_s: f64,
    /// How the cores were shared during the window.
    pub cores: Cores,
    /// Router cores per thread group during the window.
    pub thread_cores: std::collections::BTreeMap<String, f64>,
    /// The router's own stage timings at the end of the run.
    pub stages: Stages,
    /// Accepted but not yet delivered when the generator stopped.
    pub outstanding_at_end: u64,
    /// Time from the generator's stop until everything was delivered.
    pub drain_s: f64,
    /// Everything was delivered within the drain timeout.
    pub drained: bool,
    /// The authority's ledger after the drain.
    pub ledger: LedgerView,
    /// Load average before and after.
    pub load_before: [f64; 3],
    /// See `load_before`.
    pub load_after: [f64; 3],
}

/// One throughput run against a fresh router and authority.
#[allow(clippy::too_many_arguments)]
pub(super) async fn throughput(
    env: &Env,
    o: &Options,
    name: &str,
    corpus: Arc<Corpus>,
    proto: Proto,
    rate: Option<f64>,
    duration: Duration,
    perf: bool,
) -> Result<Throughput, LoadgenError> {
    let load_before = loadavg();
    let dir = env.run_dir(name)?;
    let mut authority = Authority::start(env, &dir, false).await?;
    let files = RouterFiles::write(env, &dir, authority.inbox)?;
    let mut router = Router::start(env, &files, Duration::from_secs(120)).await?;
    let idle = router.rss().unwrap_or_default();
    let sampler = Sampler::start(router.proc.pid(), Duration::from_millis(100));
    let (connections, streams) = match proto {
        Proto::H1 => (o.connections, 1),
        Proto::H2 => (o.h2_connections, o.h2_streams),
    };
    let opts = DriveOptions {
        label: name.to_owned(),
        target: router.target(env, proto)?,
        proto,
        connections,
        streams,
        rate,
        warmup: o.warmup,
        duration,
        timeout: Duration::from_secs(60),
        limit: None,
        cycle: false,
        progress: true,
        authority_control: Some(authority.control),
        watch_pid: Some(router.proc.pid()),
    };
    let start = Instant::now();
    let (ticks_task, stop_ticks) = monitor(
        (authority.control, authority.proc.pid()),
        (files.admin, router.proc.pid()),
        start,
    );
    let perf_proc = if perf {
        Some(start_perf(&dir, router.proc.pid(), o.warmup, duration)?)
    } else {
        None
    };
    let (announcer, announce_task) = Announcer::start(authority.control);
    let run = drive(corpus, &opts, Some(announcer)).await?;
    announce_task.finish().await?;
    let _ = stop_ticks.send(());
    let ticks = ticks_task
        .await
        .map_err(|e| LoadgenError::Process(format!("monitor: {e}")))?;
    let at_end = authority.ledger().await?;
    let metrics = router.metrics().await.unwrap_or_default();
    let stages = Stages::from_metrics(&metrics);
    std::fs::write(dir.join("metrics.txt"), &metrics)
        .map_err(|e| LoadgenError::io(&dir.join("metrics.txt"), e))?;
    let (ledger, drain, drained) = authority.wait_drained(o.drain_timeout).await?;
    if let Some(mut p) = perf_proc {
        let _ = p.stop("INT", Duration::from_secs(30));
    }
    let peak = router
        .rss()
        .map_or(0, |r| r.hwm_kib)
        .max(sampler.max_rss_kib());
    let peak_threads = sampler.max_threads();
    drop(sampler);
    router.stop()?;
    let _ = authority.proc.stop("INT", Duration::from_secs(10));
    let (w0, w1) = (o.warmup.as_secs_f64(), (o.warmup + duration).as_secs_f64());
    let (a, b) = (tick_at(&ticks, w0), tick_at(&ticks, w1));
    let thread_cores = match (a, b) {
        (Some(a), Some(b)) if b.t > a.t => thread_cores(a, b, crate::cpu::ticks_per_second()),
        _ => Default::default(),
    };
    let (delivered_per_s, depth_start, depth_end, growth, cores) = match (a, b) {
        (Some(a), Some(b)) if b.t > a.t => {
            let span = b.t - a.t;
            let d = |t: &&Tick| t.depth.queued + t.depth.delivering;
            let c = |i: usize| (b.cpu[i] - a.cpu[i]).max(0.0) / span;
            (
                (b.delivered - a.delivered.min(b.delivered)) as f64 / span,
                d(&a),
                d(&b),
                (d(&b) as f64 - d(&a) as f64) / span,
                Cores {
                    router: c(0),
                    authority: c(1),
                    generator: c(2),
                },
            )
        }
        _ => (0.0, 0, 0, 0.0, Cores::default()),
    };
    std::fs::write(
        dir.join("ticks.json"),
        serde_json::to_vec_pretty(&ticks).unwrap_or_default(),
    )
    .map_err(|e| LoadgenError::io(&dir.join("ticks.json"), e))?;
    let t = Throughput {
        name: name.to_owned(),
        run,
        startup_s: router.startup.as_secs_f64(),
        idle_rss_kib: idle.rss_kib,
        peak_rss_kib: peak,
        peak_threads,
        delivered_per_s,
        depth_start,
        depth_end,
        depth_growth_per_s: growth,
        cores,
        thread_cores,
        stages,
        outstanding_at_end: at_end.outstanding,
        drain_s: drain.as_secs_f64(),
        drained,
        ledger,
        load_before,
        load_after: loadavg(),
    };
    eprintln!("{}", t.run.summary());
    eprintln!(
        "{name}: router threads up to {}; cores by thread group: {}",
        t.peak_threads,
        t.thread_cores
            .iter()
            .map(|(k, v)| format!("{k} {v:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    eprintln!(
        "{name}: router stages: dsig {:.0} µs, schema {:.0} µs per message; {:.0} flushes of {:.1} writes, {:.2} ms each; {:.2} transactions per message; request {:.2} ms; delivery attempt {:.2} ms",
        t.stages.dsig_mean_us,
        t.stages.schema_mean_us,
        t.stages.flushes,
        t.stages.writes_per_flush,
        t.stages.flush_mean_ms,
        t.stages.transactions_per_message,
        t.stages.ingress_mean_ms,
        t.stages.delivery_attempt_mean_ms
    );
    eprintln!(
        "{name}: cores used: router {:.2}, authority {:.2}, generator {:.2}; delivered {:.0}/s in the window, queue {}→{} ({:+.1}/s), outstanding at end {}, drained in {:.1} s ({}), e2e p50 {:.1} p99 {:.1} ms, dup {}, mismatched {}, RSS idle {} MiB peak {} MiB, load {:.1}→{:.1}",
        t.cores.router,
        t.cores.authority,
        t.cores.generator,
        t.delivered_per_s,
        t.depth_start,
        t.depth_end,
        t.depth_growth_per_s,
        t.outstanding_at_end,
        t.drain_s,
        if t.drained { "all" } else { "NOT all" },
        t.ledger.e2e_latency_ms.p50,
        t.ledger.e2e_latency_ms.p99,
        t.ledger.duplicates,
        t.ledger.mismatched,
        t.idle_rss_kib / 1024,
        t.peak_rss_kib / 1024,
        t.load_before[0],
        t.load_after[0],
    );
    Ok(t)
}

/// `perf record -g` on `pid` for the measuring window (starts after the warm-up).
fn start_perf(
    dir: &std::path::Path,
    pid: u32,
    warmup: Duration,
    duration: Duration,
) -> Result<Proc, LoadgenError> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!(
        "sleep {w}; exec perf record -F 399 --call-graph dwarf,16384 -p {pid} -o {out} -- sleep {d}",
        w = warmup.as_secs_f64(),
        d = duration.as_secs_f64(),
        out = dir.join("perf.data").display()
    ));
    Proc::spawn("perf", cmd, &dir.join("perf.log"))
}
