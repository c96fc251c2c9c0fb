//! Files go only once the removal of their pointers is durable (docs/queue.md §15, §16).
//!
//! A transaction that drops a payload pointer is applied long before it is flushed; a crash
//! in between brings the pointer back (sled recovers a prefix of its log). So spill files and
//! segment files are removed by these sweeps, after the flusher published a ticket that covers
//! the removal, never right after the commit.

use std::sync::MutexGuard;

use super::Inner;
use super::record::{PayloadRef, decode_payload_ref};
use super::tx;
use crate::api::MessageId;

impl Inner {
    pub(crate) fn doomed_spill_files(&self) -> MutexGuard<'_, Vec<(u64, MessageId)>> {
        self.spill_doomed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes the spill files whose pointer's removal is durable (docs/queue.md §15). Runs
    /// on the writer only: the writer is the only place that moves a file into `<uuid>`, so
    /// no enqueue of the same id can come between the check and the removal. A file that a
    /// newer message of the same id now owns is kept.
    pub(crate) fn sweep_spill_files(&self) {
        let durable = self.flusher.durable();
        let due: Vec<MessageId> = {
            let mut doomed = self.doomed_spill_files();
            if doomed.is_empty() {
                return;
            }
            let (due, later): (Vec<_>, Vec<_>) = doomed.drain(..).partition(|(t, _)| *t <= durable);
            *doomed = later;
            due.into_iter().map(|(_, id)| id).collect()
        };
        for id in due {
            let owned = match self.trees.payloads.get(id.as_bytes()) {
                Ok(Some(v)) => matches!(decode_payload_ref(&v), Ok(PayloadRef::Spilled { .. })),
                Ok(None) => false,
                Err(_) => true, // unsure: keep it; open removes it if it is an orphan
            };
            if !owned {
                self.spill.remove(id);
            }
        }
    }

    /// Removes segment files nothing points into any more (docs/queue.md §16).
    pub(crate) fn sweep_segments(&self) {
        let counts = &self.trees.segments;
        self.segments.sweep(
            self.flusher.durable(),
            |seg| counts.contains_key(tx::segment_key(seg)).unwrap_or(true),
            || self.flusher.note_writes(1).0,
        );
    }
}
