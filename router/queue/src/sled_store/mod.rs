//! `SledStore`: the [`MessageStore`] on sled 0.34.7. This folder is the only place that names
//! sled. The invariants it keeps are numbered in `docs/queue.md` §2.

mod config;
mod consistency;
mod depth;
mod disk_space;
mod files;
mod flusher;
mod keys;
mod ops;
mod record;
mod recovery;
mod relocate;
mod scans;
mod segments;
mod spill;
mod sweep;
mod sync_watch;
mod transitions;
mod tx;
mod writer;

#[cfg(test)]
mod test_hooks;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use config::SledConfig;
pub use consistency::ConsistencyReport;

use crate::api::{
    Completion, Depth, DestinationId, DurableTicket, Enqueued, EventKind, LeaseToken, Leased,
    Limits, MessageId, MessageRecord, MessageStore, NewMessage, PurgeReport, QueueObserver, State,
    StoreError, StoreStats, SyncInProgress, Timestamp,
};
use depth::Depths;
use disk_space::DiskSpace;
use flusher::Flusher;
use ops::EndFn;
use ops::Placed;
use scans::{LeaseRequest, UnreadableLog};
use sync_watch::SyncWatch;
use tokio::sync::oneshot;
use transitions::Bounds;
use tx::{Committed, Corruption, Trees, TxResult, storage};
use writer::{Job, Writer};

/// The store format this code writes (`meta/format`).
const STORE_FORMAT: u32 = 1;

/// A value moved aside because it failed its check (docs/queue.md §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineEntry {
    /// Tree the value was found in (`records`, `payloads`, or an index tree).
    pub tree: String,
    /// Its key there.
    pub key: Vec<u8>,
    /// Its bytes, as found.
    pub value: Vec<u8>,
}

/// What `open` did and how long each step took (for start-up logs and measurements).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// sled's own recovery.
    pub sled: Duration,
    /// Syncing sled's files and directories (docs/queue.md §5.4), then removing spill and
    /// segment files nothing points to.
    pub sync: Duration,
    /// Returning the previous process's leases to `Queued`.
    pub leases: Duration,
    /// Leases returned.
    pub leases_returned: usize,
    /// Loading (or rebuilding) the depth counters.
    pub depths: Duration,
    /// Whether the counters had to be rebuilt from the indexes (full scan).
    pub depths_rebuilt: bool,
}

/// The durable queue on sled. Cheap to clone (shared state).
#[derive(Clone)]
pub struct SledStore {
    inner: Arc<Inner>,
    /// Applies every state change (one thread; see `writer.rs`).
    writer: Arc<Writer>,
}

pub(crate) struct Inner {
    trees: Trees,
    spill: Arc<spill::Spill>,
    spill_threshold: usize,
    segments: segments::Segments,
    /// Payloads below the spill threshold go to segment files (else inline in sled).
    segment_payloads: bool,
    flusher: Flusher,
    /// Syncs running now, so one that hangs is visible (docs/queue.md §5.7).
    syncs: Arc<SyncWatch>,
    depths: Depths,
    disk: DiskSpace,
    limits: RwLock<Limits>,
    observer: Arc<dyn QueueObserver>,
    corrupt_total: AtomicU64,
    /// Payload reads that failed with an I/O error while leasing, and when one was last
    /// logged: a message that stays unreadable is met on every poll, its log line not.
    unreadable: Mutex<UnreadableLog>,
    /// Transactions committed (`StoreStats::transactions_total`).
    transactions: AtomicU64,
    /// Spill files whose pointer a transaction (with this ticket) removed; see
    /// `sweep_spill_files`.
    spill_doomed: Mutex<Vec<(u64, MessageId)>>,
    closed: AtomicBool,
    bounds: Bounds,
    open_report: OpenReport,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // sled 0.34's `Log::drop` unwraps an `fsync` of its log file: on the disk whose sync
        // just failed (§5.6) that panics, and the router would die with a backtrace instead
        // of its one-line error. A failed store is never used again: leave sled's handles
        // undropped (a leak until the process ends, no IO). The flusher stops first: its last
        // flush, when the store is dropped without `close`, may be the one that fails.
        self.flusher.stop();
        if self.flusher.failure().is_some() {
            std::mem::forget(self.trees.db.clone());
        }
    }
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").finish_non_exhaustive()
    }
}

