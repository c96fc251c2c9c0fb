//! Operations that walk an index: lease, lease expiry, listings, retention. Candidates are read
//! in batches outside a transaction, then each is re-checked inside a transaction (its own, or
//! for retention one per `PURGE_PER_TRANSACTION` candidates; a concurrent change simply makes
//! the candidate stale and it is skipped).

use std::ops::Bound;
use std::time::Duration;

use sled::IVec;

use super::Inner;
use super::keys;
use super::ops::{EndFn, LeaseAttempt, copy_error};
use super::transitions;
use super::tx::{Index, Tx, TxResult, storage};
use crate::api::{LeaseToken, Leased, MessageRecord, PurgeReport, State, StoreError, Timestamp};

const BATCH: usize = 256;

/// Retention removals per transaction. One transaction per removal made retention cost
/// more CPU than accepting the message had (a sled transaction is a log write and a wake-up
/// of its IO threads); 16 cost what 64 did (docs/benchmarks.md, round 19) and hold sled's
/// process-wide transaction lock, which the writer waits for, a quarter as long.
const PURGE_PER_TRANSACTION: usize = 16;

/// After each retention transaction the purge pauses this many times as long as it took, so
/// it runs at most a quarter of the time: a purge at full speed raised the p99 of new
/// messages from 5 to 68–80 ms while it ran (docs/benchmarks.md, round 19).
const PURGE_PAUSE_FACTOR: u32 = 3;

type Kv = (IVec, IVec);

/// One operation's answer.
type Answer<T> = Result<T, StoreError>;

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
pub(super) struct LeasePlan {
    req: LeaseRequest,
    candidates: Vec<LeaseCandidate>,
    /// The last key read from `scheduled` and from `ready`: reading on starts after it.
    after: [Option<IVec>; 2],
    /// A scan stopped at its limit: more entries may be waiting.
    more: bool,
    /// Reading the candidates failed: the request's answer.
    error: Option<StoreError>,
}

impl LeasePlan {
    /// Operations the transaction carries (group-commit tickets count operations).
    pub(super) fn ops(&self) -> usize {
        self.candidates.len()
    }
}

/// Unreadable payloads met by leases since the last log line, and when that was.
#[derive(Debug, Default)]
pub(crate) struct UnreadableLog {
    last: Option<std::time::Instant>,
    since: u64,
}

/// At most one log line per this interval for unreadable payloads (each is still counted).
const UNREADABLE_LOG_INTERVAL: Duration = Duration::from_secs(10);

impl Inner {
    /// Adds the leased messages of one transaction to `out`; an unreadable payload leaves its
    /// message queued (counted, logged at most every 10 s), a lost one has gone to the dead
    /// letters.
    fn collect_leased(&self, attempts: Vec<LeaseAttempt>, out: &mut Vec<Leased>) {
        for attempt in attempts {
            match attempt {
                LeaseAttempt::Leased(l) => out.push(*l),
                LeaseAttempt::Unreadable(why) => {
                    self.observer.payload_unreadable();
                    let mut log = self.unreadable.lock().unwrap_or_else(|e| e.into_inner());
                    log.since += 1;
                    if log
                        .last
                        .is_none_or(|t| t.elapsed() >= UNREADABLE_LOG_INTERVAL)
                    {
                        tracing::error!(
                            message = "A payload could not be read; its message stays queued.",
                            error = %why,
                            unreadable_since_last_log = log.since
                        );
                        log.last = Some(std::time::Instant::now());
                        log.since = 0;
                    }
                }
                LeaseAttempt::PayloadLost => {}
            }
        }
    }

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

    /// Delivery's side of a writer round in one transaction: the lease endings first, then
    /// the leases. Each gets the answer it would have got alone (docs/queue.md §14).
    pub(crate) fn end_and_lease(
        &self,
        ends: &[(LeaseToken, EndFn)],
        leases: Vec<LeaseRequest>,
    ) -> (Vec<Answer<MessageRecord>>, Vec<Answer<Vec<Leased>>>) {
        let (ended, leased, _) = self.end_lease_and_enqueue(ends, leases, &[]);
        (ended, leased)
    }

    /// One lease on its own (a second lease for a destination in the same round): the same
    /// plan, transaction and answer as the merged leases of a round.
    pub(crate) fn lease(
        &self,
        dest: &str,
        now: Timestamp,
        lease_for: Duration,
        max: usize,
    ) -> Result<Vec<Leased>, StoreError> {
        let req = LeaseRequest {
            dest: dest.to_owned(),
            now,
            lease_for,
            max,
        };
        let plans = self.plan_leases(vec![req]);
        let answer = match self.lease_planned(&plans) {
            Ok(attempts) => self.finish_leases(plans, Ok(attempts)),
            Err(e) => self.finish_leases(plans, Err(&e)),
        };
        answer.into_iter().next().unwrap_or_else(|| Ok(Vec::new()))
    }

    /// Reads the candidates of several lease requests (each for a different destination) so
    /// that one transaction can lease them all ([`Inner::leases_in_tx`]): the writer merges
    /// the leases of a round instead of one sled transaction per destination's worker. Each
    /// request reads due retries first, oldest `not_before` first, then first attempts in
    /// acceptance order (invariant 8), as many as it asks for.
    pub(super) fn plan_leases(&self, requests: Vec<LeaseRequest>) -> Vec<LeasePlan> {
        requests
            .into_iter()
            .map(|req| {
                let mut plan = LeasePlan {
                    req,
                    candidates: Vec::new(),
                    after: [None, None],
                    more: false,
                    error: None,
                };
                let wanted = plan.req.max;
                self.read_candidates(&mut plan, wanted);
                plan
            })
            .collect()
    }

