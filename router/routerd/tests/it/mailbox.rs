//! The pull mailbox: list, fetch, close; visibility timeout; owner-only access.

use std::time::Duration;

use http::Method;

use crate::common::*;
use crate::end_to_end::{World, world_with};
use xoev_routerd::pki;

const TOKEN: &str = "s3cret-mailbox-token";

fn sha256_hex(s: &str) -> String {
    xoev_routerd::tls::hex(&xoev_routerd::tls::fingerprint(s.as_bytes()))
}

async fn mailbox_world() -> World {
    world_with(&format!(
        r#"
[public]
client_auth = "optional"
client_ca = ["pki/ca.crt"]

[[destinations]]
id = "sn-mailbox"
adapter = "mailbox"
kennung = "ags:14612000"
owner_certificates = ["pki/{cert}"]
owner_token_sha256 = "{hash}"
visibility_timeout = "1s"

[[routes]]
leser = "ags:14*"
destination = "sn-mailbox"
"#,
        cert = pki::AUTHORITY_CERT,
        hash = sha256_hex(TOKEN)
    ))
    .await
}

async fn submit(w: &World, leser: &str) -> (String, Vec<u8>) {
    let id = new_id();
    let signed = w.pki.sign(&message(&id, leser, "psw:01003110"));
    let a = w
        .client
        .post_xml(&w.router.public_url("/v1/messages"), signed.clone())
        .await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    (id, signed)
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_lists_oldest_first_fetches_byte_identical_and_closes() {
    let w = mailbox_world().await;
    let owner = TestClient::with_client_cert(&w.pki, pki::AUTHORITY_CERT, pki::AUTHORITY_KEY);
    let (a, a_bytes) = submit(&w, "ags:14612000").await;
    let (b, _) = submit(&w, "ags:14612000").await;
    let base = w.router.public_url("/v1/mailboxes/ags:14612000/messages");

    let list = owner.get(&base).await;
    assert_eq!(list.status, 200, "{}", String::from_utf8_lossy(&list.body));
    assert_eq!(
        ids(&list.json()),
        vec![a.clone(), b.clone()],
        "oldest first"
    );
    let page = owner.get(&format!("{base}?limit=1")).await.json();
    assert_eq!(ids(&page), vec![a.clone()]);
    let next = page["next_after"].as_str().unwrap();
    assert_eq!(
        ids(&owner
            .get(&format!("{base}?limit=1&after={next}"))
            .await
            .json()),
        vec![b.clone()]
    );

    let fetched = owner.get(&format!("{base}/{a}")).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body.as_ref(), a_bytes.as_slice(), "byte-identical");
    assert_eq!(fetched.headers["xoev-nachrichten-uuid"], a.as_str());
    assert_eq!(
        ids(&owner.get(&base).await.json()),
        vec![b.clone()],
        "fetched message is hidden"
    );
    assert_eq!(
        wait_state(
            &w.client,
            &w.router,
            &a,
            "delivering",
            Duration::from_secs(5)
        )
        .await["state"],
        "delivering"
    );

    let closed = owner
        .send(Method::POST, &format!("{base}/{a}/close"), &[], "")
        .await;
    assert_eq!(
        closed.status,
        200,
        "{}",
        String::from_utf8_lossy(&closed.body)
    );
    assert_eq!(closed.json()["state"], "delivered");
    let again = owner
        .send(Method::POST, &format!("{base}/{a}/close"), &[], "")
        .await;
    assert_eq!(
        again.json()["state"],
        "delivered",
        "closing twice is harmless"
    );
    owner
        .get(&format!("{base}/{a}"))
        .await
        .problem(404, "not-found");
    w.router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetched_but_unclosed_message_becomes_visible_again_after_the_visibility_timeout() {
    let w = mailbox_world().await;
    let owner = TestClient::new(&w.pki);
    let auth = format!("Bearer {TOKEN}");
    let (a, _) = submit(&w, "ags:14612000").await;
    let base = w.router.public_url("/v1/mailboxes/ags:14612000/messages");
    let get = |url: String| {
        let owner = &owner;
        let auth = auth.clone();
        async move {
            owner
                .send(Method::GET, &url, &[("authorization", auth.as_str())], "")
                .await
        }
    };
    assert_eq!(get(format!("{base}/{a}")).await.status, 200);
    assert!(ids(&get(base.clone()).await.json()).is_empty());
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(
        ids(&get(base.clone()).await.json()),
        vec![a.clone()],
        "visible again"
    );
    let refetch = get(format!("{base}/{a}")).await;
    assert_eq!(refetch.status, 200);
    let closed = owner
        .send(
            Method::POST,
            &format!("{base}/{a}/close"),
            &[("authorization", auth.as_str())],
            "",
        )
        .await;
    assert_eq!(closed.json()["state"], "delivered");
    w.router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anyone_but_the_owner_gets_the_same_403_and_learns_nothing() {
    let w = mailbox_world().await;
    let (a, _) = submit(&w, "ags:14612000").await;
    let base = w.router.public_url("/v1/mailboxes/ags:14612000/messages");
    let anonymous = TestClient::new(&w.pki);
    let portal = TestClient::with_client_cert(&w.pki, pki::PORTAL_TLS_CERT, pki::PORTAL_TLS_KEY);
    let mut bodies = Vec::new();
    for (client, headers) in [
        (&anonymous, vec![]),
        (&anonymous, vec![("authorization", "Bearer wrong-token")]),
        (&portal, vec![]),
    ] {
        for (method, url) in [
            (Method::GET, base.clone()),
            (Method::GET, format!("{base}/{a}")),
            (Method::POST, format!("{base}/{a}/close")),
            (
                Method::GET,
                w.router.public_url("/v1/mailboxes/ags:99999999/messages"),
            ),
        ] {
            let r = client.send(method, &url, &headers, "").await;
            let p = r.problem(403, "forbidden");
            bodies.push(p.to_string());
        }
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "identical answers reveal nothing: {bodies:?}"
    );
    assert_eq!(
        wait_state(&w.client, &w.router, &a, "queued", Duration::from_secs(1)).await["state"],
        "queued",
        "nothing was fetched or closed"
    );
    w.router.stop().await;
}
