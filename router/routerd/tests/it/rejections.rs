//! Every rejection class: the exact status and problem type, and nothing stored.

use bytes::Bytes;
use http::Method;

use crate::common::*;
use crate::end_to_end::world;
use xoev_queue::MessageStore;
use xoev_routerd::pki;

const AUTOR: &str = "psw:01003110";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_rejection_class_has_its_exact_status_and_problem_type() {
    let w = world().await;
    let url = w.router.public_url("/v1/messages");
    let post = |body: Vec<u8>| {
        let c = &w.client;
        let url = url.clone();
        async move { c.post_xml(&url, body).await }
    };

    // too-large: declared by Content-Length, refused before the body is read.
    let big = vec![b' '; 300 * 1024];
    post(big).await.problem(413, "too-large");

    // unsupported-media-type
    let id = new_id();
    let signed = w.pki.sign(&message(&id, "ags:08111000", AUTOR));
    w.client
        .send(
            Method::POST,
            &url,
            &[("content-type", "application/json")],
            signed.clone(),
        )
        .await
        .problem(415, "unsupported-media-type");
    w.client
        .send(Method::POST, &url, &[], signed.clone())
        .await
        .problem(415, "unsupported-media-type");

    // malformed-xml, with the position
    let p = post(b"<a><b></a>".to_vec())
        .await
        .problem(400, "malformed-xml");
    assert!(p["line"].as_u64().is_some(), "{p}");

    // forbidden-xml-construct: DOCTYPE, entity declarations (billion laughs), external entities
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><lolz>&lol2;</lolz>"#;
    post(laughs.as_bytes().to_vec())
        .await
        .problem(400, "forbidden-xml-construct");
    let xxe =
        r#"<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><m>&x;</m>"#;
    post(xxe.as_bytes().to_vec())
        .await
        .problem(400, "forbidden-xml-construct");
    post(b"<m>&undefined;</m>".to_vec())
        .await
        .problem(400, "forbidden-xml-construct");
    let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
    post(deep.into_bytes())
        .await
        .problem(400, "forbidden-xml-construct");

    // signature-invalid: unsigned, and tampered after signing
    post(message(&new_id(), "ags:08111000", AUTOR).into_bytes())
        .await
        .problem(400, "signature-invalid");
    let tampered = String::from_utf8(w.pki.sign(&message(&new_id(), "ags:08111000", AUTOR)))
        .unwrap()
        .replace("ags:08111000", "ags:09162000");
    post(tampered.into_bytes())
        .await
        .problem(400, "signature-invalid");

    // signer-untrusted: signed with a key no sender registered
    let stranger = w.pki.sign_with(
        &message(&new_id(), "ags:08111000", AUTOR),
        pki::AUTHORITY_KEY,
        pki::AUTHORITY_CERT,
    );
    post(stranger).await.problem(403, "signer-untrusted");

    // author-not-allowed: the portal may author as psw:* only
    let spoofed = w
        .pki
        .sign(&message(&new_id(), "ags:08111000", "ags:08111000"));
    let p = post(spoofed).await.problem(403, "author-not-allowed");
    assert_eq!(p["autor"], "ags:08111000");

    // invalid-header: naming the field
    let bad_uuid = w.pki.sign(&message("not-a-uuid", "ags:08111000", AUTOR));
    let p = post(bad_uuid).await.problem(400, "invalid-header");
    assert_eq!(p["field"], "nachrichtenUUID");
    let bad_kennung = w.pki.sign(&message(&new_id(), "08111000", AUTOR));
    let p = post(bad_kennung).await.problem(400, "invalid-header");
    assert_eq!(p["field"], "leser/kennung");

    // schema-invalid: a required element missing, naming the path and position
    let no_vorgangs_id = message(&new_id(), "ags:08111000", AUTOR).replace(
        "<xwas:vorgangsID>5e08e073-4e06-438d-9444-1275f6cbf061</xwas:vorgangsID>",
        "",
    );
    let p = post(w.pki.sign(&no_vorgangs_id))
        .await
        .problem(422, "schema-invalid");
    assert!(
        p["path"]
            .as_str()
            .unwrap()
            .ends_with("/identifikationVorgang/aktenzeichen"),
        "{p}"
    );
    assert!(
        p["line"].as_u64().is_some() && p["expected"].as_str().is_some(),
        "{p}"
    );
    // schema-invalid: a message type the catalogue does not list is never accepted by accident
    let unknown_type = message(&new_id(), "ags:08111000", AUTOR)
        .replace("vorgang.statusanfrage.2030", "vorgang.erfunden.9999");
    let p = post(w.pki.sign(&unknown_type))
        .await
        .problem(422, "schema-invalid");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("no schema is registered"),
        "{p}"
    );

    // stale-message: dated before the deduplication window (a replay), or far in the future
    let old = w.pki.sign(&message_at(
        &new_id(),
        "ags:08111000",
        AUTOR,
        "2020-01-01T00:00:00Z",
    ));
    let p = post(old).await.problem(422, "stale-message");
    assert_eq!(p["field"], "erstellungszeitpunkt");
    let future = w.pki.sign(&message_at(
        &new_id(),
        "ags:08111000",
        AUTOR,
        "2099-01-01T00:00:00",
    ));
    post(future).await.problem(422, "stale-message");

    // unroutable: nobody serves Saxony here
    let p = post(w.pki.sign(&message(&new_id(), "ags:14612000", AUTOR)))
        .await
        .problem(422, "unroutable");
    assert_eq!(p["leser"], "ags:14612000");

    // duplicate-conflict: same id, different bytes
    let id = new_id();
    assert_eq!(
        post(w.pki.sign(&message(&id, "ags:08111000", AUTOR)))
            .await
            .status,
        202
    );
    let other = w
        .pki
        .sign(&message(&id, "ags:08111000", AUTOR).replace("GU-TW", "GU-XX"));
    post(other).await.problem(409, "duplicate-conflict");

    // not-found and method-not-allowed
    w.client
        .get(&w.router.public_url("/v2/nothing"))
        .await
        .problem(404, "not-found");
    let a = w.client.send(Method::DELETE, &url, &[], Bytes::new()).await;
    a.problem(405, "method-not-allowed");
    assert_eq!(a.headers["allow"], "POST");
    w.client
        .get(&w.router.public_url("/v1/messages/not-a-uuid"))
        .await
        .problem(400, "bad-request");
    w.client
        .get(&w.router.public_url(&format!("/v1/messages/{}", new_id())))
        .await
        .problem(404, "not-found");

    // Nothing rejected was stored: only the one accepted message is there.
    let depths = w.router.app.store.depths();
    let total: u64 = depths
        .values()
        .map(|d| d.queued + d.delivering + d.dead)
        .sum();
    let delivered = w.bw.inbox.distinct() as u64;
    assert_eq!(
        total + delivered,
        1,
        "exactly one message was accepted: {depths:?}"
    );
    w.router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_body_over_the_limit_is_cut_off_with_too_large() {
    let w = world().await;
    // 1 MiB without Content-Length against a 256 KiB limit: the router stops reading.
    let body = http_body_util::BodyExt::boxed(Chunks(64));
    let a = w
        .client
        .send_body(
            Method::POST,
            &w.router.public_url("/v1/messages"),
            &[("content-type", "application/xml")],
            body,
        )
        .await;
    a.problem(413, "too-large");
    w.router.stop().await;
}
