//! The file adapter passes the adapter conformance suite.

use std::path::PathBuf;

use bytes::Bytes;
use uuid::Uuid;
use xoev_adapter_conformance::{Behaviour, Harness, run};
use xoev_adapter_file::FileAdapter;
use xoev_core::Adapter;

struct FileHarness {
    dir: PathBuf,
    adapter: FileAdapter,
    _tmp: tempfile::TempDir,
}

impl Harness for FileHarness {
    fn adapter(&self) -> &dyn Adapter {
        &self.adapter
    }

    async fn received(&self, id: Uuid) -> Vec<Bytes> {
        std::fs::read(self.dir.join(format!("{id}.xml")))
            .map(|b| vec![Bytes::from(b)])
            .unwrap_or_default()
    }

    async fn set(&self, b: Behaviour) -> bool {
        match b {
            Behaviour::Accept => std::fs::create_dir_all(&self.dir).is_ok(),
            Behaviour::Unreachable => std::fs::remove_dir_all(&self.dir).is_ok(),
            // A directory cannot refuse a message, be overloaded or hang.
            Behaviour::Refuse | Behaviour::Overloaded | Behaviour::Hang => false,
        }
    }

    async fn partial_leftovers(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
                    .count()
            })
            .unwrap_or(0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_adapter_passes_the_conformance_suite() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("drop");
    let h = FileHarness {
        adapter: FileAdapter::new(&dir).unwrap(),
        dir,
        _tmp: tmp,
    };
    let na = run(&h).await;
    assert_eq!(
        na,
        vec![
            "refusal is permanent",
            "overload is retryable",
            "cancellation while the destination hangs"
        ],
        "only what a directory cannot do is not applicable"
    );
}
