//! Signed receipts (Laufzettel).

use std::time::Duration;

use crate::common::*;
use crate::end_to_end::world;
use xoev_dsig::{TrustStore, VerifyOptions};
use xoev_routerd::pki;

fn receipt_trust(pki: &TestPki) -> TrustStore {
    let mut t = TrustStore::new();
    for c in xoev_routerd::tls::load_certs(&pki.path(pki::RECEIPT_CERT)).unwrap() {
        t.add_pinned_certificate(c, "router").unwrap();
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receipt_of_a_delivered_message_is_signed_by_the_router_and_records_each_step() {
    let w = world().await;
    let id = new_id();
    let signed = w.pki.sign(&message(&id, "ags:08111000", "psw:01003110"));
    post_accepted(&w.client, &w.router, signed.clone()).await;
    wait_delivered(&w.client, &w.router, &id).await;

    let r = w
        .client
        .get(&w.router.public_url(&format!("/v1/messages/{id}/receipt")))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type(), "application/xml");
    let doc = xoev_xml::parse(&r.body, &xoev_xml::Limits::default()).unwrap();
    let verified = xoev_dsig::verify(
        &doc,
        &receipt_trust(&w.pki),
        &VerifyOptions::new(xoev_dsig::UnixTime::now()),
    )
    .expect("receipt verifies against the router's receipt certificate");
    let root = verified.signed_element();
    assert_eq!(root.local_name(), "laufzettel");
    let text = String::from_utf8_lossy(&r.body);
    let digest = xoev_routerd::tls::hex(&xoev_routerd::tls::fingerprint(&signed));
    for needle in [
        format!("<nachrichtenUUID>{id}</nachrichtenUUID>"),
        format!("<sha256>{digest}</sha256>"),
        "<router>router.test</router>".to_owned(),
        "<eingang zeitpunkt=".to_owned(),
        "<weiterleitung zeitpunkt=".to_owned(),
        "<zustellung zeitpunkt=".to_owned(),
        "<zertifikatspruefung ergebnis=\"gueltig\" vertrauen=\"pinned\"".to_owned(),
        "ampel=\"gruen\"".to_owned(),
    ] {
        assert!(text.contains(&needle), "receipt lacks {needle}:\n{text}");
    }

    // Tampering breaks it; a receipt signed by someone else is not the router's.
    let tampered = text.replace("ampel=\"gruen\"", "ampel=\"gelb\"");
    let doc = xoev_xml::parse(tampered.as_bytes(), &xoev_xml::Limits::default()).unwrap();
    assert!(
        xoev_dsig::verify(
            &doc,
            &receipt_trust(&w.pki),
            &VerifyOptions::new(xoev_dsig::UnixTime::now())
        )
        .is_err()
    );
    w.router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_message_has_a_red_receipt_without_delivery() {
    let w = world().await;
    w.bw.inbox.set_mode(xoev_mock_authority::Mode::Fail {
        status: 403,
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
    wait_state(&w.client, &w.router, &id, "dead", Duration::from_secs(10)).await;
    let r = w
        .client
        .get(&w.router.public_url(&format!("/v1/messages/{id}/receipt")))
        .await;
    let text = String::from_utf8_lossy(&r.body);
    assert!(text.contains("ampel=\"rot\" xtaStatus=\"3\""), "{text}");
    assert!(!text.contains("<zustellung "), "{text}");
    assert!(text.contains("<letzterFehler>"), "{text}");
    w.router.stop().await;
}

/// Our receipts verify with an independent implementation (xmlsec1, OpenSSL-based).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs xmlsec1; run by .ci/run"]
async fn receipts_verify_with_xmlsec1() {
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
    wait_delivered(&w.client, &w.router, &id).await;
    let r = w
        .client
        .get(&w.router.public_url(&format!("/v1/messages/{id}/receipt")))
        .await;
    let file = w.router.data_dir.join("receipt.xml");
    std::fs::write(&file, &r.body).unwrap();
    let out = std::process::Command::new("xmlsec1")
        .args([
            "--verify",
            "--enabled-reference-uris",
            "empty",
            "--trusted-pem",
        ])
        .arg(w.pki.path(pki::CA_CERT))
        .arg(&file)
        .output()
        .expect("xmlsec1 runs");
    assert!(
        out.status.success(),
        "xmlsec1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    w.router.stop().await;
}
