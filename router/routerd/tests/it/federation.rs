//! Federation: a Baden-Württemberg router forwards to a Saxon router over mutual TLS.
//! The Saxon router runs as a real child process so it can be killed with SIGKILL.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::common::*;
use xoev_mock_authority::{Inbox, MockAuthority, Mode};
use xoev_routerd::pki;

struct Federation {
    _tmp: tempfile::TempDir,
    pki: TestPki,
    bw: TestRouter,
    sn: ChildRouter,
    sn_authority: MockAuthority,
    client: TestClient,
}

async fn federation(
    base: &Path,
    sn_extra_routes: &str,
) -> (TestPki, TestRouter, ChildRouter, MockAuthority) {
    let pki = TestPki::new(base);
    let sn_authority =
        MockAuthority::start_on("127.0.0.1:0".parse().unwrap(), None, Inbox::new(true))
            .await
            .unwrap();
    let sn_public: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let sn_admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    // The Saxon router: trusts the same portal, knows the BW router as a peer.
    let sn_config = base.join("sn.toml");
    std::fs::write(
        &sn_config,
        format!(
            r#"
[router]
id = "sn.router.test"
data_dir = "sn-data"

[public]
listen = "{sn_public}"
client_auth = "optional"
client_ca = ["pki/ca.crt"]

[admin]
listen = "{sn_admin}"

[delivery]
timeout = "3s"
[delivery.retry]
min_delay = "50ms"
max_delay = "200ms"

[[peers]]
id = "bw.router.test"
tls_certificates = ["pki/{router_cert}"]

[[senders]]
id = "bw-portal"
signing_certificates = ["pki/{portal_cert}"]
authors = ["psw:*"]

[[destinations]]
id = "sn-authority"
adapter = "http"
url = "{sn_url}"

[[routes]]
leser = "ags:14*"
destination = "sn-authority"
{sn_extra_routes}
"#,
            router_cert = pki::ROUTER_CERT,
            portal_cert = pki::PORTAL_SIGNING_CERT,
            sn_url = sn_authority.url(),
        ),
    )
    .unwrap();
    let sn = ChildRouter::start(sn_config, sn_public, sn_admin).await;
    // The BW router: forwards ags:14* to the Saxon router over mutual TLS.
    let bw = TestRouter::start(
        &format!(
            r#"
[router]
id = "bw.router.test"
data_dir = "bw-data"

[public]
client_auth = "optional"
client_ca = ["pki/ca.crt"]

[delivery]
timeout = "3s"
[delivery.retry]
min_delay = "50ms"
max_delay = "300ms"
max_attempts = 1000
[delivery.breaker]
open_for = "100ms"
max_open_for = "300ms"

[[peers]]
id = "sn.router.test"
tls_certificates = ["pki/{router_cert}"]

[[senders]]
id = "bw-portal"
signing_certificates = ["pki/{portal_cert}"]
authors = ["psw:*"]

[[destinations]]
id = "sachsen"
adapter = "peer"
url = "https://localhost:{port}"
ca = ["pki/ca.crt"]
client_cert = "pki/{router_cert}"
client_key = "pki/{router_key}"

[[routes]]
leser = "ags:14*"
destination = "sachsen"
"#,
            router_cert = pki::ROUTER_CERT,
            router_key = pki::ROUTER_KEY,
            portal_cert = pki::PORTAL_SIGNING_CERT,
            port = sn_public.port(),
        ),
        base,
    )
    .await;
    (pki, bw, sn, sn_authority)
}

async fn setup(sn_extra_routes: &str) -> Federation {
    let tmp = tempfile::tempdir().unwrap();
    let (pki, bw, sn, sn_authority) = federation(tmp.path(), sn_extra_routes).await;
    let client = TestClient::new(&pki);
    Federation {
        _tmp: tmp,
        pki,
        bw,
        sn,
        sn_authority,
        client,
    }
}

