//! One-message-at-a-time submission with exact expectations, for the back-pressure scenarios.

use std::time::{Duration, SystemTime};

use crate::client::Reply;
use crate::corpus::Msg;
use crate::ledger::{Ledger, Outcome, classify};
use crate::report::Report;
use crate::world::World;

/// POSTs `msg` once; records a `202` in `ledger`. Returns the outcome and the raw reply.
pub async fn submit(world: &World, ledger: &mut Ledger, msg: &mut Msg) -> (Outcome, Option<Reply>) {
    msg.first_sent.get_or_insert_with(SystemTime::now);
    msg.sends += 1;
    let answer = world
        .http
        .post_xml(
            &world.router.url("/v1/messages"),
            msg.bytes.clone(),
            Duration::from_secs(15),
        )
        .await;
    let reply = answer.as_ref().ok().cloned();
    let outcome = classify(msg, answer);
    if let Outcome::Accepted { duplicate } = outcome {
        ledger.accept(msg, duplicate, SystemTime::now());
    }
    (outcome, reply)
}

/// Checks that `reply` is the RFC 9457 problem `503 <kind>` with a usable `Retry-After`.
pub fn require_503(report: &mut Report, what: &str, reply: Option<&Reply>, kind: &str) -> bool {
    let Some(r) = reply else {
        report.finding(format!("{what}: no answer at all, want 503 {kind}"));
        return false;
    };
    let json = r.json();
    let problems = [
        (r.status == 503, format!("status {}", r.status)),
        (
            r.header("content-type") == "application/problem+json",
            format!("content-type '{}'", r.header("content-type")),
        ),
        (json["type"] == kind, format!("type {}", json["type"])),
        (
            r.header("retry-after").parse::<u64>().is_ok_and(|s| s > 0),
            format!("Retry-After '{}'", r.header("retry-after")),
        ),
    ];
    let wrong: Vec<&str> = problems
        .iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, d)| d.as_str())
        .collect();
    report.require(
        wrong.is_empty(),
        format!(
            "{what}: want 503 {kind} with Retry-After, got {}",
            wrong.join(", ")
        ),
    );
    wrong.is_empty()
}

/// Signs `n` new messages for `lane`.
pub fn make(world: &World, lane: usize, n: usize) -> Result<Vec<Msg>, crate::ChaosError> {
    (0..n)
        .map(|_| world.signer.make(lane, &world.lanes))
        .collect()
}

/// Submits each message once and requires a fresh `202` (not a duplicate) for each.
pub async fn require_accepted(
    world: &World,
    ledger: &mut Ledger,
    msgs: &mut [Msg],
    what: &str,
    report: &mut Report,
) {
    let mut wrong = Vec::new();
    for m in msgs.iter_mut() {
        let (outcome, reply) = submit(world, ledger, m).await;
        if outcome != (Outcome::Accepted { duplicate: false }) {
            wrong.push(format!(
                "{}: {:?} {}",
                m.id,
                outcome,
                reply
                    .map(|r| String::from_utf8_lossy(&r.body)
                        .chars()
                        .take(160)
                        .collect::<String>())
                    .unwrap_or_default()
            ));
        }
    }
    report.require(
        wrong.is_empty(),
        format!(
            "{what}: {} of {} not accepted as new, e.g. {}",
            wrong.len(),
            msgs.len(),
            wrong.first().map_or("", String::as_str)
        ),
    );
}

/// Requires `GET /v1/messages/{id}` to be 404 for every message: nothing was stored.
pub async fn require_unknown(
    world: &World,
    msgs: &[Msg],
    what: &str,
    report: &mut Report,
) -> Result<(), crate::ChaosError> {
    let mut known = Vec::new();
    for m in msgs {
        let (status, v) = world.status(&m.id).await?;
        if status != 404 || v["type"] != "not-found" {
            known.push(format!("{}: {status} {}", m.id, v["state"]));
        }
    }
    report.require(
        known.is_empty(),
        format!(
            "{what}: the status API knows {} refused message(s), e.g. {}",
            known.len(),
            known.first().map_or("", String::as_str)
        ),
    );
    Ok(())
}

/// Requires that none of `msgs` arrived at any authority before `before`.
pub fn require_not_delivered_before(
    world: &World,
    msgs: &[Msg],
    before: SystemTime,
    what: &str,
    report: &mut Report,
) {
    let mut early = Vec::new();
    for m in msgs {
        let id = m.id.to_string();
        for a in &world.authorities {
            if a.inbox.get(&id).is_some_and(|r| r.at < before) {
                early.push(id.clone());
            }
        }
    }
    report.require(
        early.is_empty(),
        format!(
            "{what}: {} refused message(s) were delivered anyway, e.g. {}",
            early.len(),
            early.first().map_or("", String::as_str)
        ),
    );
}
