//! The pull mailbox (XTA getStatusList / getMessage / close, OSCI fetchDelivery).
//!
//! Messages routed to a `mailbox` destination wait in the queue until the owning authority
//! lists, fetches and closes them. Fetching leases the message for the visibility timeout;
//! closing completes it (delivered). A fetched but unclosed message becomes visible again when
//! its lease expires. Only the owner (its TLS client certificate or bearer token) gets an
//! answer about a mailbox; everyone else gets the same 403 whether the mailbox exists or not.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;
use xoev_core::{Problem, ProblemType};
use xoev_queue::{Completion, MessageRecord, MessageStore, State, StoreError, Timestamp};

use super::public::parse_id;
use super::response::{self, Resp};
use super::server::ConnInfo;
use crate::app::App;
use crate::ingress::store_problem;
use crate::runtime::{Mailbox, Runtime};
use crate::status::{MessageMeta, StatusView, rfc3339};

fn forbidden() -> Problem {
    Problem::new(
        ProblemType::Forbidden,
        "this mailbox does not exist or you are not its owner",
    )
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The mailbox addressed by `kennung`, if the caller owns it.
fn authorize<'r>(
    rt: &'r Runtime,
    kennung: &str,
    conn: &ConnInfo,
    headers: &HeaderMap,
) -> Result<&'r Mailbox, Problem> {
    let mailbox = rt.mailboxes.get(kennung).ok_or_else(forbidden)?;
    let cert = conn.client_cert.as_ref().map(|c| c.as_ref());
    if mailbox.is_owner(cert, bearer(headers)) {
        Ok(mailbox)
    } else {
        Err(forbidden())
    }
}

#[derive(Serialize)]
struct Entry {
    id: String,
    nachrichtentyp: Option<String>,
    autor: Option<String>,
    leser: Option<String>,
    size: u64,
    sha256: String,
    accepted_at: String,
}

/// `GET /v1/mailboxes/{kennung}/messages?after=CURSOR&limit=N`: visible messages, oldest first.
pub async fn list(
    app: &Arc<App>,
    kennung: &str,
    query: &HashMap<String, String>,
    conn: &ConnInfo,
    headers: &HeaderMap,
) -> Resp {
    let rt = app.runtime.get();
    let mailbox = match authorize(&rt, kennung, conn, headers) {
        Ok(m) => m,
        Err(p) => return response::problem(&p),
    };
    let after = query.get("after").and_then(|v| v.parse().ok());
    let limit = query
        .get("limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100usize)
        .clamp(1, 1000);
    let now = Timestamp::now();
    match app
        .store
        .list_pending(&mailbox.destination, after, limit)
        .await
    {
        Ok(page) => {
            let next_after = if page.len() == limit {
                page.last().map(|r| r.seq.to_string())
            } else {
                None
            };
            let visible: Vec<Entry> = page
                .iter()
                .filter(|r| {
                    r.state == State::Queued || r.lease_expires_at.is_some_and(|t| t <= now)
                })
                .map(|r| {
                    let meta = MessageMeta::decode(&r.meta);
                    Entry {
                        id: r.id.to_string(),
                        nachrichtentyp: meta.as_ref().map(|m| m.header.nachrichtentyp.clone()),
                        autor: meta.as_ref().map(|m| m.header.autor.clone()),
                        leser: meta.as_ref().map(|m| m.header.leser.clone()),
                        size: r.size,
                        sha256: crate::tls::hex(&r.digest),
                        accepted_at: rfc3339(r.accepted_at),
                    }
                })
                .collect();
            response::json(
                StatusCode::OK,
                &json!({ "messages": visible, "next_after": next_after }),
            )
        }
        Err(e) => response::problem(&store_problem(e)),
    }
}

/// The message `id` if it is in `mailbox` (404 otherwise, also for other mailboxes' messages).
async fn find(app: &App, mailbox: &Mailbox, id: &str) -> Result<(Uuid, MessageRecord), Problem> {
    let id = parse_id(id)?;
    let not_here = || {
        Problem::new(
            ProblemType::NotFound,
            format!("message {id} is not in this mailbox"),
        )
    };
    match app.store.get(id).await {
        Ok(Some(r)) if r.destination == mailbox.destination => Ok((id, r)),
        Ok(_) => Err(not_here()),
        Err(e) => Err(store_problem(e)),
    }
}

/// `GET /v1/mailboxes/{kennung}/messages/{id}`: the original bytes; hides the message from the
/// listing until it is closed or the visibility timeout passes.
pub async fn fetch(
    app: &Arc<App>,
    kennung: &str,
    id: &str,
    conn: &ConnInfo,
    headers: &HeaderMap,
) -> Resp {
    let rt = app.runtime.get();
    let result = async {
        let mailbox = authorize(&rt, kennung, conn, headers)?;
        // A fetch leases the message through the queue's writer, which waits for a disk that
        // does not answer (docs/queue.md §5.7).
        let found = fetch_leased(app, mailbox, id);
        crate::stall::bounded(app, "the message was not fetched; fetch it again", found).await
    }
    .await;
    match result {
        Ok((id, record, payload)) => xml_response(id, &record, payload),
        Err(p) => response::problem(&p),
    }
}

/// The fetch itself: leases a queued message (or one whose lease expired) and returns it.
async fn fetch_leased(
    app: &Arc<App>,
    mailbox: &Mailbox,
    id: &str,
) -> Result<(Uuid, MessageRecord, Bytes), Problem> {
    let (id, record) = find(app, mailbox, id).await?;
    let now = Timestamp::now();
    let lease_free = record.state == State::Queued
        || (record.state == State::Delivering && record.lease_expires_at.is_some_and(|t| t <= now));
    let payload = if lease_free {
        let leased = app
            .store
            .lease_one(id, now, mailbox.visibility_timeout)
            .await
            .map_err(fetch_problem)?;
        lock(&app.mailbox_leases).insert(id, leased.lease.clone());
        leased.payload
    } else if record.state == State::Delivering {
        // Fetched before and not yet closed: the owner may fetch again.
        app.store
            .payload(id)
            .await
            .map_err(store_problem)?
            .ok_or_else(|| {
                Problem::new(
                    ProblemType::NotFound,
                    format!("message {id} has no payload"),
                )
            })?
    } else {
        return Err(Problem::new(
            ProblemType::NotFound,
            format!(
                "message {id} was already closed ({})",
                record.state.as_str()
            ),
        ));
    };
    Ok((id, record, payload))
}

fn fetch_problem(e: StoreError) -> Problem {
    match e {
        StoreError::WrongState { .. } => Problem::new(ProblemType::Conflict, e.to_string()),
        StoreError::PayloadLost(_) => Problem::new(ProblemType::Internal, e.to_string()),
        other => store_problem(other),
    }
}

fn xml_response(id: Uuid, record: &MessageRecord, payload: Bytes) -> Resp {
    let mut r = Response::new(Full::new(payload));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        r.headers_mut()
            .insert(xoev_adapter_http::HEADER_MESSAGE_ID, v);
    }
    if let Some(m) = MessageMeta::decode(&record.meta)
        && let Ok(v) = HeaderValue::from_str(&m.header.nachrichtentyp)
    {
        r.headers_mut()
            .insert(xoev_adapter_http::HEADER_NACHRICHTENTYP, v);
    }
    r
}

