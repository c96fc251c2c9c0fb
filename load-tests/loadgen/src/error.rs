//! The one error type of the load tools; every variant prints as one line.

use std::path::{Path, PathBuf};

/// Why a load-tool step failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// A key or certificate could not be loaded.
    #[error("key: {0}")]
    Key(String),
    /// An external command (openssl, xoev-router certs) failed.
    #[error("command failed: {0}")]
    Command(String),
    /// Signing a corpus message failed.
    #[error("signing corpus message: {0}")]
    Sign(String),
    /// A corpus file is not in the expected format.
    #[error("corpus file {path}: {reason}")]
    CorpusFormat {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A process of the scenario (router, authority, ceiling) failed.
    #[error("process: {0}")]
    Process(String),
    /// A control or admin HTTP request failed.
    #[error("http: {0}")]
    Http(String),
    /// A smoke-run check failed (lost, altered or unexpected messages).
    #[error("check failed: {0}")]
    Check(String),
}

impl LoadgenError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        LoadgenError::Io {
            path: path.to_owned(),
            source,
        }
    }
}
