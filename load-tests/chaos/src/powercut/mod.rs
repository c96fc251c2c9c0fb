//! A disk that loses power: a FUSE file system over a backing directory that keeps every
//! write in memory until its file is `fsync`ed, and undoes every new, removed or renamed name
//! whose directory was not `fsync`ed since. [`PowerCutDisk::cut`] drops everything not synced
//! and fails every later request with `EIO`, which is what a program sees of a power loss;
//! the next [`PowerCutDisk::mount`] shows only what was synced.
//!
//! Needs root (the mount goes through `mount(2)`, no `fusermount`) and `/dev/fuse`.

mod fs;
mod names;
mod unsynced;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use fs::DiskStats;

use crate::ChaosError;

/// One mount of the power-cut file system.
pub struct PowerCutDisk {
    mountpoint: PathBuf,
    state: Arc<Mutex<fs::State>>,
    session: Option<fuser::BackgroundSession>,
}

impl PowerCutDisk {
    /// Whether this machine can mount it (root and `/dev/fuse`), and if not, why.
    pub fn available() -> Result<(), String> {
        if !Path::new("/dev/fuse").exists() {
            return Err("/dev/fuse does not exist".into());
        }
        if !rustix::process::geteuid().is_root() {
            return Err("mounting needs root".into());
        }
        Ok(())
    }

    /// Mounts `backing` at `mountpoint` (both existing directories).
    pub fn mount(backing: &Path, mountpoint: &Path) -> Result<PowerCutDisk, ChaosError> {
        PowerCutDisk::available().map_err(|reason| ChaosError::Mount {
            path: mountpoint.to_path_buf(),
            reason,
        })?;
        let mut stash = backing.as_os_str().to_owned();
        stash.push(".unlinked");
        let state = Arc::new(Mutex::new(fs::State::new(
            backing.to_path_buf(),
            PathBuf::from(stash),
        )));
        let mut config = fuser::Config::default();
        config.mount_options = vec![fuser::MountOption::FSName("xoev-powercut".into())];
        let session = fuser::spawn_mount(
            fs::PowerCutFs {
                state: state.clone(),
            },
            mountpoint,
            &config,
        )
        .map_err(|e| ChaosError::Mount {
            path: mountpoint.to_path_buf(),
            reason: e.to_string(),
        })?;
        Ok(PowerCutDisk {
            mountpoint: mountpoint.to_path_buf(),
            state,
            session: Some(session),
        })
    }

    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Cuts the power: unsynced changes are dropped, every later request fails with `EIO`.
    /// Returns the counters of this mount including what the cut dropped.
    pub fn cut(&self) -> DiskStats {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).cut()
    }

    /// From now on every `fsync`/`fdatasync` (files and directories) fails with `EIO`, and a
    /// file whose sync failed loses its unsynced changes (Linux marks them clean after a
    /// failed writeback, so they may never reach the disk; it keeps them readable until
    /// evicted, this model drops them at once). Reads and writes keep working.
    pub fn fail_fsyncs(&self) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .fail_fsyncs();
    }

    /// From now on every `fsync`/`fdatasync` (files and directories) waits unanswered, as on
    /// a device that stopped answering its flushes; reads and writes keep working. Until
    /// [`PowerCutDisk::release_fsyncs`] (or a cut, which answers them with `EIO`).
    pub fn hang_fsyncs(&self) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .hang_fsyncs();
    }

    /// Syncs answer again; the held ones are carried out now.
    pub fn release_fsyncs(&self) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .release_fsyncs();
    }

    pub fn stats(&self) -> DiskStats {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).stats()
    }

    /// Unmounts, after a cut if there was none: whatever is not synced is lost. Fails with
    /// `EBUSY` while a process still has a file open on it.
    pub fn unmount(mut self) -> Result<(), ChaosError> {
        self.unmount_inner()
    }

    fn unmount_inner(&mut self) -> Result<(), ChaosError> {
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        self.cut();
        session.umount_and_join().map_err(|e| {
            // Never leave a mount behind under a work directory that is about to be removed.
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.mountpoint)
                .status();
            ChaosError::Mount {
                path: self.mountpoint.clone(),
                reason: format!("unmount: {e} (detached lazily)"),
            }
        })
    }
}

impl Drop for PowerCutDisk {
    fn drop(&mut self) {
        let _ = self.unmount_inner();
    }
}