    /// Reads up to `wanted` candidates for `plan`, each index from where the last read of
    /// this plan stopped. A failed read becomes the plan's answer.
    fn read_candidates(&self, plan: &mut LeasePlan, wanted: usize) {
        plan.candidates.clear();
        plan.more = false;
        if let Err(e) = self.try_read_candidates(plan, wanted) {
            plan.candidates.clear();
            plan.error = Some(e);
        }
    }

    fn try_read_candidates(&self, plan: &mut LeasePlan, wanted: usize) -> Result<(), StoreError> {
        let LeaseRequest { dest, now, .. } = &plan.req;
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
        for (slot, (index, lo, hi)) in ranges.into_iter().enumerate() {
            let limit = wanted.saturating_sub(plan.candidates.len()).min(BATCH);
            if limit == 0 {
                break;
            }
            // Read only as many entries as can still be leased: a worker asks for a few, and
            // every entry read from sled costs a tree walk.
            let from = match &plan.after[slot] {
                Some(key) => Bound::Excluded(key.to_vec()),
                None => Bound::Included(lo),
            };
            let batch = self.scan(index, from, Bound::Included(hi), limit)?;
            // Entries beyond these may remain: if a candidate turns out stale, the request
            // reads on (`finish_leases`).
            plan.more |= batch.len() == limit;
            for (key, value) in batch {
                plan.after[slot] = Some(key.clone());
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

    /// Leases the candidates of `plans` in a transaction of their own (none if there are
    /// none).
    fn lease_planned(&self, plans: &[LeasePlan]) -> Result<Vec<Vec<LeaseAttempt>>, StoreError> {
        let ops = plans.iter().map(LeasePlan::ops).sum();
        if ops == 0 {
            return Ok(plans.iter().map(|_| Vec::new()).collect());
        }
        self.commit_n(|tx| self.leases_in_tx(tx, plans), ops)
            .map(|(attempts, _)| attempts)
    }

    /// The leasing part of a transaction: leases every candidate of every plan that is still
    /// queued.
    pub(super) fn leases_in_tx(
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
    /// more entries may remain (a candidate was stale or unreadable) reads on from where it
    /// stopped, in transactions of its own, until it has enough or its indexes are exhausted.
    pub(super) fn finish_leases(
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
            .map(|mut plan| {
                let mut out = Vec::new();
                let mut batch = attempts.next().unwrap_or_default();
                loop {
                    if let Some(e) = plan.error.take() {
                        // What is leased already is handed out; the rest waits for the
                        // next lease.
                        if out.is_empty() {
                            return Err(e);
                        }
                        tracing::error!(destination = %plan.req.dest, error = %e, "lease failed");
                        break;
                    }
                    self.collect_leased(batch, &mut out);
                    if !plan.more || out.len() >= plan.req.max {
                        break;
                    }
                    let wanted = plan.req.max - out.len();
                    self.read_candidates(&mut plan, wanted);
                    batch = match self.lease_planned(std::slice::from_ref(&plan)) {
                        Ok(mut a) => a.pop().unwrap_or_default(),
                        Err(e) => {
                            plan.error.get_or_insert(e);
                            Vec::new()
                        }
                    };
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
        // Records first: a record removed takes its payload along, so a message past both
        // retentions (both are 30 days by default) is removed in one step instead of having
        // its record rewritten without the payload first.
        for (index, cutoff) in [
            (Index::FinRecord, record_cutoff),
            (Index::FinPayload, payload_cutoff),
        ] {
            let hi = Bound::Included(keys::time_seq(cutoff, u64::MAX));
            let mut from = Bound::Unbounded;
            loop {
                let batch = self.scan(index, from.clone(), hi.clone(), BATCH)?;
                let full = batch.len() == BATCH;
                let mut entries = Vec::with_capacity(batch.len());
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
                    entries.push((key, id));
                }
                for chunk in entries.chunks(PURGE_PER_TRANSACTION) {
                    let started = std::time::Instant::now();
                    let (purged, _) = self.commit_n(
                        |tx| {
                            let mut purged = 0;
                            for (key, id) in chunk {
                                purged += u64::from(purge_one(tx, index, key, *id, cutoff)?);
                            }
                            Ok(purged)
                        },
                        chunk.len(),
                    )?;
                    match index {
                        Index::FinPayload => report.payloads += purged,
                        _ => report.records += purged,
                    }
                    // Background work: leave the cores and sled's lock to new messages
                    // most of the time (docs/queue.md §8).
                    std::thread::sleep(started.elapsed() * PURGE_PAUSE_FACTOR);
                }
                if !full {
                    break;
                }
            }
        }
        Ok(report)
    }
}

/// Removes the payload (`FinPayload`) or the whole record (`FinRecord`) of one finished
/// message whose index entry `key` was found at or before `cutoff`. Whether it did.
fn purge_one(tx: &Tx<'_>, index: Index, key: &IVec, id: uuid::Uuid, cutoff: u64) -> TxResult<bool> {
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
}
