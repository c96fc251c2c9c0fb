//! The control listener: announcements joined with deliveries, outage and recovery.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use xoev_mock_authority::control::serve_control;
use xoev_mock_authority::ledger::format_announcement;
use xoev_mock_authority::{Inbox, MockAuthority, sha256};

/// One HTTP/1.1 request on a fresh connection; returns status and body.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n{headers}\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.expect("write head");
    s.write_all(body).await.expect("write body");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn stats(control: SocketAddr) -> serde_json::Value {
    let (status, body) = http(control, "GET", "/stats", "", b"").await;
    assert_eq!(status, 200);
    serde_json::from_str(&body).expect("stats JSON")
}

/// A counting authority handed to a control listener: (delivery address, inbox, control).
async fn setup() -> (SocketAddr, Inbox, SocketAddr) {
    let auth = MockAuthority::start_on(
        "127.0.0.1:0".parse().expect("addr"),
        None,
        Inbox::counting(),
    )
    .await
    .expect("start");
    let (addr, inbox) = (auth.addr, auth.inbox.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let control = listener.local_addr().expect("addr");
    tokio::spawn(serve_control(
        listener,
        Arc::new(tokio::sync::Mutex::new(auth)),
    ));
    (addr, inbox, control)
}

#[tokio::test]
async fn an_announced_message_delivered_byte_identical_is_counted_once_with_its_latency() {
    let (addr, _inbox, control) = setup().await;
    let id = uuid::Uuid::new_v4();
    let body = b"<signed-message/>".to_vec();
    let line = format_announcement(&id, &sha256(&body), 1);
    let (status, answer) = http(control, "POST", "/expect", "", line.as_bytes()).await;
    assert_eq!((status, answer.trim()), (200, "1"));
    let header = format!("xoev-nachrichten-uuid: {id}\r\n");
    let (status, _) = http(addr, "POST", "/inbox/bw", &header, &body).await;
    assert_eq!(status, 200);
    let v = stats(control).await;
    assert_eq!(v["ledger"]["announced"], 1);
    assert_eq!(v["ledger"]["delivered"], 1);
    assert_eq!(v["ledger"]["outstanding"], 0);
    assert_eq!(v["ledger"]["mismatched"], 0);
    assert_eq!(v["ledger"]["e2e_latency_ms"]["count"], 1);
    assert_eq!(v["up"], true);
}

#[tokio::test]
async fn a_delivery_with_other_bytes_than_announced_is_a_mismatch() {
    let (addr, inbox, control) = setup().await;
    let id = uuid::Uuid::new_v4();
    let line = format_announcement(&id, &sha256(b"sent"), 1);
    http(control, "POST", "/expect", "", line.as_bytes()).await;
    let header = format!("xoev-nachrichten-uuid: {id}\r\n");
    http(addr, "POST", "/inbox/bw", &header, b"altered").await;
    assert_eq!(stats(control).await["ledger"]["mismatched"], 1);
    assert_eq!(inbox.mismatches(), vec![id.to_string()]);
}

#[tokio::test]
async fn a_malformed_announcement_is_refused_with_its_line_number() {
    let (_addr, _inbox, control) = setup().await;
    let good = format_announcement(&uuid::Uuid::new_v4(), &[0; 32], 5);
    let (status, body) = http(
        control,
        "POST",
        "/expect",
        "",
        format!("{good}\nnonsense\n").as_bytes(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body.trim(), "line 2: want '<uuid> <sha256 hex> <unix ns>'");
}

#[tokio::test]
async fn down_refuses_connections_and_up_accepts_them_again_with_the_same_ledger() {
    let (inbox_addr, inbox, control) = setup().await;
    let id = uuid::Uuid::new_v4();
    let header = format!("xoev-nachrichten-uuid: {id}\r\n");
    assert_eq!(
        http(inbox_addr, "POST", "/inbox/x", &header, b"a").await.0,
        200
    );

    assert_eq!(http(control, "POST", "/down", "", b"").await.0, 200);
    assert!(
        TcpStream::connect(inbox_addr).await.is_err(),
        "down refuses connections"
    );
    assert_eq!(stats(control).await["up"], false);

    assert_eq!(http(control, "POST", "/up", "", b"").await.0, 200);
    assert_eq!(
        http(inbox_addr, "POST", "/inbox/x", &header, b"a").await.0,
        200
    );
    assert_eq!(inbox.deliveries(), 2);
    assert_eq!(inbox.duplicates(), 1, "the ledger survived the outage");
}
