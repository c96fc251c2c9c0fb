//! Dead letters out of segments (docs/queue.md §16).
//!
//! A segment file goes only when nothing points into it, and a dead letter stays until an
//! operator replays or purges it, maybe for months: one dead letter would keep its whole
//! segment. Maintenance therefore moves the payloads of dead letters from segments into spill
//! files (one file per message, removed with it), after which the segment can go.
//!
//! Reading and writing the new file (with its `fdatasync`) happen off the writer; the rename
//! and the pointer swap happen on the writer, where every other spill rename happens, so no
//! enqueue of the same id can interleave.

use uuid::Uuid;

use super::keys;
use super::record::{PayloadRef, decode_payload_ref, encode_spill_pointer};
use super::spill::Staged;
use super::tx::{Index, fetch_payload, storage};
use super::{Inner, SledStore};
use crate::api::StoreError;

/// Dead letters moved per maintenance run at most (each costs a file and an `fdatasync`).
pub(crate) const MAX_PER_RUN: usize = 1024;

/// A dead letter whose payload sits in a segment that is not being appended to.
pub(crate) struct Candidate {
    pub(crate) id: Uuid,
    /// The `payloads` value read, to swap only if it is still the same.
    pub(crate) pointer: Vec<u8>,
}

impl Inner {
    /// Up to `max` dead letters whose payload is in an inactive segment.
    pub(crate) fn relocation_candidates(&self, max: usize) -> Result<Vec<Candidate>, StoreError> {
        let mut out = Vec::new();
        for item in self.trees.index(Index::Dead).iter() {
            let (_, value) = item.map_err(storage)?;
            let Some(id) = keys::value_id(&value) else {
                continue; // listing the dead letters quarantines it
            };
            let Some(raw) = self.trees.payloads.get(id.as_bytes()).map_err(storage)? else {
                continue;
            };
            let Ok(PayloadRef::Segment { seg, .. }) = decode_payload_ref(&raw) else {
                continue;
            };
            if self.segments.is_active(seg) {
                continue;
            }
            out.push(Candidate {
                id,
                pointer: raw.to_vec(),
            });
            if out.len() >= max {
                break;
            }
        }
        Ok(out)
    }

    /// Off the writer: copies the payload `pointer` names into a synced temporary spill file.
    /// `None` when the payload fails its check: it is met (and quarantined) on replay.
    pub(crate) fn stage_relocation(
        &self,
        id: Uuid,
        pointer: &[u8],
    ) -> Result<Option<Staged>, StoreError> {
        let Ok(r) = decode_payload_ref(pointer) else {
            return Ok(None);
        };
        let Ok(payload) = fetch_payload(&self.spill, &self.segments, id, r) else {
            return Ok(None);
        };
        self.spill
            .stage(id, &payload)
            .map(Some)
            .map_err(|e| StoreError::Storage(format!("cannot write the payload: {e}")))
    }

    /// On the writer: moves a staged copy into place and points the message at it, if its
    /// pointer is still `old`. Returns whether it did.
    pub(crate) fn swap_to_spill(
        &self,
        id: Uuid,
        old: &[u8],
        staged: &Staged,
    ) -> Result<bool, StoreError> {
        let current = self.trees.payloads.get(id.as_bytes()).map_err(storage)?;
        if current.as_deref() != Some(old) {
            self.spill.discard(staged);
            return Ok(false);
        }
        if let Err(e) = self.spill.commit_staged(id, staged) {
            self.spill.discard(staged);
            return Err(StoreError::Storage(format!(
                "cannot move a dead letter's payload into place: {e}"
            )));
        }
        let pointer = encode_spill_pointer(staged.len, staged.crc);
        match self.commit(|tx| tx.swap_payload_pointer(id, old, &pointer)) {
            Ok((true, _)) => Ok(true),
            Ok((false, _)) => {
                // Changed off the writer in between (quarantine on read): not ours to keep.
                self.spill.remove(id);
                Ok(false)
            }
            Err(e) => {
                self.spill.remove(id);
                Err(e)
            }
        }
    }
}

impl SledStore {
    /// Moves dead letters' payloads out of segments into spill files (docs/queue.md §16), so
    /// a dead letter does not keep a whole segment. Returns how many moved.
    pub(super) async fn relocate_dead_letters(&self) -> Result<u64, StoreError> {
        let candidates = self
            .blocking(|i| i.relocation_candidates(MAX_PER_RUN))
            .await?;
        let mut moved = 0;
        for c in candidates {
            let (id, pointer) = (c.id, c.pointer);
            let p = pointer.clone();
            let Some(staged) = self.blocking(move |i| i.stage_relocation(id, &p)).await? else {
                continue;
            };
            if self
                .write(move |i| i.swap_to_spill(id, &pointer, &staged))
                .await?
            {
                moved += 1;
            }
        }
        if moved > 0 {
            tracing::info!(
                moved,
                "Moved dead letters' payloads from segments into spill files."
            );
        }
        Ok(moved)
    }
}
