//! The writer: one thread that applies every state change, in arrival order.
//!
//! sled 0.34 runs every transaction under one process-wide lock, so writes from many threads
//! only queue on that lock (and, via `spawn_blocking`, grew the blocking pool to hundreds of
//! threads). One thread applies them instead, and merges what arrives together: consecutive
//! enqueues become one transaction, consecutive lease endings (complete, retry, kill, release)
//! another. Each operation still gets its own answer, exactly as if it had run alone.
//! Reads do not come here.

use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::Inner;
use super::ops::{EndFn, Placed};
use crate::api::{Enqueued, LeaseToken, MessageRecord, NewMessage, StoreError};

/// Operations merged into one transaction at most (bounds a transaction's size and the wait
/// of the first operation in it).
const MAX_MERGE: usize = 256;

/// Payload bytes merged into one transaction at most: large messages are copied several times
/// on their way into sled, so a batch of them is bounded by size, not count.
const MAX_MERGE_BYTES: usize = 16 << 20;

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
    Run(Box<dyn FnOnce(&Inner) + Send>),
}

pub(crate) struct Writer {
    tx: Mutex<Option<Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    pub(crate) fn start(inner: Arc<Inner>) -> Result<Writer, StoreError> {
        let (tx, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("xoev-queue-writer".into())
            .spawn(move || run(&inner, &rx))
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

fn run(inner: &Inner, rx: &Receiver<Job>) {
    let mut pending: Option<Job> = None;
    loop {
        let job = match pending.take() {
            Some(j) => j,
            None => match rx.recv() {
                Ok(j) => j,
                Err(_) => return, // every sender is gone: stopped
            },
        };
        match job {
            Job::Run(f) => f(inner),
            Job::Enqueue(msg, staged, reply) => {
                // Payloads already in files do not weigh on the transaction.
                let weight = |m: &NewMessage, p: &Placed| match p {
                    Placed::Inline => m.payload.len(),
                    Placed::Spilled(_) | Placed::Segment(_) => 64,
                };
                let mut bytes = weight(&msg, &staged);
                let mut msgs = vec![(msg, staged)];
                let mut replies = vec![reply];
                pending = gather(rx, |j| match j {
                    Job::Enqueue(m, st, r) if msgs.len() < MAX_MERGE && bytes < MAX_MERGE_BYTES => {
                        bytes += weight(&m, &st);
                        msgs.push((m, st));
                        replies.push(r);
                        None
                    }
                    other => Some(other),
                });
                for (r, result) in replies.into_iter().zip(inner.enqueue_batch(msgs)) {
                    let _ = r.send(result);
                }
            }
            Job::EndLease(lease, f, reply) => {
                let mut items = vec![(lease, f)];
                let mut replies = vec![reply];
                pending = gather(rx, |j| match j {
                    Job::EndLease(l, f, r) if items.len() < MAX_MERGE => {
                        items.push((l, f));
                        replies.push(r);
                        None
                    }
                    other => Some(other),
                });
                for (r, result) in replies.into_iter().zip(inner.end_lease_batch(&items)) {
                    let _ = r.send(result);
                }
            }
        }
        inner.sweep_spill_files();
    }
}

/// Takes jobs that are already waiting while `take` accepts them (returns `None`); returns
/// the first job it does not accept, which runs next. Never waits for new jobs: merging must
/// not add latency when the store is idle.
fn gather(rx: &Receiver<Job>, mut take: impl FnMut(Job) -> Option<Job>) -> Option<Job> {
    loop {
        match rx.try_recv() {
            Ok(j) => {
                if let Some(rest) = take(j) {
                    return Some(rest);
                }
            }
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => return None,
        }
    }
}
