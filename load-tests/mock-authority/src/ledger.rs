//! The end-to-end ledger: what the router accepted (announced by the load generator) against
//! what the authority received.
//!
//! The load generator announces every message the router answered 202 for: its UUID, the
//! SHA-256 of the bytes it sent, and when the 202 arrived. The authority records every
//! delivery. Whichever of the two comes first, the ledger joins them per UUID, so it can say:
//! how many accepted messages arrived (and how many are still outstanding), whether each
//! arrived byte-identical, how often it arrived (duplicates), and how long it took from
//! acceptance to delivery.
//!
//! Invariants: one entry per UUID; `delivered <= deliveries`; a latency sample is recorded
//! exactly once per UUID, when both the announcement and the first delivery are known;
//! a delivery before its announcement counts as latency 0 and in `delivered_before_ack`.

use std::collections::HashMap;

use serde_json::json;
use uuid::Uuid;

use crate::histogram::Histogram;

/// SHA-256 of a message body.
pub type Digest = [u8; 32];

#[derive(Default)]
struct Entry {
    /// Digest the generator sent, when announced.
    sent: Option<Digest>,
    /// When the generator saw the 202 (Unix nanoseconds), when announced.
    accepted_ns: Option<u64>,
    /// Digest of the first delivery.
    first: Option<Digest>,
    /// When the first delivery arrived (Unix nanoseconds).
    first_ns: Option<u64>,
    /// Deliveries of this UUID (duplicates included).
    deliveries: u32,
    /// Some delivery differed from the sent bytes or from the first delivery.
    mismatch: bool,
}

/// Counters and the end-to-end latency histogram; see the module docs.
#[derive(Default)]
pub struct Ledger {
    entries: HashMap<Uuid, Entry>,
    announced: u64,
    delivered: u64,
    deliveries: u64,
    delivered_bytes: u64,
    mismatched: Vec<Uuid>,
    delivered_before_ack: u64,
    /// UUIDs both announced and delivered.
    joined: u64,
    latency: Histogram,
}

