//! Configuration of [`SledStore`](super::SledStore).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::api::{Limits, NoopObserver, QueueObserver, Timestamp};

/// Everything [`SledStore::open`](super::SledStore::open) needs. Build it with
/// [`SledConfig::new`] and adjust the public fields; the defaults suit production.
#[derive(Clone)]
pub struct SledConfig {
    /// Directory of the sled database (created if missing). Nothing else may use it.
    pub dir: PathBuf,
    /// Back-pressure limits checked by `enqueue`; changeable later with `set_limits`.
    pub limits: Limits,
    /// Receives flush and corruption events (metrics, logs).
    pub observer: Arc<dyn QueueObserver>,
    /// sled's page cache size in bytes. Default 256 MiB.
    pub cache_capacity_bytes: u64,
    /// Writes nobody waits for (state changes) become durable at the latest after this long.
    /// Default 500 ms (sled's own periodic flusher is turned off).
    pub idle_flush_interval: Duration,
    /// How long a free-disk reading (`statvfs`) is reused. Default 1 s.
    pub disk_check_interval: Duration,
    /// History entries kept per message: the first (`Accepted`) and the most recent ones.
    /// Default 64.
    pub max_history_events: usize,
    /// Event details and last errors are cut to this many bytes. Default 1024.
    pub max_detail_bytes: usize,
    /// `true` (default): one flusher thread batches all waiters into one flush. `false`: each
    /// `wait_durable` flushes and syncs by itself, one after another. Only for measuring what
    /// group commit buys; never turn it off in production.
    pub group_commit: bool,
    /// The time `open` uses when it returns the previous process's leases to `Queued`.
    /// `None` (default): the wall clock. Tests that drive time set it.
    pub now_at_open: Option<Timestamp>,
    /// Payloads of at least this many bytes are kept in spill files, not in sled (which keeps
    /// values resident in memory). Default 64 KiB.
    pub spill_threshold: usize,
    /// `true` (default): payloads below `spill_threshold` are appended to segment files and
    /// sled keeps a pointer (docs/queue.md §16). `false`: they are stored inside sled, as
    /// before segments existed (for comparisons and tests of the inline format).
    pub segment_payloads: bool,
    /// A segment file is closed for appends once it holds this many bytes. Default 64 MiB.
    pub segment_bytes: u64,
    /// How long the writer may hold a small round open for more operations once the store is
    /// busy (docs/queue.md §14). Every sled transaction costs a log write and wakes sled's IO
    /// threads, so under moderate load merging saves more CPU than the wait costs. Default
    /// 1 ms; zero turns it off.
    pub round_linger: Duration,
    /// How long `open` waits for the directory's lock (held by another process, or by a store
    /// of this process that was just dropped and is still being freed). Default 5 s.
    pub lock_wait: Duration,
}

impl SledConfig {
    /// A configuration with default tuning for the store in `dir`.
    pub fn new(dir: impl Into<PathBuf>, limits: Limits) -> Self {
        SledConfig {
            dir: dir.into(),
            limits,
            observer: Arc::new(NoopObserver),
            cache_capacity_bytes: 256 * 1024 * 1024,
            idle_flush_interval: Duration::from_millis(500),
            disk_check_interval: Duration::from_secs(1),
            max_history_events: 64,
            max_detail_bytes: 1024,
            group_commit: true,
            now_at_open: None,
            lock_wait: Duration::from_secs(5),
            round_linger: Duration::from_millis(1),
            spill_threshold: 64 * 1024,
            segment_payloads: true,
            segment_bytes: 64 << 20,
        }
    }
}

impl fmt::Debug for SledConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SledConfig")
            .field("dir", &self.dir)
            .field("limits", &self.limits)
            .field("cache_capacity_bytes", &self.cache_capacity_bytes)
            .field("idle_flush_interval", &self.idle_flush_interval)
            .field("disk_check_interval", &self.disk_check_interval)
            .field("max_history_events", &self.max_history_events)
            .field("max_detail_bytes", &self.max_detail_bytes)
            .field("group_commit", &self.group_commit)
            .field("now_at_open", &self.now_at_open)
            .field("lock_wait", &self.lock_wait)
            .field("round_linger", &self.round_linger)
            .field("spill_threshold", &self.spill_threshold)
            .field("segment_payloads", &self.segment_payloads)
            .field("segment_bytes", &self.segment_bytes)
            .finish_non_exhaustive()
    }
}
