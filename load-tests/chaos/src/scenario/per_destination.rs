//! The per-destination limit: with authority A down and `max_pending_bytes_per_destination`
//! set to room for exactly ten messages, the eleventh message for A is refused with
//! `503 overloaded` and `Retry-After` and stored nowhere, while B keeps accepting and
//! delivering. Once A is back and has drained, A accepts again.

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

/// How many messages the limit leaves room for.
const ROOM: usize = 10;

pub async fn run(binary: &Path) -> Result<Report, ChaosError> {
    let mut report = Report::new("destination-limit");
    let mut world = World::new(binary, &two_lanes(None)).await?;
    let result = body(&mut world, &mut report).await;
    finish(&mut world, &mut report, result)
}

async fn body(world: &mut World, report: &mut Report) -> Result<(), ChaosError> {
    report.fact("work directory", world.path().display());
    let timeout = Duration::from_secs(30);
    // Every generated message has the same size (fixed-length UUID, kennung and ECDSA
    // signature); the limit fits ROOM of them and half of another.
    let mut for_a = make(world, A, ROOM + 5)?;
    let size = for_a.first().map_or(0, |m| m.bytes.len());
    report.require(
        for_a.iter().all(|m| m.bytes.len() == size),
        "generated messages differ in size; the limit arithmetic below assumes they do not",
    );
    let limit = (ROOM * size + size / 2) as u64;
    let mut spec = world.spec.clone();
    spec.max_pending_per_destination = limit.to_string();
    let config = world.write_config("router-limit.toml", &spec)?;
    report.fact(
        "max_pending_bytes_per_destination",
        format!("{limit} bytes (room for {ROOM} messages of {size} bytes)"),
    );
    world.router.set_config(config);
    world.authorities[A].stop().await;
    world.router.spawn()?;
    world.router.wait_ready(timeout).await?;

    let mut ledger = Ledger::default();
    let (fit, over) = for_a.split_at_mut(ROOM);
    require_accepted(
        world,
        &mut ledger,
        fit,
        "messages for A within its limit",
        report,
    )
    .await;
    let mut refused_ok = 0;
    for m in over.iter_mut() {
        let (_, reply) = submit(world, &mut ledger, m).await;
        let what = format!("message {} beyond A's limit", m.id);
        refused_ok += usize::from(require_503(report, &what, reply.as_ref(), "overloaded"));
    }
    report.fact(
        "messages for A beyond the limit answered 503 overloaded with Retry-After",
        format!("{refused_ok} of {}", over.len()),
    );
    let over: Vec<_> = over.to_vec();
    require_unknown(world, &over, "A over its limit", report).await?;
    let q = world.queues().await?;
    let pending_a = q
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["destination"] == "authority-a")
        .and_then(|d| d["pending_bytes"].as_u64())
        .unwrap_or(0);
    report.fact("A pending bytes (admin API)", pending_a);
    report.require(
        pending_a == (ROOM * size) as u64,
        format!(
            "A's pending bytes are {pending_a}, want {} (the accepted messages only)",
            ROOM * size
        ),
    );

    // The other destination is not affected.
    let mut for_b = make(world, B, ROOM + 5)?;
    require_accepted(
        world,
        &mut ledger,
        &mut for_b,
        "messages for B while A is full",
        report,
    )
    .await;
    let b_only: Ledger = {
        let mut l = Ledger::default();
        for m in &for_b {
            l.accept(m, false, SystemTime::now());
        }
        l
    };
    let b_flows = world.wait_delivered(&b_only, Duration::from_secs(30)).await;
    report.require(b_flows, "B's messages were not delivered while A was full");

    // A is back: its backlog drains and it accepts again; the refused messages are new to it.
    world.authorities[A]
        .restart()
        .await
        .map_err(|source| ChaosError::Mock {
            name: "authority-a".into(),
            source,
        })?;
    let drained = world.wait_delivered(&ledger, Duration::from_secs(60)).await;
    report.require(drained, "A's backlog did not drain after it came back");
    let resumed_at = SystemTime::now();
    let mut over = over;
    // The limit is checked against the queue's counters, which settle right after delivery.
    let mut accepted_again = false;
    if let Some(first) = over.first_mut() {
        for _ in 0..50 {
            let (outcome, _) = submit(world, &mut ledger, first).await;
            if outcome == (Outcome::Accepted { duplicate: false }) {
                accepted_again = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    report.require(
        accepted_again,
        "A did not accept again after its backlog drained",
    );
    if let Some(rest) = over.get_mut(1..) {
        require_accepted(
            world,
            &mut ledger,
            rest,
            "the refused messages after A drained",
            report,
        )
        .await;
    }
    let all = world.wait_delivered(&ledger, Duration::from_secs(60)).await;
    report.require(all, "not every acknowledged message arrived");
    require_not_delivered_before(
        world,
        &over,
        resumed_at,
        "while A was over its limit",
        report,
    );
    check_lanes(world, &ledger, report);
    world.router.terminate(timeout).await?;
    Ok(())
}
