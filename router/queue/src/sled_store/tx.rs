//! The trees and the one transaction shape every state change goes through (invariant 5).
//!
//! `Tx::write(old, new)` derives all index entries from the records themselves, removes the
//! entries only `old` has and inserts the ones only `new` has, so invariant 4 holds by
//! construction. Depth deltas and corruption reports are collected in the transaction and
//! applied by the caller only after it committed (the closure may run more than once).

use std::cell::RefCell;
use std::collections::BTreeMap;

use bytes::Bytes;
use sled::transaction::{
    ConflictableTransactionError, TransactionError, Transactional, TransactionalTree,
};
use uuid::Uuid;

use super::depth::DepthDelta;
use super::keys;
use super::record::{PayloadRef, Stored, decode_payload_ref, decode_record, encode_record};
use super::segments::Segments;
use super::spill::Spill;
use crate::api::{Depth, State, StoreError};

/// `counters` value: queued, delivering, dead, pending_bytes as big-endian u64.
pub(crate) fn encode_counters(d: Depth) -> [u8; 32] {
    let mut v = [0u8; 32];
    for (chunk, n) in v
        .chunks_exact_mut(8)
        .zip([d.queued, d.delivering, d.dead, d.pending_bytes])
    {
        chunk.copy_from_slice(&n.to_be_bytes());
    }
    v
}

pub(crate) fn decode_counters(v: &[u8]) -> Option<Depth> {
    if v.len() != 32 {
        return None;
    }
    Some(Depth {
        queued: keys::u64_at(v, 0)?,
        delivering: keys::u64_at(v, 8)?,
        dead: keys::u64_at(v, 16)?,
        pending_bytes: keys::u64_at(v, 24)?,
    })
}

pub(crate) type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

/// The index trees (docs/queue.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Index {
    Pending,
    Ready,
    Scheduled,
    Leases,
    Dead,
    FinPayload,
    FinRecord,
}

impl Index {
    pub(crate) const ALL: [Index; 7] = [
        Index::Pending,
        Index::Ready,
        Index::Scheduled,
        Index::Leases,
        Index::Dead,
        Index::FinPayload,
        Index::FinRecord,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Index::Pending => "pending",
            Index::Ready => "ready",
            Index::Scheduled => "scheduled",
            Index::Leases => "leases",
            Index::Dead => "dead",
            Index::FinPayload => "fin_payload",
            Index::FinRecord => "fin_record",
        }
    }
}

/// One index entry: tree, key, value.
pub(crate) type Entry = (Index, Vec<u8>, Vec<u8>);

/// The index entries a record must have, and no others (invariant 4).
pub(crate) fn index_entries(s: &Stored) -> Vec<Entry> {
    let r = &s.rec;
    let dest = r.destination.as_str();
    let pending = (
        Index::Pending,
        keys::dest_seq(dest, r.seq),
        keys::id_size(r.id, r.size),
    );
    let id = r.id.as_bytes().to_vec();
    match r.state {
        State::Queued => {
            let place = match r.not_before {
                Some(nb) => (Index::Scheduled, keys::dest_time_seq(dest, nb.0, r.seq), id),
                None => (Index::Ready, keys::dest_seq(dest, r.seq), id),
            };
            vec![pending, place]
        }
        State::Delivering => {
            let exp = r.lease_expires_at.map(|t| t.0).unwrap_or(0);
            vec![
                pending,
                (
                    Index::Leases,
                    keys::time_seq(exp, r.seq),
                    keys::id_dest(r.id, dest),
                ),
            ]
        }
        State::Dead => vec![(Index::Dead, keys::seq_key(r.seq), keys::id_dest(r.id, dest))],
        State::Delivered | State::Forwarded => {
            let at = s.finished_at.unwrap_or(r.updated_at).0;
            let key = keys::time_seq(at, r.seq);
            let mut v = vec![(Index::FinRecord, key.clone(), id.clone())];
            if r.payload_present {
                v.push((Index::FinPayload, key, id));
            }
            v
        }
    }
}

