//! The scenarios. Each one builds its world, breaks something, and returns a report whose
//! findings are the violated guarantees.

pub mod crash;
pub mod disk_full;
pub mod disk_full_tmpfs;
pub mod outage;
pub mod per_destination;
pub mod probe;

use std::time::Duration;

use crate::ledger::Ledger;
use crate::load::Stopped;
use crate::report::Report;
use crate::world::World;

/// Checks shared by every scenario after the load stopped: resend what is still in doubt,
/// no unexpected refusal, no double acknowledgement, every acknowledged message delivered
/// byte-identical to its own destination, nothing else delivered.
pub async fn verify_deliveries(
    world: &World,
    stopped: &Stopped,
    drain_timeout: Duration,
    report: &mut Report,
) -> Ledger {
    let unresolved = stopped.settle(Duration::from_secs(60)).await;
    report.require(
        unresolved == 0,
        format!("{unresolved} message(s) got no definite answer within 60 s of resending"),
    );
    // The generator is stopped and settled: the ledger no longer changes.
    let ledger = stopped.shared.ledger().clone();
    report.fact("accepted (202)", ledger.len());
    let started = std::time::Instant::now();
    let all = world.wait_delivered(&ledger, drain_timeout).await;
    report.fact(
        "time to deliver the rest after the load stopped",
        format!("{:.1} s", started.elapsed().as_secs_f64()),
    );
    report.require(
        all,
        format!(
            "not every acknowledged message arrived within {} s",
            drain_timeout.as_secs()
        ),
    );
    for r in ledger.refused.iter().take(3) {
        report.finding(format!(
            "a valid message was refused: {} {} {} ({})",
            r.id, r.status, r.kind, r.detail
        ));
    }
    report.require(
        ledger.refused.len() <= 3,
        format!(
            "{} valid messages were refused in total",
            ledger.refused.len()
        ),
    );
    report.require(
        ledger.double_acks.is_empty(),
        format!(
            "{} message(s) got a second 202 although the harness never resends an acknowledged one",
            ledger.double_acks.len()
        ),
    );
    let mut duplicates = 0;
    for lane in 0..world.lanes.len() {
        let c = world.check_lane(&ledger, lane);
        report.fact(
            &format!("{} accepted/delivered/deliveries", c.destination),
            format!("{}/{}/{}", c.accepted, c.delivered, c.deliveries),
        );
        report.fact(
            &format!("{} redeliveries (max copies of one message)", c.destination),
            format!("{} ({})", c.duplicates, c.max_copies),
        );
        duplicates += c.duplicates;
        for f in c.findings() {
            report.finding(f);
        }
    }
    report.fact("duplicates in total", duplicates);
    ledger
}
