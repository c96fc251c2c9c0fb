//! `POST /v1/messages`: read the body within limits, run the checks, store durably, answer 202.
//!
//! Nothing is acknowledged before `wait_durable` returns; nothing is half-accepted: a refusal
//! at any step writes nothing.

pub mod header;
pub mod pipeline;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Serialize;
use xoev_core::{Problem, ProblemType};
use xoev_queue::{Enqueued, MessageRecord, MessageStore, NewMessage, StoreError, Timestamp};

use crate::app::App;
use crate::http::response::{self, Resp};
use crate::http::server::ConnInfo;
use crate::status::{MessageMeta, rfc3339};
use pipeline::{Checked, Transport};

/// Bodies above this size are checked on the blocking pool so they do not stall other requests.
const INLINE_CHECK_MAX: usize = 256 * 1024;

#[derive(Debug, Serialize)]
pub struct AcceptedBody {
    pub id: String,
    pub state: &'static str,
    pub destination: String,
    pub accepted_at: String,
    /// True when this answer repeats an earlier acceptance of the same message.
    pub duplicate: bool,
    pub status_url: String,
    pub receipt_url: String,
}

pub async fn post_message(app: Arc<App>, req: Request<Incoming>, conn: Arc<ConnInfo>) -> Resp {
    let started = Instant::now();
    let result = accept(&app, req, &conn).await;
    let (outcome, problem) = match &result {
        Ok((body, _)) if body.duplicate => ("duplicate", ""),
        Ok(_) => ("accepted", ""),
        Err(p) => ("rejected", p.kind.slug()),
    };
    app.metrics
        .ingress_requests
        .with_label_values(&[outcome, problem])
        .inc();
    app.metrics
        .ingress_duration
        .with_label_values(&[outcome])
        .observe(started.elapsed().as_secs_f64());
    match result {
        Ok((body, _)) => {
            let location = body.status_url.clone();
            let mut r = response::json(StatusCode::ACCEPTED, &body);
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(LOCATION, v);
            }
            r
        }
        Err(p) => {
            if p.kind == ProblemType::Internal || p.kind == ProblemType::StorageUnavailable {
                tracing::error!(peer = %conn.peer, problem = %p, "message not accepted");
            } else {
                tracing::info!(peer = %conn.peer, problem = %p, "message rejected");
            }
            response::problem(&p)
        }
    }
}

async fn accept(
    app: &Arc<App>,
    req: Request<Incoming>,
    conn: &ConnInfo,
) -> Result<(AcceptedBody, MessageRecord), Problem> {
    check_media_type(req.headers().get(CONTENT_TYPE))?;
    let max = app.config.limits.max_body_bytes;
    if let Some(len) = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > max
    {
        return Err(too_large(max));
    }
    let trace = trace(req.headers(), &app.config)?;
    let body = read_body(req.into_body(), max, app.config.public.request_timeout).await?;

    let checked = run_checks(app, body.clone(), conn).await?;
    let id = checked.header.nachrichten_uuid;
    let mut meta = MessageMeta::new(&checked, conn.client_cert.as_ref());
    meta.trace = trace;
    meta.relayed_by = checked.relayed_by().map(str::to_owned);
    let digest = sha256(&body);
    let size = body.len() as u64;
    let msg = NewMessage {
        id,
        destination: checked.destination.clone(),
        payload: body,
        digest,
        meta: meta.encode(),
        accepted_at: Timestamp::now(),
    };
    let store_durably = async {
        let (record, ticket, duplicate) =
            match app.store.enqueue(msg).await.map_err(store_problem)? {
                Enqueued::Accepted { record, ticket } => (record, ticket, false),
                Enqueued::Duplicate { record, ticket } => (record, ticket, true),
                Enqueued::Conflict { record } => {
                    return Err(Problem::new(
                        ProblemType::DuplicateConflict,
                        format!(
                            "message {id} was accepted at {} with different content (sha256 {})",
                            rfc3339(record.accepted_at),
                            crate::tls::hex(&record.digest)
                        ),
                    ));
                }
            };
        app.store
            .wait_durable(ticket)
            .await
            .map_err(store_problem)?;
        Ok((record, duplicate))
    };
    // Dropping the step is safe: an enqueue that reaches the store later is answered as a
    // duplicate when the client sends the message again.
    let (record, duplicate) = crate::stall::bounded(
        app,
        "the message is not acknowledged; send it again (if it was stored after all, the answer is 202 with duplicate: true)",
        store_durably,
    )
    .await?;
    if !duplicate {
        app.metrics.ingress_bytes.inc_by(size);
        app.delivery.notify(&record.destination);
        tracing::debug!(%id, destination = %record.destination, sender = %checked.sender, "accepted");
    }
    let status_url = format!("/v1/messages/{id}");
    Ok((
        AcceptedBody {
            id: id.to_string(),
            state: record.state.as_str(),
            destination: record.destination.clone(),
            accepted_at: rfc3339(record.accepted_at),
            duplicate,
            receipt_url: format!("{status_url}/receipt"),
            status_url,
        },
        record,
    ))
}