/// A value that failed its check and was moved to `quarantine`.
#[derive(Debug, Clone)]
pub(crate) struct Corruption {
    pub(crate) tree: &'static str,
    pub(crate) key: Vec<u8>,
    pub(crate) reason: String,
}

/// Key of a quarantined value: `tree ‖ 0x00 ‖ key`.
pub(crate) fn quarantine_key(tree: &str, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(tree.len() + 1 + key.len());
    k.extend_from_slice(tree.as_bytes());
    k.push(0);
    k.extend_from_slice(key);
    k
}

/// All trees of one store.
pub(crate) struct Trees {
    pub(crate) db: sled::Db,
    pub(crate) records: sled::Tree,
    pub(crate) payloads: sled::Tree,
    pub(crate) pending: sled::Tree,
    pub(crate) ready: sled::Tree,
    pub(crate) scheduled: sled::Tree,
    pub(crate) leases: sled::Tree,
    pub(crate) dead: sled::Tree,
    pub(crate) fin_payload: sled::Tree,
    pub(crate) fin_record: sled::Tree,
    pub(crate) quarantine: sled::Tree,
    /// Persistent depth counters per destination, changed in the same transaction as the
    /// indexes (invariant 13), so open does not have to scan the queue.
    pub(crate) counters: sled::Tree,
    /// Live payload pointers per segment file (docs/queue.md §16), changed in the same
    /// transaction as the pointers.
    pub(crate) segments: sled::Tree,
    pub(crate) meta: sled::Tree,
}

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PayloadFault {
    /// Missing, short or not the bytes the pointer describes: quarantined when met.
    Damaged(String),
    /// The read itself failed (EIO, EMFILE, ...): maybe passing, so nothing is moved aside.
    Io(String),
}

impl std::fmt::Display for PayloadFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PayloadFault::Damaged(why) | PayloadFault::Io(why) => f.write_str(why),
        }
    }
}

/// The payload of `id` wherever `r` says it is, checked.
pub(crate) fn fetch_payload(
    spill: &Spill,
    segments: &Segments,
    id: Uuid,
    r: PayloadRef,
) -> Result<Bytes, PayloadFault> {
    match r {
        PayloadRef::Inline(p) => Ok(p),
        PayloadRef::Spilled { len, crc } => spill.read(id, len, crc).map_err(|e| match e {
            super::spill::SpillError::Io { .. } => PayloadFault::Io(e.to_string()),
            other => PayloadFault::Damaged(other.to_string()),
        }),
        PayloadRef::Segment {
            seg,
            offset,
            len,
            crc,
        } => segments
            .read(id, seg, offset, len, crc)
            .map_err(|e| match e {
                super::segments::SegmentError::Io { .. } => PayloadFault::Io(e.to_string()),
                other => PayloadFault::Damaged(other.to_string()),
            }),
    }
}

/// What reading a payload inside a transaction found.
#[derive(Debug)]
pub(crate) enum PayloadRead {
    Found(Bytes),
    /// Absent, or damaged and now quarantined.
    Lost,
    /// The read failed (I/O error): nothing was changed; try again later.
    Unreadable(String),
}

/// A live count that could not be read: the segment is kept for good (its pointers are
/// unknown). Far above any real count, so later decrements never reach zero.
pub(crate) const PINNED: u64 = 1 << 62;

/// `segments` tree key and value.
pub(crate) fn segment_key(seg: u64) -> [u8; 8] {
    seg.to_be_bytes()
}

pub(crate) fn decode_segment_count(v: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(v).ok().map(u64::from_be_bytes)
}

