//! `xoev-chaos`: router-level crash, outage and disk-full proofs (see README.md).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use xoev_chaos::report::Report;
use xoev_chaos::scenario::{
    crash, disk_full, disk_full_tmpfs, fsync_error, fsync_hang, outage, per_destination, power_loss,
};
use xoev_chaos::{ChaosError, locate};

#[derive(Parser, Debug)]
#[command(
    name = "xoev-chaos",
    about = "Proves guaranteed delivery of the real xoev-router: SIGKILL under load, power loss, authority outage, full disk, full destination queue"
)]
struct Cli {
    /// The router binary. Default: build `xoev-router` in this harness's profile first.
    #[arg(long, global = true)]
    router: Option<PathBuf>,
    /// Also write the reports as JSON to this file.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// SIGKILL the router at random moments under load; every 202 must be delivered.
    Crash(CrashArgs),
    /// Cut the power of the router's disk under load (FUSE; needs root and /dev/fuse):
    /// unsynced writes are lost; every 202 must still be delivered.
    PowerLoss(PowerLossArgs),
    /// Make every fsync fail under load (FUSE; needs root and /dev/fuse): 503
    /// storage-unavailable and /readyz 503 at once; after a restart every 202 is delivered.
    FsyncError,
    /// Hold every fsync unanswered under load (FUSE; needs root and /dev/fuse): every request
    /// answered within queue.sync_timeout, /readyz 503; ready again once the syncs answer.
    FsyncHang,
    /// Take one authority down under load; its backlog must drain in order, the other flow on.
    Outage(OutageArgs),
    /// Free disk below the floor: 503 storage-unavailable, nothing stored; service resumes.
    DiskFull {
        /// Use a real 64 MiB tmpfs as data directory (needs root): the floor reached by a
        /// ballast file, then the file system filled to ENOSPC.
        #[arg(long)]
        tmpfs: bool,
    },
    /// A destination's queue limit reached: 503 overloaded for it, the other still accepts.
    DestinationLimit,
    /// Every scenario at the CI size (what load-tests/chaos/ci.sh runs).
    Ci {
        /// Kills of the crash test.
        #[arg(long, default_value_t = 20)]
        kills: u32,
    },
}

