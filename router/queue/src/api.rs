//! The store contract: what the router needs from a durable queue, independent of the engine.
//!
//! The router talks to the queue only through [`MessageStore`]. `sled` implements it today; a
//! distributed backend (NATS JetStream) can implement it later without touching the router.
//! The invariants every implementation must keep are written down in `docs/queue.md`.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Milliseconds since the Unix epoch, UTC. The queue never reads the clock itself: every
/// operation that depends on time takes `now`, so tests and the model can drive time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(since.as_millis() as u64)
    }

    /// This time plus `d`, saturating.
    pub fn plus(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_add(d.as_millis() as u64))
    }
}

/// A message's identity: its XÖV `nachrichtenUUID`. Unique across restarts.
pub type MessageId = Uuid;

/// Where a message goes: the `id` of a destination in the router's configuration.
pub type DestinationId = String;

/// A message the router has checked and wants to make durable.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: MessageId,
    pub destination: DestinationId,
    /// The original bytes, exactly as received. Delivered unchanged.
    pub payload: Bytes,
    /// SHA-256 of `payload`; decides "same bytes" for idempotent resubmission.
    pub digest: [u8; 32],
    /// Router-owned metadata (header summary, sender, signer), opaque to the queue. Small.
    pub meta: Vec<u8>,
    pub accepted_at: Timestamp,
}

/// The life of a message in the queue.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum State {
    /// Waiting for its first attempt, or for a scheduled retry (`not_before`).
    Queued,
    /// Leased to a delivery worker (or fetched from a mailbox) until the lease expires.
    Delivering,
    /// Terminal: the destination confirmed reception.
    Delivered,
    /// Terminal for this router: a peer router accepted it (its receipt is in `outcome`).
    Forwarded,
    /// Permanent failure or exhausted retries. Operators can replay or purge.
    Dead,
}

impl State {
    /// The lowercase name used in the status API and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Delivering => "delivering",
            State::Delivered => "delivered",
            State::Forwarded => "forwarded",
            State::Dead => "dead",
        }
    }

    /// Whether the message still waits for delivery.
    pub fn is_pending(self) -> bool {
        matches!(self, State::Queued | State::Delivering)
    }
}

/// One entry of a message's history, as shown by the status API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub at: Timestamp,
    pub kind: EventKind,
    /// Human-readable detail (error text, peer, ...). Bounded in length by the store.
    pub detail: String,
}

#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// Made durable by `enqueue`.
    Accepted,
    /// A lease was taken: an attempt starts (`attempts` was incremented).
    AttemptStarted,
    /// An attempt failed and a retry is scheduled.
    AttemptFailed,
    /// The lease expired without an answer (crashed or stuck worker); back to `Queued`.
    LeaseExpired,
    /// The worker gave the lease back without a result (shutdown); the attempt does not count.
    Released,
    Delivered,
    Forwarded,
    /// Moved to the dead letters.
    Dead,
    /// An operator replayed a dead letter.
    Replayed,
    /// Free-form milestone recorded by the router (e.g. "available in mailbox").
    Note,
}

/// What the queue knows about a message. Payloads are read separately ([`MessageStore::payload`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub id: MessageId,
    pub destination: DestinationId,
    /// Acceptance order, unique and increasing across restarts; FIFO key per destination.
    pub seq: u64,
    pub state: State,
    /// Attempts started so far (leases taken), persisted.
    pub attempts: u32,
    /// Earliest time of the next attempt, when a retry is scheduled.
    pub not_before: Option<Timestamp>,
    /// Set while `Delivering`.
    pub lease_expires_at: Option<Timestamp>,
    pub accepted_at: Timestamp,
    pub updated_at: Timestamp,
    pub size: u64,
    pub digest: [u8; 32],
    pub meta: Vec<u8>,
    pub history: Vec<Event>,
    pub last_error: Option<String>,
    /// Opaque result of the final step (e.g. a peer router's receipt), if any.
    pub outcome: Option<Vec<u8>>,
    /// False once the payload was purged after retention; metadata stays for status/receipts.
    pub payload_present: bool,
}

