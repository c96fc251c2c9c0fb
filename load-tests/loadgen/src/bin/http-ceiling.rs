//! `http-ceiling`: a minimal hyper HTTPS server that reads and discards request bodies and
//! answers 202; drive it with `xoev-loadgen run` to get the HTTP ceiling.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(about = "HTTPS server that accepts and discards bodies (the HTTP ceiling)")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:8444")]
    listen: std::net::SocketAddr,
    /// PEM certificate chain (e.g. the router's).
    #[arg(long)]
    cert: PathBuf,
    /// PKCS#8 key.
    #[arg(long)]
    key: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let tls = match xoev_loadgen::ceiling::http::server_tls(&args.cert, &args.key) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("http-ceiling: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("http-ceiling: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    println!("http-ceiling listening on https://{}", args.listen);
    tokio::select! {
        _ = xoev_loadgen::ceiling::http::serve(listener, tls) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    ExitCode::SUCCESS
}
