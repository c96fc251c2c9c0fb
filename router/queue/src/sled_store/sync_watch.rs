//! Which disk syncs are running and since when (docs/queue.md §5.7).
//!
//! A sync that *fails* fails the store (§5.6). A sync that *hangs* (a device that stopped
//! answering, a stuck network block device) fails nothing: the flusher or the appender just
//! waits, and so does every acknowledgement. This watch makes the wait visible, so the
//! router can report not ready and stop taking messages it cannot acknowledge.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::api::SyncInProgress;

/// The syncs in progress of one store. A few lock operations per sync: syncs are batched
/// (group commit, appender batches), so this is paid per batch, not per message.
#[derive(Debug, Default)]
pub(crate) struct SyncWatch {
    running: Mutex<Running>,
}

#[derive(Debug, Default)]
struct Running {
    next: u64,
    /// Tokens are handed out in start order, so the first entry is the oldest sync.
    since: BTreeMap<u64, (Instant, &'static str)>,
    /// When a sync last ended: a disk that still completes syncs is slow, not hung.
    last_ended: Option<Instant>,
}

/// Ends the watch of one sync when dropped (also on an error path).
pub(crate) struct Watched<'a> {
    watch: &'a SyncWatch,
    token: u64,
}

impl SyncWatch {
    fn running(&self) -> std::sync::MutexGuard<'_, Running> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes that a sync of `what` starts now; it ends when the guard is dropped.
    pub(crate) fn start(&self, what: &'static str) -> Watched<'_> {
        let mut r = self.running();
        let token = r.next;
        r.next += 1;
        r.since.insert(token, (Instant::now(), what));
        Watched { watch: self, token }
    }

    /// The sync that has been running longest, if any is.
    pub(crate) fn oldest(&self) -> Option<SyncInProgress> {
        let r = self.running();
        r.since
            .first_key_value()
            .map(|(_, (since, what))| SyncInProgress {
                what,
                running_for: since.elapsed(),
                last_ended_ago: r.last_ended.map(|t| t.elapsed()),
            })
    }
}

impl Drop for Watched<'_> {
    fn drop(&mut self) {
        let mut r = self.watch.running();
        r.since.remove(&self.token);
        r.last_ended = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_running_sync_is_reported_until_it_ends() {
        let w = SyncWatch::default();
        assert!(w.oldest().is_none());
        let first = w.start("the log");
        std::thread::sleep(std::time::Duration::from_millis(5));
        let second = w.start("a segment");
        let oldest = w.oldest().map(|s| (s.what, s.running_for.as_millis() >= 5));
        assert_eq!(oldest, Some(("the log", true)));
        assert_eq!(w.oldest().map(|s| s.last_ended_ago), Some(None));
        drop(first);
        let oldest = w.oldest().map(|s| (s.what, s.last_ended_ago.is_some()));
        assert_eq!(oldest, Some(("a segment", true)));
        drop(second);
        assert!(w.oldest().is_none());
    }
}