async fn run_checks(app: &Arc<App>, body: Bytes, conn: &ConnInfo) -> Result<Checked, Problem> {
    let rt = app.runtime.get();
    if body.len() <= INLINE_CHECK_MAX {
        let transport = Transport {
            client_cert: conn.client_cert.as_ref(),
        };
        return pipeline::check(
            &rt,
            &app.xml_limits,
            age_limits(app),
            &body,
            &transport,
            &app.metrics,
        );
    }
    // Checking a large message holds several copies of it (tree, canonical form, schema
    // text) for a while: a few at a time keep memory bounded; the others wait here with only
    // their body.
    let _permit = app
        .heavy_checks
        .acquire()
        .await
        .map_err(|_| Problem::new(ProblemType::Internal, "the router is shutting down"))?;
    let app = app.clone();
    let cert = conn.client_cert.clone();
    tokio::task::spawn_blocking(move || {
        let transport = Transport {
            client_cert: cert.as_ref(),
        };
        pipeline::check(
            &rt,
            &app.xml_limits,
            age_limits(&app),
            &body,
            &transport,
            &app.metrics,
        )
    })
    .await
    .map_err(|e| Problem::new(ProblemType::Internal, format!("check task failed: {e}")))?
}

/// The routers a message passed before this one (`xoev-trace`), refused when it contains this
/// router or is longer than `federation.max_hops`: a loop is cut at the first repeat.
fn trace(
    headers: &http::HeaderMap,
    config: &crate::config::Config,
) -> Result<Vec<String>, Problem> {
    let Some(v) = headers.get(xoev_adapter_http::HEADER_TRACE) else {
        return Ok(Vec::new());
    };
    let text = v.to_str().map_err(|_| {
        Problem::new(
            ProblemType::BadRequest,
            "the xoev-trace header is not ASCII",
        )
    })?;
    let hops: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect();
    if hops.contains(&config.router.id) {
        return Err(Problem::new(
            ProblemType::LoopDetected,
            format!(
                "the message already passed router '{}' (trace: {text})",
                config.router.id
            ),
        ));
    }
    if hops.len() >= config.federation.max_hops {
        return Err(Problem::new(
            ProblemType::LoopDetected,
            format!(
                "the message passed {} routers; the limit is {}",
                hops.len(),
                config.federation.max_hops
            ),
        ));
    }
    Ok(hops)
}

fn age_limits(app: &App) -> pipeline::AgeLimits {
    pipeline::AgeLimits {
        max_age: app.config.limits.max_message_age,
        max_future: app.config.limits.max_future_skew,
    }
}

fn check_media_type(v: Option<&HeaderValue>) -> Result<(), Problem> {
    let refuse = |what: String| {
        Err(Problem::new(
            ProblemType::UnsupportedMediaType,
            format!("{what}; send Content-Type: application/xml"),
        ))
    };
    let Some(v) = v else {
        return refuse("the request has no Content-Type".into());
    };
    let Ok(text) = v.to_str() else {
        return refuse("the Content-Type header is not ASCII".into());
    };
    let mut parts = text.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let xml = essence == "application/xml"
        || essence == "text/xml"
        || (essence.starts_with("application/") && essence.ends_with("+xml"));
    if !xml {
        return refuse(format!("Content-Type '{essence}' is not XML"));
    }
    for p in parts {
        if let Some((k, val)) = p.split_once('=')
            && k.trim().eq_ignore_ascii_case("charset")
        {
            let cs = val.trim().trim_matches('"');
            if !cs.eq_ignore_ascii_case("utf-8") {
                return refuse(format!("charset '{cs}' is not supported (UTF-8 only)"));
            }
        }
    }
    Ok(())
}

fn too_large(max: u64) -> Problem {
    Problem::new(
        ProblemType::TooLarge,
        format!("the body exceeds the limit of {max} bytes"),
    )
    .with("limit", max)
}

async fn read_body(
    body: Incoming,
    max: u64,
    timeout: std::time::Duration,
) -> Result<Bytes, Problem> {
    let limited = Limited::new(body, usize::try_from(max).unwrap_or(usize::MAX));
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(Problem::new(
            ProblemType::BadRequest,
            format!("the body was not received within {} s", timeout.as_secs()),
        )),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(too_large(max))
            } else {
                Err(Problem::new(
                    ProblemType::BadRequest,
                    format!("reading the body failed: {e}"),
                ))
            }
        }
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

pub fn store_problem(e: StoreError) -> Problem {
    match e {
        StoreError::DestinationFull { .. } => {
            Problem::new(ProblemType::Overloaded, e.to_string()).retry_after(30)
        }
        StoreError::DiskFull { .. } | StoreError::Storage(_) | StoreError::Closed => {
            Problem::new(ProblemType::StorageUnavailable, e.to_string()).retry_after(60)
        }
        other => Problem::new(ProblemType::Internal, other.to_string()),
    }
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mt(v: &str) -> Result<(), Problem> {
        check_media_type(Some(&HeaderValue::from_str(v).unwrap()))
    }

    #[test]
    fn accepts_xml_media_types() {
        assert!(mt("application/xml").is_ok());
        assert!(mt("application/xml; charset=UTF-8").is_ok());
        assert!(mt("text/xml").is_ok());
        assert!(mt("application/xoev+xml").is_ok());
    }

    #[test]
    fn refuses_other_media_types_and_charsets() {
        assert_eq!(
            mt("application/json").unwrap_err().kind,
            ProblemType::UnsupportedMediaType
        );
        assert_eq!(
            mt("application/xml; charset=iso-8859-1").unwrap_err().kind,
            ProblemType::UnsupportedMediaType
        );
        assert_eq!(
            check_media_type(None).unwrap_err().kind,
            ProblemType::UnsupportedMediaType
        );
    }
}
