//! The verdicts: what arrived at an authority against what the router acknowledged.
//!
//! Pure functions over the ledger and the mock authority's log, so each check is unit-tested
//! with hand-made data that must make it fail.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use uuid::Uuid;
use xoev_mock_authority::Inbox;

use crate::corpus::sha256;
use crate::ledger::Acceptance;

/// One delivery as the authority saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// The `xoev-nachrichten-uuid` header.
    pub id: String,
    /// SHA-256 of the body that arrived.
    pub digest: [u8; 32],
    /// The `xoev-attempt` header (1 = first attempt).
    pub attempt: Option<u32>,
    pub at: SystemTime,
}

/// The authority's deliveries in arrival order (duplicates included).
pub fn arrivals(inbox: &Inbox) -> Vec<Arrival> {
    let keeps = inbox.keeps_bodies();
    inbox
        .log()
        .into_iter()
        .map(|r| {
            let digest = if keeps {
                sha256(&r.body)
            } else {
                // The inbox stored the body's SHA-256 instead of the body.
                <[u8; 32]>::try_from(r.body.as_ref()).unwrap_or([0; 32])
            };
            Arrival {
                attempt: r
                    .headers
                    .get("xoev-attempt")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok()),
                id: r.id,
                digest,
                at: r.at,
            }
        })
        .collect()
}

/// The first arrival time of each id.
pub fn first_arrivals(log: &[Arrival]) -> HashMap<&str, SystemTime> {
    let mut out = HashMap::new();
    for a in log {
        out.entry(a.id.as_str()).or_insert(a.at);
    }
    out
}

/// Delivery verdict for one destination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaneCheck {
    pub destination: String,
    /// Messages acknowledged with `202` for this destination.
    pub accepted: usize,
    /// Of those, how many arrived (at least once).
    pub delivered: usize,
    /// Acknowledged and never arrived.
    pub lost: Vec<Uuid>,
    /// Arrived with bytes other than the acknowledged ones (any copy).
    pub corrupted: Vec<String>,
    /// Arrived but never acknowledged for this destination.
    pub unexpected: Vec<String>,
    /// Arrivals in total.
    pub deliveries: usize,
    /// Arrivals beyond the first per id (at-least-once redeliveries).
    pub duplicates: usize,
    /// The most copies of one message.
    pub max_copies: usize,
}

impl LaneCheck {
    /// One line per violated guarantee; empty when the destination got exactly what it should.
    pub fn findings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let d = &self.destination;
        if !self.lost.is_empty() {
            out.push(format!(
                "{d}: {} acknowledged message(s) never delivered, e.g. {}",
                self.lost.len(),
                sample(&self.lost)
            ));
        }
        if !self.corrupted.is_empty() {
            out.push(format!(
                "{d}: {} message(s) delivered with other bytes than acknowledged, e.g. {}",
                self.corrupted.len(),
                sample(&self.corrupted)
            ));
        }
        if !self.unexpected.is_empty() {
            out.push(format!(
                "{d}: {} delivered message(s) were never acknowledged for this destination, e.g. {}",
                self.unexpected.len(),
                sample(&self.unexpected)
            ));
        }
        out
    }
}

fn sample<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .take(3)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Compares a destination's arrivals with the messages acknowledged for it.
pub fn check_lane(destination: &str, accepted: &[&Acceptance], log: &[Arrival]) -> LaneCheck {
    let expected: HashMap<String, &Acceptance> =
        accepted.iter().map(|a| (a.id.to_string(), *a)).collect();
    let mut copies: HashMap<&str, usize> = HashMap::new();
    let mut corrupted = Vec::new();
    let mut unexpected = Vec::new();
    let mut seen_bad: HashSet<&str> = HashSet::new();
    for a in log {
        *copies.entry(a.id.as_str()).or_default() += 1;
        match expected.get(&a.id) {
            Some(acc) if acc.digest != a.digest => {
                if seen_bad.insert(a.id.as_str()) {
                    corrupted.push(a.id.clone());
                }
            }
            Some(_) => {}
            None => {
                if seen_bad.insert(a.id.as_str()) {
                    unexpected.push(a.id.clone());
                }
            }
        }
    }
    let lost: Vec<Uuid> = accepted
        .iter()
        .filter(|a| !copies.contains_key(a.id.to_string().as_str()))
        .map(|a| a.id)
        .collect();
    LaneCheck {
        destination: destination.to_owned(),
        accepted: accepted.len(),
        delivered: accepted.len() - lost.len(),
        lost,
        corrupted,
        unexpected,
        deliveries: log.len(),
        duplicates: log.len() - copies.len(),
        max_copies: copies.values().copied().max().unwrap_or(0),
    }
}

/// A pair delivered against acceptance order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderViolation {
    /// Acknowledged before `overtaken_by` was even sent …
    pub acked_first: Uuid,
    /// … yet this one arrived first.
    pub overtaken_by: Uuid,
}

/// Result of the order check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderCheck {
    /// First attempts compared.
    pub checked: usize,
    /// Arrivals left out: retries (`xoev-attempt` > 1), redeliveries, unknown ids.
    pub skipped: usize,
    pub violations: Vec<OrderViolation>,
}

