//! `xoev-loadgen`: corpus builder, load generator, scenario runner and smoke run.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use xoev_loadgen::LoadgenError;
use xoev_loadgen::announce::Announcer;
use xoev_loadgen::client::{Proto, Target, tls_config};
use xoev_loadgen::corpus::{Corpus, CorpusSpec, build};
use xoev_loadgen::drive::{DriveOptions, drive};
use xoev_loadgen::pki::{KeyKind, LoadPki};
use xoev_loadgen::scenario::{self, Options, Results};
use xoev_loadgen::units::parse_duration;
use xoev_loadgen::world::Env;

#[derive(Parser)]
#[command(
    name = "xoev-loadgen",
    about = "Load generator, scenario runner and smoke run for xoev-router"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Sign a corpus of distinct messages into a file.
    Corpus {
        /// Target size of each signed message in bytes (2048, 4096, 65536, 1048576, ...).
        #[arg(long)]
        size: usize,
        /// rsa2048 or p256.
        #[arg(long, default_value = "rsa2048")]
        key: String,
        /// Messages.
        #[arg(long)]
        count: usize,
        /// Seed of UUIDs, destinations and attachment bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Load PKI directory (created with `xoev-router certs` and openssl when missing).
        #[arg(long, default_value = "target/loadgen/pki")]
        pki: PathBuf,
        /// The xoev-router binary (to create the PKI).
        #[arg(long, default_value = "target/release/xoev-router")]
        router_bin: PathBuf,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Drive a running router with a corpus file.
    Run {
        /// The router's submission URL.
        #[arg(long, default_value = "https://localhost:8443/v1/messages")]
        url: String,
        /// CA certificate (PEM) the router's TLS certificate chains to.
        #[arg(long)]
        ca: PathBuf,
        /// Corpus file from `xoev-loadgen corpus`.
        #[arg(long)]
        corpus: PathBuf,
        /// h1 (HTTP/1.1 keep-alive) or h2.
        #[arg(long, default_value = "h1")]
        proto: String,
        /// Connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Concurrent streams per HTTP/2 connection.
        #[arg(long, default_value_t = 16)]
        streams: usize,
        /// Fixed rate in messages per second (latency corrected for coordinated omission);
        /// flat out without it.
        #[arg(long)]
        rate: Option<f64>,
        /// Measuring window.
        #[arg(long, default_value = "20s", value_parser = parse_duration)]
        duration: Duration,
        /// Warm-up excluded from the totals.
        #[arg(long, default_value = "2s", value_parser = parse_duration)]
        warmup: Duration,
        /// Per-request deadline.
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        timeout: Duration,
        /// Send at most this many messages.
        #[arg(long)]
        limit: Option<usize>,
        /// Start over when the corpus runs out (only against targets that do not deduplicate,
        /// e.g. http-ceiling).
        #[arg(long)]
        cycle: bool,
        /// Mock authority control address: announce acceptances for the end-to-end ledger.
        #[arg(long)]
        authority_control: Option<std::net::SocketAddr>,
        /// Show this process's RSS (the router) in progress lines.
        #[arg(long)]
        watch_pid: Option<u32>,
        /// Write the JSON result here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// No progress lines.
        #[arg(long)]
        quiet: bool,
    },
    /// Run the standard scenarios (router + authority + generator + ceilings); print the table.
    Scenarios {
        /// Directory with xoev-router, mock-authority and http-ceiling.
        #[arg(long, default_value = "target/release")]
        bin_dir: PathBuf,
        /// Work directory: PKI, corpus cache, one directory per run with logs.
        #[arg(long, default_value = "target/loadgen")]
        work: PathBuf,
        /// The full runs: 60 s windows, 1,000,000-message backlog, corpora for 12,000/s.
        #[arg(long)]
        full: bool,
        /// Measuring window of the 4 KiB runs.
        #[arg(long, value_parser = parse_duration)]
        duration: Option<Duration>,
        /// Measuring window of the 1 MiB run.
        #[arg(long, value_parser = parse_duration)]
        big_duration: Option<Duration>,
        /// Warm-up before each window.
        #[arg(long, value_parser = parse_duration)]
        warmup: Option<Duration>,
        /// HTTP/1.1 connections.
        #[arg(long)]
        connections: Option<usize>,
        /// HTTP/2 connections.
        #[arg(long)]
        h2_connections: Option<usize>,
        /// Streams per HTTP/2 connection.
        #[arg(long)]
        h2_streams: Option<usize>,
        /// Fixed rate of the latency runs.
        #[arg(long)]
        half_rate: Option<f64>,
        /// Rate (messages/s) the 4 KiB corpora are sized for.
        #[arg(long)]
        max_rate: Option<f64>,
        /// Rate (MiB/s) the 1 MiB corpus is sized for.
        #[arg(long)]
        max_mib_rate: Option<f64>,
        /// Messages in the backlog scenario.
        #[arg(long)]
        backlog: Option<usize>,
        /// Wait this long for delivery to catch up after each run.
        #[arg(long, value_parser = parse_duration)]
        drain_timeout: Option<Duration>,
        /// Record `perf record` (DWARF call graphs) of the router in the flat-out HTTP/1.1 runs of
        /// scenarios 1, 2 and 3, into target/loadgen/runs/<run>/perf.data.
        #[arg(long)]
        perf: bool,
        /// Run only these scenarios (comma-separated: 1,2,3,4,5,ceilings; or one variant of 1/2:
        /// 1-h1, 1-h2, 1-rate, 1-half, 2-h1, ...).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Write every figure as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Cache corpora up to this many MiB on disk in all (older ones are removed first).
        #[arg(long, default_value_t = 1024)]
        cache_mib: u64,
        /// Keep each run's router data directory (target/loadgen/runs/<run>/data); by default
        /// it is removed once the run is over.
        #[arg(long)]
        keep_data: bool,
        /// Extra environment variable of the router processes, KEY=VALUE (repeatable), for
        /// experiments such as MALLOC_ARENA_MAX=2.
        #[arg(long = "router-env", value_parser = parse_env)]
        router_env: Vec<(String, String)>,
    },
    /// The CI smoke run: a few hundred messages, checks delivery and byte identity, no timing.
    Smoke {
        /// Directory with xoev-router, mock-authority and http-ceiling.
        #[arg(long, default_value = "target/debug")]
        bin_dir: PathBuf,
        /// Work directory.
        #[arg(long, default_value = "target/loadgen-smoke")]
        work: PathBuf,
    },
}