/// A snapshot of the ledger's counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerCounts {
    /// UUIDs announced as accepted.
    pub announced: u64,
    /// Distinct UUIDs delivered.
    pub delivered: u64,
    /// Deliveries in total (duplicates included).
    pub deliveries: u64,
    /// Deliveries beyond the first per UUID.
    pub duplicates: u64,
    /// Announced but not (yet) delivered.
    pub outstanding: u64,
    /// Delivered but never announced (transient while announcements are in flight).
    pub unannounced: u64,
    /// UUIDs delivered with bytes other than those sent (or than their first delivery).
    pub mismatched: u64,
    /// First deliveries that arrived before the generator saw the 202.
    pub delivered_before_ack: u64,
    /// Body bytes of all deliveries.
    pub delivered_bytes: u64,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// The generator reports that `id` with body digest `sent` was accepted at `accepted_ns`.
    /// A repeated announcement of the same UUID is ignored unless its digest differs, which
    /// marks the UUID as mismatched.
    pub fn announce(&mut self, id: Uuid, sent: Digest, accepted_ns: u64) {
        let e = self.entries.entry(id).or_default();
        if let Some(previous) = e.sent {
            if previous != sent && !e.mismatch {
                e.mismatch = true;
                self.mismatched.push(id);
            }
            return;
        }
        e.sent = Some(sent);
        e.accepted_ns = Some(accepted_ns);
        self.announced += 1;
        if e.first.is_some_and(|f| f != sent) && !e.mismatch {
            e.mismatch = true;
            self.mismatched.push(id);
        }
        if let Some(first_ns) = e.first_ns {
            self.joined += 1;
            record_latency(
                &mut self.latency,
                &mut self.delivered_before_ack,
                accepted_ns,
                first_ns,
            );
        }
    }

    /// The authority received `id` with body digest `got` (`len` bytes) at `at_ns`.
    pub fn deliver(&mut self, id: Uuid, got: Digest, len: u64, at_ns: u64) {
        self.deliveries += 1;
        self.delivered_bytes += len;
        let e = self.entries.entry(id).or_default();
        e.deliveries = e.deliveries.saturating_add(1);
        let differs = match (e.first, e.sent) {
            (Some(first), _) => first != got,
            (None, Some(sent)) => sent != got,
            (None, None) => false,
        };
        if differs && !e.mismatch {
            e.mismatch = true;
            self.mismatched.push(id);
        }
        if e.first.is_none() {
            e.first = Some(got);
            e.first_ns = Some(at_ns);
            self.delivered += 1;
            if let Some(accepted_ns) = e.accepted_ns {
                self.joined += 1;
                record_latency(
                    &mut self.latency,
                    &mut self.delivered_before_ack,
                    accepted_ns,
                    at_ns,
                );
            }
        }
    }

    /// Current counters.
    pub fn counts(&self) -> LedgerCounts {
        let delivered_announced = self.joined;
        LedgerCounts {
            announced: self.announced,
            delivered: self.delivered,
            deliveries: self.deliveries,
            duplicates: self.deliveries - self.delivered,
            outstanding: self.announced - delivered_announced,
            unannounced: self.delivered - delivered_announced,
            mismatched: self.mismatched.len() as u64,
            delivered_before_ack: self.delivered_before_ack,
            delivered_bytes: self.delivered_bytes,
        }
    }

    /// UUIDs whose deliveries were not byte-identical.
    pub fn mismatched(&self) -> &[Uuid] {
        &self.mismatched
    }

    /// How often `id` was delivered.
    pub fn deliveries_of(&self, id: &Uuid) -> u32 {
        self.entries.get(id).map_or(0, |e| e.deliveries)
    }

    /// Accepted → first delivery, in microseconds.
    pub fn latency(&self) -> &Histogram {
        &self.latency
    }

    /// Counters and latency quantiles as JSON (the `/stats` document's `ledger` member).
    pub fn to_json(&self) -> serde_json::Value {
        let c = self.counts();
        let ms = |q: f64| self.latency.quantile(q) as f64 / 1000.0;
        json!({
            "announced": c.announced,
            "delivered": c.delivered,
            "deliveries": c.deliveries,
            "duplicates": c.duplicates,
            "outstanding": c.outstanding,
            "unannounced": c.unannounced,
            "mismatched": c.mismatched,
            "delivered_before_ack": c.delivered_before_ack,
            "delivered_bytes": c.delivered_bytes,
            "e2e_latency_ms": {
                "count": self.latency.count(),
                "p50": ms(0.5),
                "p90": ms(0.9),
                "p99": ms(0.99),
                "p999": ms(0.999),
                "max": self.latency.max() as f64 / 1000.0,
            },
        })
    }
}

fn record_latency(h: &mut Histogram, early: &mut u64, accepted_ns: u64, delivered_ns: u64) {
    match delivered_ns.checked_sub(accepted_ns) {
        Some(d) => h.record(d / 1000),
        None => {
            *early += 1;
            h.record(0);
        }
    }
}

/// Parses one announcement line: `<uuid> <sha256 hex> <accepted unix ns>`.
pub fn parse_announcement(line: &str) -> Option<(Uuid, Digest, u64)> {
    let mut parts = line.split_ascii_whitespace();
    let id = Uuid::parse_str(parts.next()?).ok()?;
    let digest = parse_hex32(parts.next()?)?;
    let at = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some((id, digest, at))
}

