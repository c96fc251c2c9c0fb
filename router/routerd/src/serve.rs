//! Start-up and ordered shutdown of the router.
//!
//! `prepare` does the file-system work of a first start (data directory, development PKI,
//! built-in schemas, signed sample message). `run(listeners, shutdown)` serves on listeners the
//! caller bound, so tests start the router on port 0. Shutdown order: stop accepting and finish
//! in-flight requests; stop delivery (attempts finish or are released); stop the admin
//! listener; close the store with a final flush.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use xoev_queue::{Limits as QueueLimits, MessageStore, SledConfig, SledStore, Timestamp};

use crate::app::App;
use crate::config::Config;
use crate::delivery::DeliveryManager;
use crate::http::admin::AdminApi;
use crate::http::public::PublicApi;
use crate::http::server::{ListenerOptions, serve};
use crate::metrics::Metrics;
use crate::runtime::{Runtime, RuntimeCell};
use crate::{adapters, pki, tls};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_schemas.rs"));
}

pub const SAMPLE_TEMPLATE: &str = include_str!("../assets/sample-message.xml");

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("development PKI: {0}")]
    Pki(#[from] pki::PkiError),
    #[error("public listener TLS: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("queue: {0}")]
    Store(#[from] xoev_queue::StoreError),
    #[error("{0}")]
    Invalid(String),
}

/// What `prepare` found or created.
pub struct Prepared {
    pub config: Config,
    pub config_file: Option<PathBuf>,
    pub catalogue: PathBuf,
    /// A signed sample message the user can POST (development setup only).
    pub sample: Option<PathBuf>,
    pub generated_pki: bool,
}

pub fn prepare(config: Config, config_file: Option<PathBuf>) -> Result<Prepared, StartError> {
    let data = config.router.data_dir.clone();
    std::fs::create_dir_all(&data).map_err(|source| StartError::DataDir {
        path: data.clone(),
        source,
    })?;
    let mut generated_pki = false;
    let pki_dir = data.join("pki");
    if config.router.dev_pki {
        generated_pki = pki::ensure_dev_pki(&pki_dir, &config.router.id)?;
    }
    let catalogue = match &config.schemas.catalogue {
        Some(p) => config.resolve(p),
        None => write_builtin_schemas(&data.join("schemas"))?,
    };
    let sample = if config.router.dev_pki {
        Some(ensure_sample(&data.join("samples"), &pki_dir)?)
    } else {
        None
    };
    Ok(Prepared {
        config,
        config_file,
        catalogue,
        sample,
        generated_pki,
    })
}

/// Writes the schemas built into the binary; returns the catalogue path. Rewritten at every
/// start so the files always match the binary.
fn write_builtin_schemas(dir: &Path) -> Result<PathBuf, StartError> {
    for (rel, bytes) in embedded::FILES {
        let path = dir.join(rel);
        let io = |source| StartError::DataDir {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        if std::fs::read(&path).ok().as_deref() != Some(*bytes) {
            std::fs::write(&path, bytes).map_err(io)?;
        }
    }
    Ok(dir.join("catalogue.toml"))
}

/// Renders and signs a fresh sample message (new id, created now) with the sample portal's
/// development key, at every start: a sample from an old run would be a duplicate, or stale.
fn ensure_sample(dir: &Path, pki_dir: &Path) -> Result<PathBuf, StartError> {
    let path = dir.join("sample-message.xml");
    let io = |p: &Path, source| StartError::DataDir {
        path: p.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let now = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let xml = SAMPLE_TEMPLATE
        .replace("{{UUID}}", &uuid::Uuid::new_v4().to_string())
        .replace("{{NOW}}", &now);
    let key_path = pki_dir.join(pki::PORTAL_SIGNING_KEY);
    let key_pem = std::fs::read_to_string(&key_path).map_err(|e| io(&key_path, e))?;
    let key = xoev_dsig::SigningKey::from_pem(&key_pem)
        .map_err(|e| StartError::Invalid(format!("{}: {e}", key_path.display())))?;
    let cert = tls::load_certs(&pki_dir.join(pki::PORTAL_SIGNING_CERT))?;
    let signed = xoev_dsig::sign(
        xml.as_bytes(),
        &key,
        cert.first(),
        &xoev_dsig::SignOptions::default(),
    )
    .map_err(|e| StartError::Invalid(format!("signing the sample message: {e}")))?;
    std::fs::write(&path, signed).map_err(|e| io(&path, e))?;
    Ok(path)
}

/// The two sockets the router serves on, bound by the caller.
pub struct Listeners {
    pub public: TcpListener,
    pub admin: TcpListener,
}

/// A router that has opened its store and built its runtime, ready to serve.
pub struct Router {
    app: Arc<App>,
    public_tls: Option<TlsAcceptor>,
}

impl Router {
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }
}

/// Opens the store, builds directory, senders, schemas and adapters, starts delivery.
pub async fn start(p: Prepared) -> Result<Router, StartError> {
    let config = p.config;
    let metrics = Arc::new(Metrics::new(&config.router.id));
    let queue_dir = config.router.data_dir.join("queue");
    let mut store_config = SledConfig::new(
        queue_dir,
        QueueLimits {
            min_free_disk_bytes: config.queue.min_free_disk,
            max_pending_bytes_per_destination: config.queue.max_pending_bytes_per_destination,
        },
    );
    store_config.observer = metrics.clone();
    store_config.cache_capacity_bytes = config.queue.cache_size;
    store_config.round_linger = config.queue.round_linger;
    let store = Arc::new(SledStore::open(store_config)?);
    let runtime = Runtime::build(&config, &p.catalogue).map_err(StartError::Invalid)?;
    let built = adapters::build(&config).map_err(StartError::Invalid)?;
    let receipts = crate::receipt::ReceiptSigner::load(&config).map_err(StartError::Invalid)?;
    let public_tls = Some(TlsAcceptor::from(Arc::new(tls::server_config(
        &config.resolve(&config.public.cert),
        &config.resolve(&config.public.key),
        config.public.client_auth,
        &config
            .public
            .client_ca
            .iter()
            .map(|p| config.resolve(p))
            .collect::<Vec<_>>(),
    )?)));
    let delivery = DeliveryManager::start(&config, built.adapters, store.clone(), metrics.clone());
    let app = Arc::new(App {
        xml_limits: App::xml_limits(&config),
        runtime: RuntimeCell::new(runtime),
        catalogue: p.catalogue,
        config_file: p.config_file,
        config,
        store,
        metrics,
        delivery,
        ready: Default::default(),
        peers: built.peers,
        receipts,
        mailbox_leases: Default::default(),
        heavy_checks: tokio::sync::Semaphore::new(crate::app::heavy_check_permits()),
    });
    Ok(Router { app, public_tls })
}

impl Router {
    /// Serves until `shutdown` completes, then shuts down in order.
    pub async fn run(
        self,
        listeners: Listeners,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), StartError> {
        let app = self.app;
        let (public_tx, public_rx) = watch::channel(false);
        let (admin_tx, admin_rx) = watch::channel(false);
        let (maint_tx, maint_rx) = watch::channel(false);
        let public = tokio::spawn(serve(
            listeners.public,
            Arc::new(PublicApi::new(app.clone())),
            ListenerOptions {
                tls: self.public_tls,
                handshake_timeout: app.config.public.handshake_timeout,
                max_connections: app.config.public.max_connections,
                drain_timeout: Duration::from_secs(30),
                name: "public",
            },
            public_rx,
        ));
        let admin = tokio::spawn(serve(
            listeners.admin,
            Arc::new(AdminApi::new(app.clone())),
            ListenerOptions {
                tls: None,
                handshake_timeout: Duration::from_secs(5),
                max_connections: 64,
                drain_timeout: Duration::from_secs(5),
                name: "admin",
            },
            admin_rx,
        ));
        let mut maintenance = tokio::spawn(maintain(app.clone(), maint_rx));
        app.ready.store(true, Ordering::SeqCst);

        shutdown.await;
        tracing::info!("shutting down: no new messages; finishing requests in flight");
        app.ready.store(false, Ordering::SeqCst);
        let _ = public_tx.send(true);
        let _ = public.await;
        // A disk that stopped answering must not make the stop wait for ever (docs/queue.md
        // §5.7): every step after the public drain that may wait for the store shares one
        // deadline, the delivery grace plus `queue.sync_timeout`. Leaving without the final
        // flush loses nothing acknowledged; what was delivered since the last flush is
        // delivered again after the restart.
        let bound = app.config.queue.sync_timeout;
        let deadline = tokio::time::Instant::now() + app.config.delivery.shutdown_grace + bound;
        tracing::info!("stopping delivery");
        if tokio::time::timeout_at(deadline, app.delivery.shutdown())
            .await
            .is_err()
        {
            tracing::error!(
                "delivery did not stop in time (a store operation waits for the disk); its workers were stopped"
            );
        }
        let _ = maint_tx.send(true);
        if tokio::time::timeout_at(deadline, &mut maintenance)
            .await
            .is_err()
        {
            maintenance.abort();
        }
        let _ = admin_tx.send(true);
        let _ = admin.await;
        // The close gets what is left, and at least a moment: normally it takes milliseconds.
        let close_by = deadline.max(tokio::time::Instant::now() + Duration::from_secs(1));
        match tokio::time::timeout_at(close_by, app.store.close()).await {
            Ok(closed) => closed?,
            Err(_) => {
                let waiting = app
                    .store
                    .sync_in_progress()
                    .map(|s| crate::stall::describe(&s))
                    .unwrap_or_else(|| "a store operation has not returned".into());
                return Err(StartError::Store(xoev_queue::StoreError::Storage(format!(
                    "the queue did not close in time ({waiting}); stopped without its final flush: acknowledged messages were durable already, deliveries since the last flush will be repeated"
                ))));
            }
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Background upkeep: expired leases back to the queue, retention purge.
async fn maintain(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let mut leases = tokio::time::interval(Duration::from_secs(5));
    let mut purge =
        tokio::time::interval(app.config.queue.purge_interval.max(Duration::from_secs(1)));
    loop {
        tokio::select! {
            _ = leases.tick() => {
                match app.store.expire_leases(Timestamp::now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(count = n, "leases expired; messages are queued again"),
                    Err(e) => tracing::error!(error = %e, "lease expiry failed"),
                }
            }
            _ = purge.tick() => {
                let q = &app.config.queue;
                let run = app.store.purge_finished(Timestamp::now(), q.payload_retention, q.record_retention);
                // A purge of a month's messages runs for minutes (it pauses for new messages);
                // a stop does not wait for it: it ends at its next transaction once the
                // store is closed, and the next start purges the rest.
                let result = tokio::select! {
                    r = run => r,
                    _ = stop.changed() => return,
                };
                match result {
                    Ok(r) if r.payloads + r.records > 0 => tracing::info!(payloads = r.payloads, records = r.records, "retention purge"),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "retention purge failed"),
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// The certificate DER of the public listener's leaf (for banners and tests).
pub fn leaf_certificate(config: &Config) -> Option<CertificateDer<'static>> {
    tls::load_certs(&config.resolve(&config.public.cert))
        .ok()?
        .into_iter()
        .next()
}
