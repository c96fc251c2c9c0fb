//! Why a scenario could not run to its checks. Findings (a lost message, a wrong answer) are
//! not errors: they are collected in the scenario's report.

use std::path::PathBuf;

/// A failure that stops a scenario before it reaches its verdict.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChaosError {
    /// Building the router binary failed.
    #[error("building the router with `{command}` failed: {reason}")]
    Build { command: String, reason: String },
    /// The router binary is not where it was looked for.
    #[error("router binary {0} does not exist (build it or pass --router)")]
    NoRouter(PathBuf),
    /// A file or directory operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// `xoev-router certs` did not produce a PKI.
    #[error("`xoev-router certs` failed: {0}")]
    Certs(String),
    /// The signing key or certificate could not be loaded.
    #[error("signing key or certificate {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    /// The HTTPS client could not be configured.
    #[error("TLS client configuration: {0}")]
    Tls(String),
    /// Signing a generated message failed (a harness bug: the template must always sign).
    #[error("signing a generated message failed: {0}")]
    Sign(String),
    /// A mock authority could not start or restart.
    #[error("mock authority {name}: {source}")]
    Mock {
        name: String,
        source: std::io::Error,
    },
    /// The router process could not be started.
    #[error("cannot start {binary}: {source}")]
    Spawn {
        binary: PathBuf,
        source: std::io::Error,
    },
    /// The router did not answer `/readyz` in time after a (re)start.
    #[error("router (start {generation}) not ready within {seconds} s; log: {log}")]
    NotReady {
        generation: u32,
        seconds: u64,
        log: PathBuf,
    },
    /// The router process ended without being told to.
    #[error("router (start {generation}) exited by itself ({status}); log: {log}")]
    Exited {
        generation: u32,
        status: String,
        log: PathBuf,
    },
    /// The power-cut file system could not be mounted or unmounted.
    #[error("power-cut file system at {path}: {reason}")]
    Mount { path: PathBuf, reason: String },
    /// A graceful stop (SIGTERM) did not end the process cleanly.
    #[error("router did not stop cleanly on SIGTERM: {0}")]
    Stop(String),
    /// An answer the scenario relies on was missing or malformed.
    #[error("{0}")]
    Protocol(String),
}

impl ChaosError {
    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> ChaosError {
        let path = path.into();
        move |source| ChaosError::Io { what, path, source }
    }
}
