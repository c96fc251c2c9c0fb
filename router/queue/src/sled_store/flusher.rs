//! Group commit: one thread makes applied writes durable and publishes how far it got
//! (docs/queue.md §5).
//!
//! Invariant: a ticket is taken only after its write was applied, and the flusher reads the
//! highest ticket *before* calling `Db::flush`, so every write with a ticket `<=` the published
//! one is covered by a flush that started after it was applied, followed by the file syncs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::files::FileSyncer;
use super::sync_watch::SyncWatch;
use crate::api::{DurableTicket, QueueObserver, StoreError};

/// An idle store syncs its log this often, so a disk that stopped syncing is noticed (and
/// `/readyz` says so) before the next message arrives, not when it is refused (§5.6).
const IDLE_PROBE_INTERVAL: Duration = Duration::from_secs(5);

/// What waiters see.
#[derive(Debug, Clone, Default)]
pub(crate) struct Published {
    /// Every write with a ticket up to this one is durable.
    pub(crate) ticket: u64,
    /// Set once a flush or sync failed; the store accepts nothing after that.
    pub(crate) failed: Option<Arc<str>>,
    /// The flusher stopped (store closed).
    pub(crate) closed: bool,
}

#[derive(Debug, Default)]
struct Wanted {
    requested: u64,
    stop: bool,
}

#[derive(Debug, Default)]
pub(crate) struct FlushStats {
    pub(crate) flushes: AtomicU64,
    pub(crate) nanos: AtomicU64,
    pub(crate) writes: AtomicU64,
}

struct Shared {
    db: sled::Db,
    applied: AtomicU64,
    wanted: Mutex<Wanted>,
    wake: Condvar,
    published: watch::Sender<Published>,
    files: Mutex<FileSyncer>,
    observer: Arc<dyn QueueObserver>,
    stats: FlushStats,
    idle_interval: Duration,
    syncs: Arc<SyncWatch>,
}

