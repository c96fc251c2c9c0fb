//! Operations that walk an index: lease, lease expiry, listings, retention. Candidates are read
//! in batches outside a transaction, then each is re-checked inside its own transaction (a
//! concurrent change simply makes the candidate stale and it is skipped).

use std::ops::Bound;
use std::time::Duration;

use sled::IVec;

use super::Inner;
use super::keys;
use super::ops::{LeaseAttempt, copy_error};
use super::transitions;
use super::tx::{Index, Tx, TxResult, storage};
use crate::api::{Leased, MessageRecord, PurgeReport, State, StoreError, Timestamp};

const BATCH: usize = 256;

type Kv = (IVec, IVec);

/// One `lease` call waiting on the writer.
pub(crate) struct LeaseRequest {
    pub(crate) dest: String,
    pub(crate) now: Timestamp,
    pub(crate) lease_for: Duration,
    pub(crate) max: usize,
}

/// An index entry a lease may take.
struct LeaseCandidate {
    index: Index,
    key: IVec,
    id: uuid::Uuid,
    seq: u64,
    not_before: Option<Timestamp>,
}

/// A lease request with the candidates read for it ([`Inner::plan_leases`]).
pub(crate) struct LeasePlan {
    req: LeaseRequest,
    candidates: Vec<LeaseCandidate>,
    /// A scan stopped at its limit: more entries may be waiting.
    more: bool,
    /// Reading the candidates failed: the request's answer.
    error: Option<StoreError>,
}

impl LeasePlan {
    /// Operations the transaction carries (group-commit tickets count operations).
    pub(crate) fn ops(&self) -> usize {
        self.candidates.len()
    }
}

