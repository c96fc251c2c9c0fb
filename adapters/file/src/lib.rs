//! The `file` adapter: drops each message as `<nachrichtenUUID>.xml` into a directory for
//! legacy back-ends that poll a folder.
//!
//! Crash- and reader-safe: write to a hidden temporary name, fsync it, rename it into place,
//! fsync the directory. A reader never sees a partial file; after the directory fsync the
//! file survives power loss. Idempotent: a repeat writes the same bytes under the same name.
#![forbid(unsafe_code)]

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use xoev_core::adapter::BoxFuture;
use xoev_core::{Adapter, Delivered, Delivery, DeliveryError, FailureKind};

const TMP_PREFIX: &str = ".xoev-tmp-";

pub struct FileAdapter {
    dir: PathBuf,
}

impl FileAdapter {
    /// Creates the directory if needed and removes temporary files a crash left behind.
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(FileAdapter { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let tmp = dir.join(format!("{TMP_PREFIX}{name}.{:016x}", rand::random::<u64>()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        let target = dir.join(name);
        fs::rename(&tmp, &target)?;
        File::open(dir)?.sync_all()?;
        Ok(target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

impl Adapter for FileAdapter {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn deliver<'a>(&'a self, d: &'a Delivery) -> BoxFuture<'a, Result<Delivered, DeliveryError>> {
        Box::pin(async move {
            let dir = self.dir.clone();
            let name = format!("{}.xml", d.id);
            let payload = d.payload.clone();
            // Blocking file system work runs off the async threads. If the router drops this
            // future on timeout, the blocking task still finishes or removes its temp file.
            let joined =
                tokio::task::spawn_blocking(move || write_atomically(&dir, &name, &payload)).await;
            match joined {
                Ok(Ok(path)) => Ok(Delivered::Delivered {
                    detail: format!("written to {}", path.display()),
                }),
                Ok(Err(e)) => {
                    let kind = if e.kind() == std::io::ErrorKind::NotFound {
                        FailureKind::Config
                    } else {
                        FailureKind::Io
                    };
                    Err(DeliveryError::retryable(
                        kind,
                        format!("{}: {e}", self.dir.display()),
                    ))
                }
                Err(e) => Err(DeliveryError::retryable(
                    FailureKind::Io,
                    format!("write task failed: {e}"),
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn delivery(payload: &'static [u8]) -> Delivery {
        Delivery {
            id: uuid::Uuid::new_v4(),
            nachrichtentyp: "2030".into(),
            leser: "ags:08111000".into(),
            autor: "psw:1".into(),
            payload: Bytes::from_static(payload),
            attempt: 1,
            router_id: "r".into(),
            trace: vec![],
        }
    }

    #[tokio::test]
    async fn writes_the_exact_bytes_under_the_message_id() {
        let tmp = tempfile::tempdir().unwrap();
        let a = FileAdapter::new(tmp.path().join("drop")).unwrap();
        let d = delivery(b"<m>\xc3\x9f</m>");
        a.deliver(&d).await.unwrap();
        let got = fs::read(tmp.path().join("drop").join(format!("{}.xml", d.id))).unwrap();
        assert_eq!(got, b"<m>\xc3\x9f</m>");
    }

    #[tokio::test]
    async fn a_repeated_delivery_leaves_one_identical_file() {
        let tmp = tempfile::tempdir().unwrap();
        let a = FileAdapter::new(tmp.path()).unwrap();
        let d = delivery(b"<m/>");
        a.deliver(&d).await.unwrap();
        a.deliver(&d).await.unwrap();
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
    }

    #[tokio::test]
    async fn removes_leftover_temporary_files_at_start() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(".xoev-tmp-abc.xml.1"), b"partial").unwrap();
        FileAdapter::new(tmp.path()).unwrap();
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_vanished_directory_is_a_retryable_failure() {
        let tmp = tempfile::tempdir().unwrap();
        let a = FileAdapter::new(tmp.path().join("gone")).unwrap();
        fs::remove_dir(tmp.path().join("gone")).unwrap();
        let e = a.deliver(&delivery(b"<m/>")).await.unwrap_err();
        assert!(matches!(e.retry, xoev_core::Retry::Retryable { .. }));
        assert_eq!(e.kind, FailureKind::Config);
    }
}
