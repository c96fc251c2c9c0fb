//! Proof 3: a full disk. The router is restarted with a free-disk floor far above what any
//! file system has (`[queue] min_free_disk`), which the router must treat exactly like a disk
//! that filled up: ingress answers `503 storage-unavailable` with `Retry-After`, stores
//! nothing (status 404, no delivery, and later the same message is accepted as *new*), and
//! messages accepted before keep being delivered. Restarted with the normal floor, service
//! resumes.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::probe::{
    make, require_503, require_accepted, require_not_delivered_before, require_unknown, submit,
};
use super::{check_lanes, finish};
use crate::ChaosError;
use crate::ledger::{Ledger, Outcome};
use crate::report::Report;
use crate::world::{World, two_lanes};

const A: usize = 0;
const B: usize = 1;

/// A floor no file system reaches: 2^60 bytes.
pub const IMPOSSIBLE_FLOOR: &str = "1048576TiB";

pub async fn run(binary: &Path) -> Result<Report, ChaosError> {
    let mut report = Report::new("disk-full");
    let mut world = World::new(binary, &two_lanes(None)).await?;
    let result = body(&mut world, &mut report).await;
    finish(&mut world, &mut report, result)
}

async fn body(world: &mut World, report: &mut Report) -> Result<(), ChaosError> {
    report.fact("work directory", world.path().display());
    let normal = world.write_config("router.toml", &world.spec)?;
    let mut full_spec = world.spec.clone();
    full_spec.min_free_disk = IMPOSSIBLE_FLOOR.into();
    let full = world.write_config("router-disk-full.toml", &full_spec)?;
    let mut ledger = Ledger::default();
    let timeout = Duration::from_secs(30);

    // 1. Normal service; B is down so its messages stay pending across the restarts.
    world.router.spawn()?;
    world.router.wait_ready(timeout).await?;
    world.authorities[B].stop().await;
    let mut before_a = make(world, A, 10)?;
    let mut before_b = make(world, B, 10)?;
    require_accepted(
        world,
        &mut ledger,
        &mut before_a,
        "before the disk filled (A)",
        report,
    )
    .await;
    require_accepted(
        world,
        &mut ledger,
        &mut before_b,
        "before the disk filled (B)",
        report,
    )
    .await;
    world.router.terminate(timeout).await?;

    // 2. The disk is "full".
    world.router.set_config(full);
    world.router.spawn()?;
    world.router.wait_ready(timeout).await?;
    report.fact("free-disk floor while full", IMPOSSIBLE_FLOOR);
    let mut refused = make(world, A, 10)?;
    refused.extend(make(world, B, 10)?);
    let mut answered_503 = 0;
    for m in refused.iter_mut() {
        let (_, reply) = submit(world, &mut ledger, m).await;
        let what = format!("new message {} while the disk is full", m.id);
        answered_503 += usize::from(require_503(
            report,
            &what,
            reply.as_ref(),
            "storage-unavailable",
        ));
    }
    report.fact(
        "new messages answered 503 storage-unavailable with Retry-After",
        format!("{answered_503} of {}", refused.len()),
    );
    require_unknown(world, &refused, "while the disk is full", report).await?;

    // A client retrying a message that was already acknowledged gets its original answer
    // (duplicates are recognised before the limits; docs/queue.md §9).
    let mut again = before_a
        .first()
        .cloned()
        .ok_or_else(|| ChaosError::Protocol("no message".into()))?;
    let mut scratch = Ledger::default();
    let (outcome, reply) = submit(world, &mut scratch, &mut again).await;
    report.require(
        outcome == (Outcome::Accepted { duplicate: true }),
        format!(
            "resubmitting an acknowledged message while the disk is full: want 202 duplicate, got {outcome:?} {}",
            reply.map(|r| String::from_utf8_lossy(&r.body).into_owned()).unwrap_or_default()
        ),
    );

    // Accepted messages still get delivered while ingress refuses.
    world.authorities[B]
        .restart()
        .await
        .map_err(|source| ChaosError::Mock {
            name: "authority-b".into(),
            source,
        })?;
    let all = world.wait_delivered(&ledger, Duration::from_secs(30)).await;
    report.require(
        all,
        "messages accepted before the disk filled were not all delivered while it was full",
    );
    report.fact(
        "accepted earlier, delivered while the disk was full",
        if all { "all" } else { "not all" },
    );
    world.router.terminate(timeout).await?;

    // 3. Space is back.
    world.router.set_config(normal);
    world.router.spawn()?;
    world.router.wait_ready(timeout).await?;
    let resumed_at = SystemTime::now();
    // `duplicate: false` proves the refused requests left nothing behind.
    require_accepted(
        world,
        &mut ledger,
        &mut refused,
        "resubmitting the refused messages after space returned",
        report,
    )
    .await;
    let mut after = make(world, A, 5)?;
    after.extend(make(world, B, 5)?);
    require_accepted(
        world,
        &mut ledger,
        &mut after,
        "new messages after space returned",
        report,
    )
    .await;
    let all = world.wait_delivered(&ledger, Duration::from_secs(60)).await;
    report.require(
        all,
        "not every acknowledged message arrived after space returned",
    );
    require_not_delivered_before(
        world,
        &refused,
        resumed_at,
        "while the disk was full",
        report,
    );
    check_lanes(world, &ledger, report);
    world.router.terminate(timeout).await?;
    Ok(())
}
