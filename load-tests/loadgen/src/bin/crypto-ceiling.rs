//! `crypto-ceiling`: raw ring signature verifications per second with a given key on all
//! cores (and on one), plus SHA-256 of a message body.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use xoev_loadgen::pki::KeyKind;
use xoev_loadgen::units::parse_duration;

#[derive(Parser)]
#[command(about = "ring signature-check rate for a key (the crypto ceiling)")]
struct Args {
    /// rsa2048 or p256.
    #[arg(long)]
    key_type: String,
    /// PKCS#8 private key (PEM) of that type; its public half is verified against.
    #[arg(long)]
    key: PathBuf,
    /// Threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Time per measurement.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    time: Duration,
    /// Body size for the SHA-256 rate.
    #[arg(long, default_value_t = 4096)]
    digest_len: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let run = || -> Result<(), xoev_loadgen::LoadgenError> {
        let kind = KeyKind::parse(&args.key_type)?;
        let threads = args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let c = xoev_loadgen::ceiling::crypto::measure(
            kind,
            &args.key,
            threads,
            args.time,
            args.digest_len,
        )?;
        println!(
            "{}: {:.0} verify/s on {} threads, {:.0}/s on one; SHA-256 of {} B: {:.0}/s",
            kind.name(),
            c.verify_per_s,
            c.threads,
            c.verify_per_s_per_thread,
            c.digest_len,
            c.digest_per_s
        );
        println!("{}", serde_json::to_string(&c).unwrap_or_default());
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crypto-ceiling: {e}");
            ExitCode::FAILURE
        }
    }
}
