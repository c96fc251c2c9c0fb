//! A scenario's world: the binaries, the load PKI and corpus cache (`Env`), a mock authority
//! process with its control listener (`Authority`) and a router process on a generated
//! configuration (`Router`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::client::{Proto, Target, tls_config};
use crate::corpus::{Corpus, CorpusSpec, load_or_build};
use crate::error::LoadgenError;
use crate::http_util::{get_ok, post_ok};
use crate::pki::{KeyKind, LoadPki};
use crate::procs::{Proc, free_port, wait_http_ok};
use crate::router_config::{RouterConfig, render};
use crate::rss::{self, Rss};

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

    /// A fresh run directory `work/runs/<name>` (emptied if it exists).
    pub fn run_dir(&self, name: &str) -> Result<PathBuf, LoadgenError> {
        let dir = self.work.join("runs").join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| LoadgenError::io(&dir, e))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| LoadgenError::io(&dir, e))?;
        Ok(dir)
    }
}

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

/// Files of one router setup.
#[derive(Clone, Debug)]
pub struct RouterFiles {
    /// The configuration file.
    pub config: PathBuf,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Public listener.
    pub public: SocketAddr,
    /// Admin listener.
    pub admin: SocketAddr,
    /// Log file.
    pub log: PathBuf,
}

impl RouterFiles {
    /// Writes a configuration for a router in `dir` delivering to the authority at `inbox`.
    pub fn write(env: &Env, dir: &Path, inbox: SocketAddr) -> Result<RouterFiles, LoadgenError> {
        let files = RouterFiles {
            config: dir.join("router.toml"),
            data_dir: dir.join("data"),
            public: free_port()?,
            admin: free_port()?,
            log: dir.join("router.log"),
        };
        let text = render(&RouterConfig {
            public: files.public,
            admin: files.admin,
            data_dir: files.data_dir.clone(),
            pki: env.pki.clone(),
            authority: inbox,
        });
        std::fs::write(&files.config, text).map_err(|e| LoadgenError::io(&files.config, e))?;
        Ok(files)
    }
}

/// A running router.
pub struct Router {
    /// The process.
    pub proc: Proc,
    /// Its files and addresses.
    pub files: RouterFiles,
    /// Spawn → `/readyz` 200.
    pub startup: Duration,
}

/// Queue depth summed over destinations, from the router's metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Depth {
    /// `state="queued"`.
    pub queued: u64,
    /// `state="delivering"`.
    pub delivering: u64,
    /// `state="dead"`.
    pub dead: u64,
}

/// Sums `xoev_router_queue_depth_messages` by state from Prometheus text.
pub fn parse_depth(metrics: &str) -> Depth {
    let mut d = Depth::default();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("xoev_router_queue_depth_messages{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once('}') else {
            continue;
        };
        let Ok(v) = value.trim().parse::<f64>() else {
            continue;
        };
        let v = v.max(0.0) as u64;
        if labels.contains("state=\"queued\"") {
            d.queued += v;
        } else if labels.contains("state=\"delivering\"") {
            d.delivering += v;
        } else if labels.contains("state=\"dead\"") {
            d.dead += v;
        }
    }
    d
}

/// Sum of every series of metric `name` (exact name, any labels) in Prometheus text.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let value = if let Some(labels) = rest.strip_prefix('{') {
                labels.split_once('}')?.1
            } else if rest.starts_with(' ') {
                rest
            } else {
                return None;
            };
            value.trim().parse::<f64>().ok()
        })
        .sum()
}

/// What the router's own metrics say about where a message's time went (cumulative since
/// start; warm-up included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stages {
    /// Group-commit flushes.
    pub flushes: f64,
    /// Mean duration of one flush (flush + fsync), ms.
    pub flush_mean_ms: f64,
    /// Writes made durable per flush (the group-commit batch).
    pub writes_per_flush: f64,
    /// Mean parse + signature verification per message, µs.
    pub dsig_mean_us: f64,
    /// Mean schema validation per message, µs.
    pub schema_mean_us: f64,
    /// Mean request duration (head to answer, fsync wait included), ms.
    pub ingress_mean_ms: f64,
    /// Mean delivery attempt, ms.
    pub delivery_attempt_mean_ms: f64,
}

impl Stages {
    /// Reads the summary from Prometheus text.
    pub fn from_metrics(text: &str) -> Stages {
        let m = |n: &str| metric_sum(text, n);
        let mean = |base: &str, scale: f64| {
            let count = m(&format!("{base}_count"));
            if count > 0.0 {
                m(&format!("{base}_sum")) / count * scale
            } else {
                0.0
            }
        };
        let flushes = m("xoev_router_queue_flush_duration_seconds_count");
        Stages {
            flushes,
            flush_mean_ms: mean("xoev_router_queue_flush_duration_seconds", 1e3),
            writes_per_flush: if flushes > 0.0 {
                m("xoev_router_queue_flushed_writes_total") / flushes
            } else {
                0.0
            },
            dsig_mean_us: mean("xoev_router_dsig_verify_duration_seconds", 1e6),
            schema_mean_us: mean("xoev_router_schema_validation_duration_seconds", 1e6),
            ingress_mean_ms: mean("xoev_router_ingress_request_duration_seconds", 1e3),
            delivery_attempt_mean_ms: mean("xoev_router_delivery_attempt_duration_seconds", 1e3),
        }
    }
}

