//! Proof 7: an `fsync` that hangs under load (docs/queue.md §5.7). The data directory is the
//! power-cut disk; after 2 s of load every `fsync` is held unanswered for longer than the
//! load generator waits for an answer, while reads and writes go on, as on a device that
//! stopped answering its flushes. Nothing fails, so the store does not fail either; the router
//! must still answer every request within `queue.sync_timeout` (`503 storage-unavailable`,
//! never a hanging request), report not ready, and show the stall in a metric. Once the syncs
//! answer again it must be ready and accept again without a restart. Then the syncs hang
//! again and the router gets SIGTERM: the stop must not wait for the
//! disk (exit 2 with a one-line cause). After a power cut (what was not synced is gone) and a
//! restart, every `202` of the whole run must be delivered, and the router stop gracefully.

use std::path::Path;
use std::time::{Duration, Instant};

use super::fsync_error::{remount, wait_not_ready};
use super::{closing_checks, finish, verify_deliveries};
use crate::ChaosError;
use crate::corpus::{check_producer, spawn_producer};
use crate::powercut::PowerCutDisk;
use crate::report::Report;
use crate::world::{World, two_lanes};

const RATE: u32 = 200;
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The router's `queue.sync_timeout` in this scenario.
const SYNC_TIMEOUT: Duration = Duration::from_secs(2);
/// Longer than the generator's 10 s request timeout: a request that waits for the disk
/// would end without an answer.
const HANG: Duration = Duration::from_secs(12);

/// Runs the fsync-hang test with the router binary at `binary`. Needs root and `/dev/fuse`.
pub async fn run(binary: &Path) -> Result<Report, ChaosError> {
    let mut report = Report::new("fsync-hang");
    let mut world = World::new(binary, &two_lanes(None)).await?;
    let mut disk = None;
    let result = body(&mut world, &mut disk, &mut report).await;
    // Answer any held sync first, or the router and the unmount would wait for it.
    if let Some(d) = disk.as_ref() {
        d.release_fsyncs();
    }
    let _ = world.router.kill();
    if let Some(d) = disk.take()
        && let Err(e) = PowerCutDisk::unmount(d)
    {
        report.finding(e.to_string());
    }
    finish(&mut world, &mut report, result)
}

