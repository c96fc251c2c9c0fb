//! The scenarios. Each one builds its world, breaks something, and returns a report whose
//! findings are the violated guarantees.

pub mod crash;
pub mod disk_full;
pub mod disk_full_tmpfs;
pub mod fsync_error;
pub mod fsync_hang;
pub mod outage;
pub mod per_destination;
pub mod power_loss;
pub mod probe;

use std::time::Duration;

use crate::ChaosError;
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
    let duplicates = check_lanes(world, &ledger, report);
    report.fact("duplicates in total", duplicates);
    ledger
}

/// Facts of a load phase with restarts: time to ready (median, max), its length, the sends.
pub fn load_facts(
    report: &mut Report,
    ready_times: &mut [Duration],
    started: std::time::Instant,
    shared: &crate::load::Shared,
) {
    ready_times.sort();
    let ms = |d: Option<&Duration>| d.map_or(0, Duration::as_millis);
    report.fact(
        "time to ready after start (median / max)",
        format!(
            "{} ms / {} ms",
            ms(ready_times.get(ready_times.len() / 2)),
            ms(ready_times.last())
        ),
    );
    report.fact(
        "load phase",
        format!("{:.1} s", started.elapsed().as_secs_f64()),
    );
    report.fact("sends", shared.sends());
}

/// The load was really flowing between the breaks (`what`: "kill", "cut"): at least one `202`
/// in most intervals, or the run proves little.
pub fn require_flowing(report: &mut Report, what: &str, accepted_between: &[usize]) {
    let flowing = accepted_between.iter().filter(|n| **n > 0).count();
    report.fact(
        &format!("{what} intervals with at least one 202"),
        format!("{flowing} of {}", accepted_between.len()),
    );
    report.require(
        flowing * 2 >= accepted_between.len(),
        format!("the load was not flowing in most {what} intervals: the test proves little"),
    );
}

/// Up to `n` accepted ids, chosen at random, for the status-API check of `closing_checks`.
pub fn sample_ids(ledger: &Ledger, rng: &mut impl rand::Rng, n: usize) -> Vec<uuid::Uuid> {
    use rand::seq::IndexedRandom;
    ledger
        .accepted()
        .choose_multiple(rng, n)
        .map(|a| a.id)
        .collect()
}

/// The router's own view must agree with what the authorities received (call it after
/// `verify_deliveries`): every sampled message `delivered` in the status API, no queue left,
/// no dead letter; then a graceful stop.
pub async fn closing_checks(
    world: &mut World,
    ledger: &Ledger,
    sample: &[uuid::Uuid],
    report: &mut Report,
) -> Result<(), ChaosError> {
    let mut not_delivered = Vec::new();
    // Every message arrived already: only a result still being recorded may need a moment.
    // A 404 (record lost) or a dead letter is final; one deadline bounds the whole sample.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    for id in sample {
        let (mut status, mut v) = world.status(id).await?;
        let pending = status == 200 && (v["state"] == "queued" || v["state"] == "delivering");
        if pending {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            (status, v) = world.wait_state(id, "delivered", left).await?;
        }
        if status != 200 || v["state"] != "delivered" {
            not_delivered.push(format!("{id}: {status} {}", v["state"]));
        }
    }
    report.fact(
        "status API says delivered",
        format!(
            "{} of {} sampled",
            sample.len() - not_delivered.len(),
            sample.len()
        ),
    );
    for n in not_delivered.iter().take(3) {
        report.finding(format!("status API disagrees with the authority: {n}"));
    }
    settle_and_stop(world, ledger, report).await
}

/// No queue left and no dead letter once everything arrived; then a graceful stop (exit 0).
pub async fn settle_and_stop(
    world: &mut World,
    ledger: &Ledger,
    report: &mut Report,
) -> Result<(), ChaosError> {
    let (queued, dead) = settle_queues(world).await?;
    report.require(dead == 0, format!("{dead} dead letter(s)"));
    if queued != 0 {
        explain_pending(world, ledger, queued, report).await?;
    }
    match world.router.terminate(Duration::from_secs(30)).await {
        Ok(t) => report.fact(
            "graceful stop (SIGTERM)",
            format!("{} ms, exit 0", t.as_millis()),
        ),
        Err(e) => report.finding(e.to_string()),
    }
    Ok(())
}

/// The delivery verdict of every destination into `report`; returns the redeliveries.
pub fn check_lanes(world: &World, ledger: &Ledger, report: &mut Report) -> usize {
    let mut duplicates = 0;
    for lane in 0..world.lanes.len() {
        let c = world.check_lane(ledger, lane);
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
    duplicates
}

/// Keeps the work directory (router log, data, config) when the scenario did not pass.
pub fn finish(
    world: &mut World,
    report: &mut Report,
    result: Result<(), ChaosError>,
) -> Result<Report, ChaosError> {
    if result.is_err() || !report.passed() {
        report.kept = Some(world.keep());
        eprintln!(
            "router log tail ({}):\n{}",
            world.router.log_path().display(),
            world.router.log_tail(30)
        );
    }
    result.map(|()| std::mem::take(report))
}

/// The queue counters say messages are pending although every one arrived: find out
/// whether a message is really stuck (its status is not `delivered`) or the counters are off.
pub async fn explain_pending(
    world: &World,
    ledger: &Ledger,
    pending: u64,
    report: &mut Report,
) -> Result<(), ChaosError> {
    let queues = world.queues().await?;
    let mut not_delivered = Vec::new();
    for a in ledger.accepted() {
        let (status, v) = world.status(&a.id).await?;
        if status != 200 || v["state"] != "delivered" {
            not_delivered.push(format!("{} is {status} {}", a.id, v["state"]));
        }
    }
    if not_delivered.is_empty() {
        report.finding(format!(
            "queue counters report {pending} pending message(s) 10 s after all {} arrived, yet the status API says every one is delivered (counter drift, see load-tests/chaos/README.md); /admin/queues: {queues}",
            ledger.len()
        ));
    } else {
        report.finding(format!(
            "{pending} message(s) still pending after they arrived: {}; /admin/queues: {queues}",
            not_delivered.join("; ")
        ));
    }
    Ok(())
}

/// Waits (up to 10 s) until no message is queued or delivering; returns (pending, dead).
pub async fn settle_queues(world: &World) -> Result<(u64, u64), ChaosError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let q = world.queues().await?;
        let sum = |k: &str| {
            q.as_array()
                .into_iter()
                .flatten()
                .map(|d| d[k].as_u64().unwrap_or(0))
                .sum::<u64>()
        };
        let pending = sum("queued") + sum("delivering");
        if pending == 0 || tokio::time::Instant::now() >= deadline {
            return Ok((pending, sum("dead")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A finding for the first panic in `log` (a router's log since some offset).
pub fn report_panic(report: &mut Report, label: &str, log: &str) {
    if let Some(at) = log.find("panicked") {
        let line = log[at..].lines().next().unwrap_or_default();
        report.finding(format!("{label}: the router panicked: {line}"));
    }
}
