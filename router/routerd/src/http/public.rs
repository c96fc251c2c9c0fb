//! The public API (portals, authorities): messages, status, receipts, mailboxes.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use serde_json::json;
use uuid::Uuid;
use xoev_core::{Problem, ProblemType};
use xoev_queue::{EventKind, MessageRecord, MessageStore, State, Timestamp};

use super::response::{self, Resp};
use super::server::{ConnInfo, Handler, HandlerFuture};
use super::{mailbox, parse_query, percent_decode};
use crate::app::App;
use crate::ingress;
use crate::receipt as receipt_mod;
use crate::status::StatusView;

pub struct PublicApi {
    app: Arc<App>,
}

impl PublicApi {
    pub fn new(app: Arc<App>) -> Self {
        PublicApi { app }
    }
}

impl Handler for PublicApi {
    fn handle(self: Arc<Self>, req: Request<Incoming>, conn: Arc<ConnInfo>) -> HandlerFuture {
        Box::pin(async move {
            let app = &self.app;
            let path = req.uri().path().to_owned();
            let query = parse_query(req.uri().query().unwrap_or(""));
            let decoded: Vec<String> = path
                .trim_matches('/')
                .split('/')
                .filter(|s| !s.is_empty())
                .map(percent_decode)
                .collect();
            let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
            let method = req.method().clone();
            let headers = req.headers().clone();
            match (segments.as_slice(), &method) {
                ([], &Method::GET) => index(),
                (["v1", "messages"], &Method::POST) => {
                    ingress::post_message(app.clone(), req, conn).await
                }
                (["v1", "messages"], m) => response::method_not_allowed(m, &path, "POST"),
                (["v1", "messages", id], &Method::GET) => status(app, id).await,
                (["v1", "messages", _], m) => response::method_not_allowed(m, &path, "GET"),
                (["v1", "messages", id, "receipt"], &Method::GET) => receipt(app, id).await,
                (["v1", "messages", _, "receipt"], m) => {
                    response::method_not_allowed(m, &path, "GET")
                }
                (["v1", "mailboxes", k, "messages"], &Method::GET) => {
                    mailbox::list(app, k, &query, &conn, &headers).await
                }
                (["v1", "mailboxes", _, "messages"], m) => {
                    response::method_not_allowed(m, &path, "GET")
                }
                (["v1", "mailboxes", k, "messages", id], &Method::GET) => {
                    mailbox::fetch(app, k, id, &conn, &headers).await
                }
                (["v1", "mailboxes", _, "messages", _], m) => {
                    response::method_not_allowed(m, &path, "GET")
                }
                (["v1", "mailboxes", k, "messages", id, "close"], &Method::POST) => {
                    mailbox::close(app, k, id, &conn, &headers).await
                }
                (["v1", "mailboxes", _, "messages", _, "close"], m) => {
                    response::method_not_allowed(m, &path, "POST")
                }
                _ => response::not_found(&path),
            }
        })
    }
}

fn index() -> Resp {
    response::json(
        StatusCode::OK,
        &json!({
            "service": "xoev-router",
            "version": env!("CARGO_PKG_VERSION"),
            "endpoints": {
                "submit": "POST /v1/messages (application/xml, signed XÖV message)",
                "status": "GET /v1/messages/{nachrichtenUUID}",
                "receipt": "GET /v1/messages/{nachrichtenUUID}/receipt (signed XML Laufzettel)",
                "mailbox": "GET /v1/mailboxes/{kennung}/messages, GET …/messages/{id}, POST …/messages/{id}/close",
            }
        }),
    )
}

pub fn parse_id(text: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(text).map_err(|_| {
        Problem::new(
            ProblemType::BadRequest,
            format!("'{text}' is not a message id (UUID)"),
        )
    })
}

async fn record(app: &App, id: &str) -> Result<MessageRecord, Problem> {
    let id = parse_id(id)?;
    match app.store.get(id).await {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(Problem::new(
            ProblemType::NotFound,
            format!("no message {id}"),
        )),
        Err(e) => Err(ingress::store_problem(e)),
    }
}

/// The status of a message; for one forwarded to a peer router, also its state there.
pub async fn status(app: &App, id: &str) -> Resp {
    match record(app, id).await {
        Ok(r) => {
            let (r, peer) = follow_peer(app, r).await;
            let mut v = serde_json::to_value(StatusView::of(&r)).unwrap_or_default();
            if let Some(p) = peer {
                v["peer"] = p;
            }
            response::json(StatusCode::OK, &v)
        }
        Err(p) => response::problem(&p),
    }
}

/// For a message forwarded to a peer router: asks the peer for its state there (bounded
/// wait) and records the peer's delivery in the history once, so receipts can prove it later.
/// Returns the (possibly updated) record and the peer's view.
async fn follow_peer(app: &App, r: MessageRecord) -> (MessageRecord, Option<serde_json::Value>) {
    if r.state != State::Forwarded {
        return (r, None);
    }
    let Some(peer) = app.peers.get(&r.destination) else {
        return (r, None);
    };
    let remote = match tokio::time::timeout(Duration::from_secs(3), peer.remote_status(r.id)).await
    {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            return (
                r,
                Some(json!({ "router": peer.base(), "error": e.to_string() })),
            );
        }
        Err(_) => {
            return (
                r,
                Some(json!({ "router": peer.base(), "error": "no answer within 3 s" })),
            );
        }
    };
    let state = remote.get("state").and_then(|s| s.as_str()).unwrap_or("");
    let noted = r
        .history
        .iter()
        .any(|e| e.kind == EventKind::Note && e.detail.starts_with(receipt_mod::PEER_DELIVERED));
    let mut r = r;
    if (state == "delivered" || state == "forwarded") && !noted {
        let detail = format!(
            "{}: {state} at {} ({})",
            receipt_mod::PEER_DELIVERED,
            remote
                .get("updated_at")
                .and_then(|s| s.as_str())
                .unwrap_or("?"),
            peer.base()
        );
        match app
            .store
            .record_event(r.id, EventKind::Note, &detail, Timestamp::now())
            .await
        {
            Ok(()) => {
                if let Ok(Some(fresh)) = app.store.get(r.id).await {
                    r = fresh;
                }
            }
            Err(e) => {
                tracing::warn!(id = %r.id, error = %e, "could not record the peer's delivery")
            }
        }
    }
    let view = json!({
        "router": peer.base(),
        "state": remote.get("state"),
        "traffic_light": remote.get("traffic_light"),
        "destination": remote.get("destination"),
        "updated_at": remote.get("updated_at"),
        "peer": remote.get("peer"),
    });
    (r, Some(view))
}

/// `GET /v1/messages/{id}/receipt`: the router-signed Laufzettel.
async fn receipt(app: &App, id: &str) -> Resp {
    let r = match record(app, id).await {
        Ok(r) => r,
        Err(p) => return response::problem(&p),
    };
    let (r, _) = follow_peer(app, r).await;
    let adapter = app
        .config
        .destinations
        .iter()
        .find(|d| d.id == r.destination)
        .map(|d| d.adapter.as_str())
        .unwrap_or("unknown");
    match app
        .receipts
        .receipt(&app.config.router.id, &r, adapter, Timestamp::now())
    {
        Ok(xml) => response::with_type(StatusCode::OK, "application/xml", xml),
        Err(e) => response::problem(&Problem::new(ProblemType::Internal, e)),
    }
}
