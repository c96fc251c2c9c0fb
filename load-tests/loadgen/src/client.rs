//! HTTPS connections to the router: one TCP + TLS connection each, HTTP/1.1 (keep-alive, one
//! request at a time) or HTTP/2 (many concurrent streams), chosen by ALPN.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::error::LoadgenError;

/// HTTP version spoken to the router.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// HTTP/1.1 with keep-alive: one request in flight per connection.
    H1,
    /// HTTP/2: `streams` requests in flight per connection.
    H2,
}

impl Proto {
    /// Parses `h1`/`http1` or `h2`/`http2`.
    pub fn parse(s: &str) -> Result<Proto, LoadgenError> {
        match s {
            "h1" | "http1" | "http/1.1" => Ok(Proto::H1),
            "h2" | "http2" => Ok(Proto::H2),
            other => Err(LoadgenError::Usage(format!(
                "unknown protocol '{other}' (h1, h2)"
            ))),
        }
    }
}

/// Where requests go.
#[derive(Clone, Debug)]
pub struct Target {
    /// Socket address of the public listener.
    pub addr: SocketAddr,
    /// TLS server name (and `Host`), e.g. `localhost`.
    pub host: String,
    /// Request path, e.g. `/v1/messages`.
    pub path: String,
    /// Client TLS configuration trusting the router's CA.
    pub tls: Arc<rustls::ClientConfig>,
}

/// A client TLS configuration (ring, TLS 1.2/1.3) trusting the CA certificates in `ca_pem`,
/// offering `proto` by ALPN.
pub fn tls_config(ca_pem: &Path, proto: Proto) -> Result<Arc<rustls::ClientConfig>, LoadgenError> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_pem)
        .map_err(|e| LoadgenError::Key(format!("{}: {e}", ca_pem.display())))?;
    for c in certs {
        let c = c.map_err(|e| LoadgenError::Key(format!("{}: {e}", ca_pem.display())))?;
        roots
            .add(c)
            .map_err(|e| LoadgenError::Key(format!("{}: {e}", ca_pem.display())))?;
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| LoadgenError::Key(format!("TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![match proto {
        Proto::H1 => b"http/1.1".to_vec(),
        Proto::H2 => b"h2".to_vec(),
    }];
    Ok(Arc::new(cfg))
}

/// One open connection.
#[derive(Clone)]
pub enum Conn {
    /// HTTP/1.1.
    H1(Arc<tokio::sync::Mutex<hyper::client::conn::http1::SendRequest<Full<Bytes>>>>),
    /// HTTP/2 (the handle is cheap to clone; streams are multiplexed).
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

/// Opens a TLS connection and does the HTTP handshake.
pub async fn connect(target: &Target, proto: Proto) -> Result<Conn, String> {
    let tcp = TcpStream::connect(target.addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from(target.host.clone()).map_err(|e| format!("tls name: {e}"))?;
    let tls = TlsConnector::from(target.tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| format!("tls: {e}"))?;
    let io = TokioIo::new(tls);
    match proto {
        Proto::H1 => {
            let (send, conn) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(|e| format!("http1 handshake: {e}"))?;
            tokio::spawn(conn);
            Ok(Conn::H1(Arc::new(tokio::sync::Mutex::new(send))))
        }
        Proto::H2 => {
            let (send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                .initial_stream_window_size(4 << 20)
                .initial_connection_window_size(8 << 20)
                .handshake(io)
                .await
                .map_err(|e| format!("http2 handshake: {e}"))?;
            tokio::spawn(conn);
            Ok(Conn::H2(send))
        }
    }
}

impl Conn {
    /// Sends one request and returns the response head (the body still streams).
    pub async fn send(&self, req: Request<Full<Bytes>>) -> Result<Response<Incoming>, String> {
        match self {
            Conn::H1(s) => {
                let mut s = s.lock().await;
                s.ready().await.map_err(|e| format!("io: {e}"))?;
                s.send_request(req).await.map_err(|e| format!("io: {e}"))
            }
            Conn::H2(s) => {
                let mut s = s.clone();
                s.ready().await.map_err(|e| format!("io: {e}"))?;
                s.send_request(req).await.map_err(|e| format!("io: {e}"))
            }
        }
    }

    /// Whether the connection can still carry requests.
    pub fn is_closed(&self) -> bool {
        match self {
            Conn::H1(s) => s.try_lock().map(|s| s.is_closed()).unwrap_or(false),
            Conn::H2(s) => s.is_closed(),
        }
    }
}

/// A POST of `body` to `target` in the form `proto` needs (origin-form + Host for HTTP/1.1,
/// absolute URI for HTTP/2).
pub fn post(target: &Target, proto: Proto, body: Bytes) -> Result<Request<Full<Bytes>>, String> {
    let builder = match proto {
        Proto::H1 => Request::post(target.path.as_str()).header(
            http::header::HOST,
            format!("{}:{}", target.host, target.addr.port()),
        ),
        Proto::H2 => Request::post(format!(
            "https://{}:{}{}",
            target.host,
            target.addr.port(),
            target.path
        )),
    };
    builder
        .header(http::header::CONTENT_TYPE, "application/xml")
        .body(Full::new(body))
        .map_err(|e| format!("request: {e}"))
}
