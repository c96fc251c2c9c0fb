//! The admin API: loopback only, never on the public listener. Metrics, health, queues, dead
//! letters, reload. The operator CLI talks to it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use serde::Serialize;
use serde_json::json;
use xoev_core::{Kennung, Problem, ProblemType};
use xoev_queue::{MessageStore, StoreError, Timestamp};

use super::parse_query;
use super::public::parse_id;
use super::response::{self, Resp};
use super::server::{ConnInfo, Handler, HandlerFuture};
use crate::app::App;
use crate::config::Config;
use crate::ingress::store_problem;
use crate::runtime::Runtime;
use crate::status::StatusView;

pub struct AdminApi {
    app: Arc<App>,
}

impl AdminApi {
    pub fn new(app: Arc<App>) -> Self {
        AdminApi { app }
    }
}

impl Handler for AdminApi {
    fn handle(self: Arc<Self>, req: Request<Incoming>, _conn: Arc<ConnInfo>) -> HandlerFuture {
        Box::pin(async move {
            let app = &self.app;
            let path = req.uri().path().to_owned();
            let query = parse_query(req.uri().query().unwrap_or(""));
            let segs: Vec<&str> = path
                .trim_matches('/')
                .split('/')
                .filter(|s| !s.is_empty())
                .collect();
            let method = req.method().clone();
            let (endpoint, resp) = match (segs.as_slice(), &method) {
                ([], &Method::GET) => ("index", index()),
                (["metrics"], &Method::GET) => ("metrics", metrics(app)),
                (["healthz"], &Method::GET) => ("healthz", response::text(StatusCode::OK, "ok\n")),
                (["readyz"], &Method::GET) => ("readyz", readyz(app)),
                (["admin", "queues"], &Method::GET) => ("queues", queues(app)),
                (["admin", "dead"], &Method::GET) => ("dead", dead_list(app, &query).await),
                (["admin", "messages", id], &Method::GET) => ("message", message(app, id).await),
                (["admin", "messages", id], &Method::DELETE) => ("purge", purge(app, id).await),
                (["admin", "messages", id, "replay"], &Method::POST) => {
                    ("replay", replay(app, id).await)
                }
                (["admin", "quarantine"], &Method::GET) => {
                    ("quarantine", quarantine(app, &query).await)
                }
                (["admin", "quarantine", tree, key], &Method::DELETE) => {
                    ("forget", forget(app, tree, key).await)
                }
                (["admin", "routes"], &Method::GET) => ("routes", routes(app, &query)),
                (["admin", "reload"], &Method::POST) => ("reload", reload(app)),
                _ => ("unknown", response::not_found(&path)),
            };
            let class = format!("{}xx", resp.status().as_u16() / 100);
            app.metrics
                .admin_requests
                .with_label_values(&[endpoint, &class])
                .inc();
            resp
        })
    }
}

fn index() -> Resp {
    response::json(
        StatusCode::OK,
        &json!({
            "service": "xoev-router admin",
            "endpoints": ["/metrics", "/healthz", "/readyz", "/admin/queues", "/admin/dead",
                "/admin/messages/{id}", "/admin/messages/{id}/replay (POST)", "/admin/messages/{id} (DELETE: purge a dead letter)",
                "/admin/quarantine", "/admin/quarantine/{tree}/{key} (DELETE: forget one value)", "/admin/routes?leser=..&nachrichtentyp=..", "/admin/reload (POST)"]
        }),
    )
}

fn metrics(app: &App) -> Resp {
    let m = &app.metrics;
    m.queue_depth.reset();
    m.queue_pending_bytes.reset();
    for d in &app.config.destinations {
        for s in ["queued", "delivering", "dead"] {
            m.queue_depth.with_label_values(&[&d.id, s]).set(0);
        }
        m.queue_pending_bytes.with_label_values(&[&d.id]).set(0);
    }
    for (dest, depth) in app.store.depths() {
        m.queue_depth
            .with_label_values(&[&dest, "queued"])
            .set(depth.queued as i64);
        m.queue_depth
            .with_label_values(&[&dest, "delivering"])
            .set(depth.delivering as i64);
        m.queue_depth
            .with_label_values(&[&dest, "dead"])
            .set(depth.dead as i64);
        m.queue_pending_bytes
            .with_label_values(&[&dest])
            .set(depth.pending_bytes as i64);
    }
    let stats = app.store.stats();
    m.queue_free_disk_bytes.set(stats.free_disk_bytes as i64);
    m.queue_failed.set(i64::from(app.store.failure().is_some()));
    m.queue_sync_running.set(
        app.store
            .sync_in_progress()
            .map_or(0.0, |s| s.running_for.as_secs_f64()),
    );
    // A counter mirrored from the store at scrape time: only ever moves forward.
    m.queue_transactions.inc_by(
        stats
            .transactions_total
            .saturating_sub(m.queue_transactions.get()),
    );
    response::with_type(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        m.render(),
    )
}