impl SledStore {
    /// Opens (or creates) the store in `config.dir`: syncs sled's files, returns the leases of
    /// the previous process to `Queued`, rebuilds the depth counters from the indexes and starts
    /// the flusher. Corrupt records do not make it fail (they are quarantined when met).
    pub fn open(config: SledConfig) -> Result<SledStore, StoreError> {
        let round_linger = config.round_linger;
        std::fs::create_dir_all(&config.dir).map_err(|e| {
            StoreError::Storage(format!("cannot create {}: {e}", config.dir.display()))
        })?;
        let mut report = OpenReport::default();
        let t = Instant::now();
        let db = open_db(&config)?;
        let trees = Trees::open(db.clone()).map_err(storage)?;
        check_format(&trees)?;
        let spill =
            Arc::new(spill::Spill::open(&config.dir).map_err(|e| {
                StoreError::Storage(format!("cannot open the spill directory: {e}"))
            })?);
        report.sled = t.elapsed();
        let t = Instant::now();
        // What sled recovered may so far be only in the page cache (a killed process wrote
        // it): make it durable before removing any file on its word, or a power loss now
        // could bring back pointers to files removed below. The same goes for spill entries
        // renamed by the killed process.
        let files = files::FileSyncer::open(&config.dir, Arc::clone(&spill))
            .map_err(|e| StoreError::Storage(format!("cannot sync store files: {e}")))?;
        spill
            .sync_dir()
            .map_err(|e| StoreError::Storage(format!("cannot sync the spill directory: {e}")))?;
        // Files of payloads whose pointer never committed or was removed before a crash.
        let (payloads, quarantine) = (trees.payloads.clone(), trees.quarantine.clone());
        let orphans = spill
            .clean(|id| match payloads.get(id.as_bytes()) {
                // Only a spill pointer keeps a file: a relocation a crash interrupted leaves
                // a file next to the segment pointer it was to replace.
                Ok(Some(v)) => !matches!(
                    record::decode_payload_ref(&v),
                    Ok(record::PayloadRef::Inline(_) | record::PayloadRef::Segment { .. })
                ),
                // A quarantined pointer keeps its file as evidence (§7).
                Ok(None) => quarantine
                    .contains_key(tx::quarantine_key("payloads", id.as_bytes()))
                    .unwrap_or(true),
                Err(_) => true,
            })
            .map_err(|e| StoreError::Storage(format!("cannot clean the spill directory: {e}")))?;
        if orphans > 0 {
            tracing::info!(orphans, "Removed spill files without a payload pointer.");
        }
        let mut live = std::collections::BTreeSet::new();
        let mut all_counts_read = true;
        for key in trees.segments.iter().keys() {
            match <[u8; 8]>::try_from(key.map_err(storage)?.as_ref()) {
                Ok(k) => {
                    live.insert(u64::from_be_bytes(k));
                }
                Err(_) => all_counts_read = false,
            }
        }
        if !all_counts_read {
            tracing::error!(
                message =
                    "A segment count key does not parse; no segment file is removed at this open."
            );
        }
        let syncs = Arc::new(SyncWatch::default());
        let (segments, removed) = segments::Segments::open(
            &config.dir,
            config.segment_bytes,
            all_counts_read.then_some(&live),
            Arc::clone(&syncs),
        )
        .map_err(|e| StoreError::Storage(format!("cannot open the segment directory: {e}")))?;
        if removed > 0 {
            tracing::info!(removed, "Removed payload segments without a live payload.");
        }
        let flusher = Flusher::start(
            db,
            files,
            Arc::clone(&config.observer),
            config.idle_flush_interval,
            config.group_commit,
            Arc::clone(&syncs),
        )?;
        report.sync = t.elapsed();
        let mut inner = Inner {
            trees,
            spill,
            spill_threshold: config.spill_threshold,
            segments,
            segment_payloads: config.segment_payloads,
            flusher,
            syncs,
            depths: Depths::default(),
            disk: DiskSpace::new(config.dir.clone(), config.disk_check_interval),
            limits: RwLock::new(config.limits.clone()),
            observer: Arc::clone(&config.observer),
            corrupt_total: AtomicU64::new(0),
            unreadable: Mutex::new(UnreadableLog::default()),
            transactions: AtomicU64::new(0),
            spill_doomed: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            bounds: Bounds {
                max_history_events: config.max_history_events,
                max_detail_bytes: config.max_detail_bytes,
            },
            open_report: OpenReport::default(),
        };
        let t = Instant::now();
        report.leases_returned =
            inner.return_leases_at_open(config.now_at_open.unwrap_or_else(Timestamp::now))?;
        report.leases = t.elapsed();
        let t = Instant::now();
        report.depths_rebuilt = inner.load_depths()?;
        report.depths = t.elapsed();
        tracing::info!(
            message = "Queue store opened.",
            dir = %config.dir.display(),
            sled_ms = report.sled.as_millis() as u64,
            sync_ms = report.sync.as_millis() as u64,
            leases_returned = report.leases_returned,
            depths_ms = report.depths.as_millis() as u64,
            depths_rebuilt = report.depths_rebuilt,
        );
        inner.open_report = report;
        let inner = Arc::new(inner);
        let writer = Arc::new(Writer::start(Arc::clone(&inner), round_linger)?);
        Ok(SledStore { inner, writer })
    }