/// A transaction over all trees but `meta`.
pub(crate) struct Tx<'a> {
    records: &'a TransactionalTree,
    payloads: &'a TransactionalTree,
    pending: &'a TransactionalTree,
    ready: &'a TransactionalTree,
    scheduled: &'a TransactionalTree,
    leases: &'a TransactionalTree,
    dead: &'a TransactionalTree,
    fin_payload: &'a TransactionalTree,
    fin_record: &'a TransactionalTree,
    quarantine: &'a TransactionalTree,
    counters: &'a TransactionalTree,
    segment_counts: &'a TransactionalTree,
    spill: &'a Spill,
    segments: &'a Segments,
    /// Live-count changes per segment, applied at the end of the transaction.
    segment_deltas: RefCell<BTreeMap<u64, i64>>,
    deltas: RefCell<Vec<(String, DepthDelta)>>,
    corruptions: RefCell<Vec<Corruption>>,
    /// Spill files whose pointer this transaction removed; deleted after it committed.
    spill_removals: RefCell<Vec<Uuid>>,
}

/// What a committed transaction returns besides its result.
pub(crate) struct Committed<A> {
    pub(crate) value: A,
    pub(crate) deltas: Vec<(String, DepthDelta)>,
    pub(crate) corruptions: Vec<Corruption>,
    pub(crate) spill_removals: Vec<Uuid>,
    /// Segments whose live count this transaction took to zero.
    pub(crate) segments_zeroed: Vec<u64>,
}

pub(crate) fn storage(e: impl std::fmt::Display) -> StoreError {
    StoreError::Storage(e.to_string())
}

impl Trees {
    pub(crate) fn open(db: sled::Db) -> sled::Result<Self> {
        Ok(Trees {
            records: db.open_tree("records")?,
            payloads: db.open_tree("payloads")?,
            pending: db.open_tree("pending")?,
            ready: db.open_tree("ready")?,
            scheduled: db.open_tree("scheduled")?,
            leases: db.open_tree("leases")?,
            dead: db.open_tree("dead")?,
            fin_payload: db.open_tree("fin_payload")?,
            fin_record: db.open_tree("fin_record")?,
            quarantine: db.open_tree("quarantine")?,
            counters: db.open_tree("counters")?,
            segments: db.open_tree("segments")?,
            meta: db.open_tree("meta")?,
            db,
        })
    }

    pub(crate) fn index(&self, i: Index) -> &sled::Tree {
        match i {
            Index::Pending => &self.pending,
            Index::Ready => &self.ready,
            Index::Scheduled => &self.scheduled,
            Index::Leases => &self.leases,
            Index::Dead => &self.dead,
            Index::FinPayload => &self.fin_payload,
            Index::FinRecord => &self.fin_record,
        }
    }

