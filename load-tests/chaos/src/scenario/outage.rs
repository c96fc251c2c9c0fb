//! Proof 2: an authority outage under load. Authority A goes down while messages for A and
//! B keep coming. A's queue must grow while the router's memory stays bounded, B must keep
//! receiving throughout, and after A is back its whole backlog must arrive, first attempts in
//! acceptance order (A is configured with `concurrency = 1` so order is defined).

use std::path::Path;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::{finish, settle_and_stop, verify_deliveries};
use crate::ChaosError;
use crate::checks::{arrivals, check_order, first_arrivals};
use crate::client::Http;
use crate::corpus::spawn_producer;
use crate::proc_status;
use crate::report::Report;
use crate::world::{World, depth_of, two_lanes};

const A: usize = 0;
const B: usize = 1;

/// Knobs of the outage test (`xoev-chaos outage --help`).
#[derive(Debug, Clone)]
pub struct OutageOptions {
    pub warmup: Duration,
    pub outage: Duration,
    pub after: Duration,
    pub rate: u32,
    pub concurrency: usize,
    pub max_rss_kib: u64,
    pub drain_timeout: Duration,
}

impl Default for OutageOptions {
    fn default() -> Self {
        OutageOptions {
            warmup: Duration::from_secs(3),
            outage: Duration::from_secs(12),
            after: Duration::from_secs(4),
            rate: 200,
            concurrency: 8,
            max_rss_kib: 300 * 1024,
            drain_timeout: Duration::from_secs(180),
        }
    }
}

/// One sample taken while the scenario runs.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: SystemTime,
    rss_kib: u64,
    depth_a: u64,
}

/// Samples the router's memory and A's queue depth every 250 ms until stopped.
struct Sampler {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Vec<Sample>>,
}

impl Sampler {
    fn start(pid: u32, http: Http, queues_url: String) -> Sampler {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                // Stamped before the request: a 202 that arrived before it was for a message
                // the depth already counts (the store applies its counters before the
                // enqueue returns). Stamped after the answer, a 202 arriving while the
                // request was under way counted as accepted but not yet as queued.
                let at = SystemTime::now();
                let rss_kib = proc_status::memory(pid).map_or(0, |m| m.rss_kib);
                let depth_a = match http.get(&queues_url, Duration::from_secs(5)).await {
                    Ok(r) => depth_of(&r.json(), "authority-a"),
                    Err(_) => 0,
                };
                out.push(Sample {
                    at,
                    rss_kib,
                    depth_a,
                });
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                    _ = stopped.changed() => return out,
                }
            }
        });
        Sampler { stop, task }
    }

    async fn finish(self) -> Vec<Sample> {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}

