//! Large payloads live in files, not in sled (docs/queue.md §15).
//!
//! sled 0.34 keeps values resident in memory regardless of its cache limit (measured: 400
//! payloads of 1 MiB left ~450 MiB resident), so payloads from `SledConfig::spill_threshold`
//! up are written to `<dir>/spill/<uuid>` and `payloads` holds a checked pointer (length and
//! CRC32 of the content).
//!
//! Ordering, which makes a 202 imply the file is durable:
//! 1. the enqueuing task writes `<uuid>.<random>.tmp` and `fdatasync`s it (off the writer);
//! 2. the writer renames it to `<uuid>` before the transaction that stores the pointer, and
//!    only if no record with that id exists (a resubmission must never replace the payload of
//!    an acknowledged message), and marks the directory dirty;
//! 3. the flusher, after sled's flush and before publishing the ticket, `fsync`s the directory
//!    when it is dirty.
//!
//! A file whose pointer a transaction removed goes once that transaction is durable (the
//! store's `sweep_spill_files`, on the writer). Files no spill pointer names (a crash before a
//! commit or before the removal) and temporary files are removed at open.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use uuid::Uuid;

pub(crate) const DIR: &str = "spill";

/// Distinguishes concurrent stagings of the same id (temporary files of earlier processes are
/// removed at open, so a counter per process is unique enough).
static NEXT_TMP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[derive(Debug)]
pub(crate) struct Spill {
    dir: PathBuf,
    /// An entry was added or renamed since the last directory fsync.
    dirty: AtomicBool,
}

/// A payload written to a temporary spill file, ready to be renamed into place.
#[derive(Debug)]
pub(crate) struct Staged {
    pub(crate) tmp: PathBuf,
    pub(crate) len: u64,
    pub(crate) crc: u32,
}

impl Drop for Staged {
    /// A staging nobody committed (its enqueue was cancelled: the client went away, or the
    /// router stopped waiting for a disk that does not answer) leaves no temporary file
    /// until the next open. After `commit_staged` or `discard` the name is gone already, and
    /// no other file ever takes it (the name is unique), so this removes nothing then.
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.tmp);
    }
}

/// Why a spill file cannot serve as a payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SpillError {
    #[error("spill file of {0} is missing")]
    Missing(Uuid),
    #[error("spill file of {id} has {found} bytes, the pointer says {want}")]
    Length { id: Uuid, found: u64, want: u64 },
    #[error("spill file of {id} fails its checksum")]
    Checksum { id: Uuid },
    #[error("spill file of {id}: {message}")]
    Io { id: Uuid, message: String },
}

impl Spill {
    pub(crate) fn open(store_dir: &Path) -> io::Result<Spill> {
        let dir = store_dir.join(DIR);
        fs::create_dir_all(&dir)?;
        File::open(store_dir)?.sync_all()?;
        Ok(Spill {
            dir,
            dirty: AtomicBool::new(false),
        })
    }

    pub(crate) fn path(&self, id: Uuid) -> PathBuf {
        self.dir.join(id.hyphenated().to_string())
    }

    /// Step 1: writes and syncs the payload under a temporary name.
    pub(crate) fn stage(&self, id: Uuid, payload: &[u8]) -> io::Result<Staged> {
        let tmp = self.dir.join(format!(
            "{}.{:016x}.tmp",
            id.hyphenated(),
            NEXT_TMP.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(payload)?;
            f.sync_data()
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(Staged {
            tmp,
            len: payload.len() as u64,
            crc: crc32fast::hash(payload),
        })
    }

    /// Step 2: moves a staged file into place (the caller checked that no record has the id).
    pub(crate) fn commit_staged(&self, id: Uuid, staged: &Staged) -> io::Result<()> {
        fs::rename(&staged.tmp, self.path(id))?;
        // After the rename: a directory sync that ran between an earlier mark and the rename
        // would have cleared the mark without covering this entry.
        self.dirty.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Makes the directory's entries durable now (at open: files renamed by a process that
    /// was killed before its flusher synced them).
    pub(crate) fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }

    /// Drops a staged file that will not be used (duplicate, refusal, failed transaction).
    pub(crate) fn discard(&self, staged: &Staged) {
        let _ = fs::remove_file(&staged.tmp);
    }

    /// Step 3, run by the flusher: makes the directory entries durable.
    pub(crate) fn sync_dir_if_dirty(&self) -> io::Result<()> {
        if self.dirty.swap(false, Ordering::SeqCst)
            && let Err(e) = File::open(&self.dir).and_then(|d| d.sync_all())
        {
            self.dirty.store(true, Ordering::SeqCst);
            return Err(e);
        }
        Ok(())
    }

    /// Reads and checks a spilled payload.
    pub(crate) fn read(&self, id: Uuid, len: u64, crc: u32) -> Result<Bytes, SpillError> {
        let io = |e: io::Error| SpillError::Io {
            id,
            message: e.to_string(),
        };
        let mut f = match File::open(self.path(id)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(SpillError::Missing(id)),
            Err(e) => return Err(io(e)),
        };
        let found = f.metadata().map_err(io)?.len();
        if found != len {
            return Err(SpillError::Length {
                id,
                found,
                want: len,
            });
        }
        let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        f.read_to_end(&mut buf).map_err(io)?;
        // The payload is in memory now and is rarely read again (a retry, a replay), so its
        // page cache goes back to the kernel: new spill files then reuse those pages instead
        // of allocating fresh ones, which made writing 1 MiB cost ~2–3 ms instead of ~0.2 ms
        // (docs/benchmarks.md, scenario 3). Only advice; a failure changes nothing.
        let _ = rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed);
        if crc32fast::hash(&buf) != crc {
            return Err(SpillError::Checksum { id });
        }
        Ok(Bytes::from(buf))
    }

    /// Removes a spilled payload (after the transaction that dropped its pointer is durable).
    pub(crate) fn remove(&self, id: Uuid) {
        if let Err(e) = fs::remove_file(self.path(id))
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(%id, error = %e, "cannot remove a spill file; it is removed at the next open");
        }
    }

