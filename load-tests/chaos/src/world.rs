//! A scenario's world: a work directory with a fresh development PKI, mock authorities in
//! this process, the router as a child process, an HTTPS client and a signer.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use xoev_mock_authority::{Inbox, MockAuthority};

use crate::ChaosError;
use crate::checks::{LaneCheck, arrivals, check_lane};
use crate::client::Http;
use crate::config::{DestSpec, RouterSpec};
use crate::corpus::{Lane, Msg, Signer};
use crate::ledger::Ledger;
use crate::load::{Generator, LoadSpec};
use crate::router::RouterProcess;

/// A destination of the scenario: the router's destination id, its directory pattern, a
/// `leser` that matches it, and how many attempts it may run at once.
#[derive(Debug, Clone)]
pub struct LaneSpec {
    pub destination: &'static str,
    pub pattern: &'static str,
    pub leser: &'static str,
    pub concurrency: Option<usize>,
}

/// The two destinations most scenarios use.
pub fn two_lanes(a_concurrency: Option<usize>) -> Vec<LaneSpec> {
    vec![
        LaneSpec {
            destination: "authority-a",
            pattern: "ags:08*",
            leser: "ags:08111000",
            concurrency: a_concurrency,
        },
        LaneSpec {
            destination: "authority-b",
            pattern: "ags:09*",
            leser: "ags:09162000",
            concurrency: None,
        },
    ]
}

pub struct World {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    pub http: Http,
    pub signer: Arc<Signer>,
    pub lanes: Arc<Vec<Lane>>,
    pub authorities: Vec<MockAuthority>,
    pub spec: RouterSpec,
    pub router: RouterProcess,
}

impl World {
    /// Generates the PKI, starts one mock authority per lane, writes `router.toml`. The router
    /// is not started yet.
    pub async fn new(binary: &Path, lanes: &[LaneSpec]) -> Result<World, ChaosError> {
        let dir = tempfile::Builder::new()
            .prefix("xoev-chaos-")
            .tempdir()
            .map_err(ChaosError::io("work directory", std::env::temp_dir()))?;
        let path = dir.path().to_path_buf();
        let pki = path.join("pki");
        let out = Command::new(binary)
            .args(["certs", "--router-id", "localhost", "--out"])
            .arg(&pki)
            .output()
            .map_err(|source| ChaosError::Spawn {
                binary: binary.to_path_buf(),
                source,
            })?;
        if !out.status.success() {
            return Err(ChaosError::Certs(
                String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            ));
        }
        let http = Http::new(&pki.join("ca.crt"))?;
        let signer = Arc::new(Signer::load(&pki)?);
        let mut authorities = Vec::new();
        let mut dests = Vec::new();
        for l in lanes {
            let a = MockAuthority::start_on(
                "127.0.0.1:0"
                    .parse()
                    .map_err(|_| ChaosError::Protocol("address".into()))?,
                None,
                // Digests only: long runs deliver hundreds of thousands of messages.
                Inbox::new(false),
            )
            .await
            .map_err(|source| ChaosError::Mock {
                name: l.destination.to_owned(),
                source,
            })?;
            dests.push(DestSpec {
                id: l.destination.to_owned(),
                url: a.url(),
                leser_pattern: l.pattern.to_owned(),
                concurrency: l.concurrency,
            });
            authorities.push(a);
        }
        let spec = RouterSpec::new(free_port()?, free_port()?, dests);
        let config = write_config(&path, "router.toml", &spec)?;
        let router = RouterProcess::new(
            binary.to_path_buf(),
            config,
            path.join("router.log"),
            spec.public,
            spec.admin,
            http.clone(),
        );
        Ok(World {
            dir: Some(dir),
            path,
            http,
            signer,
            lanes: Arc::new(
                lanes
                    .iter()
                    .map(|l| Lane {
                        destination: l.destination.to_owned(),
                        leser: l.leser.to_owned(),
                    })
                    .collect(),
            ),
            authorities,
            spec,
            router,
        })
    }

