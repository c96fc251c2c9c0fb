//! The writer: one thread that applies every state change.
//!
//! sled 0.34 runs every transaction under one process-wide lock, so writes from many threads
//! only queue on that lock (and, via `spawn_blocking`, grew the blocking pool to hundreds of
//! threads). One thread applies them instead, in rounds: whatever is waiting when a round
//! starts is applied as one transaction with all lease endings (complete, retry, kill,
//! release) and all leases, then the other operations one by one in arrival order, then one
//! transaction with all enqueues. A small round of only these three kinds is one transaction.
//! Once the store is busy, a small round with an enqueue stays open for up to `round_linger`
//! to take more operations. Each operation still gets its own answer, exactly as if it had
//! run alone in some serial order. Reads do not come here, nor do the commits of
//! `purge_finished` and of quarantine (see docs/queue.md §14).

use std::collections::HashSet;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::Inner;
use super::ops::{EndFn, Placed};
use super::scans::LeaseRequest;
use crate::api::{Enqueued, LeaseToken, Leased, MessageRecord, NewMessage, StoreError};

/// Operations of one kind in a round at most (bounds a transaction's size, and how long a
/// round keeps its first operation waiting).
const MAX_MERGE: usize = 256;

/// Payload bytes merged into one transaction at most: large messages are copied several times
/// on their way into sled, so a batch of them is bounded by size, not count.
const MAX_MERGE_BYTES: usize = 16 << 20;

/// A round of at most this many operations is small: it lingers for more (when the store is
/// busy) and, if it holds only lease endings, leases and enqueues, commits them in one
/// transaction instead of two.
const SMALL_ROUND: usize = 8;

pub(crate) enum Job {
    Enqueue(
        NewMessage,
        Placed,
        oneshot::Sender<Result<Enqueued, StoreError>>,
    ),
    EndLease(
        LeaseToken,
        EndFn,
        oneshot::Sender<Result<MessageRecord, StoreError>>,
    ),
    Lease(
        LeaseRequest,
        oneshot::Sender<Result<Vec<Leased>, StoreError>>,
    ),
    Run(RunFn),
}

/// Any other state change, run on the writer as it is.
pub(crate) type RunFn = Box<dyn FnOnce(&Inner) + Send>;

