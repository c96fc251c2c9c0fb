//! Free space of the store's file system, read with `statvfs` and cached for a short time so
//! `enqueue` does not make a syscall per message.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Cached `statvfs` reading.
#[derive(Debug)]
pub(crate) struct DiskSpace {
    dir: PathBuf,
    max_age: Duration,
    cached: Mutex<Option<(Instant, u64)>>,
}

impl DiskSpace {
    pub(crate) fn new(dir: PathBuf, max_age: Duration) -> Self {
        DiskSpace {
            dir,
            max_age,
            cached: Mutex::new(None),
        }
    }

    /// Bytes available to unprivileged users (`f_bavail * f_frsize`).
    pub(crate) fn free_bytes(&self) -> std::io::Result<u64> {
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, free)) = *cached
            && at.elapsed() < self.max_age
        {
            return Ok(free);
        }
        let st = rustix::fs::statvfs(&self.dir)?;
        let free = st.f_bavail.saturating_mul(st.f_frsize);
        *cached = Some((Instant::now(), free));
        Ok(free)
    }
}
