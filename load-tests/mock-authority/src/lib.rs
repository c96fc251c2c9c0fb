//! A mock authority back-end: a real HTTP(S) server on loopback that receives pushed messages.
//!
//! Tests and load tests start it on port 0, point a destination at it, and ask it afterwards
//! what arrived: the exact bytes per message id, how often each id arrived (duplicates), and
//! when. Its behaviour can be switched at run time (accept, fail with a status, hang) and it
//! can be stopped and restarted on the same port to simulate an outage.
#![forbid(unsafe_code)]

pub mod control;
pub mod histogram;
pub mod ledger;

pub use histogram::Histogram;
pub use ledger::{Digest, Ledger, LedgerCounts};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// What the authority answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// 200 for every message (the normal case).
    Accept,
    /// This status for every message, with an optional `Retry-After` (seconds).
    Fail {
        status: u16,
        retry_after: Option<u64>,
    },
    /// Never answer (the router's timeout must fire).
    Hang,
    /// Accept like `Accept`, but answer only after this delay (a slow back-end).
    Slow(Duration),
    /// Answer like a router's ingress (202 with `{id, state, destination, duplicate}`), to test
    /// the peer adapter against the protocol.
    AcceptAsRouter,
}

/// One received message.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub body: Bytes,
    pub headers: http::HeaderMap,
    pub at: SystemTime,
    pub path: String,
}

#[derive(Default)]
struct State {
    /// Every delivery in arrival order (also the duplicates); empty in counting mode.
    log: Vec<Received>,
    /// First arrival per message id (index into `log`); empty in counting mode.
    first: HashMap<String, usize>,
    /// Per-UUID join of announcements and deliveries; kept in every mode.
    ledger: Ledger,
}

/// Shared view of what the authority received; survives stop/restart.
#[derive(Clone)]
pub struct Inbox {
    state: Arc<Mutex<State>>,
    mode: Arc<Mutex<Mode>>,
    requests: Arc<AtomicU64>,
    /// Requests being handled now, and the most there ever were at once.
    in_flight: Arc<AtomicU64>,
    max_in_flight: Arc<AtomicU64>,
    /// Keep bodies in memory (tests) or only their SHA-256 (long load tests).
    keep_bodies: bool,
    /// Keep the per-delivery log (`log`, `get`); off in counting mode.
    keep_log: bool,
}

impl Inbox {
    /// Records every delivery (with its body when `keep_bodies`) and the ledger.
    pub fn new(keep_bodies: bool) -> Self {
        Inbox {
            state: Arc::default(),
            mode: Arc::new(Mutex::new(Mode::Accept)),
            requests: Arc::default(),
            in_flight: Arc::default(),
            max_in_flight: Arc::default(),
            keep_bodies,
            keep_log: true,
        }
    }

