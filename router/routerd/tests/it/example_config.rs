//! `docs/examples/router.toml` is what operators copy: a router must start on it, with
//! certificates under the names it expects (`certs/README.md`), and route and mailbox as the
//! comments in it say.

use std::path::Path;

use xoev_routerd::pki;

use crate::common::{TestClient, TestPki, TestRouter, message, new_id};

const EXAMPLE: &str = include_str!("../../../../docs/examples/router.toml");

/// Puts the development PKI's files where the example looks for them.
fn lay_out_certs(base: &Path, pki: &TestPki, peer: &TestPki) {
    let files = [
        ("router.crt", pki.path(pki::ROUTER_CERT)),
        ("router.key", pki.path(pki::ROUTER_KEY)),
        ("client-ca.crt", pki.path(pki::CA_CERT)),
        ("receipts.crt", pki.path(pki::RECEIPT_CERT)),
        ("receipts.key", pki.path(pki::RECEIPT_KEY)),
        (
            "senders/service-bw-signing.crt",
            pki.path(pki::PORTAL_SIGNING_CERT),
        ),
        ("senders/service-bw-tls.crt", pki.path(pki::PORTAL_TLS_CERT)),
        ("destinations/stuttgart-ca.crt", pki.path(pki::CA_CERT)),
        ("destinations/router-client.crt", pki.path(pki::ROUTER_CERT)),
        ("destinations/router-client.key", pki.path(pki::ROUTER_KEY)),
        (
            "destinations/lra-ludwigsburg.crt",
            pki.path(pki::AUTHORITY_CERT),
        ),
        ("peers/sachsen-ca.crt", peer.path(pki::CA_CERT)),
        ("peers/sachsen-router.crt", peer.path(pki::ROUTER_CERT)),
    ];
    for (name, from) in files {
        let to = base.join("certs").join(name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
}

#[tokio::test]
async fn a_router_starts_on_the_documented_example_and_routes_as_its_comments_say() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let pki = TestPki::new(base);
    let peer = TestPki::new(&base.join("sachsen"));
    lay_out_certs(base, &pki, &peer);
    let data = base.join("data");
    let config = EXAMPLE.replace("/var/lib/xoev-router", &data.display().to_string());
    let router = TestRouter::start(&config, base).await;
    let client = TestClient::new(&pki);

    assert_eq!(client.get(&router.admin_url("/readyz")).await.status, 200);
    let queues = client.get(&router.admin_url("/admin/queues")).await.json();
    let ids: Vec<&str> = queues
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|q| q["destination"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "stuttgart-buergeramt",
            "lra-ludwigsburg",
            "statistik-bw",
            "router-sachsen"
        ]
    );

    // service-bw may author as psw:01003110; a message for Ludwigsburg waits in its mailbox.
    let id = new_id();
    let answer = client
        .post_xml(
            &router.public_url("/v1/messages"),
            pki.sign(&message(&id, "ags:08118000", "psw:01003110")),
        )
        .await;
    assert_eq!(answer.status, 202, "{:?}", answer.json());
    assert_eq!(answer.json()["destination"], "lra-ludwigsburg");
    let owner = TestClient::with_client_cert(&pki, pki::AUTHORITY_CERT, pki::AUTHORITY_KEY);
    let listed = owner
        .get(&router.public_url("/v1/mailboxes/ags:08118000/messages"))
        .await;
    assert_eq!(listed.status, 200);
    assert!(listed.json().to_string().contains(&id), "{}", listed.json());

    // Saxony's readers go to Saxony's router; an author the portal may not use is refused.
    let sachsen = client
        .post_xml(
            &router.public_url("/v1/messages"),
            pki.sign(&message(&new_id(), "ags:14612000", "psw:01003110")),
        )
        .await;
    assert_eq!(sachsen.json()["destination"], "router-sachsen");
    let spoofed = client
        .post_xml(
            &router.public_url("/v1/messages"),
            pki.sign(&message(&new_id(), "ags:08111000", "psw:09999999")),
        )
        .await;
    assert_eq!(spoofed.status, 403, "{:?}", spoofed.json());
    router.stop().await;
}