/// Proof that a lease is held. Completing with a stale token (the lease expired and the message
/// was leased again) fails with [`StoreError::LeaseLost`], so a slow worker cannot overwrite the
/// result of a newer attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseToken {
    pub id: MessageId,
    pub token: u64,
}

/// A message handed to a worker for one attempt.
#[derive(Debug, Clone)]
pub struct Leased {
    pub lease: LeaseToken,
    pub record: MessageRecord,
    pub payload: Bytes,
}

/// A position in the group commit; see [`MessageStore::wait_durable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DurableTicket(pub u64);

/// The answer to an enqueue.
#[derive(Debug, Clone)]
pub enum Enqueued {
    /// New message, written; durable once its ticket is.
    Accepted {
        record: MessageRecord,
        ticket: DurableTicket,
    },
    /// Same id and same digest as an existing message: the original answer (idempotent).
    /// The ticket covers the original write, which may itself still be in flight.
    Duplicate {
        record: MessageRecord,
        ticket: DurableTicket,
    },
    /// Same id, different bytes. Nothing was written.
    Conflict { record: MessageRecord },
}

/// How a lease ends successfully.
#[derive(Debug, Clone)]
pub enum Completion {
    Delivered { detail: String },
    Forwarded { detail: String, receipt: Vec<u8> },
}

/// Queue depth of one destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Depth {
    /// Queued and due or waiting for a retry.
    pub queued: u64,
    pub delivering: u64,
    pub dead: u64,
    /// Payload bytes of queued + delivering messages.
    pub pending_bytes: u64,
}

/// Limits beyond which `enqueue` refuses new work instead of filling the disk.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Refuse new messages when the file system of the data directory has less free space.
    pub min_free_disk_bytes: u64,
    /// Refuse new messages for a destination whose pending payload bytes would exceed this.
    pub max_pending_bytes_per_destination: u64,
}

/// Errors of the store. Each says whose fault it is and whether retrying can help.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A back-pressure limit is reached; the client should retry later. Nothing was written.
    #[error(
        "queue for destination '{destination}' is full ({pending_bytes} bytes pending, limit {limit})"
    )]
    DestinationFull {
        destination: DestinationId,
        pending_bytes: u64,
        limit: u64,
    },
    /// Free disk space is below the configured floor. Nothing was written.
    #[error("free disk space {free} bytes is below the floor of {floor} bytes")]
    DiskFull { free: u64, floor: u64 },
    /// The lease is no longer held (expired and re-leased, or already completed).
    #[error("lease on message {0} is no longer held")]
    LeaseLost(MessageId),
    #[error("message {0} not found")]
    NotFound(MessageId),
    /// The message's payload was missing or corrupt when it was to be delivered; the message
    /// was moved to the dead letters (last error says why).
    #[error("payload of message {0} is missing or corrupt; moved to the dead letters")]
    PayloadLost(MessageId),
    /// The operation does not fit the message's state (e.g. replaying a delivered message).
    #[error("message {id} is {state:?}, expected {expected}")]
    WrongState {
        id: MessageId,
        state: State,
        expected: &'static str,
    },
    /// The message cannot be stored as given (e.g. a destination id longer than 1024 bytes).
    /// Nothing was written.
    #[error("message rejected by the store: {reason}")]
    InvalidMessage { reason: &'static str },
    /// The engine failed (I/O, corruption it could not isolate). Retrying may help.
    #[error("storage failure: {0}")]
    Storage(String),
    /// The store is shutting down or closed.
    #[error("store is closed")]
    Closed,
}

