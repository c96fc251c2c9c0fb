//! Test harness: a real router on 127.0.0.1 port 0 with a generated PKI, real mock
//! authorities, and an HTTPS client that trusts the test CA.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use xoev_routerd::config::Config;
use xoev_routerd::{Listeners, pki, prepare, start};

pub const XWASSER_NS: &str = "https://gitlab.opencode.de/akdb/xoev/xwasser/-/raw/main/V1_0_0";

/// An XWasser 2030 status request (valid against the schema) for `leser`, authored by `autor`,
/// created now.
pub fn message(id: &str, leser: &str, autor: &str) -> String {
    message_at(id, leser, autor, &now_rfc3339())
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// The same message with a given `erstellungszeitpunkt`.
pub fn message_at(id: &str, leser: &str, autor: &str, created: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<xwas:vorgang.statusanfrage.2030 xmlns:xwas="{XWASSER_NS}" produkt="test portal" produkthersteller="xoev-router tests" produktversion="1" standard="XWasser" test="true" version="1.0.0">
  <nachrichtenkopf.g2g>
    <identifikation.nachricht>
      <nachrichtenUUID>{id}</nachrichtenUUID>
      <nachrichtentyp listURI="urn:xoev-de:xwasser:codeliste:nachrichtentyp" listVersionID="1"><code>2030</code></nachrichtentyp>
      <erstellungszeitpunkt>{created}</erstellungszeitpunkt>
    </identifikation.nachricht>
    <leser>
      <verzeichnisdienst listURI="urn:xoev-de:kosit:codeliste:verzeichnisdienst" listVersionID="2"><code>DVDV</code></verzeichnisdienst>
      <kennung>{leser}</kennung>
      <name>Empfangende Behörde</name>
    </leser>
    <autor>
      <verzeichnisdienst listURI="urn:xoev-de:kosit:codeliste:verzeichnisdienst" listVersionID="2"><code>DVDV</code></verzeichnisdienst>
      <kennung>{autor}</kennung>
      <name>Portal Straße 1, Müßiggang</name>
    </autor>
  </nachrichtenkopf.g2g>
  <xwas:identifikationVorgang>
    <xwas:vorgangsID>5e08e073-4e06-438d-9444-1275f6cbf061</xwas:vorgangsID>
    <xwas:aktenzeichen>GU-TW 53.2-0417/2026</xwas:aktenzeichen>
  </xwas:identifikationVorgang>
</xwas:vorgang.statusanfrage.2030>
"#
    )
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A generated PKI shared by a test's routers and clients.
pub struct TestPki {
    pub dir: PathBuf,
}

impl TestPki {
    pub fn new(dir: &Path) -> TestPki {
        let dir = dir.join("pki");
        pki::generate(&dir, "router.test").expect("generate test PKI");
        TestPki { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Signs `xml` with a key/cert pair of this PKI.
    pub fn sign_with(&self, xml: &str, key: &str, cert: &str) -> Vec<u8> {
        let key =
            xoev_dsig::SigningKey::from_pem(&std::fs::read_to_string(self.path(key)).unwrap())
                .unwrap();
        let cert = xoev_routerd::tls::load_certs(&self.path(cert)).unwrap();
        xoev_dsig::sign(
            xml.as_bytes(),
            &key,
            cert.first(),
            &xoev_dsig::SignOptions::default(),
        )
        .unwrap()
    }

    /// Signs with the sample portal's key (a registered sender in the test config).
    pub fn sign(&self, xml: &str) -> Vec<u8> {
        self.sign_with(xml, pki::PORTAL_SIGNING_KEY, pki::PORTAL_SIGNING_CERT)
    }
}

/// A running router. Dropping it without `stop` aborts it.
pub struct TestRouter {
    pub public: SocketAddr,
    pub admin: SocketAddr,
    pub data_dir: PathBuf,
    pub app: Arc<xoev_routerd::app::App>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), xoev_routerd::StartError>>>,
}

impl TestRouter {
    /// Starts a router on `config_toml` (paths relative to `base`), listeners on port 0.
    pub async fn start(config_toml: &str, base: &Path) -> TestRouter {
        Self::start_on(config_toml, base, 0).await
    }

    /// Like `start`, with the public listener on a given port (0: any).
    pub async fn start_on(config_toml: &str, base: &Path, public_port: u16) -> TestRouter {
        let mut config = Config::from_toml(config_toml, "test config", base.to_owned())
            .expect("test config parses");
        config.router.data_dir = config.resolve(&config.router.data_dir.clone());
        let data_dir = config.router.data_dir.clone();
        let prepared = prepare(config, None).expect("prepare");
        let router = start(prepared).await.expect("router starts");
        let app = router.app().clone();
        let public = TcpListener::bind(("127.0.0.1", public_port)).await.unwrap();
        let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (public_addr, admin_addr) = (public.local_addr().unwrap(), admin.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(router.run(Listeners { public, admin }, async move {
            let _ = rx.await;
        }));
        TestRouter {
            public: public_addr,
            admin: admin_addr,
            data_dir,
            app,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Graceful shutdown; returns when the router has stopped.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("router task").expect("router ran cleanly");
        }
    }

    pub fn public_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.public.port())
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }
}

impl Drop for TestRouter {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// An HTTP(S) client trusting the test CA, optionally presenting a client certificate.
pub struct TestClient {
    client: Client<
        hyper_rustls::HttpsConnector<HttpConnector>,
        BoxBody<Bytes, std::convert::Infallible>,
    >,
}

pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts an RFC 9457 problem with this status and type; returns the document.
    pub fn problem(&self, status: u16, kind: &str) -> Value {
        assert_eq!(
            self.status,
            status,
            "status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.content_type(), "application/problem+json");
        let v = self.json();
        assert_eq!(v["type"], kind, "problem type; body: {v}");
        assert_eq!(v["status"], status);
        assert!(
            v["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "problem has a detail"
        );
        v
    }
}

impl TestClient {
    pub fn new(pki: &TestPki) -> TestClient {
        Self::build(pki, None)
    }

    pub fn with_client_cert(pki: &TestPki, cert: &str, key: &str) -> TestClient {
        Self::build(pki, Some((pki.path(cert), pki.path(key))))
    }

    fn build(pki: &TestPki, client_cert: Option<(PathBuf, PathBuf)>) -> TestClient {
        let tls = xoev_routerd::tls::client_config(
            &[pki.path(pki::CA_CERT)],
            client_cert
                .as_ref()
                .map(|(c, k)| (c.as_path(), k.as_path())),
        )
        .unwrap();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        TestClient {
            client: Client::builder(TokioExecutor::new()).build(https),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        self.send_body(method, url, headers, Full::new(body.into()).boxed())
            .await
    }

    pub async fn send_body(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: BoxBody<Bytes, std::convert::Infallible>,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = tokio::time::timeout(
            Duration::from_secs(30),
            self.client.request(req.body(body).unwrap()),
        )
        .await
        .expect("answer within 30 s")
        .expect("request reaches the router");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// A GET that may fail at the transport level (e.g. a refused TLS handshake).
    pub async fn try_get(&self, url: &str) -> Result<u16, String> {
        let req = Request::builder()
            .uri(url)
            .body(Full::new(Bytes::new()).boxed())
            .unwrap();
        match tokio::time::timeout(Duration::from_secs(10), self.client.request(req)).await {
            Ok(Ok(resp)) => Ok(resp.status().as_u16()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timeout".into()),
        }
    }

    pub async fn post_xml(&self, url: &str, body: impl Into<Bytes>) -> Answer {
        self.send(
            Method::POST,
            url,
            &[("content-type", "application/xml")],
            body,
        )
        .await
    }

    pub async fn get(&self, url: &str) -> Answer {
        self.send(Method::GET, url, &[], Bytes::new()).await
    }
}

/// Polls the status API until the message reaches `state` (or the timeout passes).
pub async fn wait_state(
    client: &TestClient,
    router: &TestRouter,
    id: &str,
    state: &str,
    timeout: Duration,
) -> Value {
    poll_status(
        client,
        router,
        id,
        timeout,
        &format!("state {state}"),
        |v| v["state"] == state,
    )
    .await
}

/// The event names of a status answer's history, oldest first.
pub fn history_events(status: &Value) -> Vec<&str> {
    status["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|e| e["event"].as_str()).collect())
        .unwrap_or_default()
}

/// `wait_state` for `delivered` with the usual 10 s.
pub async fn wait_delivered(client: &TestClient, router: &TestRouter, id: &str) -> Value {
    wait_state(client, router, id, "delivered", Duration::from_secs(10)).await
}

/// Polls the status API until `done` holds for the message's status (which `done` may also
/// assert on), and returns that status; panics with `what` and the last status at the timeout.
pub async fn poll_status(
    client: &TestClient,
    router: &TestRouter,
    id: &str,
    timeout: Duration,
    what: &str,
    mut done: impl FnMut(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let a = client
            .get(&router.public_url(&format!("/v1/messages/{id}")))
            .await;
        if a.status == 200 {
            let v = a.json();
            if done(&v) {
                return v;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("message {id} after {timeout:?}: want {what}, status {v}");
            }
        } else if tokio::time::Instant::now() >= deadline {
            panic!(
                "status of {id}: {} {}",
                a.status,
                String::from_utf8_lossy(&a.body)
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Posts a signed message and asserts that the router accepted it.
pub async fn post_accepted(client: &TestClient, router: &TestRouter, signed: Vec<u8>) {
    let a = client
        .post_xml(&router.public_url("/v1/messages"), signed)
        .await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
}

/// A body of `chunks` × 16 KiB spaces with no declared length (chunked / streamed).
pub struct Chunks(pub usize);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if self.0 == 0 {
            return std::task::Poll::Ready(None);
        }
        self.0 -= 1;
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(vec![
            b' ';
            16 * 1024
        ])))))
    }
}

/// A router process on fixed loopback ports (so peers can reach it again after a restart).
pub struct ChildRouter {
    pub config: PathBuf,
    pub public: SocketAddr,
    pub admin: SocketAddr,
    child: Option<Child>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ChildRouter {
    pub async fn start(config: PathBuf, public: SocketAddr, admin: SocketAddr) -> ChildRouter {
        let mut r = ChildRouter {
            config,
            public,
            admin,
            child: None,
        };
        r.spawn().await;
        r
    }

    pub async fn spawn(&mut self) {
        let log = std::fs::File::create(self.config.with_extension("log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_xoev-router"))
            .args(["serve", "--config"])
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the router process");
        self.child = Some(child);
        let url = format!("http://{}/readyz", self.admin);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Ok((200, _))) = tokio::task::spawn_blocking({
                let url = url.clone();
                move || blocking_get(&url)
            })
            .await
            {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "router exited with {status}: {}",
                    std::fs::read_to_string(self.config.with_extension("log")).unwrap_or_default()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "router not ready in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown, no final flush.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL");
            let _ = c.wait();
        }
    }
}

impl ChildRouter {
    /// SIGTERM, then waits for the exit; returns the exit code (None: killed by a signal or
    /// still running after `within`).
    pub fn terminate(&mut self, within: Duration) -> Option<i32> {
        let child = self.child.as_mut()?;
        let pid = child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return status.code();
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.config.with_extension("log")).unwrap_or_default()
    }
}

impl Drop for ChildRouter {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A minimal HTTP/1.0 GET for the admin listener (no TLS, no async).
pub fn blocking_get(url: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut s = std::net::TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let code = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, buf))
}
