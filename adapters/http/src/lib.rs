//! The `http` adapter: POSTs the original signed bytes to an authority's endpoint.
//!
//! One pooled hyper client per destination, with that destination's rustls configuration
//! (pinned CA, optional client certificate). 2xx is delivery; 408, 429 and 5xx are retryable
//! (honouring `Retry-After`); other statuses are the authority refusing the message.
//! Cancel-safe: dropping the future drops the request; the message id lets the authority
//! discard a repeat.
#![forbid(unsafe_code)]

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{HeaderMap, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use xoev_core::adapter::BoxFuture;
use xoev_core::{Adapter, Delivered, Delivery, DeliveryError, FailureKind};

/// Headers every pushed message carries.
pub const HEADER_MESSAGE_ID: &str = "xoev-nachrichten-uuid";
pub const HEADER_NACHRICHTENTYP: &str = "xoev-nachrichtentyp";
pub const HEADER_ROUTER: &str = "xoev-router-id";
pub const HEADER_ATTEMPT: &str = "xoev-attempt";
pub const HEADER_TRACE: &str = "xoev-trace";

/// How much of an error response body is kept for the attempt history.
const ERROR_BODY_MAX: usize = 512;

pub struct HttpAdapter {
    uri: Uri,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    kind: &'static str,
}

#[derive(Debug)]
pub struct BuildError(pub String);

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

impl HttpAdapter {
    /// `tls` is used for https URLs; plain http is allowed (tests, local back-ends).
    pub fn new(url: &str, tls: rustls::ClientConfig) -> Result<Self, BuildError> {
        Self::with_kind(url, tls, "http")
    }

    /// The same transport under another adapter name (the peer adapter reuses it).
    pub fn with_kind(
        url: &str,
        tls: rustls::ClientConfig,
        kind: &'static str,
    ) -> Result<Self, BuildError> {
        let uri: Uri = url
            .parse()
            .map_err(|e| BuildError(format!("'{url}' is not a URL: {e}")))?;
        match uri.scheme_str() {
            Some("https") | Some("http") => {}
            _ => return Err(BuildError(format!("'{url}' must be an http or https URL"))),
        }
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build(https);
        Ok(HttpAdapter { uri, client, kind })
    }

    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// A GET on the same connection pool (e.g. a peer router's status API).
    pub async fn get(&self, uri: &Uri) -> Result<(u16, HeaderMap, Bytes), DeliveryError> {
        let req = Request::builder()
            .method(Method::GET)
            .uri(uri.clone())
            .body(Full::new(Bytes::new()))
            .map_err(|e| {
                DeliveryError::permanent(FailureKind::Config, format!("cannot build request: {e}"))
            })?;
        let resp = self.client.request(req).await.map_err(classify)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = match Limited::new(resp.into_body(), 1 << 20).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => Bytes::new(),
        };
        Ok((status, headers, body))
    }

    /// Sends `d` to `uri`; returns the status, headers and body (bounded) of the answer.
    pub async fn post(
        &self,
        uri: &Uri,
        d: &Delivery,
    ) -> Result<(u16, HeaderMap, Bytes), DeliveryError> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(uri.clone())
            .header(CONTENT_TYPE, "application/xml")
            .header(HEADER_MESSAGE_ID, d.id.to_string())
            .header(HEADER_ROUTER, d.router_id.as_str())
            .header(HEADER_ATTEMPT, d.attempt.to_string());
        if let Ok(v) = HeaderValue::from_str(&d.nachrichtentyp) {
            req = req.header(HEADER_NACHRICHTENTYP, v);
        }
        let mut trace = d.trace.clone();
        trace.push(d.router_id.clone());
        if let Ok(v) = HeaderValue::from_str(&trace.join(",")) {
            req = req.header(HEADER_TRACE, v);
        }
        let req = req.body(Full::new(d.payload.clone())).map_err(|e| {
            DeliveryError::permanent(FailureKind::Config, format!("cannot build request: {e}"))
        })?;
        let resp = self.client.request(req).await.map_err(classify)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = match Limited::new(resp.into_body(), 1 << 20).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => Bytes::new(),
        };
        Ok((status, headers, body))
    }
}

fn classify(e: hyper_util::client::legacy::Error) -> DeliveryError {
    let text = error_chain(&e);
    if e.is_connect() {
        let kind = if text.contains("certificate") || text.contains("tls") || text.contains("TLS") {
            FailureKind::Tls
        } else {
            FailureKind::Connect
        };
        DeliveryError::retryable(kind, text)
    } else {
        DeliveryError::retryable(FailureKind::Io, text)
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

pub fn snippet(body: &[u8]) -> String {
    let cut = &body[..body.len().min(ERROR_BODY_MAX)];
    String::from_utf8_lossy(cut)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl Adapter for HttpAdapter {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn deliver<'a>(&'a self, d: &'a Delivery) -> BoxFuture<'a, Result<Delivered, DeliveryError>> {
        Box::pin(async move {
            let (status, headers, body) = self.post(&self.uri, d).await?;
            if (200..300).contains(&status) {
                Ok(Delivered::Delivered {
                    detail: format!("{} answered {status}", self.uri),
                })
            } else {
                Err(DeliveryError::from_status(
                    status,
                    retry_after(&headers),
                    format!("{} answered {status}: {}", self.uri, snippet(&body)),
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_retry_after_seconds() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("17"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(17)));
    }

    #[test]
    fn reads_retry_after_http_date_in_the_past_as_zero() {
        let mut h = HeaderMap::new();
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }

    #[test]
    fn refuses_non_http_urls() {
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        assert!(HttpAdapter::new("ftp://x/y", tls).is_err());
    }
}
