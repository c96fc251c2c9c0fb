//! Corruption, as an operator meets it: a damaged payload goes to the dead letters,
//! `/admin/quarantine` (and `xoev-router quarantine`) shows what was moved aside, and
//! `xoev-router quarantine forget` removes it once looked at.

use std::time::Duration;

use crate::common::*;

fn config(unreachable_port: u16) -> String {
    format!(
        r#"
[router]
id = "router.test"
data_dir = "data"

[delivery.retry]
min_delay = "50ms"
max_delay = "100ms"

[[senders]]
id = "portal"
signing_certificates = ["pki/sample-portal-signing.crt"]
authors = ["psw:*"]

[[destinations]]
id = "down"
adapter = "http"
url = "http://127.0.0.1:{unreachable_port}/inbox"

[[routes]]
leser = "ags:08*"
destination = "down"
"#
    )
}

/// Flips one byte of the only non-empty payload segment, inside the payload.
fn damage_the_payload(data_dir: &std::path::Path) {
    let dir = data_dir.join("queue").join("segments");
    let segment = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
        .unwrap_or_else(|| panic!("no payload segment with bytes in {}", dir.display()));
    let mut bytes = std::fs::read(&segment).unwrap();
    // A frame is magic (4) ‖ id (16) ‖ len (8) ‖ crc (4) ‖ payload: byte 100 is payload.
    bytes[100] ^= 0xff;
    std::fs::write(&segment, bytes).unwrap();
}

#[tokio::test]
async fn a_damaged_payload_goes_to_the_dead_letters_and_its_pointer_is_listed_and_forgotten_once() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = TestPki::new(tmp.path());
    let client = TestClient::new(&pki);
    let config = config(free_port());
    let id = new_id();

    let router = TestRouter::start(&config, tmp.path()).await;
    let empty = client.get(&router.admin_url("/admin/quarantine")).await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.json()["total"], 0);
    let signed = pki.sign(&message(&id, "ags:08111000", "psw:01001"));
    post_accepted(&client, &router, signed).await;
    let data_dir = router.data_dir.clone();
    router.stop().await;

    damage_the_payload(&data_dir);
    let router = TestRouter::start(&config, tmp.path()).await;
    let dead = wait_state(&client, &router, &id, "dead", Duration::from_secs(10)).await;
    assert_eq!(
        dead["last_error"], "payload missing or corrupt",
        "status: {dead}"
    );
    let listed = client.get(&router.admin_url("/admin/quarantine")).await;
    assert_eq!(listed.status, 200);
    let v = listed.json();
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(v["items"][0]["tree"], "payloads", "{v}");
    assert_eq!(v["items"][0]["message_id"], id.as_str(), "{v}");

    let key = v["items"][0]["key"].as_str().unwrap_or_default().to_owned();

    let admin = router.admin_url("");
    let out = cli(&admin, &["quarantine"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.starts_with("1 value(s) in quarantine\n"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("payloads") && l.contains(&id)),
        "{stdout}"
    );

    // The operator has looked at it: forget it, once.
    let out = cli(&admin, &["quarantine", "forget", "payloads", &key]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(stdout, format!("forgotten: payloads {key}\n"));
    let after = client.get(&router.admin_url("/admin/quarantine")).await;
    assert_eq!(after.json()["total"], 0);
    let again = cli(&admin, &["quarantine", "forget", "payloads", &key]).await;
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(
        stderr,
        format!("xoev-router: 404: nothing in quarantine under payloads {key}\n")
    );
    let bad = client
        .send(
            http::Method::DELETE,
            &router.admin_url("/admin/quarantine/payloads/xyz"),
            &[],
            "",
        )
        .await;
    bad.problem(400, "bad-request");
    router.stop().await;
}

async fn cli(admin: &str, args: &[&str]) -> std::process::Output {
    let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    all.extend(["--admin".to_owned(), admin.to_owned()]);
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_xoev-router"))
            .args(&all)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}
