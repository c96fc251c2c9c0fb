//! The path from portal to authority, end to end.

use std::time::Duration;

use crate::common::*;
use xoev_mock_authority::{Inbox, MockAuthority};
use xoev_routerd::pki;

pub struct World {
    pub _tmp: tempfile::TempDir,
    pub pki: TestPki,
    pub router: TestRouter,
    pub client: TestClient,
    pub bw: MockAuthority,
    pub by: MockAuthority,
}

/// A router with two destinations: `bw` (plain HTTP mock) for ags:08*, `by` (HTTPS mock with
/// the test CA) for ags:09*; the sample portal may author as psw:*.
pub async fn world_with(extra: &str) -> World {
    let tmp = tempfile::tempdir().unwrap();
    let pki = TestPki::new(tmp.path());
    let bw = MockAuthority::start().await.unwrap();
    let tls = xoev_routerd::tls::server_config(
        &pki.path(pki::AUTHORITY_CERT),
        &pki.path(pki::AUTHORITY_KEY),
        xoev_routerd::config::ClientAuth::None,
        &[],
    )
    .unwrap();
    let by = MockAuthority::start_on(
        "127.0.0.1:0".parse().unwrap(),
        Some(std::sync::Arc::new(tls)),
        Inbox::new(true),
    )
    .await
    .unwrap();
    let config = format!(
        r#"
[router]
id = "router.test"
data_dir = "data"

[limits]
max_body_bytes = "256KiB"

[delivery]
timeout = "3s"
[delivery.retry]
min_delay = "50ms"
max_delay = "200ms"
max_attempts = 5
max_age = "1h"

[[senders]]
id = "portal"
signing_certificates = ["pki/sample-portal-signing.crt"]
tls_certificates = ["pki/sample-portal-tls.crt"]
authors = ["psw:*"]

[[senders]]
id = "other-portal"
signing_certificates = ["pki/router-receipts.crt"]
authors = ["ghb:*"]

[[destinations]]
id = "bw"
adapter = "http"
url = "{bw}"

[[destinations]]
id = "by"
adapter = "http"
url = "https://localhost:{by_port}/inbox"
ca = ["pki/ca.crt"]

[[routes]]
leser = "ags:08*"
destination = "bw"

[[routes]]
leser = "ags:09*"
destination = "by"
{extra}
"#,
        bw = bw.url(),
        by_port = by.addr.port(),
    );
    let router = TestRouter::start(&config, tmp.path()).await;
    let client = TestClient::new(&pki);
    World {
        _tmp: tmp,
        pki,
        router,
        client,
        bw,
        by,
    }
}