pub(crate) struct Writer {
    tx: Mutex<Option<Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    pub(crate) fn start(inner: Arc<Inner>, linger: Duration) -> Result<Writer, StoreError> {
        let (tx, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("xoev-queue-writer".into())
            .spawn(move || run(&inner, &rx, linger))
            .map_err(|e| StoreError::Storage(format!("cannot start the queue writer: {e}")))?;
        Ok(Writer {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Hands a job to the writer; `Closed` after `stop`.
    pub(crate) fn send(&self, job: Job) -> Result<(), StoreError> {
        let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some(tx) => tx.send(job).map_err(|_| StoreError::Closed),
            None => Err(StoreError::Closed),
        }
    }

    /// Lets the writer finish what it was given, then stops it. Blocking.
    pub(crate) fn stop(&self) {
        drop(self.tx.lock().unwrap_or_else(|e| e.into_inner()).take());
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

fn run(inner: &Inner, rx: &Receiver<Job>, linger: Duration) {
    // Whether the last round held more than one job: others are working concurrently, so a
    // job that comes within `linger` is likely. A lone client (one operation at a time, as
    // in an idle router or a sequential test) never makes a round of two, so it never waits.
    let mut busy = false;
    loop {
        let first = match rx.recv() {
            Ok(j) => j,
            Err(_) => return, // every sender is gone: stopped
        };
        let opened = Instant::now();
        let mut round = Round::default();
        round.add(first);
        // Everything already waiting joins this round, up to the limits.
        while !round.full() {
            match rx.try_recv() {
                Ok(j) => round.add(j),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        // Only a round with an enqueue lingers: an enqueue waits for a flush after its commit
        // anyway, while a delivery worker's lease or completion gates its next attempt (a
        // lingering drain of one destination ran at half its rate).
        if busy && !linger.is_zero() && !round.enqueues.is_empty() {
            round.linger(rx, opened + linger);
        }
        busy = round.jobs() > 1;
        round.apply(inner);
        inner.sweep_spill_files();
    }
}

/// The jobs of one round, by kind. Every job of a round was submitted before any of them was
/// answered, so they are concurrent and any order is a valid serial order. Every sled
/// transaction costs a log-buffer write of its own (and wakes sled's IO threads), so the
/// round merges: delivery's side (lease endings, then leases) in one transaction, answered
/// before anything else, then the other jobs, then all enqueues in one transaction. Workers
/// never wait for a batch of enqueues, and enqueues see the capacity the endings freed. A
/// small round of endings, leases and enqueues alone is one transaction (`apply_in_one`).
#[derive(Default)]
struct Round {
    ends: Vec<(LeaseToken, EndFn)>,
    end_replies: Vec<oneshot::Sender<Result<MessageRecord, StoreError>>>,
    leases: Vec<LeaseRequest>,
    lease_replies: Vec<oneshot::Sender<Result<Vec<Leased>, StoreError>>>,
    /// Destinations with a lease in `leases`: a second lease for one of them runs on its
    /// own, after the merged one, so that each gets a prefix of what is waiting.
    lease_dests: HashSet<String>,
    runs: Vec<RunFn>,
    enqueues: Vec<(NewMessage, Placed)>,
    enqueue_replies: Vec<oneshot::Sender<Result<Enqueued, StoreError>>>,
    enqueue_bytes: usize,
    /// Runs after the merged transaction (second leases of a destination).
    later: Vec<RunFn>,
}

impl Round {
    fn add(&mut self, job: Job) {
        match job {
            Job::Run(f) => self.runs.push(f),
            Job::Lease(req, reply) => {
                if self.lease_dests.insert(req.dest.clone()) {
                    self.leases.push(req);
                    self.lease_replies.push(reply);
                } else {
                    self.later.push(Box::new(move |i: &Inner| {
                        let _ = reply.send(i.lease(&req.dest, req.now, req.lease_for, req.max));
                    }));
                }
            }
            Job::EndLease(lease, f, reply) => {
                self.ends.push((lease, f));
                self.end_replies.push(reply);
            }
            Job::Enqueue(msg, placed, reply) => {
                // Payloads already in files do not weigh on the transaction.
                self.enqueue_bytes += match placed {
                    Placed::Inline => msg.payload.len(),
                    Placed::Spilled(_) | Placed::Segment(_) => 64,
                };
                self.enqueues.push((msg, placed));
                self.enqueue_replies.push(reply);
            }
        }
    }

    fn jobs(&self) -> usize {
        self.ends.len()
            + self.leases.len()
            + self.runs.len()
            + self.later.len()
            + self.enqueues.len()
    }

    /// Takes more jobs until the round is no longer small or `until` has come. Every sled
    /// transaction costs a log write and wakes all of sled's idle IO threads (about 150 µs of
    /// CPU in all), so under moderate load a millisecond of waiting saves more than it costs
    /// (docs/benchmarks.md, round 14).
    fn linger(&mut self, rx: &Receiver<Job>, until: Instant) {
        while !self.full() && self.jobs() < SMALL_ROUND {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match rx.recv_timeout(left) {
                Ok(j) => self.add(j),
                Err(_) => return, // timed out, or stopped: apply what there is
            }
        }
    }

    /// Lease endings, leases and enqueues only, few of them: one transaction for all.
    fn is_small_mix(&self) -> bool {
        self.runs.is_empty()
            && self.later.is_empty()
            && !self.enqueues.is_empty()
            && !(self.ends.is_empty() && self.leases.is_empty())
            && self.jobs() <= SMALL_ROUND
    }

    fn full(&self) -> bool {
        self.ends.len() >= MAX_MERGE
            || self.runs.len() >= MAX_MERGE
            || self.leases.len() >= MAX_MERGE
            || self.later.len() >= MAX_MERGE
            || self.enqueues.len() >= MAX_MERGE
            || self.enqueue_bytes >= MAX_MERGE_BYTES
    }

    fn apply(self, inner: &Inner) {
        if self.is_small_mix() {
            return self.apply_in_one(inner);
        }
        let Round {
            ends,
            end_replies,
            leases,
            lease_replies,
            runs,
            enqueues,
            enqueue_replies,
            later,
            ..
        } = self;
        // Delivery's side first, in one transaction, answered before the enqueues commit:
        // a worker's completions and next lease never wait for a batch of enqueues.
        let (end_results, lease_results) = inner.end_and_lease(&ends, leases);
        for (r, result) in end_replies.into_iter().zip(end_results) {
            let _ = r.send(result);
        }
        for (r, result) in lease_replies.into_iter().zip(lease_results) {
            let _ = r.send(result);
        }
        for f in runs {
            f(inner);
        }
        if !enqueues.is_empty() {
            let results = inner.enqueue_batch(&enqueues);
            for (r, result) in enqueue_replies.into_iter().zip(results) {
                let _ = r.send(result);
            }
        }
        for f in later {
            f(inner);
        }
    }

    /// A small mix in one transaction. The leases come first (their candidates are read
    /// first, so they see neither this round's enqueues nor what its endings put back); the
    /// enqueues are admitted against the capacity from before the endings (docs/queue.md §14).
    fn apply_in_one(self, inner: &Inner) {
        let (ended, leased, enqueued) =
            inner.end_lease_and_enqueue(&self.ends, self.leases, &self.enqueues);
        for (r, result) in self.end_replies.into_iter().zip(ended) {
            let _ = r.send(result);
        }
        for (r, result) in self.lease_replies.into_iter().zip(leased) {
            let _ = r.send(result);
        }
        for (r, result) in self.enqueue_replies.into_iter().zip(enqueued) {
            let _ = r.send(result);
        }
    }
}
