//! The router as a child process: start on a config file, wait until ready, SIGKILL, restart
//! on the same data directory and ports, stop gracefully, read its memory.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ChaosError;
use crate::client::Http;
use crate::proc_status::{self, Memory};

/// A router process that can be started again after it died.
pub struct RouterProcess {
    binary: PathBuf,
    config: PathBuf,
    log: PathBuf,
    public: SocketAddr,
    admin: SocketAddr,
    http: Http,
    child: Option<Child>,
    generation: u32,
}

impl RouterProcess {
    /// A router that is not running yet. Its output is appended to `log`.
    pub fn new(
        binary: PathBuf,
        config: PathBuf,
        log: PathBuf,
        public: SocketAddr,
        admin: SocketAddr,
        http: Http,
    ) -> Self {
        RouterProcess {
            binary,
            config,
            log,
            public,
            admin,
            http,
            child: None,
            generation: 0,
        }
    }

    /// The next start uses this config file.
    pub fn set_config(&mut self, config: PathBuf) {
        self.config = config;
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The log's length now: pass it to `log_since` to read only what comes after (the log is
    /// appended to across restarts).
    pub fn log_len(&self) -> u64 {
        std::fs::metadata(&self.log).map_or(0, |m| m.len())
    }

    /// The log from byte `offset` on.
    pub fn log_since(&self, offset: u64) -> String {
        let log = std::fs::read(&self.log).unwrap_or_default();
        let from = usize::try_from(offset).unwrap_or(usize::MAX);
        String::from_utf8_lossy(log.get(from..).unwrap_or_default()).into_owned()
    }

    /// How many times the process was started.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// A URL on the public (HTTPS) listener.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.public)
    }

    /// A URL on the admin (plain HTTP, loopback) listener.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `VmRSS`/`VmHWM` of the running process.
    pub fn memory(&self) -> Option<Memory> {
        self.pid().and_then(proc_status::memory)
    }

    /// Starts `xoev-router serve --config <config>`.
    pub fn spawn(&mut self) -> Result<(), ChaosError> {
        if self.child.is_some() {
            return Err(ChaosError::Protocol(
                "harness bug: router started twice".into(),
            ));
        }
        self.generation += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(ChaosError::io("router log", &self.log))?;
        let _ = writeln!(
            log,
            "==== xoev-chaos: start {} with {} ====",
            self.generation,
            self.config.display()
        );
        let err = log
            .try_clone()
            .map_err(ChaosError::io("router log", &self.log))?;
        let child = Command::new(&self.binary)
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .env("XOEV_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|source| ChaosError::Spawn {
                binary: self.binary.clone(),
                source,
            })?;
        self.child = Some(child);
        Ok(())
    }

    /// Fails if the process has ended on its own.
    pub fn check_alive(&mut self) -> Result<(), ChaosError> {
        let Some(child) = self.child.as_mut() else {
            return Err(ChaosError::Protocol("router is not running".into()));
        };
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => {
                self.child = None;
                Err(ChaosError::Exited {
                    generation: self.generation,
                    status: status.to_string(),
                    log: self.log.clone(),
                })
            }
            Err(e) => Err(ChaosError::Protocol(format!("waiting for the router: {e}"))),
        }
    }

    /// Waits until `/readyz` answers 200; returns how long that took.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<Duration, ChaosError> {
        let started = Instant::now();
        let url = self.admin_url("/readyz");
        loop {
            self.check_alive()?;
            if let Ok(r) = self.http.get(&url, Duration::from_secs(1)).await
                && r.status == 200
            {
                return Ok(started.elapsed());
            }
            if started.elapsed() >= timeout {
                return Err(ChaosError::NotReady {
                    generation: self.generation,
                    seconds: timeout.as_secs(),
                    log: self.log.clone(),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL (`Child::kill` on Unix) and reap. Fails if the process had already exited.
    pub fn kill(&mut self) -> Result<(), ChaosError> {
        self.check_alive()?;
        if let Some(mut child) = self.child.take() {
            child
                .kill()
                .map_err(|e| ChaosError::Protocol(format!("SIGKILL failed: {e}")))?;
            child
                .wait()
                .map_err(|e| ChaosError::Protocol(format!("reaping the router: {e}")))?;
        }
        Ok(())
    }

    /// SIGTERM (graceful shutdown) and wait; fails unless the router exits 0 within `timeout`.
    pub async fn terminate(&mut self, timeout: Duration) -> Result<Duration, ChaosError> {
        let started = Instant::now();
        self.signal_term()?;
        self.wait_exit(timeout).await?;
        Ok(started.elapsed())
    }

    /// Sends SIGTERM and returns at once (`wait_exit` reaps the router).
    pub fn signal_term(&mut self) -> Result<(), ChaosError> {
        self.check_alive()?;
        let Some(child) = self.child.as_mut() else {
            return Err(ChaosError::Protocol("router is not running".into()));
        };
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        if !sent.is_ok_and(|s| s.success()) {
            let _ = child.kill();
            let _ = child.wait();
            self.child = None;
            return Err(ChaosError::Stop(
                "could not send SIGTERM with `kill`".into(),
            ));
        }
        Ok(())
    }

    /// Waits for the router to exit; fails unless it exits 0 within `timeout` (then it is
    /// killed).
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<Duration, ChaosError> {
        let Some(mut child) = self.child.take() else {
            return Err(ChaosError::Protocol("router is not running".into()));
        };
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(started.elapsed()),
                Ok(Some(status)) => return Err(ChaosError::Stop(status.to_string())),
                Ok(None) if started.elapsed() >= timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(ChaosError::Stop(format!(
                        "still running {} s after SIGTERM",
                        timeout.as_secs()
                    )));
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => return Err(ChaosError::Stop(e.to_string())),
            }
        }
    }

    /// The last `lines` lines of the log (for failure reports).
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for RouterProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
