//! Operations on one message. Each is one transaction (invariant 5); errors that must not
//! undo a quarantine move are returned as `Ok(Err(..))` from the transaction and raised after
//! it committed.

use std::time::Duration;

use bytes::Bytes;

use super::Inner;
use super::keys::MAX_DESTINATION_LEN;
use super::record::{Stored, decode_payload, decode_record, encode_payload};
use super::transitions;
use super::tx::{Tx, TxResult, storage};
use crate::api::{
    Completion, DurableTicket, Enqueued, EventKind, LeaseToken, Leased, Limits, MessageId,
    MessageRecord, NewMessage, State, StoreError, Timestamp,
};

/// Last error of a message whose payload is gone while it still had to be delivered.
pub(crate) const PAYLOAD_LOST: &str = "payload missing or corrupt";

/// Result of trying to lease one record inside a transaction.
pub(crate) enum LeaseAttempt {
    Leased(Box<Leased>),
    /// The payload was missing or corrupt; the message went to Dead.
    PayloadLost,
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

    pub(crate) fn enqueue(&self, msg: NewMessage) -> Result<Enqueued, StoreError> {
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
        self.ensure_open()?;
        let size = msg.payload.len() as u64;
        let limits = self
            .limits
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Err(refused) = self.check_limits(&msg, size, &limits) {
            // A resubmission gets its original answer even when the limits are reached; the
            // lookup is only paid on this path (the transaction deduplicates otherwise).
            if let Some(existing) = self.read_record(msg.id)? {
                let ticket = self.flusher.current();
                return Ok(self.dedup(existing, &msg, ticket));
            }
            return Err(refused);
        }
        let result = self.enqueue_reserved(&msg);
        self.depths.unreserve(&msg.destination, size);
        result
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

    fn enqueue_reserved(&self, msg: &NewMessage) -> Result<Enqueued, StoreError> {
        // sled's generate_id is unique and increasing across restarts; it must not be called
        // inside a transaction (sled #1139).
        let seq = self.trees.db.generate_id().map_err(storage)?;
        let fresh = transitions::accepted(msg, seq, self.bounds);
        let sealed = encode_payload(&msg.payload);
        let (existing, ticket) = self.commit(|tx| {
            if let Some(existing) = tx.load(msg.id)? {
                return Ok(Some(existing));
            }
            tx.put_sealed_payload(msg.id, &sealed)?;
            tx.write(None, Some(&fresh))?;
            Ok(None)
        })?;
        Ok(match existing {
            Some(existing) => self.dedup(existing, msg, self.flusher.current()),
            None => Enqueued::Accepted {
                record: fresh.rec,
                ticket,
            },
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
            None => {
                let dead = transitions::dead(base, PAYLOAD_LOST, now, self.bounds);
                tx.write(Some(old), Some(&dead))?;
                Ok(LeaseAttempt::PayloadLost)
            }
            Some(payload) => {
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
        }
    }

    /// Ends a lease: `f` turns the leased record into its next form.
    fn end_lease(
        &self,
        lease: &LeaseToken,
        f: impl Fn(&Stored) -> Stored,
    ) -> Result<MessageRecord, StoreError> {
        let id = lease.id;
        let (result, _) = self.commit(|tx| {
            let Some(old) = tx.load(id)? else {
                return Ok(Err(StoreError::NotFound(id)));
            };
            if old.rec.state != State::Delivering || old.lease_counter != lease.token {
                return Ok(Err(StoreError::LeaseLost(id)));
            }
            let new = f(&old);
            tx.write(Some(&old), Some(&new))?;
            Ok(Ok(new.rec))
        })?;
        result
    }

    pub(crate) fn complete(
        &self,
        lease: &LeaseToken,
        completion: Completion,
        now: Timestamp,
    ) -> Result<MessageRecord, StoreError> {
        let b = self.bounds;
        self.end_lease(lease, |s| match &completion {
            Completion::Delivered { detail } => {
                transitions::finished(s, State::Delivered, detail, None, now, b)
            }
            Completion::Forwarded { detail, receipt } => {
                transitions::finished(s, State::Forwarded, detail, Some(receipt.clone()), now, b)
            }
        })
    }

    pub(crate) fn retry_later(
        &self,
        lease: &LeaseToken,
        error: &str,
        not_before: Timestamp,
        now: Timestamp,
    ) -> Result<MessageRecord, StoreError> {
        let b = self.bounds;
        self.end_lease(lease, |s| {
            transitions::retry_later(s, error, not_before, now, b)
        })
    }

    pub(crate) fn kill(
        &self,
        lease: &LeaseToken,
        reason: &str,
        now: Timestamp,
    ) -> Result<MessageRecord, StoreError> {
        let b = self.bounds;
        self.end_lease(lease, |s| transitions::dead(s, reason, now, b))
    }

    pub(crate) fn release(&self, lease: &LeaseToken, now: Timestamp) -> Result<(), StoreError> {
        let b = self.bounds;
        self.end_lease(lease, |s| transitions::released(s, now, b))
            .map(|_| ())
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
        match raw {
            None => Ok(None),
            Some(raw) => match decode_payload(&raw) {
                Ok(p) => Ok(Some(p)),
                Err(_) => Ok(self.commit(|tx| tx.load_payload(id))?.0),
            },
        }
    }
}