/// The group-commit flusher of one store.
pub(crate) struct Flusher {
    shared: Arc<Shared>,
    group_commit: bool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Shared {
    fn wanted(&self) -> std::sync::MutexGuard<'_, Wanted> {
        self.wanted.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One round: flush, sync files, publish. Serialised by the `files` lock.
    fn flush_once(&self) {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if self.published.borrow().failed.is_some() {
            return;
        }
        let target = self.applied.load(Ordering::SeqCst);
        let started = Instant::now();
        let watched = self.syncs.start("the queue log (group commit)");
        let result = self
            .db
            .flush()
            .map_err(|e| format!("sled flush failed: {e}"))
            .and_then(|_| {
                files
                    .after_flush()
                    .map_err(|e| format!("fsync after flush failed: {e}"))
            });
        drop(watched);
        let took = started.elapsed();
        match result {
            Ok(()) => {
                // Only flush_once publishes tickets and it runs under the `files` lock, so
                // `prev` cannot move under us. Counters are updated before publishing so a
                // woken waiter sees them.
                let prev = self.published.borrow().ticket;
                let newly = target.saturating_sub(prev);
                self.stats.flushes.fetch_add(1, Ordering::Relaxed);
                self.stats.writes.fetch_add(newly, Ordering::Relaxed);
                let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
                self.stats.nanos.fetch_add(nanos, Ordering::Relaxed);
                self.observer.flushed(took, newly);
                self.published
                    .send_modify(|p| p.ticket = p.ticket.max(target));
            }
            Err(msg) => self.fail(msg),
        }
    }

    /// With nothing new to flush: does the disk still sync? Only the log's `fdatasync`, so a
    /// passing shortage (file handles) cannot fail an idle store. Publishes nothing: a write
    /// that arrived meanwhile waits for its own flush.
    fn probe(&self) {
        let files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if self.published.borrow().failed.is_some() {
            return;
        }
        let watched = self.syncs.start("the idle queue log");
        let result = files.sync_log();
        drop(watched);
        if let Err(e) = result {
            self.fail(format!("fsync of the idle queue log failed: {e}"));
        }
    }

    fn fail(&self, msg: String) {
        tracing::error!(message = "Queue flush failed; the store refuses writes until restarted.", error = %msg);
        let msg: Arc<str> = msg.into();
        self.published.send_modify(|p| p.failed = Some(msg));
    }

    fn run(&self) {
        let mut last_sync = Instant::now();
        loop {
            let probe = {
                let mut w = self.wanted();
                loop {
                    let (durable, failed) = {
                        let p = self.published.borrow();
                        (p.ticket, p.failed.is_some())
                    };
                    if failed {
                        self.published.send_modify(|p| p.closed = true);
                        return;
                    }
                    if w.stop {
                        drop(w);
                        // Always a sync, even with nothing new: a disk that broke while the
                        // store was idle must fail here, not in sled's drop (§5.6).
                        if self.applied.load(Ordering::SeqCst) > durable {
                            self.flush_once();
                        } else {
                            self.probe();
                        }
                        self.published.send_modify(|p| p.closed = true);
                        return;
                    }
                    if w.requested > durable {
                        break false;
                    }
                    let (guard, timeout) = self
                        .wake
                        .wait_timeout(w, self.idle_interval)
                        .unwrap_or_else(|e| e.into_inner());
                    w = guard;
                    if timeout.timed_out() {
                        if self.applied.load(Ordering::SeqCst) > durable {
                            break false;
                        }
                        if last_sync.elapsed() >= IDLE_PROBE_INTERVAL {
                            break true;
                        }
                    }
                }
            };
            if probe {
                self.probe();
            } else {
                self.flush_once();
            }
            last_sync = Instant::now();
        }
    }
}

impl Flusher {
    /// Syncs the store's files once and starts the flusher thread.
    pub(crate) fn start(
        db: sled::Db,
        files: FileSyncer,
        observer: Arc<dyn QueueObserver>,
        idle_interval: Duration,
        group_commit: bool,
        syncs: Arc<SyncWatch>,
    ) -> Result<Self, StoreError> {
        let (published, _) = watch::channel(Published::default());
        let shared = Arc::new(Shared {
            db,
            applied: AtomicU64::new(0),
            wanted: Mutex::new(Wanted::default()),
            wake: Condvar::new(),
            published,
            files: Mutex::new(files),
            observer,
            stats: FlushStats::default(),
            idle_interval,
            syncs,
        });
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("xoev-queue-flusher".into())
            .spawn(move || for_thread.run())
            .map_err(|e| StoreError::Storage(format!("cannot start the flusher thread: {e}")))?;
        Ok(Flusher {
            shared,
            group_commit,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Takes the ticket of a write that was just applied.
    /// Notes `n` applied writes (one transaction may carry several merged operations, which
    /// count one each); returns the ticket that covers them.
    pub(crate) fn note_writes(&self, n: u64) -> DurableTicket {
        let n = n.max(1);
        DurableTicket(self.shared.applied.fetch_add(n, Ordering::SeqCst) + n)
    }

    /// The ticket of everything applied so far.
    pub(crate) fn current(&self) -> DurableTicket {
        DurableTicket(self.shared.applied.load(Ordering::SeqCst))
    }

    /// The ticket of everything made durable so far.
    pub(crate) fn durable(&self) -> u64 {
        self.shared.published.borrow().ticket
    }

    /// Why the store failed, if it did.
    pub(crate) fn failure(&self) -> Option<Arc<str>> {
        self.shared.published.borrow().failed.clone()
    }

    pub(crate) fn stats(&self) -> &FlushStats {
        &self.shared.stats
    }

    /// Resolves once `ticket` is durable. A ticket not yet issued is clamped to the last one
    /// issued: it covers no write, and waiting for it could never end.
    pub(crate) async fn wait(&self, ticket: DurableTicket) -> Result<(), StoreError> {
        let target = ticket.0.min(self.shared.applied.load(Ordering::SeqCst));
        if self.shared.published.borrow().ticket >= target {
            return Ok(());
        }
        if !self.group_commit {
            let shared = Arc::clone(&self.shared);
            tokio::task::spawn_blocking(move || shared.flush_once())
                .await
                .map_err(|e| StoreError::Storage(format!("flush task failed: {e}")))?;
        } else {
            let mut w = self.shared.wanted();
            w.requested = w.requested.max(target);
            self.shared.wake.notify_one();
        }
        let mut rx = self.shared.published.subscribe();
        let p = rx
            .wait_for(|p| p.ticket >= target || p.failed.is_some() || p.closed)
            .await
            .map_err(|_| StoreError::Closed)?
            .clone();
        if p.ticket >= target {
            Ok(())
        } else if let Some(msg) = p.failed {
            Err(StoreError::Storage(msg.to_string()))
        } else {
            Err(StoreError::Closed)
        }
    }

    /// Final flush, then the thread ends. Blocking; idempotent.
    pub(crate) fn stop(&self) {
        self.shared.wanted().stop = true;
        self.shared.wake.notify_one();
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle
            && h.join().is_err()
        {
            tracing::error!(message = "Queue flusher thread panicked.");
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.stop();
    }
}