    /// Runs `f` in one serialisable transaction over all trees.
    pub(crate) fn transact<A>(
        &self,
        spill: &Spill,
        segments: &Segments,
        f: impl Fn(&Tx<'_>) -> TxResult<A>,
    ) -> Result<Committed<A>, StoreError> {
        let trees = (
            &self.records,
            &self.payloads,
            &self.pending,
            &self.ready,
            &self.scheduled,
            &self.leases,
            &self.dead,
            &self.fin_payload,
            &self.fin_record,
            &self.quarantine,
            &self.counters,
            &self.segments,
        );
        let result = trees.transaction(|(r, p, pe, re, sc, le, de, fp, fr, q, c, sg)| {
            let tx = Tx {
                records: r,
                payloads: p,
                pending: pe,
                ready: re,
                scheduled: sc,
                leases: le,
                dead: de,
                fin_payload: fp,
                fin_record: fr,
                quarantine: q,
                counters: c,
                segment_counts: sg,
                spill,
                segments,
                segment_deltas: RefCell::default(),
                deltas: RefCell::default(),
                corruptions: RefCell::default(),
                spill_removals: RefCell::default(),
            };
            let value = f(&tx)?;
            tx.persist_counters()?;
            let segments_zeroed = tx.persist_segment_counts()?;
            Ok(Committed {
                segments_zeroed,
                value,
                deltas: tx.deltas.into_inner(),
                corruptions: tx.corruptions.into_inner(),
                spill_removals: tx.spill_removals.into_inner(),
            })
        });
        match result {
            Ok(c) => Ok(c),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(storage(e)),
        }
    }
}

impl Tx<'_> {
    /// Adds this transaction's depth deltas to the `counters` tree. A value that does not
    /// parse is quarantined and counting restarts from zero for that destination; open then
    /// notices the quarantined counter and rebuilds all counters from the indexes.
    fn persist_counters(&self) -> TxResult<()> {
        let mut by_dest: std::collections::BTreeMap<&str, DepthDelta> = Default::default();
        let deltas = self.deltas.borrow();
        for (dest, d) in deltas.iter() {
            let e = by_dest.entry(dest.as_str()).or_default();
            *e = e.plus(*d);
        }
        for (dest, delta) in by_dest {
            if delta.is_zero() || dest.is_empty() {
                continue;
            }
            let current = match self.counters.get(dest.as_bytes())? {
                None => Depth::default(),
                Some(raw) => match decode_counters(&raw) {
                    Some(d) => d,
                    None => {
                        self.quarantine(
                            "counters",
                            dest.as_bytes(),
                            &raw,
                            "counter value does not parse".into(),
                        )?;
                        Depth::default()
                    }
                },
            };
            let next = delta.applied_to(current);
            if next == Depth::default() {
                self.counters.remove(dest.as_bytes())?;
            } else {
                self.counters
                    .insert(dest.as_bytes(), encode_counters(next).as_slice())?;
            }
        }
        Ok(())
    }

    /// Adds this transaction's live-count changes to the `segments` tree. Returns the
    /// segments that went to zero (entry removed). A count that does not parse is
    /// quarantined and the segment pinned (`PINNED`): which pointers it had is unknown.
    fn persist_segment_counts(&self) -> TxResult<Vec<u64>> {
        let mut zeroed = Vec::new();
        for (&seg, &delta) in self.segment_deltas.borrow().iter() {
            if delta == 0 {
                continue;
            }
            let key = segment_key(seg);
            let current = match self.segment_counts.get(key)? {
                None => 0,
                Some(v) => match decode_segment_count(&v) {
                    Some(n) => n,
                    None => {
                        self.quarantine(
                            "segments",
                            &key,
                            &v,
                            "segment count does not parse".into(),
                        )?;
                        PINNED
                    }
                },
            };
            let next = current.saturating_add_signed(delta);
            if next == 0 {
                self.segment_counts.remove(&key)?;
                zeroed.push(seg);
            } else {
                self.segment_counts.insert(&key, &next.to_be_bytes())?;
            }
        }
        Ok(zeroed)
    }

    /// Removes one quarantined value for good: an operator has looked at it (docs/queue.md
    /// §7). A quarantined segment pointer kept its segment counted as evidence; forgetting
    /// it gives that count back, so the segment can be removed once nothing else points into
    /// it. A pointer that no longer decodes names no segment it could give back, and a
    /// spilled payload's file goes at the next open (the open removes spill files nothing
    /// names, and only it can tell a newer message's file of the same id apart). Returns
    /// the removed value, `None` when there was none.
    pub(crate) fn forget_quarantined(&self, tree: &str, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        let Some(old) = self.quarantine.remove(quarantine_key(tree, key))? else {
            return Ok(None);
        };
        if tree == "payloads"
            && let Ok(PayloadRef::Segment { seg, .. }) = decode_payload_ref(&old)
        {
            *self.segment_deltas.borrow_mut().entry(seg).or_default() -= 1;
        }
        Ok(Some(old.to_vec()))
    }