#[derive(clap::Args, Debug)]
struct CrashArgs {
    /// SIGKILLs in total (CI: 20; long run: 200).
    #[arg(long, default_value_t = 20)]
    kills: u32,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Messages per second offered (0 = as fast as answers come).
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// The router runs between these many milliseconds after ready before the next kill.
    #[arg(long, default_value_t = 300)]
    min_up_ms: u64,
    #[arg(long, default_value_t = 2500)]
    max_up_ms: u64,
    /// Percent of restarts killed again 0–250 ms after the start (before ready).
    #[arg(long, default_value_t = 20)]
    startup_kill_percent: u32,
    /// Percent of kill intervals with authority B down (retries and a backlog at the kill).
    #[arg(long, default_value_t = 25)]
    outage_percent: u32,
    /// Seconds the backlog may take to arrive after the load stopped.
    #[arg(long, default_value_t = 120)]
    drain_timeout: u64,
    /// Random seed for the kill moments (default: from the clock; printed).
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(clap::Args, Debug)]
struct PowerLossArgs {
    /// Power cuts under load (CI: 10); start-up cuts come on top.
    #[arg(long, default_value_t = 10)]
    cuts: u32,
    /// Percent of restarts whose power is cut again 0–250 ms after the start (before ready).
    #[arg(long, default_value_t = 20)]
    startup_cut_percent: u32,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Messages per second offered (0 = as fast as answers come).
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// The router runs between these many milliseconds after ready before the next cut.
    #[arg(long, default_value_t = 300)]
    min_up_ms: u64,
    #[arg(long, default_value_t = 2000)]
    max_up_ms: u64,
    /// Seconds the backlog may take to arrive after the load stopped.
    #[arg(long, default_value_t = 120)]
    drain_timeout: u64,
    /// Random seed for the cut moments (default: from the clock; printed).
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(clap::Args, Debug)]
struct OutageArgs {
    /// Seconds of load before authority A goes down.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Seconds authority A stays down under load.
    #[arg(long, default_value_t = 12)]
    outage: u64,
    /// Seconds of load after A is back.
    #[arg(long, default_value_t = 4)]
    after: u64,
    /// Messages per second offered, half to each authority.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Largest resident set (MiB) the router may reach (the project's target is 300).
    #[arg(long, default_value_t = 300)]
    max_rss_mib: u64,
    /// Seconds the backlog may take to drain after the load stopped.
    #[arg(long, default_value_t = 180)]
    drain_timeout: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("xoev-chaos: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let binary = match locate::router_binary(cli.router.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("xoev-chaos: {e}");
            return ExitCode::from(2);
        }
    };
    println!("router binary: {}", binary.display());
    let mut reports: Vec<Report> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut record = |name: &str, r: Result<Report, ChaosError>| match r {
        Ok(rep) => {
            print!("{}", rep.summary());
            reports.push(rep);
        }
        Err(e) => {
            println!("FAIL {name}\n  - could not finish: {e}");
            errors.push(format!("{name}: {e}"));
        }
    };
    match cli.command {
        Cmd::Crash(a) => {
            println!("== crash");
            let o = crash_options(&a);
            record("crash", crash::run(&binary, &o).await);
        }
        Cmd::PowerLoss(a) => {
            println!("== power-loss");
            let o = power_loss::PowerLossOptions {
                cuts: a.cuts,
                concurrency: a.concurrency,
                rate: a.rate,
                min_up: Duration::from_millis(a.min_up_ms),
                max_up: Duration::from_millis(a.max_up_ms.max(a.min_up_ms)),
                startup_cut_percent: a.startup_cut_percent.min(100),
                drain_timeout: Duration::from_secs(a.drain_timeout),
                seed: a.seed.unwrap_or_else(clock_seed),
                ..power_loss::PowerLossOptions::default()
            };
            record("power-loss", power_loss::run(&binary, &o).await);
        }
        Cmd::FsyncError => {
            println!("== fsync-error");
            record("fsync-error", fsync_error::run(&binary).await);
        }
        Cmd::FsyncHang => {
            println!("== fsync-hang");
            record("fsync-hang", fsync_hang::run(&binary).await);
        }
        Cmd::Outage(a) => {
            println!("== outage");
            record("outage", outage::run(&binary, &outage_options(&a)).await);
        }
        Cmd::DiskFull { tmpfs: false } => {
            println!("== disk-full");
            record("disk-full", disk_full::run(&binary).await);
        }
        Cmd::DiskFull { tmpfs: true } => {
            println!("== disk-full --tmpfs");
            record("disk-full-tmpfs", disk_full_tmpfs::run(&binary).await);
        }
        Cmd::DestinationLimit => {
            println!("== destination-limit");
            record("destination-limit", per_destination::run(&binary).await);
        }
        Cmd::Ci { kills } => {
            println!("== crash");
            let o = crash::CrashOptions {
                kills,
                seed: clock_seed(),
                ..crash::CrashOptions::default()
            };
            record("crash", crash::run(&binary, &o).await);
            println!("== outage");
            record(
                "outage",
                outage::run(&binary, &outage::OutageOptions::default()).await,
            );
            println!("== disk-full");
            record("disk-full", disk_full::run(&binary).await);
            println!("== destination-limit");
            record("destination-limit", per_destination::run(&binary).await);
        }
    }
    if reports.len() + errors.len() > 1 {
        println!("== summary");
        for r in &reports {
            println!(
                "{} {} ({} finding(s))",
                if r.passed() { "PASS" } else { "FAIL" },
                r.scenario,
                r.findings.len()
            );
        }
        for e in &errors {
            println!("FAIL {e}");
        }
    }
    if let Some(path) = &cli.json {
        let v = serde_json::json!({
            "reports": reports.iter().map(Report::to_json).collect::<Vec<_>>(),
            "errors": errors,
        });
        if let Err(e) = std::fs::write(path, format!("{v:#}\n")) {
            eprintln!("xoev-chaos: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if errors.is_empty() && reports.iter().all(Report::passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn crash_options(a: &CrashArgs) -> crash::CrashOptions {
    crash::CrashOptions {
        kills: a.kills,
        concurrency: a.concurrency,
        rate: a.rate,
        min_up: Duration::from_millis(a.min_up_ms),
        max_up: Duration::from_millis(a.max_up_ms.max(a.min_up_ms)),
        startup_kill_percent: a.startup_kill_percent.min(100),
        outage_percent: a.outage_percent.min(100),
        drain_timeout: Duration::from_secs(a.drain_timeout),
        seed: a.seed.unwrap_or_else(clock_seed),
        ..crash::CrashOptions::default()
    }
}

fn outage_options(a: &OutageArgs) -> outage::OutageOptions {
    outage::OutageOptions {
        warmup: Duration::from_secs(a.warmup),
        outage: Duration::from_secs(a.outage),
        after: Duration::from_secs(a.after),
        rate: a.rate,
        concurrency: a.concurrency,
        max_rss_kib: a.max_rss_mib * 1024,
        drain_timeout: Duration::from_secs(a.drain_timeout),
    }
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