impl StoreError {
    /// A bounded, stable name for metric labels and logs.
    pub fn label(&self) -> &'static str {
        match self {
            StoreError::DestinationFull { .. } => "destination-full",
            StoreError::DiskFull { .. } => "disk-full",
            StoreError::LeaseLost(_) => "lease-lost",
            StoreError::NotFound(_) => "not-found",
            StoreError::PayloadLost(_) => "payload-lost",
            StoreError::WrongState { .. } => "wrong-state",
            StoreError::InvalidMessage { .. } => "invalid-message",
            StoreError::Storage(_) => "storage",
            StoreError::Closed => "closed",
        }
    }
}

/// A durable, crash-safe message queue with per-destination FIFO, leases, scheduled retries,
/// dead letters and deduplication by message id. See `docs/queue.md` for the invariants.
///
/// Time is always passed in (`now`). Implementations must be cheap to call from async tasks
/// (no long blocking inside a call, except `wait_durable`, which is async).
pub trait MessageStore: Send + Sync + 'static {
    /// Writes a new message (or recognises a duplicate). The write is not yet durable:
    /// await [`MessageStore::wait_durable`] with the returned ticket before acknowledging.
    fn enqueue(&self, msg: NewMessage)
    -> impl Future<Output = Result<Enqueued, StoreError>> + Send;

    /// Resolves once everything written up to `ticket` survives `kill -9` and power loss.
    /// Many waiters share one flush (group commit).
    fn wait_durable(
        &self,
        ticket: DurableTicket,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Leases up to `max` messages of `destination` that are due at `now`: first due retries
    /// (oldest `not_before` first), then first attempts in acceptance order. Each lease
    /// increments `attempts` and expires at `now + lease_for`.
    fn lease(
        &self,
        destination: &str,
        now: Timestamp,
        lease_for: Duration,
        max: usize,
    ) -> impl Future<Output = Result<Vec<Leased>, StoreError>> + Send;

    /// Leases one specific message (mailbox fetch). Fails with `WrongState` unless it is
    /// `Queued` (due or not) or `Delivering` with an expired lease.
    fn lease_one(
        &self,
        id: MessageId,
        now: Timestamp,
        lease_for: Duration,
    ) -> impl Future<Output = Result<Leased, StoreError>> + Send;

    /// Ends a lease successfully.
    fn complete(
        &self,
        lease: &LeaseToken,
        completion: Completion,
        now: Timestamp,
    ) -> impl Future<Output = Result<MessageRecord, StoreError>> + Send;

    /// Ends a lease with a retryable failure: back to `Queued`, due at `not_before`.
    fn retry_later(
        &self,
        lease: &LeaseToken,
        error: &str,
        not_before: Timestamp,
        now: Timestamp,
    ) -> impl Future<Output = Result<MessageRecord, StoreError>> + Send;

    /// Ends a lease with a permanent failure: to the dead letters.
    fn kill(
        &self,
        lease: &LeaseToken,
        reason: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<MessageRecord, StoreError>> + Send;

    /// Gives a lease back without a result (shutdown); the attempt is not counted.
    fn release(
        &self,
        lease: &LeaseToken,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Returns messages whose lease expired before `now` to `Queued`. Returns how many.
    fn expire_leases(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Appends a `Note` (or other milestone) to a message's history.
    fn record_event(
        &self,
        id: MessageId,
        kind: EventKind,
        detail: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn get(
        &self,
        id: MessageId,
    ) -> impl Future<Output = Result<Option<MessageRecord>, StoreError>> + Send;

    /// The original bytes, unless purged.
    fn payload(
        &self,
        id: MessageId,
    ) -> impl Future<Output = Result<Option<Bytes>, StoreError>> + Send;

    /// Pending (`Queued` or `Delivering`) messages of a destination in acceptance order,
    /// starting after `after_seq`, at most `limit` (mailbox listing).
    fn list_pending(
        &self,
        destination: &str,
        after_seq: Option<u64>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<MessageRecord>, StoreError>> + Send;

    /// Dead letters in acceptance order (`seq`, the cursor the caller holds), starting after
    /// `after_seq`, at most `limit`.
    fn list_dead(
        &self,
        after_seq: Option<u64>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<MessageRecord>, StoreError>> + Send;

    /// Dead → `Queued`, due now; the attempt count restarts at zero, history is kept.
    fn replay(
        &self,
        id: MessageId,
        now: Timestamp,
    ) -> impl Future<Output = Result<MessageRecord, StoreError>> + Send;

    /// Removes a dead letter (record and payload) for good.
    fn purge(&self, id: MessageId) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Retention of finished (delivered, forwarded) messages. Payloads of messages that
    /// finished at or before `now - payload_retention` are removed (the record stays with
    /// `payload_present = false`); records (with any payload left) that finished at or before
    /// `now - record_retention` are removed. Deduplication by id holds as long as the record
    /// exists, so `record_retention` is the dedup window for finished messages.
    fn purge_finished(
        &self,
        now: Timestamp,
        payload_retention: Duration,
        record_retention: Duration,
    ) -> impl Future<Output = Result<PurgeReport, StoreError>> + Send;

    /// The ticket of every write applied so far (enqueues and state changes). Await it with
    /// [`MessageStore::wait_durable`] to make a state change durable, e.g. before answering a
    /// mailbox `close`.
    fn current_ticket(&self) -> DurableTicket;

    /// Depth per destination (destinations with anything pending or dead).
    fn depths(&self) -> BTreeMap<DestinationId, Depth>;

    /// Depth of one destination, from memory (no IO, no scan): cheap enough for every poll.
    fn depth(&self, destination: &str) -> Depth;

    /// Engine health and counters for metrics.
    fn stats(&self) -> StoreStats;

    /// Why the store refuses every write until it is reopened (a flush or sync failed,
    /// docs/queue.md §5.6), or `None` while it works.
    fn failure(&self) -> Option<String>;

    /// The disk sync that has been running longest, if one is (docs/queue.md §5.7). A sync
    /// that hangs fails nothing, but every acknowledgement waits for it.
    fn sync_in_progress(&self) -> Option<SyncInProgress>;

    /// Stops the flusher after a final flush. Later calls fail with `Closed`.
    fn close(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What [`MessageStore::purge_finished`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Payloads removed (their records stay).
    pub payloads: u64,
    /// Records removed (with their payload, if it was still there).
    pub records: u64,
}

/// A disk sync still running ([`MessageStore::sync_in_progress`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncInProgress {
    /// What is being synced, for humans: e.g. "the queue log".
    pub what: &'static str,
    /// Since when.
    pub running_for: Duration,
    /// How long ago any sync of the store last ended (`None`: none since it opened). A disk
    /// that still ends syncs is slow, not hung.
    pub last_ended_ago: Option<Duration>,
}

/// Counters exposed as metrics by the router.
#[derive(Debug, Clone, Default)]
pub struct StoreStats {
    /// Group-commit flushes done.
    pub flushes_total: u64,
    /// Sum of flush durations, and messages made durable by them.
    pub flush_seconds_total: f64,
    pub flushed_writes_total: u64,
    /// Records that failed their checksum or version check and were moved aside.
    pub corrupt_records_total: u64,
    /// Store transactions committed. Each costs a write of its own to the engine's log, so
    /// `transactions_total` per message shows how well the writer merges (docs/queue.md §14).
    pub transactions_total: u64,
    /// Bytes used by the store on disk (approximate).
    pub disk_bytes: u64,
    /// Free space of the file system holding the store.
    pub free_disk_bytes: u64,
}

/// Hooks the router uses to turn queue internals into metrics and logs.
pub trait QueueObserver: Send + Sync + 'static {
    /// A group-commit flush finished, making `writes` writes durable.
    fn flushed(&self, _duration: Duration, _writes: u64) {}
    /// A record failed its checksum or version check and was moved aside.
    fn corrupt_record(&self, _tree: &str, _key: &[u8]) {}
    /// A payload read failed with an I/O error (not corruption: nothing is moved aside). A
    /// lease leaves that message queued and tries it again later; a fetch fails.
    fn payload_unreadable(&self) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopObserver;
impl QueueObserver for NoopObserver {}