    /// What `open` did and how long it took.
    pub fn open_report(&self) -> OpenReport {
        self.inner.open_report.clone()
    }

    /// Replaces the back-pressure limits (e.g. after a configuration reload).
    pub fn set_limits(&self, limits: Limits) {
        *self.inner.limits.write().unwrap_or_else(|e| e.into_inner()) = limits;
    }

    /// Scans every record and index and reports where they disagree with the invariants
    /// (docs/queue.md §2: 2, 4, 13). Meant for tests and operators on a quiet store: writes
    /// running at the same time show up as false problems. Blocking (a full scan): call it from
    /// `spawn_blocking` in async code.
    pub fn check_consistency(&self) -> Result<ConsistencyReport, StoreError> {
        self.inner.check_consistency()
    }

    /// Values moved aside because they failed their check. Blocking (a scan of `quarantine`).
    pub fn quarantined(&self) -> Result<Vec<QuarantineEntry>, StoreError> {
        let mut out = Vec::new();
        for item in self.inner.trees.quarantine.iter() {
            let (k, v) = item.map_err(storage)?;
            let split = k.iter().position(|b| *b == 0).unwrap_or(k.len());
            let (tree, key) = k.split_at(split);
            out.push(QuarantineEntry {
                tree: String::from_utf8_lossy(tree).into_owned(),
                key: key.get(1..).unwrap_or_default().to_vec(),
                value: v.to_vec(),
            });
        }
        Ok(out)
    }

    /// Removes one quarantined value for good, once an operator has looked at it (docs/queue.md
    /// §7): a damaged payload's segment can then be reclaimed. Returns whether the value
    /// existed; resolves once the removal is durable.
    pub async fn forget_quarantined(&self, tree: &str, key: &[u8]) -> Result<bool, StoreError> {
        let (tree, key) = (tree.to_owned(), key.to_vec());
        let (forgotten, ticket) = self
            .blocking(move |i| i.commit(|tx| tx.forget_quarantined(&tree, &key)))
            .await?;
        self.wait_durable(ticket).await?;
        Ok(forgotten.is_some())
    }

