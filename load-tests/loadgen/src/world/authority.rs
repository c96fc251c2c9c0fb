//! The `mock-authority` process and its ledger.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::LoadgenError;
use crate::http_util::{get_ok, post_ok};
use crate::procs::{Proc, free_port, wait_http_ok};

use super::Env;

/// The authority's ledger as `/stats` reports it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LedgerView {
    /// Announced as accepted.
    pub announced: u64,
    /// Distinct delivered.
    pub delivered: u64,
    /// Deliveries beyond the first.
    pub duplicates: u64,
    /// Announced, not delivered.
    pub outstanding: u64,
    /// Delivered, never announced.
    pub unannounced: u64,
    /// Not byte-identical.
    pub mismatched: u64,
    /// First deliveries that arrived before the generator saw the 202.
    pub delivered_before_ack: u64,
    /// Accepted → delivered (ms).
    pub e2e_latency_ms: crate::report::Latency,
}

/// A running `mock-authority` process.
pub struct Authority {
    /// The process.
    pub proc: Proc,
    /// Delivery listener.
    pub inbox: SocketAddr,
    /// Control listener.
    pub control: SocketAddr,
}

impl Authority {
    /// Starts one in `dir`, down (refusing connections) if `down`.
    pub async fn start(env: &Env, dir: &Path, down: bool) -> Result<Authority, LoadgenError> {
        let inbox = free_port()?;
        let control = free_port()?;
        let mut cmd = Command::new(env.bin("mock-authority"));
        cmd.arg("--listen")
            .arg(inbox.to_string())
            .arg("--control")
            .arg(control.to_string())
            .args(["--every", "0"]);
        if down {
            cmd.arg("--down");
        }
        let mut proc = Proc::spawn("mock-authority", cmd, &dir.join("authority.log"))?;
        wait_http_ok(&mut proc, control, "/stats", Duration::from_secs(20)).await?;
        Ok(Authority {
            proc,
            inbox,
            control,
        })
    }

    /// The ledger now.
    pub async fn ledger(&self) -> Result<LedgerView, LoadgenError> {
        let body = get_ok(self.control, "/stats").await?;
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| LoadgenError::Http(format!("authority /stats: {e}")))?;
        let l = &v["ledger"];
        let n = |k: &str| l[k].as_u64().unwrap_or(0);
        let ms = |k: &str| l["e2e_latency_ms"][k].as_f64().unwrap_or(0.0);
        Ok(LedgerView {
            announced: n("announced"),
            delivered: n("delivered"),
            duplicates: n("duplicates"),
            outstanding: n("outstanding"),
            unannounced: n("unannounced"),
            mismatched: n("mismatched"),
            delivered_before_ack: n("delivered_before_ack"),
            e2e_latency_ms: crate::report::Latency {
                count: l["e2e_latency_ms"]["count"].as_u64().unwrap_or(0),
                p50: ms("p50"),
                p90: ms("p90"),
                p99: ms("p99"),
                p999: ms("p999"),
                max: ms("max"),
                mean: 0.0,
            },
        })
    }

    /// Takes the delivery listener down (connections refused).
    pub async fn down(&self) -> Result<(), LoadgenError> {
        post_ok(self.control, "/down", Bytes::new())
            .await
            .map(|_| ())
    }

    /// Brings it back up.
    pub async fn up(&self) -> Result<(), LoadgenError> {
        post_ok(self.control, "/up", Bytes::new()).await.map(|_| ())
    }

    /// Waits until every announced message was delivered and none is unannounced, or
    /// `timeout` passes; returns the last ledger and how long it took.
    pub async fn wait_drained(
        &self,
        timeout: Duration,
    ) -> Result<(LedgerView, Duration, bool), LoadgenError> {
        let started = Instant::now();
        loop {
            let l = self.ledger().await?;
            if l.outstanding == 0 && l.unannounced == 0 {
                return Ok((l, started.elapsed(), true));
            }
            if started.elapsed() >= timeout {
                return Ok((l, started.elapsed(), false));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
