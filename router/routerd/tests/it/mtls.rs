//! Transport identity: with mutual TLS, the TLS client and the signer must be the same sender.

use std::time::Duration;

use crate::common::*;
use crate::end_to_end::world_with;
use xoev_routerd::pki;

const MTLS_REQUIRED: &str = r#"
[public]
client_auth = "required"
client_ca = ["pki/ca.crt"]
"#;

fn signed(w: &crate::end_to_end::World) -> Vec<u8> {
    w.pki
        .sign(&message(&new_id(), "ags:08111000", "psw:01003110"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepts_a_message_whose_tls_client_and_signer_are_the_same_sender() {
    let w = world_with(MTLS_REQUIRED).await;
    let portal = TestClient::with_client_cert(&w.pki, pki::PORTAL_TLS_CERT, pki::PORTAL_TLS_KEY);
    let a = portal
        .post_xml(&w.router.public_url("/v1/messages"), signed(&w))
        .await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    assert!(w.bw.inbox.wait_for(1, Duration::from_secs(10)).await);
    w.router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_tls_client_registered_for_no_sender_as_sender_mismatch() {
    let w = world_with(MTLS_REQUIRED).await;
    // Chains to the CA (so TLS succeeds) but belongs to no sender.
    let stranger = TestClient::with_client_cert(&w.pki, pki::AUTHORITY_CERT, pki::AUTHORITY_KEY);
    let a = stranger
        .post_xml(&w.router.public_url("/v1/messages"), signed(&w))
        .await;
    let p = a.problem(403, "sender-mismatch");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("not registered for any sender"),
        "{p}"
    );
    w.router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_message_signed_by_one_sender_and_sent_over_another_senders_tls_as_sender_mismatch()
 {
    let extra = format!(
        "{MTLS_REQUIRED}\n[[senders]]\nid = \"third-portal\"\nsigning_certificates = [\"pki/ca.crt\"]\ntls_certificates = [\"pki/{}\"]\nauthors = [\"psw:*\"]\n",
        pki::AUTHORITY_CERT
    );
    let w = world_with(&extra).await;
    let third = TestClient::with_client_cert(&w.pki, pki::AUTHORITY_CERT, pki::AUTHORITY_KEY);
    let a = third
        .post_xml(&w.router.public_url("/v1/messages"), signed(&w))
        .await;
    let p = a.problem(403, "sender-mismatch");
    assert_eq!(
        p["detail"],
        "the TLS client is sender 'third-portal' but the message is signed by sender 'portal'"
    );
    w.router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_certificate_cannot_connect_when_mutual_tls_is_required() {
    let w = world_with(MTLS_REQUIRED).await;
    let anonymous = TestClient::new(&w.pki);
    assert!(
        anonymous.try_get(&w.router.public_url("/")).await.is_err(),
        "handshake must fail"
    );
    w.router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_optional_client_auth_the_signature_alone_identifies_the_sender() {
    let w =
        world_with("[public]\nclient_auth = \"optional\"\nclient_ca = [\"pki/ca.crt\"]\n").await;
    let anonymous = TestClient::new(&w.pki);
    let a = anonymous
        .post_xml(&w.router.public_url("/v1/messages"), signed(&w))
        .await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    w.router.stop().await;
}