    /// Counting mode for load tests: only the ledger (per UUID: digest, first arrival,
    /// count), no per-delivery log, so memory stays small for millions of messages.
    /// `log` is then empty and `get` finds nothing.
    pub fn counting() -> Self {
        Inbox {
            keep_bodies: false,
            keep_log: false,
            ..Self::new(false)
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_mode(&self, m: Mode) {
        *self.mode.lock().unwrap_or_else(|p| p.into_inner()) = m;
    }

    pub fn mode(&self) -> Mode {
        self.mode.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether [`Received::body`] holds the bodies (`true`) or only their SHA-256 (`false`).
    pub fn keeps_bodies(&self) -> bool {
        self.keep_bodies
    }

    /// Requests seen, including failed and hung ones.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The most POST requests that were ever being handled at the same time.
    pub fn max_in_flight(&self) -> u64 {
        self.max_in_flight.load(Ordering::Relaxed)
    }

    /// Distinct message ids delivered (answered 2xx).
    pub fn distinct(&self) -> usize {
        self.lock().ledger.counts().delivered as usize
    }

    /// Deliveries in total (duplicates included).
    pub fn deliveries(&self) -> usize {
        self.lock().ledger.counts().deliveries as usize
    }

    /// Deliveries beyond the first per id.
    pub fn duplicates(&self) -> usize {
        self.lock().ledger.counts().duplicates as usize
    }

    /// Ids that arrived with bytes other than their first delivery (or than announced).
    pub fn mismatches(&self) -> Vec<String> {
        self.lock()
            .ledger
            .mismatched()
            .iter()
            .map(|u| u.hyphenated().to_string())
            .collect()
    }

    /// The first delivery of `id` (None in counting mode).
    pub fn get(&self, id: &str) -> Option<Received> {
        let s = self.lock();
        s.first.get(id).and_then(|&i| s.log.get(i)).cloned()
    }

    /// All deliveries in arrival order (empty in counting mode).
    pub fn log(&self) -> Vec<Received> {
        self.lock().log.clone()
    }

    /// How often `id` arrived.
    pub fn count(&self, id: &str) -> usize {
        match uuid::Uuid::parse_str(id) {
            Ok(u) => self.lock().ledger.deliveries_of(&u) as usize,
            Err(_) => 0,
        }
    }

    /// Waits until `n` distinct ids arrived, or the timeout passes. Returns whether it happened.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.distinct() >= n {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The sender reports that the router accepted `id` with body digest `sha256` at
    /// `accepted_ns` (Unix nanoseconds); see [`Ledger::announce`].
    pub fn announce(&self, id: uuid::Uuid, sha256: Digest, accepted_ns: u64) {
        self.lock().ledger.announce(id, sha256, accepted_ns);
    }

    /// Ledger counters (announced, delivered, outstanding, mismatched, ...).
    pub fn ledger_counts(&self) -> LedgerCounts {
        self.lock().ledger.counts()
    }

    /// Accepted → delivered latency of announced messages (µs).
    pub fn e2e_latency(&self) -> Histogram {
        self.lock().ledger.latency().clone()
    }

    fn record(&self, uuid: uuid::Uuid, r: Received) {
        // Hash outside the lock: a 1 MiB body takes about a millisecond.
        let digest = sha256(&r.body);
        let at_ns = unix_nanos(r.at);
        let len = r.body.len() as u64;
        let mut s = self.lock();
        s.ledger.deliver(uuid, digest, len, at_ns);
        if !self.keep_log {
            return;
        }
        let stored_body = if self.keep_bodies {
            r.body.clone()
        } else {
            Bytes::copy_from_slice(&digest)
        };
        let r = Received {
            body: stored_body,
            ..r
        };
        if !s.first.contains_key(&r.id) {
            let i = s.log.len();
            s.first.insert(r.id.clone(), i);
        }
        s.log.push(r);
    }

    /// A JSON summary (the `/stats` endpoint).
    pub fn stats_json(&self) -> serde_json::Value {
        let s = self.lock();
        let c = s.ledger.counts();
        serde_json::json!({
            "requests": self.requests(),
            "deliveries": c.deliveries,
            "distinct": c.delivered,
            "duplicates": c.duplicates,
            "mismatches": c.mismatched,
            "ledger": s.ledger.to_json(),
        })
    }
}

/// SHA-256 of `body`.
pub fn sha256(body: &[u8]) -> Digest {
    let d = ring::digest::digest(&ring::digest::SHA256, body);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// `t` as Unix nanoseconds (0 before the epoch, saturating far in the future).
pub fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A running mock authority.
pub struct MockAuthority {
    pub addr: SocketAddr,
    pub inbox: Inbox,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
}

impl MockAuthority {
    /// Starts on `127.0.0.1:0` with plain HTTP.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on(
            "127.0.0.1:0".parse().expect("static"),
            None,
            Inbox::new(true),
        )
        .await
    }

    /// Starts on `addr`, with TLS if `tls` is given, recording into `inbox`.
    pub async fn start_on(
        addr: SocketAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
        inbox: Inbox,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, tls.clone(), inbox.clone(), rx));
        Ok(MockAuthority {
            addr,
            inbox,
            tls,
            stop: Some(tx),
            task: Some(task),
        })
    }

