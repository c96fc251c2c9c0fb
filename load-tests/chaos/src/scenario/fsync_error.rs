//! Proof 6: a failing `fsync` under load (docs/queue.md §5.6). The data directory is the
//! power-cut disk (`crate::powercut`); after 2 s of load every `fsync` starts failing with
//! `EIO` and a file whose sync failed loses its unsynced writes, as on Linux after a failed
//! writeback. The store must stop acknowledging at once and say so: `503
//! storage-unavailable` for every new message, `/readyz` 503, `xoev_router_queue_failed 1`.
//! Then the operator's remedy: restart on a healthy disk (what was not synced is gone). Every
//! `202` must be delivered, and the refused messages are accepted when sent again.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use super::{closing_checks, finish, verify_deliveries};
use crate::ChaosError;
use crate::corpus::{check_producer, spawn_producer};
use crate::powercut::PowerCutDisk;
use crate::report::Report;
use crate::world::{World, two_lanes};

const RATE: u32 = 200;
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs the fsync-error test with the router binary at `binary`. Needs root and `/dev/fuse`.
pub async fn run(binary: &Path) -> Result<Report, ChaosError> {
    let mut report = Report::new("fsync-error");
    let mut world = World::new(binary, &two_lanes(None)).await?;
    let mut disk = None;
    let result = body(&mut world, &mut disk, &mut report).await;
    // A scenario that ended early left the router running on the disk: stop it first.
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
    d.fail_fsyncs();
    // After the switch: an fsync already running when it was asked for may still succeed.
    let broken_at = SystemTime::now();
    let accepted_before = shared.ledger().len();
    report.fact("accepted before fsync failed", accepted_before);

    // The router must notice within one idle flush interval (500 ms) plus a margin.
    let not_ready = wait_not_ready(world, Duration::from_secs(5)).await;
    match &not_ready {
        Some((after, body)) => {
            report.fact(
                "/readyz 503 after the first failed fsync",
                format!("{} ms: {}", after.as_millis(), body.trim()),
            );
            report.require(
                body.contains("queue failed"),
                format!("/readyz 503 does not name the failed queue: {body}"),
            );
        }
        None => report.finding("/readyz still answered 200 five seconds after fsync began to fail"),
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let metrics = world.metrics().await;
    report.require(
        metrics.lines().any(|l| l == "xoev_router_queue_failed 1"),
        "metric xoev_router_queue_failed is not 1 while the queue refuses everything",
    );
    let refused_storage = {
        let l = shared.ledger();
        l.back_pressure
            .get("storage-unavailable")
            .copied()
            .unwrap_or(0)
    };
    report.fact(
        "503 storage-unavailable while fsync failed",
        refused_storage,
    );
    report.require(
        refused_storage > 0,
        "no message was refused with 503 storage-unavailable while fsync failed",
    );
    let failed_syncs = d.stats().fsyncs_failed;
    report.fact("fsyncs failed with EIO", failed_syncs);

    // The operator restarts the router; the disk is healthy again, what was not synced is gone.
    // It must stop, and say why with a non-zero exit: its queue could not be closed cleanly.
    stop_with_failed_queue(world, "SIGTERM with a failed queue", report).await;
    let restarted_at = SystemTime::now();
    remount(world, disk)?;
    world.router.spawn()?;
    let ready = world.router.wait_ready(READY_TIMEOUT).await?;
    report.fact(
        "ready after the restart",
        format!("{} ms", ready.as_millis()),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stopped = load.stop().await;
    check_producer(producer)?;
    let ledger = verify_deliveries(world, &stopped, Duration::from_secs(60), report).await;
    // Nothing first sent after the disk broke can have been made durable before the restart.
    let early: Vec<_> = ledger
        .accepted()
        .iter()
        .filter(|a| a.first_sent > broken_at && a.acked < restarted_at)
        .map(|a| a.id)
        .collect();
    report.require(
        early.is_empty(),
        format!(
            "{} message(s) first sent after fsync began to fail got a 202 before the restart, e.g. {:?}",
            early.len(),
            early.first()
        ),
    );
    let sample: Vec<_> = ledger.accepted().iter().map(|a| a.id).collect();
    closing_checks(world, &ledger, &sample, report).await?;
    idle_disk_breaks(world, disk, report).await
}

/// The disk breaks while the router is idle: no write fails, so only the router's own syncs
/// can notice. A stop right after the break must fail in the store's final sync (exit 2),
/// not panic in sled's drop; left running, the idle probe must turn `/readyz` to 503.
async fn idle_disk_breaks(
    world: &mut World,
    disk: &mut Option<PowerCutDisk>,
    report: &mut Report,
) -> Result<(), ChaosError> {
    for wait_for_probe in [false, true] {
        remount(world, disk)?;
        world.router.spawn()?;
        world.router.wait_ready(READY_TIMEOUT).await?;
        let Some(d) = disk.as_ref() else {
            return Err(ChaosError::Protocol("harness bug: no disk mounted".into()));
        };
        d.fail_fsyncs();
        if wait_for_probe {
            // The idle probe runs every 5 s, plus one idle flush interval and a margin.
            match wait_not_ready(world, Duration::from_secs(8)).await {
                Some((after, _)) => report.fact(
                    "idle: /readyz 503 after the disk broke",
                    format!("{} ms", after.as_millis()),
                ),
                None => report.finding(
                    "idle: /readyz still answered 200 eight seconds after fsync began to fail",
                ),
            }
        }
        let label = if wait_for_probe {
            "idle: SIGTERM after /readyz turned 503"
        } else {
            "idle: SIGTERM right after the disk broke"
        };
        stop_with_failed_queue(world, label, report).await;
    }
    Ok(())
}

/// `/readyz` 503 within `limit`: when, and the body.
pub(super) async fn wait_not_ready(world: &World, limit: Duration) -> Option<(Duration, String)> {
    let started = Instant::now();
    let readyz = world.router.admin_url("/readyz");
    while started.elapsed() < limit {
        if let Ok(r) = world.http.get(&readyz, Duration::from_secs(2)).await
            && r.status == 503
        {
            return Some((
                started.elapsed(),
                String::from_utf8_lossy(&r.body).into_owned(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// SIGTERM to a router whose disk no longer syncs: exit 2 with a one-line cause, no panic.
async fn stop_with_failed_queue(world: &mut World, label: &str, report: &mut Report) {
    // The log is appended to across restarts: look only at what this stop wrote.
    let before = world.router.log_len();
    let stop = world.router.terminate(Duration::from_secs(30)).await;
    let log = world.router.log_since(before);
    let last_line = log.lines().last().unwrap_or_default().to_owned();
    match stop {
        Err(ChaosError::Stop(status)) if status.contains("exit status: 2") => {
            report.fact(label, format!("{status}; last line: {last_line}"))
        }
        Ok(_) => report.finding(format!("{label}: exited 0, as if all was well")),
        Err(e) => report.finding(format!("{label}: {e}")),
    }
    super::report_panic(report, label, &log);
}

/// A healthy disk again (what was not synced is gone), mounted where the router expects it.
pub(super) fn remount(world: &World, disk: &mut Option<PowerCutDisk>) -> Result<(), ChaosError> {
    if let Some(d) = disk.take() {
        d.unmount()?;
    }
    *disk = Some(super::power_loss::mount(world)?);
    Ok(())
}
