//! The public API (portals, authorities): messages, status, receipts, mailboxes.

use std::sync::Arc;

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use serde_json::json;
use uuid::Uuid;
use xoev_core::{Problem, ProblemType};
use xoev_queue::MessageStore;

use super::response::{self, Resp};
use super::server::{ConnInfo, Handler, HandlerFuture};
use crate::app::App;
use crate::ingress;
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
            let path = req.uri().path().to_owned();
            let segments: Vec<&str> = path
                .trim_matches('/')
                .split('/')
                .filter(|s| !s.is_empty())
                .collect();
            let method = req.method().clone();
            match (segments.as_slice(), &method) {
                ([], &Method::GET) => index(),
                (["v1", "messages"], &Method::POST) => {
                    ingress::post_message(self.app.clone(), req, conn).await
                }
                (["v1", "messages"], m) => response::method_not_allowed(m, &path, "POST"),
                (["v1", "messages", id], &Method::GET) => status(&self.app, id).await,
                (["v1", "messages", _], m) => response::method_not_allowed(m, &path, "GET"),
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

pub async fn status(app: &App, id: &str) -> Resp {
    let id = match parse_id(id) {
        Ok(id) => id,
        Err(p) => return response::problem(&p),
    };
    match app.store.get(id).await {
        Ok(Some(r)) => response::json(StatusCode::OK, &StatusView::of(&r)),
        Ok(None) => response::problem(&Problem::new(
            ProblemType::NotFound,
            format!("no message {id}"),
        )),
        Err(e) => response::problem(&ingress::store_problem(e)),
    }
}
