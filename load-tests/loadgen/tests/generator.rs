//! The generator against the HTTP ceiling server in-process: real TLS, HTTP/1.1 and HTTP/2,
//! flat out and at a fixed rate, corpus exhaustion and cycling.

use std::sync::Arc;
use std::time::Duration;

use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use rustls_pki_types::CertificateDer;
use xoev_dsig::SigningKey;
use xoev_loadgen::ceiling::http::{self, server_tls};
use xoev_loadgen::client::{Proto, Target, tls_config};
use xoev_loadgen::corpus::{Corpus, CorpusSpec, build};
use xoev_loadgen::drive::{DriveOptions, drive};
use xoev_loadgen::pki::KeyKind;

struct Server {
    _dir: tempfile::TempDir,
    addr: std::net::SocketAddr,
    ca: std::path::PathBuf,
}

async fn ceiling() -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("self-signed");
    let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert_path, cert.pem()).expect("write cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("write key");
    let tls = server_tls(&cert_path, &key_path).expect("server tls");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(http::serve(listener, tls));
    Server {
        _dir: dir,
        addr,
        ca: cert_path,
    }
}

fn corpus(count: usize) -> Arc<Corpus> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .expect("generate P-256");
    let key = SigningKey::from_pkcs8_der(pkcs8.as_ref()).expect("key");
    let spec = CorpusSpec {
        size: 4096,
        key: KeyKind::EcdsaP256,
        count,
        seed: 3,
    };
    Arc::new(build(&spec, &key, &CertificateDer::from(vec![0x30; 300]), 1).expect("corpus"))
}

fn options(s: &Server, proto: Proto) -> DriveOptions {
    DriveOptions {
        label: "test".into(),
        target: Target {
            addr: s.addr,
            host: "localhost".into(),
            path: "/v1/messages".into(),
            tls: tls_config(&s.ca, proto).expect("client tls"),
        },
        proto,
        connections: 2,
        streams: 3,
        rate: None,
        warmup: Duration::ZERO,
        duration: Duration::from_secs(30),
        timeout: Duration::from_secs(10),
        limit: None,
        cycle: false,
        progress: false,
        authority_control: None,
        watch_pid: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flat_out_sends_every_message_once_and_reports_the_corpus_exhausted() {
    let s = ceiling().await;
    for proto in [Proto::H1, Proto::H2] {
        let r = drive(corpus(20), &options(&s, proto), None)
            .await
            .expect("drive");
        assert_eq!(r.sent, 20, "{proto:?}");
        assert_eq!(r.accepted, 20, "{proto:?}: {r:?}");
        assert!(r.corpus_exhausted, "{proto:?}");
        assert!(r.rejected.is_empty() && r.failed.is_empty(), "{r:?}");
        assert_eq!(r.latency.count, 20);
        assert_eq!(r.streams, if proto == Proto::H1 { 1 } else { 3 });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cycling_reuses_the_corpus_until_the_window_ends() {
    let s = ceiling().await;
    let mut o = options(&s, Proto::H1);
    o.cycle = true;
    o.duration = Duration::from_millis(700);
    let r = drive(corpus(5), &o, None).await.expect("drive");
    assert!(r.sent > 5, "sent only {}", r.sent);
    assert!(!r.corpus_exhausted);
    assert!(r.window_s > 0.5 && r.window_s < 2.0, "{}", r.window_s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_rate_keeps_the_schedule_and_stops_at_the_end() {
    let s = ceiling().await;
    let mut o = options(&s, Proto::H2);
    o.rate = Some(100.0);
    o.duration = Duration::from_secs(1);
    let r = drive(corpus(500), &o, None).await.expect("drive");
    // 100/s for one second: requests 0..=99 are due before the end. Each is either sent or
    // counted as overdue (timing on a busy machine decides which, never the sum).
    assert_eq!(
        r.sent + r.unsent_due,
        100,
        "sent {} overdue {}",
        r.sent,
        r.unsent_due
    );
    // Answers after the end fall outside the window; at most one per worker (2 × 3).
    assert!(r.accepted <= r.sent && r.accepted + 6 >= r.sent, "{r:?}");
    assert!(r.rejected.is_empty() && r.failed.is_empty(), "{r:?}");
    assert!(!r.corpus_exhausted, "500 messages were available");
    assert!(r.schedule_lag.count == r.sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_target_is_an_error_before_the_clock_starts() {
    let s = ceiling().await;
    let mut o = options(&s, Proto::H1);
    o.target.addr = "127.0.0.1:1".parse().expect("addr");
    let e = drive(corpus(1), &o, None).await.expect_err("refused");
    assert!(
        e.to_string()
            .starts_with("http: cannot open connections to 127.0.0.1:1: connect:"),
        "{e}"
    );
}