    /// Notes that a `payloads` value was removed for good (purge, retention, relocation): a
    /// spill file goes once that is durable, a segment loses one live pointer. Quarantine
    /// does not come here: a quarantined pointer keeps its file (evidence, and the read error
    /// may have been passing), so its segment stays counted (docs/queue.md §16).
    fn payload_value_removed(&self, id: Uuid, old: &[u8]) {
        match decode_payload_ref(old) {
            Ok(PayloadRef::Spilled { .. }) => self.spill_removals.borrow_mut().push(id),
            Ok(PayloadRef::Segment { seg, .. }) => {
                *self.segment_deltas.borrow_mut().entry(seg).or_default() -= 1;
            }
            Ok(PayloadRef::Inline(_)) | Err(_) => {}
        }
    }

    fn tree(&self, i: Index) -> &TransactionalTree {
        match i {
            Index::Pending => self.pending,
            Index::Ready => self.ready,
            Index::Scheduled => self.scheduled,
            Index::Leases => self.leases,
            Index::Dead => self.dead,
            Index::FinPayload => self.fin_payload,
            Index::FinRecord => self.fin_record,
        }
    }

    /// Moves a raw value to `quarantine` and notes it for the observer.
    pub(crate) fn quarantine(
        &self,
        tree: &'static str,
        key: &[u8],
        raw: &[u8],
        reason: String,
    ) -> TxResult<()> {
        self.quarantine.insert(quarantine_key(tree, key), raw)?;
        let source = match tree {
            "records" => Some(self.records),
            "payloads" => Some(self.payloads),
            "counters" => Some(self.counters),
            "segments" => Some(self.segment_counts),
            other => Index::ALL
                .into_iter()
                .find(|i| i.name() == other)
                .map(|i| self.tree(i)),
        };
        if let Some(t) = source {
            t.remove(key)?;
        }
        self.corruptions.borrow_mut().push(Corruption {
            tree,
            key: key.to_vec(),
            reason,
        });
        Ok(())
    }

    /// The record of `id`; a record that fails its check is quarantined with its payload and
    /// reads as absent (invariant 12).
    pub(crate) fn load(&self, id: Uuid) -> TxResult<Option<Stored>> {
        let Some(raw) = self.records.get(id.as_bytes())? else {
            return Ok(None);
        };
        match decode_record(id, &raw) {
            Ok(s) => Ok(Some(s)),
            Err(e) => {
                self.quarantine("records", id.as_bytes(), &raw, e.to_string())?;
                if let Some(p) = self.payloads.get(id.as_bytes())? {
                    self.quarantine
                        .insert(quarantine_key("payloads", id.as_bytes()), p)?;
                    self.payloads.remove(id.as_bytes())?;
                }
                Ok(None)
            }
        }
    }

    /// The payload of `id`; a payload (or spill file) that fails its check is quarantined and
    /// reads as absent.
    pub(crate) fn load_payload(&self, id: Uuid) -> TxResult<PayloadRead> {
        let Some(raw) = self.payloads.get(id.as_bytes())? else {
            return Ok(PayloadRead::Lost);
        };
        let result = match decode_payload_ref(&raw) {
            Ok(r) => fetch_payload(self.spill, self.segments, id, r),
            Err(e) => Err(PayloadFault::Damaged(e.to_string())),
        };
        match result {
            Ok(p) => Ok(PayloadRead::Found(p)),
            Err(PayloadFault::Damaged(why)) => {
                self.quarantine("payloads", id.as_bytes(), &raw, why)?;
                Ok(PayloadRead::Lost)
            }
            Err(PayloadFault::Io(why)) => Ok(PayloadRead::Unreadable(format!(
                "cannot read the payload of {id}: {why}"
            ))),
        }
    }

    /// Stores the pointer to a payload already moved into its spill file.
    pub(crate) fn put_spill_pointer(&self, id: Uuid, pointer: &[u8]) -> TxResult<()> {
        self.payloads.insert(id.as_bytes(), pointer)?;
        Ok(())
    }

