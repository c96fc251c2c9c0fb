//! The HTTP ceiling: hyper + rustls with the router's certificate and ALPN, reading every
//! request body to the end and answering 202 with a JSON body of the router's size. Nothing
//! else: no parsing, no storage. What the generator reaches against it is the most any
//! HTTPS service on this stack and machine can do with these requests.

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::error::LoadgenError;

/// A 202 body as long as the router's (pretty-printed JSON, ~330 bytes).
const ANSWER: &str = r#"{
  "id": "00000000-0000-4000-8000-000000000000",
  "state": "queued",
  "destination": "nw",
  "accepted_at": "2026-11-23T10:00:00.000Z",
  "duplicate": false,
  "status_url": "/v1/messages/00000000-0000-4000-8000-000000000000",
  "receipt_url": "/v1/messages/00000000-0000-4000-8000-000000000000/receipt"
}"#;

/// Server TLS configuration like the router's: ring, TLS 1.2/1.3, ALPN h2 and http/1.1.
pub fn server_tls(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, LoadgenError> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| LoadgenError::Key(format!("{}: {e}", cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| LoadgenError::Key(format!("{}: {e}", key.display())))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
    .map_err(|e| LoadgenError::Key(format!("TLS: {e}")))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

async fn discard(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let status = match req.into_body().collect().await {
        Ok(_) => StatusCode::ACCEPTED,
        Err(_) => StatusCode::BAD_REQUEST,
    };
    let mut r = Response::new(Full::new(Bytes::from_static(ANSWER.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// Serves until the task is dropped.
pub async fn serve(listener: TcpListener, tls: Arc<rustls::ServerConfig>) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            if let Ok(tls) = acceptor.accept(tcp).await {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service_fn(discard))
                    .await;
            }
        });
    }
}