fn readyz(app: &App) -> Resp {
    // A failed store refuses every message until a restart: take the router out of rotation.
    if let Some(why) = app.store.failure() {
        response::text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: the queue failed and refuses every message until the router is restarted: {why}\n"
            ),
        )
    } else if let Some(sync) = crate::stall::stalled_sync(app) {
        // Not failed: the sync may still return. Until it does nothing is acknowledged.
        response::text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: the queue's disk is not answering ({}); messages are refused until it does\n",
                crate::stall::describe(&sync)
            ),
        )
    } else if app.ready.load(Ordering::SeqCst) {
        response::text(StatusCode::OK, "ready\n")
    } else {
        response::text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

#[derive(Serialize)]
struct QueueView {
    destination: String,
    adapter: &'static str,
    queued: u64,
    delivering: u64,
    dead: u64,
    pending_bytes: u64,
}

fn queues(app: &App) -> Resp {
    let depths = app.store.depths();
    let list: Vec<QueueView> = app
        .config
        .destinations
        .iter()
        .map(|d| {
            let x = depths.get(&d.id).copied().unwrap_or_default();
            QueueView {
                destination: d.id.clone(),
                adapter: d.adapter.as_str(),
                queued: x.queued,
                delivering: x.delivering,
                dead: x.dead,
                pending_bytes: x.pending_bytes,
            }
        })
        .collect();
    response::json(StatusCode::OK, &list)
}

async fn dead_list(app: &App, q: &HashMap<String, String>) -> Resp {
    let after = q.get("after").and_then(|v| v.parse().ok());
    let limit = q
        .get("limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100usize)
        .min(1000);
    match app.store.list_dead(after, limit).await {
        Ok(list) => {
            let next = if list.len() == limit {
                list.last().map(|r| r.seq)
            } else {
                None
            };
            let items: Vec<_> = list.iter().map(StatusView::of).collect();
            response::json(
                StatusCode::OK,
                &json!({ "items": items, "next_after": next }),
            )
        }
        Err(e) => response::problem(&store_problem(e)),
    }
}

/// Values the queue moved aside because they failed their check (docs/queue.md §7), so an
/// operator who sees `xoev_router_queue_corrupt_records_total` rise can see what they were.
async fn quarantine(app: &App, q: &HashMap<String, String>) -> Resp {
    let limit = q
        .get("limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100usize)
        .min(1000);
    let store = Arc::clone(&app.store);
    let listed = tokio::task::spawn_blocking(move || store.quarantined()).await;
    let entries = match listed {
        Ok(Ok(entries)) => entries,
        Ok(Err(e)) => return response::problem(&store_problem(e)),
        Err(e) => {
            return response::problem(&Problem::new(
                ProblemType::Internal,
                format!("quarantine listing failed: {e}"),
            ));
        }
    };
    let items: Vec<_> = entries
        .iter()
        .take(limit)
        .map(|e| {
            // `records` and `payloads` are keyed by the message id; index keys are not.
            let message_id = (e.tree == "records" || e.tree == "payloads")
                .then(|| uuid::Uuid::from_slice(&e.key).ok())
                .flatten()
                .map(|id| id.to_string());
            json!({
                "tree": e.tree,
                "key": crate::tls::hex(&e.key),
                "message_id": message_id,
                "bytes": e.value.len(),
            })
        })
        .collect();
    response::json(
        StatusCode::OK,
        &json!({ "total": entries.len(), "items": items }),
    )
}

/// Removes one quarantined value for good, once an operator has looked at it: a damaged
/// payload's segment file can then be reclaimed (docs/queue.md §7).
async fn forget(app: &App, tree: &str, key: &str) -> Resp {
    let Some(raw) = crate::tls::unhex(key) else {
        return response::problem(&Problem::new(
            ProblemType::BadRequest,
            format!(
                "quarantine key {key:?} is not hexadecimal (copy it from GET /admin/quarantine)"
            ),
        ));
    };
    match app.store.forget_quarantined(tree, &raw).await {
        Ok(true) => {
            tracing::info!(tree, key, "quarantined value forgotten by an operator");
            response::json(
                StatusCode::OK,
                &json!({ "forgotten": { "tree": tree, "key": key } }),
            )
        }
        Ok(false) => response::problem(&Problem::new(
            ProblemType::NotFound,
            format!("nothing in quarantine under {tree} {key}"),
        )),
        Err(e) => response::problem(&store_problem(e)),
    }
}

async fn message(app: &App, id: &str) -> Resp {
    super::public::status(app, id).await
}

fn store_error(e: StoreError) -> Resp {
    let p = match e {
        StoreError::NotFound(id) => Problem::new(ProblemType::NotFound, format!("no message {id}")),
        StoreError::WrongState { .. } => Problem::new(ProblemType::Conflict, e.to_string()),
        other => store_problem(other),
    };
    response::problem(&p)
}

async fn replay(app: &App, id: &str) -> Resp {
    let id = match parse_id(id) {
        Ok(id) => id,
        Err(p) => return response::problem(&p),
    };
    match app.store.replay(id, Timestamp::now()).await {
        Ok(r) => {
            app.delivery.notify(&r.destination);
            tracing::info!(%id, "dead letter replayed by operator");
            response::json(StatusCode::OK, &StatusView::of(&r))
        }
        Err(e) => store_error(e),
    }
}

async fn purge(app: &App, id: &str) -> Resp {
    let id = match parse_id(id) {
        Ok(id) => id,
        Err(p) => return response::problem(&p),
    };
    match app.store.purge(id).await {
        Ok(()) => {
            tracing::info!(%id, "dead letter purged by operator");
            response::json(
                StatusCode::OK,
                &json!({ "id": id.to_string(), "purged": true }),
            )
        }
        Err(e) => store_error(e),
    }
}

fn routes(app: &App, q: &HashMap<String, String>) -> Resp {
    let rt = app.runtime.get();
    let Some(leser) = q.get("leser") else {
        return response::problem(&Problem::new(
            ProblemType::BadRequest,
            "query parameter `leser` is required",
        ));
    };
    let leser = match Kennung::parse(leser) {
        Ok(k) => k,
        Err(e) => return response::problem(&Problem::new(ProblemType::BadRequest, e.to_string())),
    };
    let typ = q.get("nachrichtentyp").map(String::as_str).unwrap_or("");
    let dest = rt.directory.resolve(&leser, typ);
    response::json(
        StatusCode::OK,
        &json!({ "leser": leser.as_str(), "nachrichtentyp": typ, "destination": dest, "routes": rt.directory.len() }),
    )
}

/// Re-reads the configuration file and swaps directory, senders and schemas atomically.
/// Listener, queue and destination changes need a restart and are refused here.
fn reload(app: &App) -> Resp {
    let result = (|| -> Result<Runtime, String> {
        let fresh = match &app.config_file {
            Some(path) => Config::from_file(path).map_err(|e| e.to_string())?,
            None => {
                Config::embedded(Some(&app.config.router.data_dir)).map_err(|e| e.to_string())?
            }
        };
        // Destination settings live in running workers; compare them whole.
        if format!("{:?}", fresh.destinations) != format!("{:?}", app.config.destinations) {
            return Err(
                "destinations changed; restart the router to apply destination changes".into(),
            );
        }
        Runtime::build(&fresh, &app.catalogue)
    })();
    match result {
        Ok(rt) => {
            let routes = rt.directory.len();
            let senders = rt.senders.len();
            app.runtime.replace(rt);
            tracing::info!(routes, senders, "configuration reloaded");
            response::json(
                StatusCode::OK,
                &json!({ "reloaded": true, "routes": routes, "senders": senders }),
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "reload refused");
            response::problem(&Problem::new(
                ProblemType::Conflict,
                format!("reload refused: {e}"),
            ))
        }
    }
}
