//! The `peer` adapter: forwards a message byte-identical to another state's router
//! (`POST {base}/v1/messages`) over mutual TLS.
//!
//! The peer's 202 is the result (`Forwarded`, keeping the peer's answer as receipt). Because
//! the peer deduplicates by `nachrichtenUUID`, a retried forward is accepted once and answered
//! with the original 202. The peer's refusals (problem+json 4xx, e.g. `unroutable`,
//! `loop-detected`, `duplicate-conflict`) are permanent; 408, 429 and 5xx are retried.
//! Loops are cut by the `xoev-trace` header the transport adds (the router ids passed so far).
#![forbid(unsafe_code)]

use http::Uri;
use xoev_adapter_http::{BuildError, HttpAdapter, retry_after, snippet};
use xoev_core::adapter::BoxFuture;
use xoev_core::{Adapter, Delivered, Delivery, DeliveryError, FailureKind, ProblemType, Retry};

pub struct PeerAdapter {
    http: HttpAdapter,
    base: String,
    submit: Uri,
}

impl PeerAdapter {
    /// `base` is the peer router's public base URL, e.g. `https://router.sachsen.example:8443`.
    pub fn new(base: &str, tls: rustls::ClientConfig) -> Result<Self, BuildError> {
        let base = base.trim_end_matches('/').to_owned();
        let submit_url = format!("{base}/v1/messages");
        let submit: Uri = submit_url
            .parse()
            .map_err(|e| BuildError(format!("'{submit_url}' is not a URL: {e}")))?;
        let http = HttpAdapter::with_kind(&submit_url, tls, "peer")?;
        Ok(PeerAdapter { http, base, submit })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The message's status at the peer (its `GET /v1/messages/{id}` document).
    pub async fn remote_status(&self, id: uuid::Uuid) -> Result<serde_json::Value, DeliveryError> {
        let url = format!("{}/v1/messages/{id}", self.base);
        let uri: Uri = url
            .parse()
            .map_err(|e| DeliveryError::permanent(FailureKind::Config, format!("'{url}': {e}")))?;
        let (status, _, body) = self.http.get(&uri).await?;
        if status != 200 {
            return Err(DeliveryError::from_status(
                status,
                None,
                format!("{url} answered {status}: {}", snippet(&body)),
            ));
        }
        serde_json::from_slice(&body).map_err(|e| {
            DeliveryError::retryable(FailureKind::Protocol, format!("{url}: not JSON: {e}"))
        })
    }
}

impl Adapter for PeerAdapter {
    fn kind(&self) -> &'static str {
        "peer"
    }

    fn deliver<'a>(&'a self, d: &'a Delivery) -> BoxFuture<'a, Result<Delivered, DeliveryError>> {
        Box::pin(async move {
            let (status, headers, body) = self.http.post(&self.submit, d).await?;
            if (200..300).contains(&status) {
                let answer: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
                    DeliveryError::retryable(
                        FailureKind::Protocol,
                        format!("peer {} answered {status} without JSON: {e}", self.base),
                    )
                })?;
                if answer.get("id").and_then(|v| v.as_str()) != Some(d.id.to_string().as_str()) {
                    return Err(DeliveryError::permanent(
                        FailureKind::Protocol,
                        format!(
                            "peer {} acknowledged a different message: {}",
                            self.base,
                            snippet(&body)
                        ),
                    ));
                }
                let state = answer.get("state").and_then(|v| v.as_str()).unwrap_or("?");
                let dest = answer
                    .get("destination")
                    .and_then(|v| v.as_str())
                    .unwrap_or("?");
                return Ok(Delivered::Forwarded {
                    detail: format!(
                        "peer {} accepted it ({state}, destination {dest})",
                        self.base
                    ),
                    receipt: body.to_vec(),
                });
            }
            let problem: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
            let kind = problem
                .as_ref()
                .and_then(|p| p.get("type"))
                .and_then(|t| t.as_str())
                .unwrap_or("");
            let detail = problem
                .as_ref()
                .and_then(|p| p.get("detail"))
                .and_then(|t| t.as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| snippet(&body));
            let detail = format!("peer {} answered {status} {kind}: {detail}", self.base);
            // The peer's problem type says whether retrying can help (a 508 loop-detected is
            // permanent although it is a 5xx); unknown answers fall back to the status code.
            match ProblemType::from_slug(kind) {
                Some(p) if p.is_retryable() => Err(DeliveryError {
                    kind: FailureKind::Status(status),
                    retry: Retry::Retryable {
                        after: retry_after(&headers),
                    },
                    detail,
                }),
                Some(_) => Err(DeliveryError {
                    kind: FailureKind::Status(status),
                    retry: Retry::Permanent,
                    detail,
                }),
                None => Err(DeliveryError::from_status(
                    status,
                    retry_after(&headers),
                    detail,
                )),
            }
        })
    }
}