    /// Removes temporary files and files `keep` says no pointer refers to. Returns how many.
    pub(crate) fn clean(&self, keep: impl Fn(Uuid) -> bool) -> io::Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let orphan = match Uuid::parse_str(&name) {
                Ok(id) if name.len() == 36 => !keep(id),
                _ => true, // temporary or foreign files
            };
            if orphan {
                fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        if removed > 0 {
            File::open(&self.dir)?.sync_all()?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_payload_reads_back_byte_identical_once_committed() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Spill::open(tmp.path()).unwrap();
        let id = Uuid::from_u128(1);
        let staged = s.stage(id, b"payload \xc3\x9f").unwrap();
        assert_eq!(
            s.read(id, staged.len, staged.crc),
            Err(SpillError::Missing(id))
        );
        s.commit_staged(id, &staged).unwrap();
        assert_eq!(
            s.read(id, staged.len, staged.crc).unwrap(),
            Bytes::from_static(b"payload \xc3\x9f")
        );
        s.sync_dir_if_dirty().unwrap();
    }

    #[test]
    fn a_staging_dropped_uncommitted_leaves_no_file_and_a_committed_one_stays() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Spill::open(tmp.path()).unwrap();
        let files = || fs::read_dir(&s.dir).unwrap().count();
        drop(s.stage(Uuid::from_u128(3), b"cancelled").unwrap());
        assert_eq!(
            files(),
            0,
            "the temporary file of a cancelled enqueue is gone"
        );
        let id = Uuid::from_u128(4);
        let staged = s.stage(id, b"kept").unwrap();
        s.commit_staged(id, &staged).unwrap();
        drop(staged);
        assert_eq!(s.read(id, 4, crc32fast::hash(b"kept")).unwrap(), "kept");
        assert_eq!(files(), 1);
    }

    #[test]
    fn a_changed_or_truncated_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Spill::open(tmp.path()).unwrap();
        let id = Uuid::from_u128(2);
        let staged = s.stage(id, b"0123456789").unwrap();
        s.commit_staged(id, &staged).unwrap();
        fs::write(s.path(id), b"0123456788").unwrap();
        assert_eq!(
            s.read(id, staged.len, staged.crc),
            Err(SpillError::Checksum { id })
        );
        fs::write(s.path(id), b"0123").unwrap();
        assert!(matches!(
            s.read(id, staged.len, staged.crc),
            Err(SpillError::Length { found: 4, .. })
        ));
    }

    #[test]
    fn clean_removes_temporary_files_and_orphans_only() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Spill::open(tmp.path()).unwrap();
        let (kept, orphan) = (Uuid::from_u128(3), Uuid::from_u128(4));
        for id in [kept, orphan] {
            let st = s.stage(id, b"x").unwrap();
            s.commit_staged(id, &st).unwrap();
        }
        // A staging of a process that died: nothing ran its drop.
        std::mem::forget(s.stage(Uuid::from_u128(5), b"y").unwrap());
        assert_eq!(s.clean(|id| id == kept).unwrap(), 2);
        assert!(s.path(kept).exists() && !s.path(orphan).exists());
        assert_eq!(fs::read_dir(tmp.path().join(DIR)).unwrap().count(), 1);
    }
}
