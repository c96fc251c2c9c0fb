//! The accept loop shared by the public and the admin listener.
//!
//! One task per connection; TLS handshakes have a deadline; a semaphore bounds open
//! connections (back-pressure by ownership: a connection holds its permit). On shutdown the
//! listener stops accepting and every connection is asked to finish its in-flight request.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls_pki_types::CertificateDer;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use super::response::Resp;

/// What the handler knows about the connection a request came on.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    /// The verified TLS client certificate (leaf), when mutual TLS is on and one was presented.
    pub client_cert: Option<CertificateDer<'static>>,
}

pub type HandlerFuture = Pin<Box<dyn Future<Output = Resp> + Send>>;

/// Handles one request. Implemented by the public and the admin API.
pub trait Handler: Send + Sync + 'static {
    fn handle(self: Arc<Self>, req: http::Request<Incoming>, conn: Arc<ConnInfo>) -> HandlerFuture;
}

pub struct ListenerOptions {
    pub tls: Option<TlsAcceptor>,
    pub handshake_timeout: Duration,
    pub max_connections: usize,
    /// How long in-flight requests may take to finish after shutdown was signalled.
    pub drain_timeout: Duration,
    pub name: &'static str,
}

/// Serves `listener` until `shutdown` turns true, then drains connections (bounded).
pub async fn serve<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    opts: ListenerOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(opts.max_connections.max(1)));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256)
        .keep_alive_interval(Some(Duration::from_secs(30)));
    let builder = Arc::new(builder);

    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!(listener = opts.name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let builder = builder.clone();
        let tls = opts.tls.clone();
        let hs_timeout = opts.handshake_timeout;
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                Some(acceptor) => {
                    let tls_stream =
                        match tokio::time::timeout(hs_timeout, acceptor.accept(stream)).await {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        };
                    let client_cert = tls_stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(|c| c.clone().into_owned());
                    let info = Arc::new(ConnInfo { peer, client_cert });
                    let svc = service_fn(move |req| {
                        let fut = handler.clone().handle(req, info.clone());
                        async move { Ok::<_, std::convert::Infallible>(fut.await) }
                    });
                    let conn = builder.serve_connection(TokioIo::new(tls_stream), svc);
                    if let Err(e) = watcher.watch(conn.into_owned()).await {
                        tracing::debug!(%peer, error = %e, "connection ended with error");
                    }
                }
                None => {
                    let info = Arc::new(ConnInfo {
                        peer,
                        client_cert: None,
                    });
                    let svc = service_fn(move |req| {
                        let fut = handler.clone().handle(req, info.clone());
                        async move { Ok::<_, std::convert::Infallible>(fut.await) }
                    });
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    if let Err(e) = watcher.watch(conn.into_owned()).await {
                        tracing::debug!(%peer, error = %e, "connection ended with error");
                    }
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(opts.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            listener = opts.name,
            "connections still open after the drain timeout; closing them"
        );
    }
}