    /// Starts the load generator on the router's public listener: `concurrency` connections,
    /// `rate` messages per second (0 = flat out), 10 s per request.
    pub fn start_load(
        &self,
        concurrency: usize,
        rate: u32,
        corpus: tokio::sync::mpsc::Receiver<Msg>,
    ) -> Generator {
        let spec = LoadSpec {
            url: self.router.url("/v1/messages"),
            concurrency,
            rate,
            timeout: Duration::from_secs(10),
        };
        Generator::start(self.http.clone(), &spec, corpus)
    }

    /// The work directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes another config file next to `router.toml` (for restarts with other limits).
    pub fn write_config(&self, name: &str, spec: &RouterSpec) -> Result<PathBuf, ChaosError> {
        write_config(&self.path, name, spec)
    }

    /// Keeps the work directory after the run; returns its path.
    pub fn keep(&mut self) -> PathBuf {
        if let Some(d) = self.dir.take() {
            return d.keep();
        }
        self.path.clone()
    }

    /// The delivery verdict for `lane`.
    pub fn check_lane(&self, ledger: &Ledger, lane: usize) -> LaneCheck {
        let log = self
            .authorities
            .get(lane)
            .map(|a| arrivals(&a.inbox))
            .unwrap_or_default();
        let name = self
            .lanes
            .get(lane)
            .map(|l| l.destination.as_str())
            .unwrap_or("?");
        check_lane(name, &ledger.accepted_on(lane), &log)
    }

    /// Waits until every message `ledger` acknowledged has arrived at its authority, or the
    /// timeout passes; returns whether all arrived.
    pub async fn wait_delivered(&self, ledger: &Ledger, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut missing: Vec<(usize, String)> = ledger
            .accepted()
            .iter()
            .map(|a| (a.lane, a.id.to_string()))
            .collect();
        loop {
            missing.retain(|(lane, id)| {
                self.authorities
                    .get(*lane)
                    .is_none_or(|m| m.inbox.get(id).is_none())
            });
            if missing.is_empty() {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `GET /metrics` as text; empty when the router does not answer.
    pub async fn metrics(&self) -> String {
        self.http
            .get(&self.router.admin_url("/metrics"), Duration::from_secs(5))
            .await
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .unwrap_or_default()
    }

    /// `GET /admin/queues` as JSON.
    pub async fn queues(&self) -> Result<Value, ChaosError> {
        let url = self.router.admin_url("/admin/queues");
        let r = self
            .http
            .get(&url, Duration::from_secs(5))
            .await
            .map_err(|e| ChaosError::Protocol(format!("GET {url}: {e}")))?;
        Ok(r.json())
    }

    /// `GET /v1/messages/{id}` on the public listener: (status, body).
    pub async fn status(&self, id: &uuid::Uuid) -> Result<(u16, Value), ChaosError> {
        let url = self.router.url(&format!("/v1/messages/{id}"));
        let r = self
            .http
            .get(&url, Duration::from_secs(5))
            .await
            .map_err(|e| ChaosError::Protocol(format!("GET {url}: {e}")))?;
        Ok((r.status, r.json()))
    }

    /// Polls the status API until `id` is `state` or the timeout passes; returns the last
    /// status seen.
    pub async fn wait_state(
        &self,
        id: &uuid::Uuid,
        state: &str,
        timeout: Duration,
    ) -> Result<(u16, Value), ChaosError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (status, v) = self.status(id).await?;
            if (status == 200 && v["state"] == state) || tokio::time::Instant::now() >= deadline {
                return Ok((status, v));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn write_config(dir: &Path, name: &str, spec: &RouterSpec) -> Result<PathBuf, ChaosError> {
    let path = dir.join(name);
    std::fs::write(&path, spec.to_toml()).map_err(ChaosError::io("config", &path))?;
    Ok(path)
}

/// A loopback port that was free a moment ago (the router binds it itself).
fn free_port() -> Result<SocketAddr, ChaosError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(ChaosError::io("binding a probe port", "127.0.0.1:0"))?;
    l.local_addr()
        .map_err(ChaosError::io("reading a probe port", "127.0.0.1:0"))
}

/// Queued + delivering of `destination` in an `/admin/queues` answer.
pub fn depth_of(queues: &Value, destination: &str) -> u64 {
    queues
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["destination"] == destination)
        .map(|d| d["queued"].as_u64().unwrap_or(0) + d["delivering"].as_u64().unwrap_or(0))
        .unwrap_or(0)
}
