//! Operations on one message. Each is one transaction (invariant 5); errors that must not
//! undo a quarantine move are returned as `Ok(Err(..))` from the transaction and raised after
//! it committed.

use std::time::Duration;

use bytes::Bytes;

use super::Inner;
use super::keys::MAX_DESTINATION_LEN;
use super::record::{
    Stored, decode_payload_ref, decode_record, encode_payload, encode_segment_pointer,
    encode_spill_pointer,
};
use super::segments::SegRef;
use super::spill::Staged;
use super::transitions;
use super::tx::{PayloadRead, Tx, TxResult, storage};
use crate::api::{
    DurableTicket, Enqueued, EventKind, LeaseToken, Leased, Limits, MessageId, MessageRecord,
    NewMessage, State, StoreError, Timestamp,
};

/// The answers of a round committed in one transaction: endings, leases, enqueues.
pub(crate) type RoundAnswers = (
    Vec<Result<MessageRecord, StoreError>>,
    Vec<Result<Vec<Leased>, StoreError>>,
    Vec<Result<Enqueued, StoreError>>,
);

/// How a lease ends: the leased record's next form.
pub(crate) type EndFn = Box<dyn Fn(&Stored) -> Stored + Send>;

/// The same failure for every operation of a failed batch (`StoreError` is not `Clone`).
pub(crate) fn copy_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Closed => StoreError::Closed,
        other => StoreError::Storage(other.to_string()),
    }
}

/// Last error of a message whose payload is gone while it still had to be delivered.
pub(crate) const PAYLOAD_LOST: &str = "payload missing or corrupt";

/// Where an enqueue's payload was put before the writer takes it.
#[derive(Debug)]
pub(crate) enum Placed {
    /// Not yet anywhere: sealed into the `payloads` tree.
    Inline,
    /// Written to a temporary spill file (docs/queue.md §15).
    Spilled(Staged),
    /// Appended to a segment and synced (docs/queue.md §16).
    Segment(SegRef),
}

/// Result of trying to lease one record inside a transaction.
pub(crate) enum LeaseAttempt {
    Leased(Box<Leased>),
    /// The payload was missing or corrupt; the message went to Dead.
    PayloadLost,
    /// The payload could not be read (I/O error); the message was not changed.
    Unreadable(String),
}

/// A new message's payload as the enqueue transaction stores it.
enum Body {
    Inline(Vec<u8>),
    /// The pointer, and whether this batch moved the file into place.
    Spilled(Vec<u8>, bool),
    /// The pointer and its segment.
    Segment(Vec<u8>, u64),
}

/// What the enqueue transaction found for a candidate.
enum Found {
    /// A record with this id: a duplicate or a conflict.
    Existing(Box<Stored>),
    /// Stored as a new message.
    Written,
    /// Not stored: its spill file was dropped for an id that is now free.
    Raced,
}

struct Candidate<'m> {
    index: usize,
    msg: &'m NewMessage,
    fresh: Stored,
    body: Body,
    size: u64,
}

/// Enqueues checked and prepared for one transaction ([`Inner::plan_enqueues`]).
struct EnqueuePlan<'m> {
    /// Answers already known (refusals), by position.
    results: Vec<Option<Result<Enqueued, StoreError>>>,
    candidates: Vec<Candidate<'m>>,
}

impl EnqueuePlan<'_> {
    /// The plan's transaction: stores every candidate whose id is free.
    fn in_tx(&self, tx: &Tx<'_>) -> TxResult<Vec<Found>> {
        let mut existing = Vec::with_capacity(self.candidates.len());
        for c in &self.candidates {
            if let Some(found) = tx.load(c.msg.id)? {
                existing.push(Found::Existing(Box::new(found)));
                continue;
            }
            if let Body::Spilled(_, false) = c.body {
                // The id was taken when its file was dropped before the transaction and is
                // free now: a purge or a quarantine committed off the writer in between. A
                // pointer written now would point at no file.
                existing.push(Found::Raced);
                continue;
            }
            match &c.body {
                Body::Inline(sealed) => tx.put_sealed_payload(c.msg.id, sealed)?,
                Body::Spilled(pointer, _) => tx.put_spill_pointer(c.msg.id, pointer)?,
                Body::Segment(pointer, seg) => tx.put_segment_pointer(c.msg.id, *seg, pointer)?,
            }
            tx.write(None, Some(&c.fresh))?;
            existing.push(Found::Written);
        }
        Ok(existing)
    }
}