    /// Hands the job `job(reply)` to the writer thread and waits for its answer.
    async fn ask<T>(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Job,
    ) -> Result<T, StoreError> {
        self.inner.ensure_open()?;
        let (tx, rx) = oneshot::channel();
        self.writer.send(job(tx))?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs a state change on the writer thread.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    {
        self.ask(|tx| {
            Job::Run(Box::new(move |i| {
                let _ = tx.send(f(i));
            }))
        })
        .await
    }

    /// Ends a lease on the writer thread, merged with other lease endings.
    async fn end_lease(&self, lease: &LeaseToken, f: EndFn) -> Result<MessageRecord, StoreError> {
        self.ask(|tx| Job::EndLease(lease.clone(), f, tx)).await
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.ensure_open()?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| StoreError::Storage(format!("store task failed: {e}")))?
    }
}

/// Opens sled. sled frees a closed database's file (and its lock) through epoch-based
/// reclamation, i.e. a little later, so a reopen in the same process retries for a short time.
fn open_db(config: &SledConfig) -> Result<sled::Db, StoreError> {
    let started = std::time::Instant::now();
    loop {
        let result = sled::Config::new()
            .path(&config.dir)
            .cache_capacity(config.cache_capacity_bytes)
            .flush_every_ms(None)
            .open();
        match result {
            Ok(db) => return Ok(db),
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    && started.elapsed() < config.lock_wait =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                return Err(StoreError::Storage(format!(
                    "cannot open {}: {e}",
                    config.dir.display()
                )));
            }
        }
    }
}

fn check_format(trees: &Trees) -> Result<(), StoreError> {
    match trees.meta.get(b"format").map_err(storage)? {
        None => {
            trees
                .meta
                .insert(b"format", &STORE_FORMAT.to_be_bytes())
                .map_err(storage)?;
            Ok(())
        }
        Some(v) => {
            let version = <[u8; 4]>::try_from(v.as_ref())
                .map(u32::from_be_bytes)
                .map_err(|_| StoreError::Storage("store format marker is unreadable".into()))?;
            if version == STORE_FORMAT {
                Ok(())
            } else {
                Err(StoreError::Storage(format!(
                    "store format {version} is not supported (this build reads {STORE_FORMAT})"
                )))
            }
        }
    }
}