/// Checks that first attempts arrive in acceptance order, allowing for concurrency: only a
/// message whose `202` came before another was first sent is known to have been accepted
/// first (two requests in flight together may be stored in either order). So a violation is
/// X arriving after Y although X's `202` arrived before Y was first sent.
pub fn check_order(accepted: &[&Acceptance], log: &[Arrival]) -> OrderCheck {
    let by_id: HashMap<String, &Acceptance> =
        accepted.iter().map(|a| (a.id.to_string(), *a)).collect();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut out = OrderCheck::default();
    // The arrival so far with the latest first send.
    let mut latest: Option<&Acceptance> = None;
    for a in log {
        let first_arrival = seen.insert(a.id.as_str());
        let acc = match by_id.get(&a.id) {
            Some(acc) if first_arrival && a.attempt == Some(1) => *acc,
            _ => {
                out.skipped += 1;
                continue;
            }
        };
        out.checked += 1;
        if let Some(y) = latest
            && acc.acked < y.first_sent
        {
            out.violations.push(OrderViolation {
                acked_first: acc.id,
                overtaken_by: y.id,
            });
        }
        if latest.is_none_or(|y| acc.first_sent > y.first_sent) {
            latest = Some(acc);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
    }

    fn acc(first_sent: u64, acked: u64, digest: u8) -> Acceptance {
        Acceptance {
            id: Uuid::new_v4(),
            lane: 0,
            digest: [digest; 32],
            size: 100,
            first_sent: t(first_sent),
            acked: t(acked),
            duplicate_answer: false,
            sends: 1,
        }
    }

    fn arr(a: &Acceptance, attempt: u32, at: u64) -> Arrival {
        Arrival {
            id: a.id.to_string(),
            digest: a.digest,
            attempt: Some(attempt),
            at: t(at),
        }
    }

    #[test]
    fn every_acknowledged_message_delivered_once_has_no_findings() {
        let (a, b) = (acc(0, 1, 1), acc(0, 2, 2));
        let c = check_lane("a", &[&a, &b], &[arr(&a, 1, 5), arr(&b, 1, 6)]);
        assert_eq!(c.findings(), Vec::<String>::new());
        assert_eq!((c.accepted, c.delivered, c.duplicates), (2, 2, 0));
    }

    #[test]
    fn an_acknowledged_message_that_never_arrived_is_reported_lost() {
        let (a, b) = (acc(0, 1, 1), acc(0, 2, 2));
        let c = check_lane("a", &[&a, &b], &[arr(&a, 1, 5)]);
        assert_eq!(c.lost, vec![b.id]);
        assert_eq!(
            c.findings(),
            vec![format!(
                "a: 1 acknowledged message(s) never delivered, e.g. {}",
                b.id
            )]
        );
    }

    #[test]
    fn a_copy_with_other_bytes_is_reported_corrupted_even_after_a_good_first_copy() {
        let a = acc(0, 1, 1);
        let mut bad = arr(&a, 2, 9);
        bad.digest = [9; 32];
        let c = check_lane("a", &[&a], &[arr(&a, 1, 5), bad]);
        assert_eq!(c.corrupted, vec![a.id.to_string()]);
        assert_eq!(c.duplicates, 1);
    }

    #[test]
    fn a_delivery_nobody_acknowledged_is_reported_unexpected() {
        let a = acc(0, 1, 1);
        let stranger = acc(0, 1, 3);
        let c = check_lane("a", &[&a], &[arr(&a, 1, 5), arr(&stranger, 1, 6)]);
        assert_eq!(c.unexpected, vec![stranger.id.to_string()]);
    }

    #[test]
    fn redeliveries_are_counted_as_duplicates_not_findings() {
        let a = acc(0, 1, 1);
        let c = check_lane("a", &[&a], &[arr(&a, 1, 5), arr(&a, 2, 6), arr(&a, 3, 7)]);
        assert!(c.findings().is_empty());
        assert_eq!((c.duplicates, c.max_copies), (2, 3));
    }

    #[test]
    fn arrival_in_acknowledgement_order_has_no_violation() {
        let (x, y, z) = (acc(0, 10, 1), acc(11, 20, 2), acc(21, 30, 3));
        let o = check_order(
            &[&x, &y, &z],
            &[arr(&x, 1, 40), arr(&y, 1, 41), arr(&z, 1, 42)],
        );
        assert_eq!((o.checked, o.violations.len()), (3, 0));
    }

    #[test]
    fn a_message_acknowledged_before_another_was_sent_must_not_be_overtaken() {
        let (x, y) = (acc(0, 10, 1), acc(11, 20, 2));
        let o = check_order(&[&x, &y], &[arr(&y, 1, 40), arr(&x, 1, 41)]);
        assert_eq!(
            o.violations,
            vec![OrderViolation {
                acked_first: x.id,
                overtaken_by: y.id
            }]
        );
    }

    #[test]
    fn messages_in_flight_together_may_arrive_in_either_order() {
        // y was sent before x's 202 arrived: the router may have stored y first.
        let (x, y) = (acc(0, 10, 1), acc(5, 12, 2));
        let o = check_order(&[&x, &y], &[arr(&y, 1, 40), arr(&x, 1, 41)]);
        assert_eq!((o.checked, o.violations.len()), (2, 0));
    }

    #[test]
    fn retries_are_left_out_of_the_order_check() {
        let (x, y) = (acc(0, 10, 1), acc(11, 20, 2));
        let o = check_order(&[&x, &y], &[arr(&y, 1, 40), arr(&x, 2, 41)]);
        assert_eq!((o.checked, o.skipped, o.violations.len()), (1, 1, 0));
    }
}