/// Sleeps `d`, failing early if the router died.
async fn run_for(world: &mut World, d: Duration) -> Result<(), ChaosError> {
    let end = tokio::time::Instant::now() + d;
    while tokio::time::Instant::now() < end {
        world.router.check_alive()?;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

pub async fn run(binary: &Path, o: &OutageOptions) -> Result<Report, ChaosError> {
    let mut report = Report::new("outage");
    let mut world = World::new(binary, &two_lanes(Some(1))).await?;
    let result = body(&mut world, o, &mut report).await;
    finish(&mut world, &mut report, result)
}

async fn body(world: &mut World, o: &OutageOptions, report: &mut Report) -> Result<(), ChaosError> {
    report.fact("work directory", world.path().display());
    let (corpus, _producer) =
        spawn_producer(world.signer.clone(), world.lanes.clone(), vec![A, B], 4096);
    world.router.spawn()?;
    world.router.wait_ready(Duration::from_secs(30)).await?;
    let rss_start = world.router.memory().map_or(0, |m| m.rss_kib);
    let load = world.start_load(o.concurrency, o.rate, corpus);
    let shared = load.shared().clone();
    let sampler = Sampler::start(
        world.router.pid().unwrap_or(0),
        world.http.clone(),
        world.router.admin_url("/admin/queues"),
    );
    let started = SystemTime::now();
    run_for(world, o.warmup).await?;
    let a = world
        .authorities
        .get_mut(A)
        .ok_or_else(|| ChaosError::Protocol("no authority A".into()))?;
    a.stop().await;
    let outage_start = SystemTime::now();
    run_for(world, o.outage).await?;
    let outage_end = SystemTime::now();
    let a = world
        .authorities
        .get_mut(A)
        .ok_or_else(|| ChaosError::Protocol("no authority A".into()))?;
    a.restart().await.map_err(|source| ChaosError::Mock {
        name: "authority-a".into(),
        source,
    })?;
    run_for(world, o.after).await?;
    let stopped = load.stop().await;
    report.fact(
        "outage of authority-a",
        format!("{} s under {} msg/s", o.outage.as_secs(), o.rate),
    );

    let ledger = verify_deliveries(world, &stopped, o.drain_timeout, report).await;
    let samples = sampler.finish().await;
    let during: Vec<Sample> = samples
        .iter()
        .filter(|s| s.at >= outage_start && s.at <= outage_end)
        .copied()
        .collect();
    report.fact(
        "router RSS MiB / authority-a depth over time (s since the load started)",
        series(&samples, started),
    );
    report.fact("sends without an answer (resent)", shared.ledger().in_doubt);

    // A's queue grew by what was accepted for it while it was down.
    if let Some(last) = during.last() {
        let acked_for_a = ledger
            .accepted_on(A)
            .iter()
            .filter(|x| x.acked >= outage_start && x.acked <= last.at)
            .count() as u64;
        let max_depth = during.iter().map(|s| s.depth_a).max().unwrap_or(0);
        report.fact(
            "authority-a queue depth at the end of the outage",
            format!(
                "{} (accepted for it during the outage: {acked_for_a})",
                last.depth_a
            ),
        );
        report.fact("authority-a queue depth, largest sample", max_depth);
        report.require(
            acked_for_a > 0,
            "nothing was accepted for authority-a during its outage: the test proves little",
        );
        report.require(
            last.depth_a >= acked_for_a,
            format!(
                "authority-a's queue ({}) is smaller than what was accepted for it while it was down ({acked_for_a})",
                last.depth_a
            ),
        );
    } else {
        report.finding("no sample was taken during the outage");
    }

    // B kept flowing: everything accepted for B during the outage (but its last 2 s) arrived
    // before the outage ended.
    let b_log = arrivals(&world.authorities[B].inbox);
    let b_during = b_log
        .iter()
        .filter(|x| x.at >= outage_start && x.at < outage_end)
        .count();
    report.fact("authority-b deliveries during the outage", b_during);
    report.require(
        b_during > 0,
        "authority-b received nothing during authority-a's outage",
    );
    let cutoff = outage_end - Duration::from_secs(2).min(o.outage / 2);
    let b_first = first_arrivals(&b_log);
    let late: Vec<_> = ledger
        .accepted_on(B)
        .into_iter()
        .filter(|x| x.acked >= outage_start && x.acked < cutoff)
        .filter(|x| {
            b_first
                .get(x.id.to_string().as_str())
                .is_none_or(|at| *at >= outage_end)
        })
        .map(|x| x.id)
        .collect();
    report.require(
        late.is_empty(),
        format!(
            "{} message(s) for authority-b accepted during the outage arrived only after it, e.g. {:?}",
            late.len(),
            late.first()
        ),
    );

    // A's backlog drained, first attempts in acceptance order.
    let a_log = arrivals(&world.authorities[A].inbox);
    let order = check_order(&ledger.accepted_on(A), &a_log);
    report.fact(
        "authority-a order check",
        format!(
            "{} first attempts compared, {} retries/redeliveries left out",
            order.checked, order.skipped
        ),
    );
    for v in order.violations.iter().take(3) {
        report.finding(format!(
            "authority-a: {} was acknowledged before {} was sent, but arrived after it",
            v.acked_first, v.overtaken_by
        ));
    }
    report.require(
        order.violations.len() <= 3,
        format!("{} order violations in total", order.violations.len()),
    );
    let a_first = first_arrivals(&a_log);
    let backlog_drained = ledger
        .accepted_on(A)
        .iter()
        .filter(|x| x.acked < outage_end)
        .filter_map(|x| a_first.get(x.id.to_string().as_str()).copied())
        .max();
    if let Some(t) = backlog_drained.and_then(|t| t.duration_since(outage_end).ok()) {
        report.fact(
            "authority-a backlog fully arrived after its return",
            format!("{:.1} s", t.as_secs_f64()),
        );
    }

    // Memory stayed bounded.
    let rss_max = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let hwm = world.router.memory().map_or(0, |m| m.hwm_kib);
    report.fact(
        "router RSS: at start / largest sample / peak (VmHWM)",
        format!(
            "{} / {} / {} MiB",
            rss_start / 1024,
            rss_max / 1024,
            hwm / 1024
        ),
    );
    report.require(
        hwm <= o.max_rss_kib,
        format!(
            "router peak RSS {} MiB exceeds {} MiB",
            hwm / 1024,
            o.max_rss_kib / 1024
        ),
    );

    settle_and_stop(world, &ledger, report).await
}

/// About a dozen evenly spaced samples as `t s: rss MiB/depth`.
fn series(samples: &[Sample], started: SystemTime) -> String {
    let step = (samples.len() / 12).max(1);
    samples
        .iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0 || *i + 1 == samples.len())
        .map(|(_, s)| {
            let t = s.at.duration_since(started).map_or(0, |d| d.as_secs());
            format!("{t}s: {}/{}", s.rss_kib / 1024, s.depth_a)
        })
        .collect::<Vec<_>>()
        .join(", ")
}
