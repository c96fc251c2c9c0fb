//! The processes of a scenario: router, mock authority, HTTP ceiling. Each writes its output
//! to a log file in the run directory; dropping a [`Proc`] kills what is still running.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;

use crate::error::LoadgenError;
use crate::http_util::request;

/// A child process with its log file.
pub struct Proc {
    /// Name for messages.
    pub name: String,
    /// Where stdout and stderr go.
    pub log: PathBuf,
    /// When it was spawned.
    pub spawned: Instant,
    child: Child,
}

impl Proc {
    /// Spawns `cmd` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Result<Proc, LoadgenError> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| LoadgenError::io(log, e))?;
        let err = out.try_clone().map_err(|e| LoadgenError::io(log, e))?;
        let spawned = Instant::now();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| LoadgenError::Process(format!("{name}: cannot start {cmd:?}: {e}")))?;
        Ok(Proc {
            name: name.to_owned(),
            log: log.to_owned(),
            spawned,
            child,
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Errors (with the log's tail) if the process has exited.
    pub fn check_running(&mut self) -> Result<(), LoadgenError> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(LoadgenError::Process(format!(
                "{} exited ({status}); last log lines: {}",
                self.name,
                log_tail(&self.log, 5)
            ))),
            Err(e) => Err(LoadgenError::Process(format!("{}: {e}", self.name))),
        }
    }

    /// Sends `signal` (e.g. `TERM`, `INT`) and waits up to `grace` for the exit; kills it
    /// after that. Returns the exit status.
    pub fn stop(&mut self, signal: &str, grace: Duration) -> Result<ExitStatus, LoadgenError> {
        if let Ok(Some(s)) = self.child.try_wait() {
            return Ok(s);
        }
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + grace;
        loop {
            match self.child.try_wait() {
                Ok(Some(s)) => return Ok(s),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    let _ = self.child.kill();
                    return self.child.wait().map_err(|e| {
                        LoadgenError::Process(format!("{}: wait after kill: {e}", self.name))
                    });
                }
                Err(e) => return Err(LoadgenError::Process(format!("{}: {e}", self.name))),
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The last `n` lines of a log file, joined with " | ".
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> Result<SocketAddr, LoadgenError> {
    let l = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| LoadgenError::Process(format!("no free port: {e}")))?;
    l.local_addr()
        .map_err(|e| LoadgenError::Process(format!("no free port: {e}")))
}

/// Polls `GET path` on `addr` every 5 ms until it answers 200; returns the time since `p` was
/// spawned. Fails when `p` exits or `timeout` passes.
pub async fn wait_http_ok(
    p: &mut Proc,
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<Duration, LoadgenError> {
    let deadline = Instant::now() + timeout;
    loop {
        p.check_running()?;
        if let Ok((200, _)) = request(
            addr,
            Method::GET,
            path,
            Bytes::new(),
            Duration::from_secs(1),
        )
        .await
        {
            return Ok(p.spawned.elapsed());
        }
        if Instant::now() >= deadline {
            return Err(LoadgenError::Process(format!(
                "{} did not answer 200 on http://{addr}{path} within {timeout:?}; last log lines: {}",
                p.name,
                log_tail(&p.log, 5)
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until something accepts TCP connections on `addr`; returns the time since spawn.
pub async fn wait_listening(
    p: &mut Proc,
    addr: SocketAddr,
    timeout: Duration,
) -> Result<Duration, LoadgenError> {
    let deadline = Instant::now() + timeout;
    loop {
        p.check_running()?;
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(p.spawned.elapsed());
        }
        if Instant::now() >= deadline {
            return Err(LoadgenError::Process(format!(
                "{} is not listening on {addr} after {timeout:?}; last log lines: {}",
                p.name,
                log_tail(&p.log, 5)
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
