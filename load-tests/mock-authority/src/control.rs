//! The control listener of the `mock-authority` process (plain HTTP, loopback): load tools
//! announce accepted messages, read the ledger, and take the authority down and up again.
//!
//! | Request | Effect |
//! | --- | --- |
//! | `GET /stats` | counters and ledger as JSON, plus `"up"` |
//! | `POST /expect` | announcements, one per line: `<uuid> <sha256 hex> <accepted unix ns>` |
//! | `POST /down` | stop the delivery listener: connections are refused (an outage) |
//! | `POST /up` | listen again on the same address with the same ledger |
//!
//! It is a separate listener so the ledger stays reachable while the authority is "down".

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use crate::MockAuthority;
use crate::ledger::parse_announcement;

/// Serves the control API on `listener` until the task is dropped.
pub async fn serve_control(listener: TcpListener, authority: Arc<Mutex<MockAuthority>>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let authority = authority.clone();
        conns.spawn(async move {
            let svc = service_fn(move |req| handle(authority.clone(), req));
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
        while conns.try_join_next().is_some() {}
    }
}

fn text(status: StatusCode, body: String) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    Ok(r)
}

async fn handle(
    authority: Arc<Mutex<MockAuthority>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/stats") => {
            let a = authority.lock().await;
            let mut v = a.inbox.stats_json();
            if let Some(o) = v.as_object_mut() {
                o.insert("up".into(), serde_json::Value::Bool(a.is_up()));
            }
            let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            Ok(r)
        }
        (Method::POST, "/expect") => {
            let inbox = authority.lock().await.inbox.clone();
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => return text(StatusCode::BAD_REQUEST, format!("body: {e}\n")),
            };
            let Ok(body) = std::str::from_utf8(&body) else {
                return text(StatusCode::BAD_REQUEST, "body is not UTF-8\n".into());
            };
            let mut n = 0u64;
            for (i, line) in body.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match parse_announcement(line) {
                    Some((id, digest, at)) => {
                        inbox.announce(id, digest, at);
                        n += 1;
                    }
                    None => {
                        return text(
                            StatusCode::BAD_REQUEST,
                            format!("line {}: want '<uuid> <sha256 hex> <unix ns>'\n", i + 1),
                        );
                    }
                }
            }
            text(StatusCode::OK, format!("{n}\n"))
        }
        (Method::POST, "/down") => {
            authority.lock().await.stop().await;
            text(StatusCode::OK, "down\n".into())
        }
        (Method::POST, "/up") => {
            let mut a = authority.lock().await;
            if a.is_up() {
                return text(StatusCode::OK, "up\n".into());
            }
            match a.restart().await {
                Ok(()) => text(StatusCode::OK, "up\n".into()),
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("rebind: {e}\n")),
            }
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "GET /stats, POST /expect, /down, /up\n".into(),
        ),
    }
}
