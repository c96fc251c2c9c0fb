//! `mock-authority`: the test authority as a process (load tests, docker-compose).
//!
//! It keeps a ledger only (counting mode, see `Inbox::counting`), so it can take millions of
//! deliveries. With `--control` it also serves the control API (`control` module): load tools
//! announce accepted messages there, read end-to-end latency, and simulate outages.
#![forbid(unsafe_code)]

use std::sync::Arc;

use clap::Parser;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use xoev_mock_authority::control::serve_control;
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
    /// Print statistics every this many seconds (0: never).
    #[arg(long, default_value_t = 5)]
    every: u64,
    /// Serve the control API (stats, announcements, down/up) on this loopback address.
    #[arg(long)]
    control: Option<std::net::SocketAddr>,
    /// Start with the delivery listener stopped (an authority that is down).
    #[arg(long, requires = "control")]
    down: bool,
}

fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
    .map_err(|e| format!("TLS: {e}"))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let tls = match (&args.cert, &args.key) {
        (Some(c), Some(k)) => match tls_config(c, k) {
            Ok(cfg) => Some(cfg),
            Err(e) => {
                eprintln!("mock-authority: {e}");
                return std::process::ExitCode::from(2);
            }
        },
        _ => None,
    };
    let mut auth = match MockAuthority::start_on(args.listen, tls, Inbox::counting()).await {
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
    if args.down {
        auth.stop().await;
        println!("mock-authority is down until POST /up");
    }
    let inbox = auth.inbox.clone();
    let auth = Arc::new(tokio::sync::Mutex::new(auth));
    if let Some(addr) = args.control {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => {
                let shown = l.local_addr().unwrap_or(addr);
                println!("mock-authority control on http://{shown}");
                tokio::spawn(serve_control(l, auth.clone()));
            }
            Err(e) => {
                eprintln!("mock-authority: cannot listen on {addr}: {e}");
                return std::process::ExitCode::from(2);
            }
        }
    }
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(args.every.max(1)));
    loop {
        tokio::select! {
            _ = tick.tick() => if args.every > 0 { println!("{}", inbox.stats_json()) },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    println!("{}", inbox.stats_json());
    std::process::ExitCode::SUCCESS
}