impl Router {
    /// The router's metrics text.
    pub async fn metrics(&self) -> Result<String, LoadgenError> {
        let body = get_ok(self.files.admin, "/metrics").await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// Starts the router on `files` and waits for `/readyz` (up to `ready_timeout`).
    pub async fn start(
        env: &Env,
        files: &RouterFiles,
        ready_timeout: Duration,
    ) -> Result<Router, LoadgenError> {
        let mut cmd = Command::new(env.bin("xoev-router"));
        cmd.arg("serve").arg("--config").arg(&files.config);
        cmd.env(
            "XOEV_LOG",
            std::env::var("XOEV_LOG").unwrap_or_else(|_| "warn".into()),
        );
        let mut proc = Proc::spawn("xoev-router", cmd, &files.log)?;
        let startup = wait_http_ok(&mut proc, files.admin, "/readyz", ready_timeout).await?;
        Ok(Router {
            proc,
            files: files.clone(),
            startup,
        })
    }

    /// Where the generator sends to.
    pub fn target(&self, env: &Env, proto: Proto) -> Result<Target, LoadgenError> {
        Ok(Target {
            addr: self.files.public,
            host: "localhost".into(),
            path: "/v1/messages".into(),
            tls: tls_config(&env.pki.ca_cert(), proto)?,
        })
    }

    /// Memory now and peak.
    pub fn rss(&self) -> Option<Rss> {
        rss::read(self.proc.pid())
    }

    /// Queue depth now.
    pub async fn depth(&self) -> Result<Depth, LoadgenError> {
        let body = get_ok(self.files.admin, "/metrics").await?;
        Ok(parse_depth(&String::from_utf8_lossy(&body)))
    }

    /// Graceful stop (SIGTERM, killed after 60 s).
    pub fn stop(&mut self) -> Result<(), LoadgenError> {
        let status = self.proc.stop("TERM", Duration::from_secs(60))?;
        if status.success() {
            Ok(())
        } else {
            Err(LoadgenError::Process(format!(
                "xoev-router exited with {status} on SIGTERM"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_means_come_from_histogram_sums_and_counts() {
        let text = "# TYPE x histogram\n\
            xoev_router_queue_flush_duration_seconds_sum 0.5\n\
            xoev_router_queue_flush_duration_seconds_count 100\n\
            xoev_router_queue_flushed_writes_total 2500\n\
            xoev_router_dsig_verify_duration_seconds_sum 0.2\n\
            xoev_router_dsig_verify_duration_seconds_count 2000\n\
            xoev_router_ingress_request_duration_seconds_sum{outcome=\"accepted\"} 30\n\
            xoev_router_ingress_request_duration_seconds_sum{outcome=\"rejected\"} 10\n\
            xoev_router_ingress_request_duration_seconds_count{outcome=\"accepted\"} 1500\n\
            xoev_router_ingress_request_duration_seconds_count{outcome=\"rejected\"} 500\n";
        let s = Stages::from_metrics(text);
        assert_eq!(s.flushes, 100.0);
        assert!((s.flush_mean_ms - 5.0).abs() < 1e-9);
        assert!((s.writes_per_flush - 25.0).abs() < 1e-9);
        assert!((s.dsig_mean_us - 100.0).abs() < 1e-9);
        assert!((s.ingress_mean_ms - 20.0).abs() < 1e-9);
        assert_eq!(s.schema_mean_us, 0.0);
    }

    #[test]
    fn metric_sum_matches_the_exact_name_only() {
        let text = "a_total 1\na_total_extra 5\na_total{x=\"1\"} 2\n# a_total 9\n";
        assert_eq!(metric_sum(text, "a_total"), 3.0);
    }

    #[test]
    fn queue_depth_is_summed_per_state_over_destinations() {
        let text = "# HELP xoev_router_queue_depth_messages depth\n\
            xoev_router_queue_depth_messages{destination=\"bw\",state=\"queued\"} 10\n\
            xoev_router_queue_depth_messages{destination=\"by\",state=\"queued\"} 5\n\
            xoev_router_queue_depth_messages{destination=\"by\",state=\"delivering\"} 3\n\
            xoev_router_queue_depth_messages{destination=\"by\",state=\"dead\"} 1\n\
            xoev_router_queue_pending_bytes{destination=\"by\"} 999\n";
        assert_eq!(
            parse_depth(text),
            Depth {
                queued: 15,
                delivering: 3,
                dead: 1
            }
        );
    }
}
