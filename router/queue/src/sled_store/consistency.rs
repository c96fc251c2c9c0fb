//! A full scan that checks invariants 2, 3, 4 and 13 (docs/queue.md §2).

use std::collections::{BTreeMap, HashSet};

use uuid::Uuid;

use super::Inner;
use super::depth::DepthDelta;
use super::record::{PayloadRef, decode_payload_ref, decode_record};
use super::tx::{
    Entry, Index, PINNED, decode_counters, decode_segment_count, fetch_payload, index_entries,
    storage,
};
use crate::api::{Depth, State, StoreError};

/// What [`SledStore::check_consistency`](super::SledStore::check_consistency) found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsistencyReport {
    /// Records scanned.
    pub records: u64,
    /// Payloads scanned.
    pub payloads: u64,
    /// Index entries scanned.
    pub index_entries: u64,
    /// Segment live counts above the pointers found: each is a `payloads` value that was
    /// moved to quarantine, whose segment file is kept (docs/queue.md §16). Not a violation.
    /// Segments pinned because their count did not parse are not included.
    pub quarantined_segment_pointers: u64,
    /// One line per violated invariant; empty when the store is consistent.
    pub problems: Vec<String>,
}

fn add(d: &mut Depth, delta: DepthDelta) {
    d.queued = d.queued.saturating_add_signed(delta.queued);
    d.delivering = d.delivering.saturating_add_signed(delta.delivering);
    d.dead = d.dead.saturating_add_signed(delta.dead);
    d.pending_bytes = d.pending_bytes.saturating_add_signed(delta.pending_bytes);
}

impl Inner {
    pub(crate) fn check_consistency(&self) -> Result<ConsistencyReport, StoreError> {
        let mut report = ConsistencyReport::default();
        let mut expected: HashSet<Entry> = HashSet::new();
        let mut depths: BTreeMap<String, Depth> = BTreeMap::new();
        let mut ids = HashSet::new();
        for item in self.trees.records.iter() {
            let (k, v) = item.map_err(storage)?;
            report.records += 1;
            let Some(id) = <[u8; 16]>::try_from(k.as_ref()).ok().map(Uuid::from_bytes) else {
                report
                    .problems
                    .push(format!("record key of {} bytes", k.len()));
                continue;
            };
            let s = match decode_record(id, &v) {
                Ok(s) => s,
                Err(e) => {
                    report.problems.push(format!("record {id}: {e}"));
                    continue;
                }
            };
            ids.insert(id);
            expected.extend(index_entries(&s));
            add(
                depths.entry(s.rec.destination.clone()).or_default(),
                DepthDelta::of(s.rec.state, s.rec.size),
            );
            let needs_payload = !matches!(s.rec.state, State::Delivered | State::Forwarded);
            if needs_payload && !s.rec.payload_present {
                report
                    .problems
                    .push(format!("record {id} is {:?} without payload", s.rec.state));
            }
            let payload = self.trees.payloads.get(id.as_bytes()).map_err(storage)?;
            match (s.rec.payload_present, payload) {
                (true, None) => report.problems.push(format!("payload of {id} is missing")),
                (false, Some(_)) => report
                    .problems
                    .push(format!("payload of {id} is present after it was purged")),
                (true, Some(p)) => {
                    let len = match decode_payload_ref(&p) {
                        Ok(r) => fetch_payload(&self.spill, &self.segments, id, r)
                            .map(|b| b.len() as u64)
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    match len {
                        Ok(n) if n == s.rec.size => {}
                        Ok(n) => report.problems.push(format!(
                            "payload of {id} has {n} bytes, record says {}",
                            s.rec.size
                        )),
                        Err(e) => report.problems.push(format!("payload of {id}: {e}")),
                    }
                }
                (false, None) => {}
            }
        }
        let mut pointers: BTreeMap<u64, u64> = BTreeMap::new();
        for item in self.trees.payloads.iter() {
            let (k, v) = item.map_err(storage)?;
            report.payloads += 1;
            if let Ok(PayloadRef::Segment { seg, .. }) = decode_payload_ref(&v) {
                *pointers.entry(seg).or_default() += 1;
            }
            let known = <[u8; 16]>::try_from(k.as_ref())
                .map(|b| ids.contains(&Uuid::from_bytes(b)))
                .unwrap_or(false);
            if !known {
                report.problems.push("payload without record".to_string());
            }
        }
        for index in Index::ALL {
            for item in self.trees.index(index).iter() {
                let (k, v) = item.map_err(storage)?;
                report.index_entries += 1;
                if !expected.remove(&(index, k.to_vec(), v.to_vec())) {
                    report
                        .problems
                        .push(format!("unexpected entry in {}", index.name()));
                }
            }
        }
        for (index, _, _) in expected {
            report
                .problems
                .push(format!("missing entry in {}", index.name()));
        }
        let mut counted_segments = BTreeMap::new();
        for item in self.trees.segments.iter() {
            let (k, v) = item.map_err(storage)?;
            match (
                <[u8; 8]>::try_from(k.as_ref()).map(u64::from_be_bytes),
                decode_segment_count(&v),
            ) {
                (Ok(seg), Some(n)) => {
                    counted_segments.insert(seg, n);
                    if !self.segments.exists(seg) {
                        report.problems.push(format!(
                            "segment {seg:016x} is counted but its file is gone"
                        ));
                    }
                }
                _ => report
                    .problems
                    .push("segments entry does not parse".to_string()),
            }
        }
        // A count below its pointers could remove a file still needed: a violation. A count
        // above them only keeps a file longer.
        for seg in counted_segments.keys().chain(pointers.keys()) {
            let (n, found) = (
                counted_segments.get(seg).copied().unwrap_or(0),
                pointers.get(seg).copied().unwrap_or(0),
            );
            if n < found {
                report.problems.push(format!(
                    "segment {seg:016x} counts {n} live payloads, {found} point into it"
                ));
            }
        }
        report.quarantined_segment_pointers = counted_segments
            .iter()
            .filter(|(_, n)| **n < PINNED / 2)
            .map(|(seg, n)| n.saturating_sub(pointers.get(seg).copied().unwrap_or(0)))
            .fold(0u64, u64::saturating_add);
        depths.retain(|_, d| *d != Depth::default());
        let mut persisted = BTreeMap::new();
        for item in self.trees.counters.iter() {
            let (k, v) = item.map_err(storage)?;
            match (std::str::from_utf8(&k), decode_counters(&v)) {
                (Ok(dest), Some(d)) => {
                    persisted.insert(dest.to_owned(), d);
                }
                _ => report
                    .problems
                    .push("counters entry does not parse".to_string()),
            }
        }
        if persisted != depths {
            report.problems.push(format!(
                "counters tree {persisted:?} differs from the records {depths:?}"
            ));
        }
        let counted = self.depths.snapshot();
        if counted != depths {
            report.problems.push(format!(
                "depth counters {counted:?} differ from the records {depths:?}"
            ));
        }
        Ok(report)
    }
}