impl Inner {
    fn ensure_open(&self) -> Result<(), StoreError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(StoreError::Closed);
        }
        if let Some(msg) = self.flusher.failure() {
            return Err(StoreError::Storage(msg.to_string()));
        }
        Ok(())
    }

    /// Runs a transaction, then applies its depth deltas, reports corruption and takes a
    /// durable ticket. Everything that changes the store goes through here.
    fn commit<A>(
        &self,
        f: impl Fn(&tx::Tx<'_>) -> TxResult<A>,
    ) -> Result<(A, DurableTicket), StoreError> {
        self.commit_n(f, 1)
    }

    /// `commit` of a transaction that carries `ops` merged operations.
    fn commit_n<A>(
        &self,
        f: impl Fn(&tx::Tx<'_>) -> TxResult<A>,
        ops: usize,
    ) -> Result<(A, DurableTicket), StoreError> {
        self.ensure_open()?;
        let Committed {
            value,
            deltas,
            corruptions,
            spill_removals,
            segments_zeroed,
        } = self.trees.transact(&self.spill, &self.segments, f)?;
        self.transactions.fetch_add(1, Ordering::Relaxed);
        let ticket = self.flusher.note_writes(ops as u64);
        if !spill_removals.is_empty() {
            self.doomed_spill_files()
                .extend(spill_removals.into_iter().map(|id| (ticket.0, id)));
        }
        self.segments.zeroed(&segments_zeroed);
        self.sweep_segments();
        for (dest, delta) in deltas {
            self.depths.apply(&dest, delta);
        }
        for c in corruptions {
            self.report_corruption(c);
        }
        Ok((value, ticket))
    }

    pub(crate) fn report_corruption(&self, c: Corruption) {
        self.corrupt_total.fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            message = "Corrupt queue value moved to quarantine.",
            tree = c.tree,
            key = %hex(&c.key),
            reason = %c.reason,
        );
        self.observer.corrupt_record(c.tree, &c.key);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl MessageStore for SledStore {
    async fn enqueue(&self, msg: NewMessage) -> Result<Enqueued, StoreError> {
        match self.inner.precheck(&msg) {
            Ok(()) => {}
            Err((refused, true)) => {
                return self
                    .blocking(move |i| i.answer_refusal(&msg, refused))
                    .await;
            }
            Err((e, false)) => return Err(e),
        }
        // A large payload is written and synced here, off the writer (docs/queue.md §15).
        let staged = if msg.payload.len() >= self.inner.spill_threshold {
            let (inner, id, payload) = (Arc::clone(&self.inner), msg.id, msg.payload.clone());
            let staged = tokio::task::spawn_blocking(move || {
                let _watched = inner.syncs.start("a spilled payload");
                inner.spill.stage(id, &payload)
            })
            .await
            .map_err(|e| StoreError::Storage(format!("spill task failed: {e}")))?
            .map_err(|e| StoreError::Storage(format!("cannot write the payload: {e}")))?;
            Placed::Spilled(staged)
        } else if self.inner.segment_payloads {
            // Written and synced before the pointer exists (docs/queue.md §16).
            Placed::Segment(
                self.inner
                    .segments
                    .append(msg.id, msg.payload.clone())
                    .await?,
            )
        } else {
            Placed::Inline
        };
        self.ask(|tx| Job::Enqueue(msg, staged, tx)).await
    }

    async fn wait_durable(&self, ticket: DurableTicket) -> Result<(), StoreError> {
        self.inner.flusher.wait(ticket).await
    }

    async fn lease(
        &self,
        destination: &str,
        now: Timestamp,
        lease_for: Duration,
        max: usize,
    ) -> Result<Vec<Leased>, StoreError> {
        let req = LeaseRequest {
            dest: destination.to_owned(),
            now,
            lease_for,
            max,
        };
        self.ask(|tx| Job::Lease(req, tx)).await
    }

    async fn lease_one(
        &self,
        id: MessageId,
        now: Timestamp,
        lease_for: Duration,
    ) -> Result<Leased, StoreError> {
        self.write(move |i| i.lease_one(id, now, lease_for)).await
    }

    async fn complete(
        &self,
        lease: &LeaseToken,
        completion: Completion,
        now: Timestamp,
    ) -> Result<MessageRecord, StoreError> {
        let b = self.inner.bounds;
        self.end_lease(
            lease,
            Box::new(move |s| match &completion {
                Completion::Delivered { detail } => {
                    transitions::finished(s, State::Delivered, detail, None, now, b)
                }
                Completion::Forwarded { detail, receipt } => transitions::finished(
                    s,
                    State::Forwarded,
                    detail,
                    Some(receipt.clone()),
                    now,
                    b,
                ),
            }),
        )
        .await
    }

    async fn retry_later(
        &self,
        lease: &LeaseToken,
        error: &str,
        not_before: Timestamp,
        now: Timestamp,
    ) -> Result<MessageRecord, StoreError> {
        let (b, error) = (self.inner.bounds, error.to_owned());
        self.end_lease(
            lease,
            Box::new(move |s| transitions::retry_later(s, &error, not_before, now, b)),
        )
        .await
    }

    async fn kill(
        &self,
        lease: &LeaseToken,
        reason: &str,
        now: Timestamp,
    ) -> Result<MessageRecord, StoreError> {
        let (b, reason) = (self.inner.bounds, reason.to_owned());
        self.end_lease(
            lease,
            Box::new(move |s| transitions::dead(s, &reason, now, b)),
        )
        .await
    }

    async fn release(&self, lease: &LeaseToken, now: Timestamp) -> Result<(), StoreError> {
        let b = self.inner.bounds;
        self.end_lease(lease, Box::new(move |s| transitions::released(s, now, b)))
            .await
            .map(|_| ())
    }

    async fn expire_leases(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.write(move |i| i.expire_leases(now, "lease expired"))
            .await
    }

    async fn record_event(
        &self,
        id: MessageId,
        kind: EventKind,
        detail: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let detail = detail.to_owned();
        self.write(move |i| i.record_event(id, kind, &detail, now))
            .await
    }

    async fn get(&self, id: MessageId) -> Result<Option<MessageRecord>, StoreError> {
        self.blocking(move |i| Ok(i.read_record(id)?.map(|s| s.rec)))
            .await
    }

    async fn payload(&self, id: MessageId) -> Result<Option<Bytes>, StoreError> {
        self.blocking(move |i| i.read_payload(id)).await
    }

    async fn list_pending(
        &self,
        destination: &str,
        after_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let dest = destination.to_owned();
        self.blocking(move |i| i.list_pending(&dest, after_seq, limit))
            .await
    }

    async fn list_dead(
        &self,
        after_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        self.blocking(move |i| i.list_dead(after_seq, limit)).await
    }

    async fn replay(&self, id: MessageId, now: Timestamp) -> Result<MessageRecord, StoreError> {
        self.write(move |i| i.replay(id, now)).await
    }

    async fn purge(&self, id: MessageId) -> Result<(), StoreError> {
        self.write(move |i| i.purge(id)).await
    }

    async fn purge_finished(
        &self,
        now: Timestamp,
        payload_retention: Duration,
        record_retention: Duration,
    ) -> Result<PurgeReport, StoreError> {
        let report = self
            .blocking(move |i| i.purge_finished(now, payload_retention, record_retention))
            .await?;
        self.relocate_dead_letters().await?;
        // Files go only once the removal of their pointers is durable: make it so, then sweep
        // twice (a segment's removal takes two sweeps with a durable ticket in between).
        for _ in 0..2 {
            self.wait_durable(self.current_ticket()).await?;
            self.blocking(|i| {
                i.sweep_segments();
                Ok(())
            })
            .await?;
        }
        self.write(|i| {
            i.sweep_spill_files();
            Ok(())
        })
        .await?;
        Ok(report)
    }

    fn current_ticket(&self) -> DurableTicket {
        self.inner.flusher.current()
    }

    fn depths(&self) -> BTreeMap<DestinationId, Depth> {
        self.inner.depths.snapshot()
    }

    fn depth(&self, destination: &str) -> Depth {
        self.inner.depths.get(destination)
    }

    fn stats(&self) -> StoreStats {
        let f = self.inner.flusher.stats();
        StoreStats {
            flushes_total: f.flushes.load(Ordering::Relaxed),
            flush_seconds_total: f.nanos.load(Ordering::Relaxed) as f64 / 1e9,
            flushed_writes_total: f.writes.load(Ordering::Relaxed),
            corrupt_records_total: self.inner.corrupt_total.load(Ordering::Relaxed),
            transactions_total: self.inner.transactions.load(Ordering::Relaxed),
            disk_bytes: self.inner.trees.db.size_on_disk().unwrap_or(0),
            free_disk_bytes: self.inner.disk.free_bytes().unwrap_or(0),
        }
    }

    fn failure(&self) -> Option<String> {
        self.inner.flusher.failure().map(|m| m.to_string())
    }

    fn sync_in_progress(&self) -> Option<SyncInProgress> {
        self.inner.syncs.oldest()
    }

    async fn close(&self) -> Result<(), StoreError> {
        if self.inner.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let (inner, writer) = (Arc::clone(&self.inner), Arc::clone(&self.writer));
        // Writes handed to the writer before the close are applied, then the final flush.
        tokio::task::spawn_blocking(move || {
            writer.stop();
            inner.segments.stop();
            inner.flusher.stop()
        })
        .await
        .map_err(|e| StoreError::Storage(format!("close task failed: {e}")))?;
        match self.inner.flusher.failure() {
            Some(msg) => Err(StoreError::Storage(msg.to_string())),
            None => Ok(()),
        }
    }
}