/// Formats one announcement line (without the newline).
pub fn format_announcement(id: &Uuid, digest: &Digest, accepted_ns: u64) -> String {
    let mut s = String::with_capacity(36 + 1 + 64 + 1 + 20);
    s.push_str(&id.hyphenated().to_string());
    s.push(' ');
    for b in digest {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s.push(' ');
    s.push_str(&accepted_ns.to_string());
    s
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn parse_hex32(s: &str) -> Option<Digest> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        let hi = hex_val(*pair.first()?)?;
        let lo = hex_val(*pair.get(1)?)?;
        *o = hi << 4 | lo;
    }
    Some(out)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> Uuid {
        Uuid::from_bytes([n; 16])
    }

    #[test]
    fn announced_then_delivered_is_counted_once_with_its_latency() {
        let mut l = Ledger::new();
        l.announce(id(1), [7; 32], 1_000_000);
        l.deliver(id(1), [7; 32], 4096, 3_500_000);
        let c = l.counts();
        assert_eq!((c.announced, c.delivered, c.outstanding), (1, 1, 0));
        assert_eq!((c.duplicates, c.mismatched, c.unannounced), (0, 0, 0));
        assert_eq!(c.delivered_bytes, 4096);
        assert_eq!(l.latency().count(), 1);
        assert_eq!(l.latency().max(), 2500);
    }

    #[test]
    fn delivery_before_announcement_joins_later_with_zero_latency() {
        let mut l = Ledger::new();
        l.deliver(id(2), [1; 32], 10, 5_000);
        assert_eq!(l.counts().unannounced, 1);
        l.announce(id(2), [1; 32], 9_000);
        let c = l.counts();
        assert_eq!(
            (c.unannounced, c.outstanding, c.delivered_before_ack),
            (0, 0, 1)
        );
        assert_eq!(l.latency().count(), 1);
        assert_eq!(l.latency().max(), 0);
    }

    #[test]
    fn delivery_with_other_bytes_than_sent_is_a_mismatch() {
        let mut l = Ledger::new();
        l.announce(id(3), [1; 32], 0);
        l.deliver(id(3), [2; 32], 10, 1);
        assert_eq!(l.counts().mismatched, 1);
        assert_eq!(l.mismatched(), &[id(3)]);
    }

    #[test]
    fn mismatch_is_detected_when_the_announcement_comes_second() {
        let mut l = Ledger::new();
        l.deliver(id(4), [2; 32], 10, 1);
        l.announce(id(4), [1; 32], 0);
        assert_eq!(l.counts().mismatched, 1);
    }

    #[test]
    fn redelivery_counts_as_duplicate_and_different_redelivery_as_mismatch() {
        let mut l = Ledger::new();
        l.announce(id(5), [1; 32], 0);
        l.deliver(id(5), [1; 32], 10, 1);
        l.deliver(id(5), [1; 32], 10, 2);
        let c = l.counts();
        assert_eq!(
            (c.delivered, c.deliveries, c.duplicates, c.mismatched),
            (1, 2, 1, 0)
        );
        l.deliver(id(5), [9; 32], 10, 3);
        assert_eq!(l.counts().mismatched, 1);
        assert_eq!(l.deliveries_of(&id(5)), 3);
        assert_eq!(
            l.latency().count(),
            1,
            "latency only for the first delivery"
        );
    }

    #[test]
    fn undelivered_announcements_stay_outstanding() {
        let mut l = Ledger::new();
        l.announce(id(6), [1; 32], 0);
        l.announce(id(7), [1; 32], 0);
        l.deliver(id(6), [1; 32], 10, 1);
        assert_eq!(l.counts().outstanding, 1);
    }

    #[test]
    fn announcement_line_round_trips() {
        let line = format_announcement(&id(8), &[0xab; 32], 1_763_000_000_123_456_789);
        assert_eq!(
            parse_announcement(&line),
            Some((id(8), [0xab; 32], 1_763_000_000_123_456_789))
        );
    }

    #[test]
    fn malformed_announcement_lines_are_refused() {
        assert_eq!(parse_announcement(""), None);
        assert_eq!(parse_announcement("not-a-uuid 00 1"), None);
        let good = format_announcement(&id(9), &[0; 32], 5);
        assert_eq!(parse_announcement(&format!("{good} extra")), None);
        assert_eq!(parse_announcement(&good.replace(" 5", " x")), None);
        let bad_hex = format!("{} {} 5", id(9).hyphenated(), "g".repeat(64));
        assert_eq!(parse_announcement(&bad_hex), None);
        let short_hex = format!("{} {} 5", id(9).hyphenated(), "a".repeat(62));
        assert_eq!(parse_announcement(&short_hex), None);
    }
}
