//! A scenario's world: the binaries, the load PKI and corpus cache (`Env`), a mock authority
//! process with its control listener (`Authority`) and a router process on a generated
//! configuration (`Router`), whose metrics `metrics` reads.

mod authority;
mod metrics;
mod router;

pub use authority::{Authority, LedgerView};
pub use metrics::{Depth, Stages, metric_sum, parse_depth};
pub use router::{Router, RouterFiles};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::corpus::{Corpus, CorpusSpec, load_or_build};
use crate::error::LoadgenError;
use crate::pki::{KeyKind, LoadPki};

/// Binaries, work directory, PKI and corpus cache.
pub struct Env {
    /// Directory with `xoev-router`, `mock-authority`, `http-ceiling`.
    pub bin_dir: PathBuf,
    /// Work directory (PKI, corpus cache, run directories).
    pub work: PathBuf,
    /// The load PKI.
    pub pki: LoadPki,
    /// Corpora up to this many bytes are cached on disk.
    pub cache_limit: u64,
    /// Extra environment of every router process (experiments: `MALLOC_ARENA_MAX=2`, ...).
    pub router_env: Vec<(String, String)>,
    /// Keep the routers' data directories of finished runs (otherwise removed: a backlog
    /// run leaves gigabytes of queue behind).
    pub keep_data: bool,
}

impl Env {
    /// Prepares `work` (creates the PKI when missing).
    pub fn new(bin_dir: &Path, work: &Path, cache_limit: u64) -> Result<Env, LoadgenError> {
        std::fs::create_dir_all(work).map_err(|e| LoadgenError::io(work, e))?;
        // Absolute: the router resolves relative paths against its config file's directory.
        let work = &std::fs::canonicalize(work).map_err(|e| LoadgenError::io(work, e))?;
        let bin_dir = std::fs::canonicalize(bin_dir).map_err(|e| LoadgenError::io(bin_dir, e))?;
        for b in ["xoev-router", "mock-authority", "http-ceiling"] {
            if !bin_dir.join(b).exists() {
                return Err(LoadgenError::Usage(format!(
                    "{} is missing; build it first (cargo build --release -p xoev-routerd -p xoev-mock-authority -p xoev-loadgen)",
                    bin_dir.join(b).display()
                )));
            }
        }
        let pki = LoadPki::ensure(&work.join("pki"), &bin_dir.join("xoev-router"))?;
        Ok(Env {
            bin_dir,
            work: work.to_owned(),
            pki,
            cache_limit,
            router_env: Vec::new(),
            keep_data: false,
        })
    }

    /// Path of binary `name`.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// A (cached) corpus.
    pub fn corpus(
        &self,
        size: usize,
        key: KeyKind,
        count: usize,
        seed: u64,
    ) -> Result<Arc<Corpus>, LoadgenError> {
        let spec = CorpusSpec {
            size,
            key,
            count,
            seed,
        };
        Ok(Arc::new(load_or_build(
            &self.work.join("corpus"),
            &spec,
            &self.pki,
            self.cache_limit,
        )?))
    }

    /// A fresh run directory `work/runs/<name>` (emptied if it exists). Runs are sequential,
    /// so the data directories of earlier runs are no longer in use: they go first.
    pub fn run_dir(&self, name: &str) -> Result<PathBuf, LoadgenError> {
        self.discard_run_data()?;
        let dir = self.work.join("runs").join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| LoadgenError::io(&dir, e))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| LoadgenError::io(&dir, e))?;
        Ok(dir)
    }

    /// Removes the router data directories (`runs/*/data`) of finished runs, unless
    /// `keep_data`; logs, metrics and profiles stay.
    pub fn discard_run_data(&self) -> Result<(), LoadgenError> {
        if self.keep_data {
            return Ok(());
        }
        let runs = self.work.join("runs");
        for run in std::fs::read_dir(&runs).into_iter().flatten().flatten() {
            let data = run.path().join("data");
            if data.is_dir() {
                std::fs::remove_dir_all(&data).map_err(|e| LoadgenError::io(&data, e))?;
            }
        }
        Ok(())
    }
}