    /// Stores the pointer to a payload already appended to segment `seg`.
    pub(crate) fn put_segment_pointer(&self, id: Uuid, seg: u64, pointer: &[u8]) -> TxResult<()> {
        self.payloads.insert(id.as_bytes(), pointer)?;
        *self.segment_deltas.borrow_mut().entry(seg).or_default() += 1;
        Ok(())
    }

    /// Replaces the `payloads` value of `id` by `new` if it is still `old`. Returns whether it
    /// did.
    pub(crate) fn swap_payload_pointer(&self, id: Uuid, old: &[u8], new: &[u8]) -> TxResult<bool> {
        match self.payloads.get(id.as_bytes())? {
            Some(current) if current.as_ref() == old => {
                self.payloads.insert(id.as_bytes(), new)?;
                self.payload_value_removed(id, old);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Stores a payload already sealed with `encode_payload` (sealed outside the transaction,
    /// which holds sled's process-wide lock while it runs).
    pub(crate) fn put_sealed_payload(&self, id: Uuid, sealed: &[u8]) -> TxResult<()> {
        self.payloads.insert(id.as_bytes(), sealed)?;
        Ok(())
    }

    pub(crate) fn remove_payload(&self, id: Uuid) -> TxResult<()> {
        if let Some(old) = self.payloads.remove(id.as_bytes())? {
            self.payload_value_removed(id, &old);
        }
        Ok(())
    }

    /// Replaces `old` by `new` (either may be absent): record, index entries, depth delta.
    pub(crate) fn write(&self, old: Option<&Stored>, new: Option<&Stored>) -> TxResult<()> {
        let old_entries = old.map(index_entries).unwrap_or_default();
        let new_entries = new.map(index_entries).unwrap_or_default();
        for (i, k, _) in &old_entries {
            if !new_entries.iter().any(|(j, k2, _)| j == i && k2 == k) {
                self.tree(*i).remove(k.as_slice())?;
            }
        }
        for entry in &new_entries {
            if !old_entries.contains(entry) {
                let (i, k, v) = entry;
                self.tree(*i).insert(k.as_slice(), v.as_slice())?;
            }
        }
        match (old, new) {
            (_, Some(n)) => {
                self.records.insert(n.rec.id.as_bytes(), encode_record(n))?;
            }
            (Some(o), None) => {
                self.records.remove(o.rec.id.as_bytes())?;
            }
            (None, None) => {}
        }
        let mut deltas = self.deltas.borrow_mut();
        if let Some(o) = old {
            deltas.push((
                o.rec.destination.clone(),
                DepthDelta::default().minus(DepthDelta::of(o.rec.state, o.rec.size)),
            ));
        }
        if let Some(n) = new {
            deltas.push((
                n.rec.destination.clone(),
                DepthDelta::of(n.rec.state, n.rec.size),
            ));
        }
        Ok(())
    }

    /// Removes an index entry whose record is gone (quarantined), with its `pending` sibling,
    /// and corrects the depth counters once (docs/queue.md §7).
    pub(crate) fn drop_dangling(
        &self,
        found_in: Index,
        key: &[u8],
        dest: &str,
        seq: u64,
    ) -> TxResult<()> {
        self.tree(found_in).remove(key)?;
        let mut delta = DepthDelta::default();
        match found_in {
            Index::Ready | Index::Scheduled | Index::Leases => {
                let pkey = keys::dest_seq(dest, seq);
                if let Some(v) = self.pending.remove(pkey)? {
                    let size = keys::parse_id_size(&v).map(|(_, s)| s).unwrap_or(0);
                    let state = if found_in == Index::Leases {
                        State::Delivering
                    } else {
                        State::Queued
                    };
                    delta = DepthDelta::default().minus(DepthDelta::of(state, size));
                }
            }
            Index::Dead => delta = DepthDelta::default().minus(DepthDelta::of(State::Dead, 0)),
            Index::Pending | Index::FinPayload | Index::FinRecord => {}
        }
        self.deltas.borrow_mut().push((dest.to_owned(), delta));
        Ok(())
    }
}
