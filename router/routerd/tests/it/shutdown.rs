//! Graceful shutdown on SIGTERM: in-flight work finishes or is given back, nothing is lost.

use std::time::Duration;

use crate::common::*;
use xoev_mock_authority::{Inbox, MockAuthority, Mode};
use xoev_routerd::pki;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_a_hanging_delivery_and_one_leased_ahead_exits_0_and_both_are_delivered_after_restart()
 {
    let tmp = tempfile::tempdir().unwrap();
    let pki = TestPki::new(tmp.path());
    let authority = MockAuthority::start_on("127.0.0.1:0".parse().unwrap(), None, Inbox::new(true))
        .await
        .unwrap();
    authority.inbox.set_mode(Mode::Hang);
    let public = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let admin = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = tmp.path().join("router.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[router]
id = "router.test"
data_dir = "data"
[public]
listen = "{public}"
[admin]
listen = "{admin}"
[delivery]
timeout = "30s"
shutdown_grace = "1s"
[[senders]]
id = "portal"
signing_certificates = ["pki/{cert}"]
authors = ["psw:*"]
[[destinations]]
id = "bw"
adapter = "http"
url = "{url}"
concurrency = 1
[[routes]]
leser = "ags:08*"
destination = "bw"
"#,
            cert = pki::PORTAL_SIGNING_CERT,
            url = authority.url()
        ),
    )
    .unwrap();
    let mut router = ChildRouter::start(config, public, admin).await;
    let client = TestClient::new(&pki);
    let url = format!("https://localhost:{}/v1/messages", public.port());
    // One slot: the second message is leased ahead and waits for it behind the hanging one.
    let id = new_id();
    let signed = pki.sign(&message(&id, "ags:08111000", "psw:01003110"));
    assert_eq!(client.post_xml(&url, signed.clone()).await.status, 202);
    let second = new_id();
    let second_signed = pki.sign(&message(&second, "ags:08111000", "psw:01003110"));
    assert_eq!(
        client.post_xml(&url, second_signed.clone()).await.status,
        202
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while authority.inbox.requests() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "an attempt is in flight"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(authority.inbox.requests(), 1, "one slot, one request");

    let started = std::time::Instant::now();
    let code = tokio::task::spawn_blocking(move || {
        let code = router.terminate(Duration::from_secs(20));
        (code, router)
    })
    .await
    .unwrap();
    let (code, mut router) = code;
    assert_eq!(
        code,
        Some(0),
        "clean exit on SIGTERM; log:\n{}",
        router.log()
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "bounded by the grace times"
    );
    assert!(
        router.log().contains("stopped"),
        "ordered shutdown ran to the end:\n{}",
        router.log()
    );

    authority.inbox.set_mode(Mode::Accept);
    router.spawn().await;
    assert!(
        authority.inbox.wait_for(2, Duration::from_secs(20)).await,
        "both delivered after restart"
    );
    for (id, signed) in [(&id, &signed), (&second, &second_signed)] {
        assert_eq!(
            authority.inbox.get(id).unwrap().body.as_ref(),
            signed.as_slice()
        );
        assert_eq!(authority.inbox.count(id), 1, "delivered once");
        let status_url = format!("https://localhost:{}/v1/messages/{id}", public.port());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let status = loop {
            let v = client.get(&status_url).await.json();
            if v["state"] == "delivered" || tokio::time::Instant::now() >= deadline {
                break v;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        assert_eq!(status["state"], "delivered", "{status}");
        let events = history_events(&status);
        assert!(
            events.contains(&"released"),
            "{id} was given back at shutdown: {events:?}"
        );
        assert_eq!(status["attempts"], 1, "a given-back lease is no attempt");
    }
}