async fn body(
    world: &mut World,
    disk: &mut Option<PowerCutDisk>,
    report: &mut Report,
) -> Result<(), ChaosError> {
    report.fact("work directory", world.path().display());
    world.spec.sync_timeout = Some(format!("{}ms", SYNC_TIMEOUT.as_millis()));
    let config = world.write_config("router-sync-timeout.toml", &world.spec)?;
    world.router.set_config(config);
    let (corpus, producer) =
        spawn_producer(world.signer.clone(), world.lanes.clone(), vec![0, 1], 4096);
    *disk = Some(super::power_loss::mount(world)?);
    world.router.spawn()?;
    world.router.wait_ready(READY_TIMEOUT).await?;
    let load = world.start_load(8, RATE, corpus);
    let shared = load.shared().clone();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let Some(d) = disk.as_ref() else {
        return Err(ChaosError::Protocol("harness bug: no disk mounted".into()));
    };
    let (accepted_before, in_doubt_before, storage_before) = snapshot(&shared);
    d.hang_fsyncs();
    let hung_at = Instant::now();
    report.fact("accepted before the syncs hung", accepted_before);

    match wait_not_ready(world, SYNC_TIMEOUT + Duration::from_secs(4)).await {
        Some((after, body)) => {
            report.fact(
                "/readyz 503 after the syncs began to hang",
                format!("{} ms: {}", after.as_millis(), body.trim()),
            );
            report.require(
                body.contains("not answering"),
                format!("/readyz 503 does not say the disk is not answering: {body}"),
            );
        }
        None => report.finding(format!(
            "/readyz still answered 200 {} s after every sync began to hang",
            (SYNC_TIMEOUT + Duration::from_secs(4)).as_secs()
        )),
    }
    let running = sync_running_seconds(world).await;
    report.fact(
        "xoev_router_queue_sync_running_seconds during the hang",
        running,
    );
    report.require(
        running >= SYNC_TIMEOUT.as_secs_f64(),
        format!("metric xoev_router_queue_sync_running_seconds is {running} while a sync hangs"),
    );
    tokio::time::sleep(HANG.saturating_sub(hung_at.elapsed())).await;

    let (accepted_hung, in_doubt_hung, storage_hung) = snapshot(&shared);
    report.fact(
        "during the hang: 503 storage-unavailable / sends without an answer",
        format!(
            "{} / {}",
            storage_hung - storage_before,
            in_doubt_hung - in_doubt_before
        ),
    );
    report.require(
        storage_hung > storage_before,
        "no message was refused with 503 storage-unavailable while every sync hung",
    );
    report.require(
        in_doubt_hung == in_doubt_before,
        format!(
            "{} send(s) got no answer within 10 s while the syncs hung: requests waited for the disk",
            in_doubt_hung - in_doubt_before
        ),
    );
    report.fact(
        "accepted while the syncs hung (flushed before the hang)",
        accepted_hung - accepted_before,
    );
    report.fact("syncs held", d.stats().fsyncs_held);

    d.release_fsyncs();
    let released_at = Instant::now();
    let ready = world.router.wait_ready(Duration::from_secs(10)).await;
    match ready {
        Ok(after) => report.fact(
            "ready again after the syncs answered",
            format!("{} ms", after.as_millis()),
        ),
        Err(e) => report.finding(format!("not ready again after the syncs answered: {e}")),
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (accepted_after, _, _) = snapshot(&shared);
    report.fact(
        "accepted in the 3 s after the syncs answered",
        accepted_after - accepted_hung,
    );
    report.require(
        accepted_after > accepted_hung,
        format!(
            "nothing accepted in the {} ms after the syncs answered again",
            released_at.elapsed().as_millis()
        ),
    );
    // The load goes on: one ledger for both phases, checked once at the end.
    stop_while_hung(world, disk, report).await?;
    let stopped = load.stop().await;
    check_producer(producer)?;
    let ledger = verify_deliveries(world, &stopped, Duration::from_secs(60), report).await;
    let sample: Vec<_> = ledger.accepted().iter().map(|a| a.id).collect();
    closing_checks(world, &ledger, &sample, report).await
}

/// SIGTERM while every sync hangs, under the running load: the stop must end by itself
/// (exit 2, one line), and nothing acknowledged may be lost even when the unsynced writes are
/// then gone (the caller checks every `202` after this).
async fn stop_while_hung(
    world: &mut World,
    disk: &mut Option<PowerCutDisk>,
    report: &mut Report,
) -> Result<(), ChaosError> {
    let Some(d) = disk.as_ref() else {
        return Err(ChaosError::Protocol("harness bug: no disk mounted".into()));
    };
    d.hang_fsyncs();
    if wait_not_ready(world, SYNC_TIMEOUT + Duration::from_secs(4))
        .await
        .is_none()
    {
        report.finding("stop while hung: /readyz still 200 after every sync began to hang");
    }
    // Bounded by the delivery grace (10 s) and the sync timeout, twice. The router decides to
    // stop without its final flush; the process can end only once the held sync is answered
    // (the thread waiting in it cannot be killed, as on a real disk), so the decision is read
    // from its log. Then the power is cut: the held syncs fail, and everything not synced is
    // gone, the worst case for leaving without the final flush.
    let before = world.router.log_len();
    let started = Instant::now();
    world.router.signal_term()?;
    let decided = wait_for_log(
        world,
        before,
        "did not close in time",
        Duration::from_secs(40),
    )
    .await;
    let took = started.elapsed();
    let lost = d.cut();
    report.fact(
        "stop while hung: the power cut dropped",
        format!(
            "{} change(s), {} byte(s), {} name change(s) undone",
            lost.changes_lost, lost.bytes_lost, lost.names_undone
        ),
    );
    let stop = world.router.wait_exit(Duration::from_secs(20)).await;
    let log = world.router.log_since(before);
    // After the cut the dying process may still log its failed writes: quote the cause.
    let cause = log
        .lines()
        .find(|l| l.contains("did not close in time"))
        .unwrap_or_default()
        .to_owned();
    match (decided, stop) {
        (true, Err(ChaosError::Stop(status))) if status.contains("exit status: 2") => {
            report.fact(
                "stop while hung: SIGTERM",
                format!(
                    "gave up the final flush after {} ms, {status}: {cause}",
                    took.as_millis()
                ),
            );
        }
        (false, stop) => report.finding(format!(
            "stop while hung: still waiting for the disk {} s after SIGTERM ({stop:?})",
            took.as_secs()
        )),
        (true, Ok(_)) => report.finding("stop while hung: exited 0, as if the queue had closed"),
        (true, Err(e)) => report.finding(format!("stop while hung: {e}")),
    }
    super::report_panic(report, "stop while hung", &log);
    remount(world, disk)?;
    world.router.spawn()?;
    world.router.wait_ready(READY_TIMEOUT).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(())
}

/// Whether the router's log, from byte `from` on, has a line containing `needle` within
/// `limit`.
async fn wait_for_log(world: &World, from: u64, needle: &str, limit: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if world.router.log_since(from).contains(needle) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Accepted, sent without an answer, refused as storage-unavailable: so far.
fn snapshot(shared: &crate::load::Shared) -> (usize, u64, u64) {
    let l = shared.ledger();
    (
        l.len(),
        l.in_doubt,
        l.back_pressure
            .get("storage-unavailable")
            .copied()
            .unwrap_or(0),
    )
}

async fn sync_running_seconds(world: &World) -> f64 {
    world
        .metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix("xoev_router_queue_sync_running_seconds "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}