impl Inner {
    fn dedup(&self, existing: Stored, msg: &NewMessage, ticket: DurableTicket) -> Enqueued {
        if existing.rec.digest == msg.digest {
            Enqueued::Duplicate {
                record: existing.rec,
                ticket,
            }
        } else {
            Enqueued::Conflict {
                record: existing.rec,
            }
        }
    }
    /// Enqueues several messages in one transaction (the writer merges concurrent enqueues
    /// into one sled commit); each gets the answer a lone enqueue would have got.
    pub(crate) fn enqueue_batch(
        &self,
        msgs: &[(NewMessage, Placed)],
    ) -> Vec<Result<Enqueued, StoreError>> {
        let plan = self.plan_enqueues(msgs);
        #[cfg(test)]
        super::test_hooks::before_enqueue_commit(self);
        let outcome = if plan.candidates.is_empty() {
            Ok((Vec::new(), self.flusher.current()))
        } else {
            self.commit_n(|tx| plan.in_tx(tx), plan.candidates.len())
        };
        match outcome {
            Ok(found) => self.finish_enqueues(plan, Ok(found)),
            Err(e) => self.finish_enqueues(plan, Err(&e)),
        }
    }

    /// A round's lease endings, leases and enqueues in one transaction (without enqueues:
    /// delivery's side of any round; with them: a small round, docs/queue.md §14). Lease
    /// candidates are read before anything is written, enqueues are admitted against the
    /// capacity from before the endings, and a resubmission sees a record as the round's
    /// endings left it: each answer is that of a serial order.
    pub(crate) fn end_lease_and_enqueue(
        &self,
        ends: &[(LeaseToken, EndFn)],
        leases: Vec<super::scans::LeaseRequest>,
        msgs: &[(NewMessage, Placed)],
    ) -> RoundAnswers {
        let plans = self.plan_leases(leases);
        let plan = self.plan_enqueues(msgs);
        #[cfg(test)]
        if !msgs.is_empty() {
            super::test_hooks::before_enqueue_commit(self);
        }
        let ops = ends.len()
            + plans
                .iter()
                .map(super::scans::LeasePlan::ops)
                .sum::<usize>()
            + plan.candidates.len();
        let outcome = if ops == 0 {
            Ok((
                (
                    Vec::new(),
                    plans.iter().map(|_| Vec::new()).collect(),
                    Vec::new(),
                ),
                self.flusher.current(),
            ))
        } else {
            self.commit_n(
                |tx| {
                    Ok((
                        Self::end_leases_in_tx(tx, ends)?,
                        self.leases_in_tx(tx, &plans)?,
                        plan.in_tx(tx)?,
                    ))
                },
                ops,
            )
        };
        match outcome {
            Ok(((ended, leased, found), ticket)) => (
                ended,
                self.finish_leases(plans, Ok(leased)),
                self.finish_enqueues(plan, Ok((found, ticket))),
            ),
            Err(e) => (
                ends.iter().map(|_| Err(copy_error(&e))).collect(),
                self.finish_leases(plans, Err(&e)),
                self.finish_enqueues(plan, Err(&e)),
            ),
        }
    }

