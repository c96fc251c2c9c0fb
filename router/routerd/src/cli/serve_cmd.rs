//! `xoev-router serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use tokio::net::TcpListener;

use super::fail;
use crate::config::Config;
use crate::serve::{Listeners, prepare, start};

/// Command-line values that replace the configuration's.
#[derive(Debug, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub admin_listen: Option<SocketAddr>,
}

pub fn run(config_file: Option<PathBuf>, overrides: Overrides) -> ExitCode {
    init_logging();
    let config = match &config_file {
        Some(path) => Config::from_file(path).map(|mut c| {
            if let Some(d) = &overrides.data_dir {
                c.router.data_dir = d.clone();
            }
            c.router.data_dir = c.resolve(&c.router.data_dir.clone());
            c
        }),
        None => Config::embedded(overrides.data_dir.as_deref()),
    };
    let config = config.and_then(|mut c| {
        if let Some(a) = overrides.listen {
            c.public.listen = a;
            c.origin.push_str(" with --listen");
        }
        if let Some(a) = overrides.admin_listen {
            c.admin.listen = a;
            c.origin.push_str(" with --admin-listen");
        }
        // The overridden values obey the same rules as the file's.
        c.check().map(|()| c)
    });
    let config = match config {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    let code = runtime.block_on(async move {
        let public_addr = config.public.listen;
        let admin_addr = config.admin.listen;
        let prepared = match prepare(config, config_file) {
            Ok(p) => p,
            Err(e) => return fail(&e.to_string()),
        };
        let sample = prepared.sample.clone();
        let generated = prepared.generated_pki;
        let router = match start(prepared).await {
            Ok(r) => r,
            Err(e) => return fail(&e.to_string()),
        };
        let public = match TcpListener::bind(public_addr).await {
            Ok(l) => l,
            Err(e) => {
                return fail(&format!(
                    "cannot listen on {public_addr} (public.listen): {e}"
                ));
            }
        };
        let admin = match TcpListener::bind(admin_addr).await {
            Ok(l) => l,
            Err(e) => {
                return fail(&format!(
                    "cannot listen on {admin_addr} (admin.listen): {e}"
                ));
            }
        };
        banner(&router, &public, &admin, sample.as_deref(), generated);
        match router
            .run(Listeners { public, admin }, shutdown_signal())
            .await
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e.to_string()),
        }
    });
    // Dropping the runtime would wait for its blocking threads, and after a stop without the
    // final flush one of them may be waiting for a disk that does not answer.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

fn banner(
    router: &crate::Router,
    public: &TcpListener,
    admin: &TcpListener,
    sample: Option<&std::path::Path>,
    generated: bool,
) {
    let c = &router.app().config;
    let bound = public.local_addr().ok();
    let p = bound.map(|a| a.to_string()).unwrap_or_default();
    // Bound to every interface (a container): the hints name loopback, which the
    // development certificate covers, not 0.0.0.0.
    let reach = bound
        .map(|mut a| {
            if a.ip().is_unspecified() {
                a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            a.to_string()
        })
        .unwrap_or_default();
    let a = admin
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let data = c.router.data_dir.display();
    say!(
        "xoev-router {} ({}) is running",
        env!("CARGO_PKG_VERSION"),
        c.router.id
    );
    say!("  public  https://{p}   POST /v1/messages, GET /v1/messages/{{id}}");
    say!("  admin   http://{a}    /metrics /healthz /readyz /admin/...");
    say!("  data    {data}   (config: {})", c.origin);
    if c.router.dev_pki {
        say!();
        say!(
            "Development setup: {} PKI in {data}/pki. Not for production.",
            if generated {
                "generated a"
            } else {
                "using the"
            }
        );
    }
    if let Some(s) = sample {
        say!("Send the signed sample message:");
        say!(
            "  curl -sS --cacert {data}/pki/ca.crt -H 'Content-Type: application/xml' --data-binary @{} https://{reach}/v1/messages",
            s.display()
        );
        say!("Follow it with the status_url from the answer:");
        say!("  curl -sS --cacert {data}/pki/ca.crt https://{reach}/v1/messages/<id>");
    }
    say!("Stop with Ctrl-C (graceful: in-flight requests and deliveries finish first).");
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("XOEV_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