impl Inner {
    /// Up to `limit` entries of `index` in `(from, to)`.
    fn scan(
        &self,
        index: Index,
        from: Bound<Vec<u8>>,
        to: Bound<Vec<u8>>,
        limit: usize,
    ) -> Result<Vec<Kv>, StoreError> {
        let mut out = Vec::new();
        for item in self.trees.index(index).range::<Vec<u8>, _>((from, to)) {
            out.push(item.map_err(storage)?);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Moves an index entry that does not parse to quarantine.
    fn quarantine_index_entry(
        &self,
        index: Index,
        key: &[u8],
        value: &[u8],
        why: &str,
    ) -> Result<(), StoreError> {
        let why = why.to_owned();
        self.commit(|tx| tx.quarantine(index.name(), key, value, why.clone()))?;
        Ok(())
    }

    pub(crate) fn lease(
        &self,
        dest: &str,
        now: Timestamp,
        lease_for: Duration,
        max: usize,
    ) -> Result<Vec<Leased>, StoreError> {
        let mut out = Vec::new();
        // Due retries first (invariant 8), oldest not_before first.
        let lo = keys::dest_time_seq(dest, 0, 0);
        let hi = keys::dest_time_seq(dest, now.0, u64::MAX);
        self.lease_from(
            Index::Scheduled,
            dest,
            lo,
            hi,
            now,
            lease_for,
            max,
            &mut out,
        )?;
        // Then first attempts in acceptance order.
        let lo = keys::dest_seq(dest, 0);
        let hi = keys::dest_seq(dest, u64::MAX);
        self.lease_from(Index::Ready, dest, lo, hi, now, lease_for, max, &mut out)?;
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn lease_from(
        &self,
        index: Index,
        dest: &str,
        lo: Vec<u8>,
        hi: Vec<u8>,
        now: Timestamp,
        lease_for: Duration,
        max: usize,
        out: &mut Vec<Leased>,
    ) -> Result<(), StoreError> {
        let mut from = Bound::Included(lo);
        while out.len() < max {
            // Read only as many entries as can still be leased: a worker asks for a few, and
            // every entry read from sled costs a tree walk. Stale entries just cost a round.
            let limit = (max - out.len()).min(BATCH);
            let batch = self.scan(index, from.clone(), Bound::Included(hi.clone()), limit)?;
            let full = batch.len() == limit;
            // Candidates of this scan batch, leased together in one transaction.
            let mut candidates = Vec::new();
            for (key, value) in &batch {
                if out.len() + candidates.len() >= max {
                    break;
                }
                from = Bound::Excluded(key.to_vec());
                let (Some(id), Some(seq)) = (keys::value_id(value), keys::trailing_seq(key)) else {
                    self.quarantine_index_entry(index, key, value, "index entry does not parse")?;
                    continue;
                };
                let not_before = match index {
                    Index::Scheduled => keys::split_dest(key)
                        .and_then(|(_, rest)| keys::u64_at(rest, 0))
                        .map(Timestamp),
                    _ => None,
                };
                candidates.push((key, id, seq, not_before));
            }
            if !candidates.is_empty() {
                let (attempts, _) = self.commit_n(
                    |tx| {
                        let mut leased = Vec::with_capacity(candidates.len());
                        for (key, id, seq, not_before) in &candidates {
                            let Some(old) = tx.load(*id)? else {
                                tx.drop_dangling(index, key, dest, *seq)?;
                                continue;
                            };
                            // Stale candidate: another transaction moved it after we read the index.
                            if old.rec.state != State::Queued
                                || old.rec.not_before != *not_before
                                || old.rec.destination != dest
                            {
                                continue;
                            }
                            leased.push(self.lease_in_tx(tx, &old, &old, now, lease_for)?);
                        }
                        Ok(leased)
                    },
                    candidates.len(),
                )?;
                for attempt in attempts {
                    match attempt {
                        LeaseAttempt::Leased(l) => out.push(*l),
                        LeaseAttempt::Unreadable(why) => {
                            tracing::error!(message = "A payload could not be read; its message stays queued.", error = %why);
                        }
                        LeaseAttempt::PayloadLost => {}
                    }
                }
            }
            if out.len() >= max {
                return Ok(());
            }
            if !full {
                break;
            }
        }
        Ok(())
    }

    /// Reads the candidates of several lease requests (each for a different destination) so
    /// that one transaction can lease them all ([`Inner::leases_in_tx`]): the writer merges
    /// the leases of a round, as it merges enqueues, instead of one sled transaction per
    /// destination's worker. Each request reads what `lease` would read first: due retries,
    /// then first attempts, as many as it asks for.
    pub(crate) fn plan_leases(&self, requests: Vec<LeaseRequest>) -> Vec<LeasePlan> {
        requests
            .into_iter()
            .map(|req| {
                let mut plan = LeasePlan {
                    req,
                    candidates: Vec::new(),
                    more: false,
                    error: None,
                };
                if let Err(e) = self.plan_lease(&mut plan) {
                    plan.candidates.clear();
                    plan.error = Some(e);
                }
                plan
            })
            .collect()
    }

    fn plan_lease(&self, plan: &mut LeasePlan) -> Result<(), StoreError> {
        let LeaseRequest { dest, now, max, .. } = &plan.req;
        let ranges = [
            (
                Index::Scheduled,
                keys::dest_time_seq(dest, 0, 0),
                keys::dest_time_seq(dest, now.0, u64::MAX),
            ),
            (
                Index::Ready,
                keys::dest_seq(dest, 0),
                keys::dest_seq(dest, u64::MAX),
            ),
        ];
        for (index, lo, hi) in ranges {
            let limit = max.saturating_sub(plan.candidates.len()).min(BATCH);
            if limit == 0 {
                break;
            }
            let batch = self.scan(index, Bound::Included(lo), Bound::Included(hi), limit)?;
            // Entries beyond these may remain: if some candidate turns out stale, the request
            // continues on its own after the merged transaction.
            plan.more |= batch.len() == limit;
            for (key, value) in batch {
                let (Some(id), Some(seq)) = (keys::value_id(&value), keys::trailing_seq(&key))
                else {
                    self.quarantine_index_entry(index, &key, &value, "index entry does not parse")?;
                    continue;
                };
                let not_before = match index {
                    Index::Scheduled => keys::split_dest(&key)
                        .and_then(|(_, rest)| keys::u64_at(rest, 0))
                        .map(Timestamp),
                    _ => None,
                };
                plan.candidates.push(LeaseCandidate {
                    index,
                    key,
                    id,
                    seq,
                    not_before,
                });
            }
        }
        Ok(())
    }

    /// The leasing part of a transaction: leases every candidate of every plan that is still
    /// queued, exactly as `lease` does for one request.
    pub(crate) fn leases_in_tx(
        &self,
        tx: &Tx<'_>,
        plans: &[LeasePlan],
    ) -> TxResult<Vec<Vec<LeaseAttempt>>> {
        let mut out = Vec::with_capacity(plans.len());
        for plan in plans {
            let LeaseRequest {
                dest,
                now,
                lease_for,
                ..
            } = &plan.req;
            let mut leased = Vec::with_capacity(plan.candidates.len());
            for c in &plan.candidates {
                let Some(old) = tx.load(c.id)? else {
                    tx.drop_dangling(c.index, &c.key, dest, c.seq)?;
                    continue;
                };
                // Stale candidate: another transaction moved it after we read the index.
                if old.rec.state != State::Queued
                    || old.rec.not_before != c.not_before
                    || old.rec.destination != *dest
                {
                    continue;
                }
                leased.push(self.lease_in_tx(tx, &old, &old, *now, *lease_for)?);
            }
            out.push(leased);
        }
        Ok(out)
    }

    /// Answers the lease requests of `plans` from the outcome of the transaction that ran
    /// [`Inner::leases_in_tx`]. A request that got fewer messages than it asked for while
    /// more entries may remain (a candidate was stale or unreadable) continues with `lease`.
    pub(crate) fn finish_leases(
        &self,
        plans: Vec<LeasePlan>,
        outcome: Result<Vec<Vec<LeaseAttempt>>, &StoreError>,
    ) -> Vec<Result<Vec<Leased>, StoreError>> {
        let mut attempts = match outcome {
            Ok(a) => a.into_iter(),
            Err(e) => return plans.iter().map(|_| Err(copy_error(e))).collect(),
        };
        plans
            .into_iter()
            .map(|plan| {
                if let Some(e) = plan.error {
                    return Err(e);
                }
                let mut out = Vec::new();
                for attempt in attempts.next().unwrap_or_default() {
                    match attempt {
                        LeaseAttempt::Leased(l) => out.push(*l),
                        LeaseAttempt::Unreadable(why) => {
                            tracing::error!(message = "A payload could not be read; its message stays queued.", error = %why);
                        }
                        LeaseAttempt::PayloadLost => {}
                    }
                }
                let LeaseRequest {
                    dest,
                    now,
                    lease_for,
                    max,
                } = plan.req;
                if plan.more && out.len() < max {
                    match self.lease(&dest, now, lease_for, max - out.len()) {
                        Ok(rest) => out.extend(rest),
                        // What is leased already is handed out; the rest waits for the next
                        // lease.
                        Err(e) if !out.is_empty() => {
                            tracing::error!(destination = %dest, error = %e, "lease failed");
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(out)
            })
            .collect()
    }

    /// Returns leases that expired at or before `now` to Queued (invariant 9).
    pub(crate) fn expire_leases(&self, now: Timestamp, detail: &str) -> Result<usize, StoreError> {
        self.expire_leases_up_to(now, now.0, detail)
    }

    /// Expires every lease with `expires_at <= up_to`, as a retry due `now`.
    pub(crate) fn expire_leases_up_to(
        &self,
        now: Timestamp,
        up_to: u64,
        detail: &str,
    ) -> Result<usize, StoreError> {
        let hi = Bound::Included(keys::time_seq(up_to, u64::MAX));
        let mut from = Bound::Unbounded;
        let mut count = 0;
        loop {
            let batch = self.scan(Index::Leases, from.clone(), hi.clone(), BATCH)?;
            let full = batch.len() == BATCH;
            for (key, value) in &batch {
                from = Bound::Excluded(key.to_vec());
                let parsed = keys::parse_id_dest(value)
                    .zip(keys::u64_at(key, 0))
                    .zip(keys::trailing_seq(key));
                let Some((((id, dest), exp), seq)) = parsed else {
                    self.quarantine_index_entry(
                        Index::Leases,
                        key,
                        value,
                        "index entry does not parse",
                    )?;
                    continue;
                };
                let (expired, _) = self.commit(|tx| {
                    let Some(old) = tx.load(id)? else {
                        tx.drop_dangling(Index::Leases, key, dest, seq)?;
                        return Ok(false);
                    };
                    if old.rec.state != State::Delivering
                        || old.rec.lease_expires_at != Some(Timestamp(exp))
                    {
                        return Ok(false);
                    }
                    let new = transitions::lease_expired(&old, now, detail, self.bounds);
                    tx.write(Some(&old), Some(&new))?;
                    Ok(true)
                })?;
                if expired {
                    count += 1;
                }
            }
            if !full {
                return Ok(count);
            }
        }
    }

    pub(crate) fn list_pending(
        &self,
        dest: &str,
        after_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let start = match after_seq {
            None => 0,
            Some(u64::MAX) => return Ok(Vec::new()),
            Some(s) => s + 1,
        };
        let mut from = Bound::Included(keys::dest_seq(dest, start));
        let hi = Bound::Included(keys::dest_seq(dest, u64::MAX));
        let mut out = Vec::new();
        while out.len() < limit {
            let batch = self.scan(Index::Pending, from.clone(), hi.clone(), BATCH)?;
            let full = batch.len() == BATCH;
            for (key, value) in &batch {
                from = Bound::Excluded(key.to_vec());
                let Some((id, _)) = keys::parse_id_size(value) else {
                    self.quarantine_index_entry(
                        Index::Pending,
                        key,
                        value,
                        "index entry does not parse",
                    )?;
                    continue;
                };
                // An entry without record is left for the lease and expiry scans, which know
                // whether it counted as queued or delivering.
                if let Some(s) = self.read_record(id)?
                    && s.rec.state.is_pending()
                {
                    out.push(s.rec);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            if !full {
                break;
            }
        }
        Ok(out)
    }

    pub(crate) fn list_dead(
        &self,
        after_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let mut from = match after_seq {
            None => Bound::Unbounded,
            Some(s) => Bound::Excluded(keys::seq_key(s)),
        };
        let mut out = Vec::new();
        while out.len() < limit {
            let batch = self.scan(Index::Dead, from.clone(), Bound::Unbounded, BATCH)?;
            let full = batch.len() == BATCH;
            for (key, value) in &batch {
                from = Bound::Excluded(key.to_vec());
                let parsed = keys::parse_id_dest(value).zip(keys::trailing_seq(key));
                let Some(((id, dest), seq)) = parsed else {
                    self.quarantine_index_entry(
                        Index::Dead,
                        key,
                        value,
                        "index entry does not parse",
                    )?;
                    continue;
                };
                match self.read_record(id)? {
                    Some(s) if s.rec.state == State::Dead => {
                        out.push(s.rec);
                        if out.len() >= limit {
                            break;
                        }
                    }
                    Some(_) => {}
                    None => {
                        self.commit(|tx| {
                            if tx.load(id)?.is_none() {
                                tx.drop_dangling(Index::Dead, key, dest, seq)?;
                            }
                            Ok(())
                        })?;
                    }
                }
            }
            if !full {
                break;
            }
        }
        Ok(out)
    }

    pub(crate) fn purge_finished(
        &self,
        now: Timestamp,
        payload_retention: Duration,
        record_retention: Duration,
    ) -> Result<PurgeReport, StoreError> {
        let mut report = PurgeReport::default();
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let payload_cutoff = now.0.saturating_sub(millis(payload_retention));
        let record_cutoff = now.0.saturating_sub(millis(record_retention));
        for (index, cutoff) in [
            (Index::FinPayload, payload_cutoff),
            (Index::FinRecord, record_cutoff),
        ] {
            let hi = Bound::Included(keys::time_seq(cutoff, u64::MAX));
            let mut from = Bound::Unbounded;
            loop {
                let batch = self.scan(index, from.clone(), hi.clone(), BATCH)?;
                let full = batch.len() == BATCH;
                for (key, value) in &batch {
                    from = Bound::Excluded(key.to_vec());
                    let Some(id) = keys::value_id(value).filter(|_| value.len() == 16) else {
                        self.quarantine_index_entry(
                            index,
                            key,
                            value,
                            "index entry does not parse",
                        )?;
                        continue;
                    };
                    let (purged, _) = self.commit(|tx| {
                        let Some(old) = tx.load(id)? else {
                            tx.drop_dangling(index, key, "", 0)?;
                            return Ok(false);
                        };
                        let finished = matches!(old.rec.state, State::Delivered | State::Forwarded)
                            && old.finished_at.is_some_and(|t| t.0 <= cutoff);
                        if !finished {
                            return Ok(false);
                        }
                        tx.remove_payload(id)?;
                        if index == Index::FinPayload {
                            if !old.rec.payload_present {
                                return Ok(false);
                            }
                            let mut new = old.clone();
                            new.rec.payload_present = false;
                            tx.write(Some(&old), Some(&new))?;
                        } else {
                            tx.write(Some(&old), None)?;
                        }
                        Ok(true)
                    })?;
                    if purged {
                        match index {
                            Index::FinPayload => report.payloads += 1,
                            _ => report.records += 1,
                        }
                    }
                }
                if !full {
                    break;
                }
            }
        }
        Ok(report)
    }
}