async fn post(f: &Federation, leser: &str) -> (String, Vec<u8>) {
    let id = new_id();
    let signed = f.pki.sign(&message(&id, leser, "psw:01003110"));
    let a = f
        .client
        .post_xml(&f.bw.public_url("/v1/messages"), signed.clone())
        .await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json()["destination"], "sachsen");
    (id, signed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_for_saxony_is_forwarded_and_delivered_and_bws_receipt_shows_it() {
    let f = setup("").await;
    let (id, signed) = post(&f, "ags:14612000").await;
    assert!(
        f.sn_authority
            .inbox
            .wait_for(1, Duration::from_secs(20))
            .await,
        "delivered in Saxony"
    );
    let got = f.sn_authority.inbox.get(&id).unwrap();
    assert_eq!(
        got.body.as_ref(),
        signed.as_slice(),
        "byte-identical across two routers"
    );
    assert_eq!(
        got.headers["xoev-trace"], "bw.router.test,sn.router.test",
        "trace of routers passed"
    );

    let v = wait_state(&f.client, &f.bw, &id, "forwarded", Duration::from_secs(10)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut v = v;
    while v["peer"]["state"] != "delivered" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "BW status follows the message to SN: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        v = f
            .client
            .get(&f.bw.public_url(&format!("/v1/messages/{id}")))
            .await
            .json();
    }
    let receipt = f
        .client
        .get(&f.bw.public_url(&format!("/v1/messages/{id}/receipt")))
        .await;
    let text = String::from_utf8_lossy(&receipt.body);
    assert!(text.contains("<zustellung zeitpunkt="), "{text}");
    assert!(
        text.contains("<zustellungBeiPartner zeitpunkt=")
            && text.contains("peer-delivered: delivered"),
        "{text}"
    );
    f.bw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_saxon_router_loses_nothing_and_each_message_arrives_exactly_once() {
    let mut f = setup("").await;
    // Phase 1: SN accepts but cannot deliver yet (its authority answers 503): messages wait in SN's queue.
    f.sn_authority.inbox.set_mode(Mode::Fail {
        status: 503,
        retry_after: None,
    });
    let mut sent = Vec::new();
    for _ in 0..5 {
        sent.push(post(&f, "ags:14612000").await);
    }
    for (id, _) in &sent {
        wait_state(&f.client, &f.bw, id, "forwarded", Duration::from_secs(20)).await;
    }
    f.sn.kill();
    // Phase 2: SN is down: BW keeps accepting and retries the forward.
    for _ in 0..5 {
        sent.push(post(&f, "ags:14612000").await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    f.sn_authority.inbox.set_mode(Mode::Accept);
    f.sn.spawn().await;
    assert!(
        f.sn_authority
            .inbox
            .wait_for(sent.len(), Duration::from_secs(60))
            .await,
        "all delivered after restart"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (id, bytes) in &sent {
        assert_eq!(
            f.sn_authority.inbox.count(id),
            1,
            "{id} delivered exactly once"
        );
        assert_eq!(
            f.sn_authority.inbox.get(id).unwrap().body.as_ref(),
            bytes.as_slice()
        );
        wait_state(&f.client, &f.bw, id, "forwarded", Duration::from_secs(20)).await;
    }
    assert!(f.sn_authority.inbox.mismatches().is_empty());
    f.bw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarding_loop_is_cut_with_loop_detected_and_ends_as_a_dead_letter() {
    // A misconfigured directory: BW forwards Thuringia (ags:16*) to SN and SN forwards it back
    // to BW. The second arrival at BW carries BW in its trace and is refused.
    let tmp = tempfile::tempdir().unwrap();
    let bw_port = free_port();
    let extra = format!(
        "[[destinations]]\nid = \"back-to-bw\"\nadapter = \"peer\"\nurl = \"https://localhost:{bw_port}\"\nca = [\"pki/ca.crt\"]\nclient_cert = \"pki/{c}\"\nclient_key = \"pki/{k}\"\n\n[[routes]]\nleser = \"ags:16*\"\ndestination = \"back-to-bw\"\n",
        c = pki::ROUTER_CERT,
        k = pki::ROUTER_KEY
    );
    let (pki, unused_bw, sn, _auth) = federation(tmp.path(), &extra).await;
    unused_bw.stop().await;
    // A BW router on the fixed port the SN config points back to, routing ags:16* to SN.
    let bw = TestRouter::start_on(
        &format!(
            r#"
[router]
id = "bw.router.test"
data_dir = "bw2-data"
[public]
client_auth = "optional"
client_ca = ["pki/ca.crt"]
[[peers]]
id = "sn.router.test"
tls_certificates = ["pki/{rc}"]
[[senders]]
id = "bw-portal"
signing_certificates = ["pki/{pc}"]
authors = ["psw:*"]
[[destinations]]
id = "sachsen"
adapter = "peer"
url = "https://localhost:{sn_port}"
ca = ["pki/ca.crt"]
client_cert = "pki/{rc}"
client_key = "pki/{rk}"
[[routes]]
leser = "ags:16*"
destination = "sachsen"
"#,
            rc = pki::ROUTER_CERT,
            rk = pki::ROUTER_KEY,
            pc = pki::PORTAL_SIGNING_CERT,
            sn_port = sn.public.port(),
        ),
        tmp.path(),
        bw_port,
    )
    .await;
    let client = TestClient::new(&pki);
    let id = new_id();
    let signed = pki.sign(&message(&id, "ags:16051000", "psw:01003110"));
    let a = client
        .post_xml(&bw.public_url("/v1/messages"), signed)
        .await;
    assert_eq!(a.status, 202);
    // BW → SN (trace bw) → BW again (trace bw,sn): refused with loop-detected, permanent at SN.
    wait_state(&client, &bw, &id, "forwarded", Duration::from_secs(20)).await;
    let sn_status = format!("https://localhost:{}/v1/messages/{id}", sn.public.port());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let v = client.get(&sn_status).await.json();
        if v["state"] == "dead" {
            assert!(
                v["last_error"].as_str().unwrap().contains("loop-detected"),
                "{v}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "SN dead-letters the looping message: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bw.stop().await;
}
