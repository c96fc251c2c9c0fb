//! The HTTP(S) client of the harness: HTTPS to the public listener trusting exactly the
//! generated CA, plain HTTP to the admin listener; HTTP/1.1 with keep-alive, so N concurrent
//! workers use N connections.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::ChaosError;

/// An answer with its body read completely.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON, `Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A header as text, empty when absent or not ASCII.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Why a request got no answer: expected while the router is down, never counted as accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Transport {
    #[error("no answer within {0} ms")]
    Timeout(u128),
    #[error("connection failed: {0}")]
    Failed(String),
}

type Inner = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub struct Http {
    client: Inner,
}

impl Http {
    /// A client trusting only the CA certificates in `ca_pem`.
    pub fn new(ca_pem: &Path) -> Result<Http, ChaosError> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca_pem)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| ChaosError::Tls(format!("{}: {e}", ca_pem.display())))?;
        let mut roots = rustls::RootCertStore::empty();
        for c in certs {
            roots
                .add(c)
                .map_err(|e| ChaosError::Tls(format!("{}: {e}", ca_pem.display())))?;
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| ChaosError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(Http { client })
    }

    /// POSTs an XML body.
    pub async fn post_xml(
        &self,
        url: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Reply, Transport> {
        self.send(Method::POST, url, Some(body), timeout).await
    }

    /// GETs a URL.
    pub async fn get(&self, url: &str, timeout: Duration) -> Result<Reply, Transport> {
        self.send(Method::GET, url, None, timeout).await
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<Bytes>,
        timeout: Duration,
    ) -> Result<Reply, Transport> {
        let mut req = Request::builder().method(method).uri(url);
        if body.is_some() {
            req = req.header(http::header::CONTENT_TYPE, "application/xml");
        }
        let req = req
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| Transport::Failed(e.to_string()))?;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| Transport::Failed(error_chain(&e)))?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| Transport::Failed(error_chain(&e)))?
                .to_bytes();
            Ok(Reply {
                status,
                headers,
                body,
            })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(Transport::Timeout(timeout.as_millis())),
        }
    }
}

/// An error with its causes, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