fn target_from_url(url: &str, ca: &std::path::Path, proto: Proto) -> Result<Target, LoadgenError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| LoadgenError::Usage(format!("--url {url}: {e}")))?;
    if uri.scheme_str() != Some("https") {
        return Err(LoadgenError::Usage(format!("--url {url}: must be https")));
    }
    let host = uri
        .host()
        .ok_or_else(|| LoadgenError::Usage(format!("--url {url}: no host")))?
        .to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
        .map_err(|e| LoadgenError::Usage(format!("--url {url}: {e}")))?
        .next()
        .ok_or_else(|| LoadgenError::Usage(format!("--url {url}: host has no address")))?;
    Ok(Target {
        addr,
        host,
        path: uri.path().to_owned(),
        tls: tls_config(ca, proto)?,
    })
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("'{s}' is not KEY=VALUE")),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, LoadgenError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| LoadgenError::Process(format!("tokio runtime: {e}")))
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xoev-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<(), LoadgenError> {
    match Cli::parse().command {
        Cmd::Corpus {
            size,
            key,
            count,
            seed,
            pki,
            router_bin,
            out,
        } => {
            let pki = LoadPki::ensure(&pki, &router_bin)?;
            let key = KeyKind::parse(&key)?;
            let (k, cert) = pki.signer(key)?;
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
            let started = std::time::Instant::now();
            let spec = CorpusSpec {
                size,
                key,
                count,
                seed,
            };
            let corpus = build(&spec, &k, &cert, threads)?;
            corpus.save(&out)?;
            eprintln!(
                "{}: {} messages of {} bytes ({}), signed in {:.1} s",
                out.display(),
                count,
                corpus.meta.message_len,
                key.name(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Cmd::Run {
            url,
            ca,
            corpus,
            proto,
            connections,
            streams,
            rate,
            duration,
            warmup,
            timeout,
            limit,
            cycle,
            authority_control,
            watch_pid,
            json,
            quiet,
        } => {
            let proto = Proto::parse(&proto)?;
            let target = target_from_url(&url, &ca, proto)?;
            let corpus = Arc::new(Corpus::load(&corpus)?);
            let opts = DriveOptions {
                label: "run".into(),
                target,
                proto,
                connections,
                streams,
                rate,
                warmup,
                duration,
                timeout,
                limit,
                cycle,
                progress: !quiet,
                authority_control,
                watch_pid,
            };
            let report = runtime()?.block_on(async {
                let (announcer, task) = match authority_control {
                    Some(a) => {
                        let (an, t) = Announcer::start(a);
                        (Some(an), Some(t))
                    }
                    None => (None, None),
                };
                let r = drive(corpus, &opts, announcer).await?;
                if let Some(t) = task {
                    t.finish().await?;
                }
                Ok::<_, LoadgenError>(r)
            })?;
            println!("{}", report.summary());
            if let Some(path) = json {
                let text = serde_json::to_vec_pretty(&report)
                    .map_err(|e| LoadgenError::Usage(format!("JSON: {e}")))?;
                std::fs::write(&path, text).map_err(|e| LoadgenError::io(&path, e))?;
            }
            Ok(())
        }
        Cmd::Scenarios {
            bin_dir,
            work,
            full,
            duration,
            big_duration,
            warmup,
            connections,
            h2_connections,
            h2_streams,
            half_rate,
            max_rate,
            max_mib_rate,
            backlog,
            drain_timeout,
            perf,
            only,
            json,
            cache_mib,
            keep_data,
            router_env,
        } => {
            let mut o = Options::default();
            if full {
                o.duration = Duration::from_secs(60);
                o.big_duration = Duration::from_secs(60);
                o.backlog = 1_000_000;
                o.max_rate = 12_000.0;
            }
            o.duration = duration.unwrap_or(o.duration);
            o.big_duration = big_duration.unwrap_or(o.big_duration);
            o.warmup = warmup.unwrap_or(o.warmup);
            o.connections = connections.unwrap_or(o.connections);
            o.h2_connections = h2_connections.unwrap_or(o.h2_connections);
            o.h2_streams = h2_streams.unwrap_or(o.h2_streams);
            o.half_rate = half_rate.unwrap_or(o.half_rate);
            o.max_rate = max_rate.unwrap_or(o.max_rate);
            o.max_mib_rate = max_mib_rate.unwrap_or(o.max_mib_rate);
            o.backlog = backlog.unwrap_or(o.backlog);
            o.drain_timeout = drain_timeout.unwrap_or(o.drain_timeout);
            o.perf = perf;
            o.only = only;
            let mut env = Env::new(&bin_dir, &work, cache_mib << 20)?;
            env.router_env = router_env;
            env.keep_data = keep_data;
            let mut results = Results::default();
            let outcome = runtime()?.block_on(scenario::run_all(&env, &o, &mut results));
            env.discard_run_data()?;
            let path = json.unwrap_or_else(|| work.join("results.json"));
            scenario::write_json(&results, &path)?;
            println!("\n{}", scenario::table(&results));
            println!(
                "machine: {:?}; load average now {:?}; every figure: {}",
                results.machine,
                scenario::loadavg(),
                path.display()
            );
            outcome
        }
        Cmd::Smoke { bin_dir, work } => {
            let env = Env::new(&bin_dir, &work, 256 << 20)?;
            runtime()?.block_on(xoev_loadgen::smoke::run_smoke(&env))?;
            println!("smoke: ok");
            Ok(())
        }
    }
}
