//! Makes sled's files really durable after `Db::flush` (docs/queue.md §5).
//!
//! sled 0.34.7 ends a flush with `sync_file_range` on the log (`db`), which neither flushes the
//! drive's write cache nor commits the file size; it never syncs blob files (`blobs/<lsn>`,
//! values above `segment_size / 4`, including large nodes) nor `conf`, and renames snapshots
//! without syncing the directory. This type closes those gaps.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The files sled writes in one store directory and what was already synced.
#[derive(Debug)]
pub(crate) struct FileSyncer {
    dir: PathBuf,
    log: File,
    /// Blob files synced so far, with the length they had then. A blob written while we
    /// looked may have been synced half-written, so a changed length means sync again.
    blobs: HashMap<OsString, u64>,
    /// Entry names of the store directory at the last sync (snapshots come and go by rename).
    dir_names: Vec<OsString>,
    /// Spilled payloads whose directory entries must be durable with the flush.
    spill: std::sync::Arc<super::spill::Spill>,
}

fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

fn names(path: &Path) -> io::Result<Vec<OsString>> {
    let mut v = Vec::new();
    for entry in std::fs::read_dir(path)? {
        v.push(entry?.file_name());
    }
    v.sort();
    Ok(v)
}

impl FileSyncer {
    /// Syncs everything sled may have created since the directory was made: `conf`, `db`, every
    /// blob, `blobs/`, the store directory and its parent.
    pub(crate) fn open(dir: &Path, spill: std::sync::Arc<super::spill::Spill>) -> io::Result<Self> {
        let dir = dir.canonicalize()?;
        let log = File::open(dir.join("db"))?;
        let conf = dir.join("conf");
        if conf.exists() {
            File::open(&conf)?.sync_all()?;
        }
        log.sync_all()?;
        let mut s = FileSyncer {
            dir: dir.clone(),
            log,
            blobs: HashMap::new(),
            dir_names: Vec::new(),
            spill,
        };
        s.sync_blobs()?;
        s.dir_names = names(&dir)?;
        sync_dir(&dir)?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        Ok(s)
    }

    /// Called right after `Db::flush` returned: makes what that flush wrote durable.
    pub(crate) fn after_flush(&mut self) -> io::Result<()> {
        self.log.sync_data()?;
        self.spill.sync_dir_if_dirty()?;
        self.sync_blobs()?;
        let now = names(&self.dir)?;
        if now != self.dir_names {
            sync_dir(&self.dir)?;
            self.dir_names = now;
        }
        Ok(())
    }

    /// The log alone: whether the disk still syncs, when nothing new was written.
    pub(crate) fn sync_log(&self) -> io::Result<()> {
        self.log.sync_data()
    }

    fn sync_blobs(&mut self) -> io::Result<()> {
        let blob_dir = self.dir.join("blobs");
        let entries = match std::fs::read_dir(&blob_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut seen = HashMap::with_capacity(self.blobs.len());
        let mut synced_any = false;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let len = match entry.metadata() {
                Ok(m) => m.len(),
                // sled removed it between readdir and stat: nothing to make durable.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if self.blobs.get(&name) != Some(&len) {
                match File::open(entry.path()) {
                    Ok(f) => f.sync_data()?,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
                synced_any = true;
            }
            seen.insert(name, len);
        }
        if synced_any || seen.len() != self.blobs.len() {
            sync_dir(&blob_dir)?;
        }
        self.blobs = seen;
        Ok(())
    }
}