    /// The URL of the inbox endpoint.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}/inbox", self.addr)
    }

    /// Whether the delivery listener is running (not stopped by [`MockAuthority::stop`]).
    pub fn is_up(&self) -> bool {
        self.task.is_some()
    }

    /// Stops listening and closes every open connection (the authority is "down"). When it
    /// returns, no connection of this authority is served any more: the serving task closes
    /// the listener and waits until each connection task has ended, so a client never talks
    /// to a half-stopped authority (a race that hung the peer adapter's conformance check
    /// about once in 20 runs).
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// Starts again on the same address with the same inbox.
    pub async fn restart(&mut self) -> std::io::Result<()> {
        self.stop().await;
        let mut last = None;
        // The port may linger briefly after the abort.
        for _ in 0..50 {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => {
                    let (tx, rx) = watch::channel(false);
                    self.task = Some(tokio::spawn(serve(
                        listener,
                        self.tls.clone(),
                        self.inbox.clone(),
                        rx,
                    )));
                    self.stop = Some(tx);
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("cannot rebind")))
    }
}

impl Drop for MockAuthority {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    inbox: Inbox,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r { Ok(s) => s, Err(_) => continue },
            _ = stop.changed() => break,
        };
        let inbox = inbox.clone();
        let acceptor = acceptor.clone();
        conns.spawn(async move {
            let svc = service_fn(move |req| handle(inbox.clone(), req));
            let builder = auto::Builder::new(TokioExecutor::new());
            match acceptor {
                Some(a) => {
                    if let Ok(s) = a.accept(stream).await {
                        let _ = builder.serve_connection(TokioIo::new(s), svc).await;
                    }
                }
                None => {
                    let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                }
            }
        });
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    conns.shutdown().await;
}

/// Counts a request as in flight until dropped (also when the connection goes away).
struct InFlight(Arc<AtomicU64>);

impl InFlight {
    fn enter(inbox: &Inbox) -> InFlight {
        let now = inbox.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        inbox.max_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight(inbox.in_flight.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn handle(
    inbox: Inbox,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let reply = |status: StatusCode, body: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        *r.status_mut() = status;
        Ok(r)
    };
    if req.method() == http::Method::GET && req.uri().path() == "/stats" {
        let mut r = Response::new(Full::new(Bytes::from(inbox.stats_json().to_string())));
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        return Ok(r);
    }
    if req.method() != http::Method::POST {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "POST only\n");
    }
    inbox.requests.fetch_add(1, Ordering::Relaxed);
    let _in_flight = InFlight::enter(&inbox);
    let headers = req.headers().clone();
    let path = req.uri().path().to_owned();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return reply(StatusCode::BAD_REQUEST, "body read failed\n"),
    };
    let mode = inbox.mode();
    match mode {
        Mode::Accept | Mode::AcceptAsRouter => {}
        Mode::Slow(delay) => tokio::time::sleep(delay).await,
        Mode::Fail {
            status,
            retry_after,
        } => {
            let mut r = Response::new(Full::new(Bytes::from_static(b"mock authority refuses\n")));
            *r.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if let Some(s) = retry_after {
                r.headers_mut()
                    .insert(http::header::RETRY_AFTER, http::HeaderValue::from(s));
            }
            return Ok(r);
        }
        Mode::Hang => {
            std::future::pending::<()>().await;
        }
    }
    let id = headers
        .get("xoev-nachrichten-uuid")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let Ok(uuid) = uuid::Uuid::parse_str(&id) else {
        return reply(
            StatusCode::BAD_REQUEST,
            "missing or invalid xoev-nachrichten-uuid header\n",
        );
    };
    let duplicate = inbox.count(&id) > 0;
    inbox.record(
        uuid,
        Received {
            id: id.clone(),
            body,
            headers,
            at: SystemTime::now(),
            path,
        },
    );
    if mode == Mode::AcceptAsRouter {
        let answer = serde_json::json!({ "id": id, "state": "queued", "destination": "mock", "duplicate": duplicate });
        let mut r = Response::new(Full::new(Bytes::from(answer.to_string())));
        *r.status_mut() = StatusCode::ACCEPTED;
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        return Ok(r);
    }
    reply(StatusCode::OK, "received\n")
}