    /// Prepares enqueues for one transaction (the writer merges concurrent enqueues into one
    /// sled commit). Each message gets its own answer, exactly as a lone enqueue would have
    /// given it; a duplicate within the batch sees the first copy (a transaction reads its own
    /// writes). A message with a staged spill file (docs/queue.md §15) has it renamed into
    /// place here, before the transaction, unless its id is already taken: a resubmission
    /// never replaces an acknowledged payload. Refusals are answered here and write nothing.
    fn plan_enqueues<'m>(&self, msgs: &'m [(NewMessage, Placed)]) -> EnqueuePlan<'m> {
        let mut results: Vec<Option<Result<Enqueued, StoreError>>> =
            msgs.iter().map(|_| None).collect();
        let limits = self
            .limits
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut placed = std::collections::HashSet::new();
        let mut candidates = Vec::with_capacity(msgs.len());
        for (index, (msg, staged)) in msgs.iter().enumerate() {
            let size = match self.admit(msg, &limits) {
                Ok(size) => size,
                Err(answer) => {
                    results[index] = Some(*answer);
                    if let Placed::Spilled(st) = staged {
                        self.spill.discard(st);
                    }
                    continue;
                }
            };
            let body = match staged {
                Placed::Inline => Body::Inline(encode_payload(&msg.payload)),
                Placed::Segment(r) => {
                    Body::Segment(encode_segment_pointer(r.seg, r.offset, r.len, r.crc), r.seg)
                }
                Placed::Spilled(st) => {
                    let pointer = encode_spill_pointer(st.len, st.crc);
                    // Ids placed earlier in this batch are not committed yet. A record read
                    // now can still vanish before the transaction (purge_finished and
                    // quarantine commit off the writer); the transaction checks again.
                    let taken = placed.contains(&msg.id)
                        || self
                            .trees
                            .records
                            .contains_key(msg.id.as_bytes())
                            .unwrap_or(true);
                    if taken {
                        self.spill.discard(st);
                        Body::Spilled(pointer, false)
                    } else {
                        match self.spill.commit_staged(msg.id, st) {
                            Ok(()) => {
                                placed.insert(msg.id);
                                Body::Spilled(pointer, true)
                            }
                            Err(e) => {
                                self.spill.discard(st);
                                self.depths.unreserve(&msg.destination, size);
                                results[index] = Some(Err(StoreError::Storage(format!(
                                    "cannot move the payload into place: {e}"
                                ))));
                                continue;
                            }
                        }
                    }
                }
            };
            // sled's generate_id is unique and increasing across restarts; it must not be
            // called inside a transaction (sled #1139).
            match self.trees.db.generate_id() {
                Ok(seq) => candidates.push(Candidate {
                    index,
                    msg,
                    fresh: transitions::accepted(msg, seq, self.bounds),
                    body,
                    size,
                }),
                Err(e) => {
                    if let Body::Spilled(_, true) = body {
                        self.spill.remove(msg.id);
                        placed.remove(&msg.id);
                    }
                    self.depths.unreserve(&msg.destination, size);
                    results[index] = Some(Err(storage(e)));
                }
            }
        }
        EnqueuePlan {
            results,
            candidates,
        }
    }

    /// Answers the enqueues of `plan` from the outcome of the transaction that ran
    /// [`EnqueuePlan::in_tx`] (nothing ran if it has no candidates).
    fn finish_enqueues(
        &self,
        plan: EnqueuePlan<'_>,
        outcome: Result<(Vec<Found>, DurableTicket), &StoreError>,
    ) -> Vec<Result<Enqueued, StoreError>> {
        let EnqueuePlan {
            mut results,
            candidates,
        } = plan;
        match outcome {
            Ok((existing, ticket)) => {
                for (c, found) in candidates.iter().zip(existing) {
                    results[c.index] = Some(match found {
                        Found::Existing(e) => Ok(self.dedup(*e, c.msg, self.flusher.current())),
                        Found::Written => Ok(Enqueued::Accepted {
                            record: c.fresh.rec.clone(),
                            ticket,
                        }),
                        Found::Raced => Err(StoreError::Storage(format!(
                            "message {} changed while it was being stored; nothing was written, retry",
                            c.msg.id
                        ))),
                    });
                }
            }
            Err(e) => {
                for c in &candidates {
                    if let Body::Spilled(_, true) = c.body {
                        // No pointer committed: the file is an orphan.
                        self.spill.remove(c.msg.id);
                    }
                    results[c.index] = Some(Err(copy_error(e)));
                }
            }
        }
        for c in &candidates {
            self.depths.unreserve(&c.msg.destination, c.size);
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(StoreError::Storage("enqueue produced no result".into())))
            })
            .collect()
    }

    /// Runs before the payload is written anywhere, so that a refusal writes nothing
    /// (invariant 11). Touches no sled tree (it runs on an async worker). `Err((e, true))`: a
    /// limit refused; `answer_refusal`, off the async workers, turns it into the final answer.
    /// `Err((e, false))`: the final answer. The writer checks everything again in its order.
    pub(crate) fn precheck(&self, msg: &NewMessage) -> Result<(), (StoreError, bool)> {
        self.ensure_open().map_err(|e| (e, false))?;
        self.check_destination(msg).map_err(|e| (e, false))?;
        let limits = self
            .limits
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let size = msg.payload.len() as u64;
        self.check_limits(msg, size, &limits)
            .map_err(|refused| (refused, true))?;
        self.depths.unreserve(&msg.destination, size);
        Ok(())
    }

    /// The answer to an enqueue a limit refused: the original answer if the id is stored (a
    /// client retrying an acknowledged message gets it even when the queue is full), else the
    /// refusal. Reads sled: call it off the async workers.
    pub(crate) fn answer_refusal(
        &self,
        msg: &NewMessage,
        refused: StoreError,
    ) -> Result<Enqueued, StoreError> {
        match self.read_record(msg.id)? {
            Some(existing) => Ok(self.dedup(existing, msg, self.flusher.current())),
            None => Err(refused),
        }
    }

    fn check_destination(&self, msg: &NewMessage) -> Result<(), StoreError> {
        if msg.destination.is_empty() {
            return Err(StoreError::InvalidMessage {
                reason: "destination id is empty",
            });
        }
        if msg.destination.len() > MAX_DESTINATION_LEN {
            return Err(StoreError::InvalidMessage {
                reason: "destination id is longer than 1024 bytes",
            });
        }
        Ok(())
    }

    /// Checks a message before it is written: its destination id, the store's state, the
    /// free-disk floor and the destination's byte limit (reserving its bytes, which the caller
    /// releases). `Err` carries the final answer: a refusal, or, when a limit is reached but
    /// the message is already stored, the original answer (resubmissions always get it).
    fn admit(
        &self,
        msg: &NewMessage,
        limits: &Limits,
    ) -> Result<u64, Box<Result<Enqueued, StoreError>>> {
        self.check_destination(msg).map_err(|e| Box::new(Err(e)))?;
        self.ensure_open().map_err(|e| Box::new(Err(e)))?;
        let size = msg.payload.len() as u64;
        if let Err(refused) = self.check_limits(msg, size, limits) {
            return Err(Box::new(match self.read_record(msg.id) {
                Ok(Some(existing)) => Ok(self.dedup(existing, msg, self.flusher.current())),
                Ok(None) => Err(refused),
                Err(e) => Err(e),
            }));
        }
        Ok(size)
    }

    /// Checks the free-disk floor, then reserves the destination's bytes (released by the
    /// caller). Refusals write nothing (invariant 11).
    fn check_limits(&self, msg: &NewMessage, size: u64, limits: &Limits) -> Result<(), StoreError> {
        let free = self
            .disk
            .free_bytes()
            .map_err(|e| StoreError::Storage(format!("cannot read free disk space: {e}")))?;
        if free.saturating_sub(size) < limits.min_free_disk_bytes {
            return Err(StoreError::DiskFull {
                free,
                floor: limits.min_free_disk_bytes,
            });
        }
        self.depths
            .reserve(
                &msg.destination,
                size,
                limits.max_pending_bytes_per_destination,
            )
            .map_err(|r| StoreError::DestinationFull {
                destination: msg.destination.clone(),
                pending_bytes: r.pending_bytes,
                limit: limits.max_pending_bytes_per_destination,
            })
    }

    /// Leases `old` (whose current form is `base`, e.g. after an implicit expiry).
    pub(crate) fn lease_in_tx(
        &self,
        tx: &Tx<'_>,
        old: &Stored,
        base: &Stored,
        now: Timestamp,
        lease_for: Duration,
    ) -> TxResult<LeaseAttempt> {
        match tx.load_payload(old.rec.id)? {
            PayloadRead::Lost => {
                let dead = transitions::dead(base, PAYLOAD_LOST, now, self.bounds);
                tx.write(Some(old), Some(&dead))?;
                Ok(LeaseAttempt::PayloadLost)
            }
            // Left as it is: a passing I/O error must not dead-letter the message, and the
            // other messages of the batch are still leased.
            PayloadRead::Unreadable(why) => Ok(LeaseAttempt::Unreadable(why)),
            PayloadRead::Found(payload) => {
                let new = transitions::leased(base, now, lease_for, self.bounds);
                tx.write(Some(old), Some(&new))?;
                Ok(LeaseAttempt::Leased(Box::new(Leased {
                    lease: LeaseToken {
                        id: new.rec.id,
                        token: new.lease_counter,
                    },
                    record: new.rec,
                    payload,
                })))
            }
        }
    }

    pub(crate) fn lease_one(
        &self,
        id: MessageId,
        now: Timestamp,
        lease_for: Duration,
    ) -> Result<Leased, StoreError> {
        let (result, _) = self.commit(|tx| {
            let Some(old) = tx.load(id)? else {
                return Ok(Err(StoreError::NotFound(id)));
            };
            let base = match (old.rec.state, old.rec.lease_expires_at) {
                (State::Queued, _) => old.clone(),
                (State::Delivering, Some(exp)) if exp <= now => {
                    transitions::lease_expired(&old, now, "lease expired; taken over", self.bounds)
                }
                (state, _) => {
                    return Ok(Err(StoreError::WrongState {
                        id,
                        state,
                        expected: "queued, or delivering with an expired lease",
                    }));
                }
            };
            Ok(Ok(self.lease_in_tx(tx, &old, &base, now, lease_for)?))
        })?;
        match result? {
            LeaseAttempt::Leased(l) => Ok(*l),
            LeaseAttempt::PayloadLost => Err(StoreError::PayloadLost(id)),
            LeaseAttempt::Unreadable(why) => {
                self.observer.payload_unreadable();
                Err(StoreError::Storage(why))
            }
        }
    }

    /// The lease-ending part of a round's transaction (the writer thread merges concurrent
    /// completions). Each gets the answer `end_lease` would have given it.
    pub(crate) fn end_leases_in_tx(
        tx: &Tx<'_>,
        items: &[(LeaseToken, EndFn)],
    ) -> TxResult<Vec<Result<MessageRecord, StoreError>>> {
        let mut out = Vec::with_capacity(items.len());
        for (lease, f) in items {
            let id = lease.id;
            let Some(old) = tx.load(id)? else {
                out.push(Err(StoreError::NotFound(id)));
                continue;
            };
            if old.rec.state != State::Delivering || old.lease_counter != lease.token {
                out.push(Err(StoreError::LeaseLost(id)));
                continue;
            }
            let new = f(&old);
            tx.write(Some(&old), Some(&new))?;
            out.push(Ok(new.rec));
        }
        Ok(out)
    }

    pub(crate) fn record_event(
        &self,
        id: MessageId,
        kind: EventKind,
        detail: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let (result, _) = self.commit(|tx| {
            let Some(old) = tx.load(id)? else {
                return Ok(Err(StoreError::NotFound(id)));
            };
            let new = transitions::noted(&old, kind, detail, now, self.bounds);
            tx.write(Some(&old), Some(&new))?;
            Ok(Ok(()))
        })?;
        result
    }

    pub(crate) fn replay(
        &self,
        id: MessageId,
        now: Timestamp,
    ) -> Result<MessageRecord, StoreError> {
        let (result, _) = self.commit(|tx| {
            let Some(old) = tx.load(id)? else {
                return Ok(Err(StoreError::NotFound(id)));
            };
            if old.rec.state != State::Dead {
                return Ok(Err(StoreError::WrongState {
                    id,
                    state: old.rec.state,
                    expected: "dead",
                }));
            }
            let new = transitions::replayed(&old, now, self.bounds);
            tx.write(Some(&old), Some(&new))?;
            Ok(Ok(new.rec))
        })?;
        result
    }

    pub(crate) fn purge(&self, id: MessageId) -> Result<(), StoreError> {
        let (result, _) = self.commit(|tx| {
            let Some(old) = tx.load(id)? else {
                return Ok(Err(StoreError::NotFound(id)));
            };
            if old.rec.state != State::Dead {
                return Ok(Err(StoreError::WrongState {
                    id,
                    state: old.rec.state,
                    expected: "dead",
                }));
            }
            tx.remove_payload(id)?;
            tx.write(Some(&old), None)?;
            Ok(Ok(()))
        })?;
        result
    }

    /// Reads a record without a transaction; only a value that fails its check takes the
    /// transactional path that quarantines it.
    pub(crate) fn read_record(&self, id: MessageId) -> Result<Option<Stored>, StoreError> {
        self.ensure_open()?;
        let raw = self.trees.records.get(id.as_bytes()).map_err(storage)?;
        match raw {
            None => Ok(None),
            Some(raw) => match decode_record(id, &raw) {
                Ok(s) => Ok(Some(s)),
                Err(_) => Ok(self.commit(|tx| tx.load(id))?.0),
            },
        }
    }

    pub(crate) fn read_payload(&self, id: MessageId) -> Result<Option<Bytes>, StoreError> {
        self.ensure_open()?;
        let raw = self.trees.payloads.get(id.as_bytes()).map_err(storage)?;
        let Some(raw) = raw else { return Ok(None) };
        let good = decode_payload_ref(&raw)
            .ok()
            .and_then(|r| super::tx::fetch_payload(&self.spill, &self.segments, id, r).ok());
        match good {
            Some(p) => Ok(Some(p)),
            // Bad value or file: the transactional path quarantines it.
            None => match self.commit(|tx| tx.load_payload(id))?.0 {
                PayloadRead::Found(p) => Ok(Some(p)),
                PayloadRead::Lost => Ok(None),
                PayloadRead::Unreadable(why) => {
                    self.observer.payload_unreadable();
                    Err(StoreError::Storage(why))
                }
            },
        }
    }
}