fn lock(
    m: &std::sync::Mutex<HashMap<Uuid, xoev_queue::LeaseToken>>,
) -> std::sync::MutexGuard<'_, HashMap<Uuid, xoev_queue::LeaseToken>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `POST /v1/mailboxes/{kennung}/messages/{id}/close`: the owner has the message; it counts as
/// delivered. Idempotent: closing a closed message answers its state again.
pub async fn close(
    app: &Arc<App>,
    kennung: &str,
    id: &str,
    conn: &ConnInfo,
    headers: &HeaderMap,
) -> Resp {
    let rt = app.runtime.get();
    let result = async {
        let mailbox = authorize(&rt, kennung, conn, headers)?;
        // The owner deletes its copy only after a durable close, so every answer, a repeated
        // close's too, waits until the close is on disk, for at most `queue.sync_timeout`.
        let closed = crate::stall::bounded(
            app,
            "the close may be lost; close the message again",
            close_durably(app, mailbox, kennung, id),
        );
        closed.await
    }
    .await;
    match result {
        Ok(record) => response::json(StatusCode::OK, &StatusView::of(&record)),
        Err(p) => response::problem(&p),
    }
}

/// The close itself: completes the message as delivered and waits until that is durable.
async fn close_durably(
    app: &Arc<App>,
    mailbox: &Mailbox,
    kennung: &str,
    id: &str,
) -> Result<MessageRecord, Problem> {
    let (id, record) = find(app, mailbox, id).await?;
    if record.state == State::Delivered {
        // Closed before, perhaps by a close whose answer timed out: durable first.
        let ticket = app.store.current_ticket();
        app.store
            .wait_durable(ticket)
            .await
            .map_err(store_problem)?;
        return Ok(record);
    }
    if record.state != State::Queued && record.state != State::Delivering {
        return Err(Problem::new(
            ProblemType::Conflict,
            format!(
                "message {id} is {} and cannot be closed",
                record.state.as_str()
            ),
        ));
    }
    let now = Timestamp::now();
    let held = lock(&app.mailbox_leases).remove(&id);
    let token = match held {
        Some(t) => t,
        None => {
            app.store
                .lease_one(id, now, mailbox.visibility_timeout)
                .await
                .map_err(fetch_problem)?
                .lease
        }
    };
    let detail = format!("closed by the owner of mailbox {kennung}");
    let done = match app
        .store
        .complete(
            &token,
            Completion::Delivered {
                detail: detail.clone(),
            },
            now,
        )
        .await
    {
        Ok(r) => r,
        // The fetch's lease expired and another fetch took it: close with a fresh lease.
        Err(StoreError::LeaseLost(_)) => {
            let fresh = app
                .store
                .lease_one(id, now, mailbox.visibility_timeout)
                .await
                .map_err(fetch_problem)?;
            app.store
                .complete(&fresh.lease, Completion::Delivered { detail }, now)
                .await
                .map_err(store_problem)?
        }
        Err(e) => return Err(store_problem(e)),
    };
    let ticket = app.store.current_ticket();
    app.store
        .wait_durable(ticket)
        .await
        .map_err(store_problem)?;
    let e2e = now.0.saturating_sub(done.accepted_at.0) as f64 / 1000.0;
    app.metrics
        .delivery_end_to_end
        .with_label_values(&[&mailbox.destination])
        .observe(e2e);
    app.metrics
        .delivery_attempts
        .with_label_values(&[&mailbox.destination, "delivered"])
        .inc();
    Ok(done)
}
