//! `mock-authority`: the test authority as a process (load tests, docker-compose).
#![forbid(unsafe_code)]

use std::sync::Arc;

use clap::Parser;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use xoev_mock_authority::{Inbox, MockAuthority};

#[derive(Parser)]
#[command(about = "A mock authority back-end that receives pushed XÖV messages and counts them")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9443")]
    listen: std::net::SocketAddr,
    /// PEM certificate chain for HTTPS (plain HTTP without it).
    #[arg(long, requires = "key")]
    cert: Option<std::path::PathBuf>,
    #[arg(long)]
    key: Option<std::path::PathBuf>,
    /// Print statistics every this many seconds.
    #[arg(long, default_value_t = 5)]
    every: u64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let tls = match (&args.cert, &args.key) {
        (Some(c), Some(k)) => {
            let certs: Result<Vec<_>, _> = match CertificateDer::pem_file_iter(c) {
                Ok(it) => it.collect(),
                Err(e) => {
                    eprintln!("mock-authority: {}: {e}", c.display());
                    return std::process::ExitCode::from(2);
                }
            };
            let key = PrivateKeyDer::from_pem_file(k);
            match (certs, key) {
                (Ok(certs), Ok(key)) => {
                    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
                        rustls::crypto::ring::default_provider(),
                    ))
                    .with_safe_default_protocol_versions()
                    .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key));
                    match cfg {
                        Ok(mut cfg) => {
                            cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
                            Some(Arc::new(cfg))
                        }
                        Err(e) => {
                            eprintln!("mock-authority: TLS: {e}");
                            return std::process::ExitCode::from(2);
                        }
                    }
                }
                _ => {
                    eprintln!("mock-authority: cannot read --cert/--key");
                    return std::process::ExitCode::from(2);
                }
            }
        }
        _ => None,
    };
    let auth = match MockAuthority::start_on(args.listen, tls, Inbox::new(false)).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mock-authority: cannot listen on {}: {e}", args.listen);
            return std::process::ExitCode::from(2);
        }
    };
    println!(
        "mock-authority listening on {} (GET /stats for counters)",
        auth.url()
    );
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(args.every.max(1)));
    loop {
        tokio::select! {
            _ = tick.tick() => println!("{}", auth.inbox.stats_json()),
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    println!("{}", auth.inbox.stats_json());
    std::process::ExitCode::SUCCESS
}