pub async fn world() -> World {
    world_with("").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_each_message_byte_identical_to_the_authority_its_reader_routes_to() {
    let w = world().await;
    let mut sent = Vec::new();
    for (i, leser) in [
        "ags:08111000",
        "ags:09162000",
        "ags:08221000",
        "ags:09564000",
    ]
    .iter()
    .enumerate()
    {
        let id = new_id();
        let signed = w.pki.sign(&message(&id, leser, "psw:01003110"));
        let a = w
            .client
            .post_xml(&w.router.public_url("/v1/messages"), signed.clone())
            .await;
        assert_eq!(
            a.status,
            202,
            "message {i}: {}",
            String::from_utf8_lossy(&a.body)
        );
        let v = a.json();
        assert_eq!(v["id"], id.as_str());
        assert_eq!(
            v["destination"],
            if leser.starts_with("ags:08") {
                "bw"
            } else {
                "by"
            }
        );
        assert_eq!(a.headers["location"], format!("/v1/messages/{id}").as_str());
        sent.push((id, *leser, signed));
    }
    assert!(
        w.bw.inbox.wait_for(2, Duration::from_secs(10)).await,
        "bw got 2"
    );
    assert!(
        w.by.inbox.wait_for(2, Duration::from_secs(10)).await,
        "by got 2"
    );
    for (id, leser, signed) in &sent {
        let (mine, other) = if leser.starts_with("ags:08") {
            (&w.bw, &w.by)
        } else {
            (&w.by, &w.bw)
        };
        let got = mine
            .inbox
            .get(id)
            .unwrap_or_else(|| panic!("{id} did not reach its authority"));
        assert_eq!(
            got.body.as_ref(),
            signed.as_slice(),
            "{id} arrives byte-identical"
        );
        assert_eq!(got.headers["xoev-nachrichten-uuid"], id.as_str());
        assert_eq!(got.headers["xoev-nachrichtentyp"], "2030");
        assert_eq!(got.headers["content-type"], "application/xml");
        assert!(
            other.inbox.get(id).is_none(),
            "{id} must not reach the other authority"
        );
        let v = wait_delivered(&w.client, &w.router, id).await;
        assert_eq!(v["traffic_light"], "green");
        assert_eq!(
            history_events(&v),
            ["accepted", "attempt-started", "delivered"],
            "{v}"
        );
    }
    w.router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubmitting_the_same_message_returns_the_original_answer_and_delivers_once() {
    let w = world().await;
    let id = new_id();
    let signed = w.pki.sign(&message(&id, "ags:08111000", "psw:01003110"));
    let first = w
        .client
        .post_xml(&w.router.public_url("/v1/messages"), signed.clone())
        .await;
    assert_eq!(first.status, 202);
    assert_eq!(first.json()["duplicate"], false);
    let again = w
        .client
        .post_xml(&w.router.public_url("/v1/messages"), signed.clone())
        .await;
    assert_eq!(again.status, 202);
    let v = again.json();
    assert_eq!(v["duplicate"], true);
    assert_eq!(v["accepted_at"], first.json()["accepted_at"]);
    wait_delivered(&w.client, &w.router, &id).await;
    assert_eq!(w.bw.inbox.count(&id), 1);
    w.router.stop().await;
}

/// The value of one sample of `metric` with exactly these labels, or 0 if there is none yet.
fn sample(metrics: &str, metric_and_labels: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(metric_and_labels)?.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_leases_once_per_message_when_messages_come_one_by_one() {
    // A finished attempt used to send the worker straight back to the queue, and so did a
    // lease that took one message: two empty leases per message, each a round of the
    // queue's writer. Only new messages and the 200 ms poll may make it lease now.
    let w = world().await;
    let n = 20;
    let started = std::time::Instant::now();
    for _ in 0..n {
        let id = new_id();
        post_accepted(
            &w.client,
            &w.router,
            w.pki.sign(&message(&id, "ags:08111000", "psw:01003110")),
        )
        .await;
        wait_delivered(&w.client, &w.router, &id).await;
    }
    let elapsed = started.elapsed();
    let m = w.client.get(&w.router.admin_url("/metrics")).await;
    let text = String::from_utf8_lossy(&m.body);
    let taken = sample(
        &text,
        "xoev_router_delivery_leases_total{destination=\"bw\",outcome=\"taken\"}",
    );
    let empty = sample(
        &text,
        "xoev_router_delivery_leases_total{destination=\"bw\",outcome=\"empty\"}",
    );
    assert_eq!(taken, n, "each message needs exactly one lease:\n{text}");
    // One poll per 200 ms at most, and a few notifications that find their message already
    // taken by a poll.
    let polls = elapsed.as_millis() as u64 / 200 + 1;
    assert!(
        empty <= polls + 3,
        "{empty} empty leases for {n} messages in {elapsed:?} (at most {polls} polls)"
    );
    w.router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_destination_is_polled_without_leasing() {
    // Every worker wakes every 200 ms for due retries and expired leases. With nothing
    // queued or delivering its counters say so, and it must not pay a lease for that: a
    // router with 1,000 destinations made 5,000 empty leases a second while idle.
    let w = world().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let m = w.client.get(&w.router.admin_url("/metrics")).await;
    let text = String::from_utf8_lossy(&m.body);
    let empty = sample(
        &text,
        "xoev_router_delivery_leases_total{destination=\"bw\",outcome=\"empty\"}",
    );
    // The first lease at start, nothing after it (seven polls happened meanwhile).
    assert_eq!(empty, 1, "empty leases in 1.5 s of idling:\n{text}");
    w.router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_never_has_more_requests_in_flight_than_its_concurrency() {
    // A slot is given back when the authority answers, before the store records the result;
    // the authority must still never see more than `concurrency` requests at once.
    let slow = MockAuthority::start().await.unwrap();
    slow.inbox
        .set_mode(xoev_mock_authority::Mode::Slow(Duration::from_millis(150)));
    let w = world_with(&format!(
        "[[destinations]]\nid = \"slow\"\nadapter = \"http\"\nurl = \"{}\"\nconcurrency = 3\n[[routes]]\nleser = \"ags:07*\"\ndestination = \"slow\"\n",
        slow.url()
    ))
    .await;
    let n = 12;
    let signed: Vec<_> = (0..n)
        .map(|_| {
            w.pki
                .sign(&message(&new_id(), "ags:07111000", "psw:01003110"))
        })
        .collect();
    for body in signed {
        post_accepted(&w.client, &w.router, body).await;
    }
    assert!(
        slow.inbox.wait_for(n, Duration::from_secs(20)).await,
        "delivered {} of {n}",
        slow.inbox.distinct()
    );
    let max = slow.inbox.max_in_flight();
    assert!(max <= 3, "{max} requests at once, concurrency is 3");
    assert!(max >= 2, "the slots were used: at most {max} at once");
    w.router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_leased_ahead_goes_back_unattempted_when_the_attempt_before_it_opens_the_circuit()
{
    // With one slot, the second message is leased while the first is in flight and waits for
    // the slot. The first times out and opens the circuit; the second must not be sent to a
    // destination known to be down, nor lose one of its attempts.
    let down = MockAuthority::start().await.unwrap();
    down.inbox.set_mode(xoev_mock_authority::Mode::Hang);
    let w = world_with(&format!(
        "[delivery.breaker]\nfailure_threshold = 1\nopen_for = \"30s\"\nmax_open_for = \"30s\"\n[[destinations]]\nid = \"down\"\nadapter = \"http\"\nurl = \"{}\"\nconcurrency = 1\ntimeout = \"800ms\"\n[[routes]]\nleser = \"ags:07*\"\ndestination = \"down\"\n",
        down.url()
    ))
    .await;
    let first = new_id();
    let second = new_id();
    let signed: Vec<_> = [&first, &second]
        .iter()
        .map(|id| w.pki.sign(&message(id, "ags:07111000", "psw:01003110")))
        .collect();
    for body in signed {
        post_accepted(&w.client, &w.router, body).await;
    }
    // The first attempt times out after 800 ms and is scheduled for a retry.
    poll_status(
        &w.client,
        &w.router,
        &first,
        Duration::from_secs(10),
        "one failed attempt",
        |v| v["attempts"] == 1 && v["state"] == "queued",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let v = poll_status(
        &w.client,
        &w.router,
        &second,
        Duration::from_secs(10),
        "queued",
        |v| v["state"] == "queued",
    )
    .await;
    assert_eq!(
        v["attempts"], 0,
        "the second message was not attempted: {v}"
    );
    assert!(
        history_events(&v).contains(&"released"),
        "it was leased ahead and given back: {v}"
    );
    assert_eq!(
        down.inbox.requests(),
        1,
        "only the first reached the destination"
    );
    w.router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_a_failing_authority_and_delivers_after_it_recovers() {
    let w = world().await;
    w.bw.inbox.set_mode(xoev_mock_authority::Mode::Fail {
        status: 503,
        retry_after: None,
    });
    let id = new_id();
    let signed = w.pki.sign(&message(&id, "ags:08111000", "psw:01003110"));
    assert_eq!(
        w.client
            .post_xml(&w.router.public_url("/v1/messages"), signed.clone())
            .await
            .status,
        202
    );
    // Let at least two attempts fail, then recover.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while w.bw.inbox.requests() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "router retries");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    w.bw.inbox.set_mode(xoev_mock_authority::Mode::Accept);
    let v = wait_state(
        &w.client,
        &w.router,
        &id,
        "delivered",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(
        v["traffic_light"], "yellow",
        "delivered after failed attempts: {v}"
    );
    assert!(v["attempts"].as_u64().unwrap() >= 3);
    assert_eq!(
        w.bw.inbox.get(&id).unwrap().body.as_ref(),
        signed.as_slice()
    );
    w.router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_goes_to_the_dead_letters_with_its_reason() {
    let w = world().await;
    w.bw.inbox.set_mode(xoev_mock_authority::Mode::Fail {
        status: 422,
        retry_after: None,
    });
    let id = new_id();
    let signed = w.pki.sign(&message(&id, "ags:08111000", "psw:01003110"));
    assert_eq!(
        w.client
            .post_xml(&w.router.public_url("/v1/messages"), signed)
            .await
            .status,
        202
    );
    let v = wait_state(&w.client, &w.router, &id, "dead", Duration::from_secs(10)).await;
    assert_eq!(v["traffic_light"], "red");
    assert!(
        v["last_error"].as_str().unwrap().contains("answered 422"),
        "{v}"
    );
    assert_eq!(v["attempts"], 1, "a permanent refusal is not retried");
    w.router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_listener_serves_metrics_health_and_readiness_but_the_public_one_does_not() {
    let w = world().await;
    let id = new_id();
    let signed = w.pki.sign(&message(&id, "ags:08111000", "psw:01003110"));
    assert_eq!(
        w.client
            .post_xml(&w.router.public_url("/v1/messages"), signed)
            .await
            .status,
        202
    );
    let bad = w
        .client
        .post_xml(&w.router.public_url("/v1/messages"), "<not-xml")
        .await;
    assert_eq!(bad.status, 400);
    wait_delivered(&w.client, &w.router, &id).await;

    let m = w.client.get(&w.router.admin_url("/metrics")).await;
    assert_eq!(m.status, 200);
    let text = String::from_utf8_lossy(&m.body);
    for needle in [
        "xoev_router_ingress_requests_total{outcome=\"accepted\",problem=\"\"} 1",
        "xoev_router_ingress_requests_total{outcome=\"rejected\",problem=\"malformed-xml\"} 1",
        "xoev_router_delivery_attempts_total{destination=\"bw\",outcome=\"delivered\"} 1",
        "xoev_router_queue_depth_messages{destination=\"by\",state=\"queued\"} 0",
        "xoev_router_ingress_request_duration_seconds_bucket",
        "xoev_router_delivery_end_to_end_seconds_bucket",
        "xoev_router_queue_flush_duration_seconds_bucket",
        "xoev_router_dsig_verify_duration_seconds_bucket",
    ] {
        assert!(text.contains(needle), "metrics lack `{needle}`:\n{text}");
    }
    // The process metrics operators size memory by (the router runs in this test process).
    assert!(
        sample(&text, "process_resident_memory_bytes ") > 1 << 20,
        "{text}"
    );
    assert!(sample(&text, "process_open_fds ") > 3, "{text}");
    assert!(sample(&text, "process_threads ") >= 2, "{text}");
    // Enqueue, lease and completion depend on each other's answers: three transactions at
    // least, however the writer merges.
    let transactions = text
        .lines()
        .find_map(|l| l.strip_prefix("xoev_router_queue_transactions_total "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(
        transactions.is_some_and(|t| t >= 3),
        "transactions_total: {transactions:?}\n{text}"
    );
    assert_eq!(
        w.client.get(&w.router.admin_url("/healthz")).await.status,
        200
    );
    assert_eq!(
        w.client.get(&w.router.admin_url("/readyz")).await.status,
        200
    );
    let public_metrics = w.client.get(&w.router.public_url("/metrics")).await;
    public_metrics.problem(404, "not-found");
    w.router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_whose_certificate_is_not_from_its_pinned_ca_never_receives_the_message() {
    // An HTTPS authority with a certificate from another CA; "rogue" pins the test CA.
    let other = tempfile::tempdir().unwrap();
    xoev_routerd::pki::generate(other.path(), "other.test").unwrap();
    let tls = xoev_routerd::tls::server_config(
        &other.path().join(pki::AUTHORITY_CERT),
        &other.path().join(pki::AUTHORITY_KEY),
        xoev_routerd::config::ClientAuth::None,
        &[],
    )
    .unwrap();
    let impostor = MockAuthority::start_on(
        "127.0.0.1:0".parse().unwrap(),
        Some(std::sync::Arc::new(tls)),
        Inbox::new(true),
    )
    .await
    .unwrap();
    let w = world_with(&format!(
        "[[destinations]]\nid = \"rogue\"\nadapter = \"http\"\nurl = \"https://localhost:{}/inbox\"\nca = [\"pki/ca.crt\"]\n[[routes]]\nleser = \"ags:07*\"\ndestination = \"rogue\"\n",
        impostor.addr.port()
    ))
    .await;
    let id = new_id();
    let signed = w.pki.sign(&message(&id, "ags:07111000", "psw:01003110"));
    post_accepted(&w.client, &w.router, signed).await;
    let v = poll_status(
        &w.client,
        &w.router,
        &id,
        Duration::from_secs(10),
        "retried",
        |v| v["attempts"].as_u64().unwrap_or(0) >= 2,
    )
    .await;
    let err = v["last_error"].as_str().unwrap_or("");
    assert!(
        err.starts_with("tls (retryable)"),
        "a TLS failure, retried: {v}"
    );
    assert!(err.contains("invalid peer certificate"), "{v}");
    assert_eq!(
        impostor.inbox.requests(),
        0,
        "not a single byte reached the impostor"
    );
    w.router.stop().await;
}

/// XWasser's 2010 is the one message type with a ds:Signature slot: there the verified
/// signature is validated against the xmldsig schema too; elsewhere it is left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_2010_report_is_accepted_with_its_signature_validated_in_its_schema_slot() {
    let w = world_with("[[routes]]\nleser = \"olb:09*\"\ndestination = \"by\"\n").await;
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../xsd/tests/corpus/instances/olb_report_minimal.xml");
    let id = new_id();
    let xml = std::fs::read_to_string(corpus)
        .unwrap()
        .replace("693c64d6-456f-4d14-abe7-fe9681c74aae", &id)
        .replace("2024-05-28T09:00:00", &now_rfc3339())
        .replace(
            "<kennung>gha:090</kennung>",
            "<kennung>psw:01003110</kennung>",
        );
    let signed = w.pki.sign(&xml);
    let a = w
        .client
        .post_xml(&w.router.public_url("/v1/messages"), signed.clone())
        .await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    assert!(w.by.inbox.wait_for(1, Duration::from_secs(10)).await);
    assert_eq!(
        w.by.inbox.get(&id).unwrap().body.as_ref(),
        signed.as_slice()
    );
    w.router.stop().await;
}

/// While a destination is down, only max_age bounds a message: the probes the circuit
/// breaker sends must not use up the attempts of whichever messages serve as probes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_outage_kills_no_message_even_with_few_attempts_allowed() {
    let fragile = MockAuthority::start().await.unwrap();
    fragile.inbox.set_mode(xoev_mock_authority::Mode::Fail {
        status: 503,
        retry_after: None,
    });
    let w = world_with(&format!(
        "[delivery.breaker]\nfailure_threshold = 2\nopen_for = \"30ms\"\nmax_open_for = \"60ms\"\n[[destinations]]\nid = \"fragile\"\nadapter = \"http\"\nurl = \"{}\"\nconcurrency = 2\n[destinations.retry]\nmin_delay = \"10ms\"\nmax_delay = \"20ms\"\nmax_attempts = 3\nmax_age = \"1h\"\n[[routes]]\nleser = \"ags:06*\"\ndestination = \"fragile\"\n",
        fragile.url()
    ))
    .await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        let id = new_id();
        let signed = w.pki.sign(&message(&id, "ags:06411000", "psw:01003110"));
        assert_eq!(
            w.client
                .post_xml(&w.router.public_url("/v1/messages"), signed)
                .await
                .status,
            202
        );
        ids.push(id);
    }
    // Long enough for dozens of probes at 30–60 ms.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        fragile.inbox.requests() > 12,
        "the breaker probed repeatedly: {}",
        fragile.inbox.requests()
    );
    fragile.inbox.set_mode(xoev_mock_authority::Mode::Accept);
    let mut probed = 0;
    for id in &ids {
        let v = wait_delivered(&w.client, &w.router, id).await;
        if v["attempts"].as_u64().unwrap() > 3 {
            probed += 1;
        }
    }
    assert!(
        probed > 0,
        "some message was attempted more often than max_attempts and still lives"
    );
    w.router.stop().await;
}

/// An authority that refuses connections says nothing about the message: however often the
/// attempts fail to connect, max_attempts does not dead-letter it (a restarted router's breaker
/// starts closed, so such attempts need not be probes), and it is delivered once the authority
/// listens again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_do_not_use_up_max_attempts() {
    let port = free_port();
    let w = world_with(&format!(
        "[delivery.breaker]\nfailure_threshold = 1000000\n[[destinations]]\nid = \"offline\"\nadapter = \"http\"\nurl = \"http://127.0.0.1:{port}/inbox\"\n[destinations.retry]\nmin_delay = \"10ms\"\nmax_delay = \"20ms\"\nmax_attempts = 2\nmax_age = \"1h\"\n[[routes]]\nleser = \"ags:06*\"\ndestination = \"offline\"\n",
    ))
    .await;
    let id = new_id();
    let signed = w.pki.sign(&message(&id, "ags:06411000", "psw:01003110"));
    post_accepted(&w.client, &w.router, signed.clone()).await;
    poll_status(
        &w.client,
        &w.router,
        &id,
        Duration::from_secs(10),
        "6 attempts",
        |v| {
            assert_ne!(v["state"], "dead", "dead-lettered by max_attempts: {v}");
            v["attempts"].as_u64().unwrap() >= 6
        },
    )
    .await;
    let back = MockAuthority::start_on(
        format!("127.0.0.1:{port}").parse().unwrap(),
        None,
        Inbox::new(true),
    )
    .await
    .unwrap();
    wait_delivered(&w.client, &w.router, &id).await;
    assert_eq!(
        back.inbox.get(&id).unwrap().body.as_ref(),
        signed.as_slice()
    );
    w.router.stop().await;
}
