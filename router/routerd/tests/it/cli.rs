//! The `xoev-router` command line, run as a real process.

use std::process::{Command, Output};
use std::time::Duration;

use crate::common::*;
use crate::end_to_end::world;
use xoev_routerd::pki;

fn xoev(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xoev-router"))
        .args(args)
        .output()
        .expect("run xoev-router")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn one_line(s: &str) -> bool {
    s.trim_end().lines().count() == 1
}

#[test]
fn sign_then_verify_succeeds_and_a_tampered_copy_fails_with_one_line_and_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = TestPki::new(tmp.path());
    let input = tmp.path().join("m.xml");
    std::fs::write(&input, message(&new_id(), "ags:08111000", "psw:01003110")).unwrap();
    let key = pki.path(pki::PORTAL_SIGNING_KEY);
    let cert = pki.path(pki::PORTAL_SIGNING_CERT);
    let out = xoev(&[
        "sign",
        "--key",
        key.to_str().unwrap(),
        "--cert",
        cert.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let signed = tmp.path().join("signed.xml");
    std::fs::write(&signed, &out.stdout).unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("<ds:Signature"),
        "enveloped signature appended"
    );

    let trust = tmp.path().join("trust");
    std::fs::create_dir(&trust).unwrap();
    std::fs::copy(&cert, trust.join("portal.crt")).unwrap();
    let ok = xoev(&[
        "verify",
        "--trust",
        trust.to_str().unwrap(),
        signed.to_str().unwrap(),
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("valid: signed by"));

    let tampered = tmp.path().join("tampered.xml");
    std::fs::write(
        &tampered,
        String::from_utf8_lossy(&out.stdout).replace("ags:08111000", "ags:08111001"),
    )
    .unwrap();
    let bad = xoev(&[
        "verify",
        "--trust",
        trust.to_str().unwrap(),
        tampered.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        one_line(&stderr(&bad)) && stderr(&bad).starts_with("invalid: "),
        "{}",
        stderr(&bad)
    );

    // Trusting another certificate: the embedded certificate proves nothing by itself.
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::copy(pki.path(pki::AUTHORITY_CERT), other.join("a.crt")).unwrap();
    let untrusted = xoev(&[
        "verify",
        "--trust",
        other.to_str().unwrap(),
        signed.to_str().unwrap(),
    ]);
    assert_eq!(untrusted.status.code(), Some(1), "{}", stderr(&untrusted));
}

#[test]
fn validate_exits_0_for_valid_1_with_the_first_violation_and_2_for_a_broken_schema() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/xwasser-1.0.0");
    let xsd = root.join("V1_0_0/xwasser-vorgang.xsd");
    let catalog = root.join("catalog.xml");
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.xml");
    std::fs::write(&good, message(&new_id(), "ags:08111000", "psw:01003110")).unwrap();
    let bad = tmp.path().join("bad.xml");
    std::fs::write(
        &bad,
        message(&new_id(), "ags:08111000", "psw:01003110")
            .replace("<code>2030</code>", "<code>2050</code>"),
    )
    .unwrap();
    let args = |f: &std::path::Path| -> Vec<String> {
        vec![
            "validate".into(),
            "--schema".into(),
            xsd.display().to_string(),
            "--catalog".into(),
            catalog.display().to_string(),
            f.display().to_string(),
        ]
    };
    let run = |a: Vec<String>| xoev(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let ok = run(args(&good));
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}{}",
        stderr(&ok),
        String::from_utf8_lossy(&ok.stdout)
    );
    let no = run(args(&bad));
    assert_eq!(no.status.code(), Some(1));
    let out = String::from_utf8_lossy(&no.stdout);
    assert!(one_line(&out) && out.contains("line "), "{out}");
    let broken = tmp.path().join("broken.xsd");
    std::fs::write(&broken, "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"><xs:element name=\"a\" type=\"xs:nope\"/></xs:schema>").unwrap();
    let e = xoev(&[
        "validate",
        "--schema",
        broken.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(e.status.code(), Some(2), "{}", stderr(&e));
    assert!(
        one_line(&stderr(&e)) && stderr(&e).contains("broken.xsd"),
        "{}",
        stderr(&e)
    );
}

#[test]
fn usage_errors_exit_2_with_a_one_line_cause() {
    let missing = xoev(&["verify", "--trust", "/nonexistent", "/nonexistent.xml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(one_line(&stderr(&missing)), "{}", stderr(&missing));
    assert!(stderr(&missing).starts_with("xoev-router: "));
    let bad_key = xoev(&["sign", "--key", "/nonexistent.key", "/nonexistent.xml"]);
    assert_eq!(bad_key.status.code(), Some(2));
    assert!(one_line(&stderr(&bad_key)));
    let bad_config = xoev(&["serve", "--config", "/nonexistent/router.toml"]);
    assert_eq!(bad_config.status.code(), Some(2));
    assert!(
        stderr(&bad_config).contains("cannot read config file /nonexistent/router.toml"),
        "{}",
        stderr(&bad_config)
    );
}

#[test]
fn every_subcommand_has_help() {
    for sub in [
        "serve", "sign", "verify", "validate", "certs", "status", "queue", "dead", "routes",
        "message",
    ] {
        let o = xoev(&[sub, "--help"]);
        assert!(o.status.success(), "{sub} --help");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Usage:"),
            "{sub}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_list_show_replay_and_purge_dead_letters() {
    let w = world().await;
    w.bw.inbox.set_mode(xoev_mock_authority::Mode::Fail {
        status: 400,
        retry_after: None,
    });
    let ids: Vec<String> = (0..2).map(|_| new_id()).collect();
    for id in &ids {
        let a = w
            .client
            .post_xml(
                &w.router.public_url("/v1/messages"),
                w.pki.sign(&message(id, "ags:08111000", "psw:01003110")),
            )
            .await;
        assert_eq!(a.status, 202);
        wait_state(&w.client, &w.router, id, "dead", Duration::from_secs(10)).await;
    }
    let admin = format!("http://{}", w.router.admin);
    let run = |args: Vec<String>| async move {
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            xoev(&a)
        })
        .await
        .unwrap()
    };
    let list = run(vec![
        "dead".into(),
        "list".into(),
        "--admin".into(),
        admin.clone(),
    ])
    .await;
    assert!(list.status.success(), "{}", stderr(&list));
    let text = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(ids.iter().all(|id| text.contains(id.as_str())), "{text}");
    assert!(text.contains("answered 400"), "reason shown: {text}");

    let show = run(vec![
        "dead".into(),
        "show".into(),
        ids[0].clone(),
        "--admin".into(),
        admin.clone(),
    ])
    .await;
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(v["state"], "dead");
    assert!(
        v["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "attempt-started")
    );

    w.bw.inbox.set_mode(xoev_mock_authority::Mode::Accept);
    let replay = run(vec![
        "dead".into(),
        "replay".into(),
        ids[0].clone(),
        "--admin".into(),
        admin.clone(),
    ])
    .await;
    assert!(replay.status.success(), "{}", stderr(&replay));
    wait_delivered(&w.client, &w.router, &ids[0]).await;
    assert_eq!(w.bw.inbox.count(&ids[0]), 1);

    let again = run(vec![
        "dead".into(),
        "replay".into(),
        ids[0].clone(),
        "--admin".into(),
        admin.clone(),
    ])
    .await;
    assert_eq!(
        again.status.code(),
        Some(1),
        "replaying a delivered message is refused"
    );
    assert!(one_line(&stderr(&again)), "{}", stderr(&again));

    let purge = run(vec![
        "dead".into(),
        "purge".into(),
        ids[1].clone(),
        "--admin".into(),
        admin.clone(),
    ])
    .await;
    assert!(purge.status.success(), "{}", stderr(&purge));
    assert_eq!(
        w.client
            .get(&w.router.public_url(&format!("/v1/messages/{}", ids[1])))
            .await
            .status,
        404
    );

    let route = run(vec![
        "routes".into(),
        "resolve".into(),
        "ags:09162000".into(),
        "--admin".into(),
        admin.clone(),
    ])
    .await;
    assert_eq!(String::from_utf8_lossy(&route.stdout).trim(), "by");
    let unroutable = run(vec![
        "routes".into(),
        "resolve".into(),
        "ags:14612000".into(),
        "--admin".into(),
        admin.clone(),
    ])
    .await;
    assert_eq!(unroutable.status.code(), Some(1));

    let queue = run(vec!["queue".into(), "--admin".into(), admin.clone()]).await;
    assert!(String::from_utf8_lossy(&queue.stdout).contains("bw"));
    let down = run(vec![
        "status".into(),
        "--admin".into(),
        "http://127.0.0.1:9".into(),
    ])
    .await;
    assert_eq!(down.status.code(), Some(2));
    assert!(one_line(&stderr(&down)), "{}", stderr(&down));
    w.router.stop().await;
}

/// A router process that a failing test does not leave behind.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `public` and `admin` addresses from `serve`'s banner on `stdout`.
fn banner_addresses(stdout: std::process::ChildStdout) -> (String, String) {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let (mut public, mut admin) = (None, None);
    while public.is_none() || admin.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("serve printed its banner");
        let addr = |prefix: &str| {
            line.trim_start()
                .strip_prefix(prefix)
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_owned)
        };
        public = public.or(addr("public  https://"));
        admin = admin.or(addr("admin   http://"));
    }
    (public.unwrap(), admin.unwrap())
}

/// A `xoev-router serve` started by a test, with the addresses from its banner.
struct Served {
    child: KillOnDrop,
    public: String,
    admin: String,
}

fn serve(args: &[String], log: &std::path::Path) -> Served {
    let log = std::fs::File::create(log).unwrap();
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_xoev-router"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start xoev-router serve"),
    );
    let (public, admin) = banner_addresses(child.0.stdout.take().unwrap());
    Served {
        child,
        public,
        admin: format!("http://{admin}"),
    }
}

/// `xoev-router status` until it exits 0 (30 s at most); its last output.
fn wait_until_ready(admin_url: &str) -> Output {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let o = xoev(&["status", "--admin", admin_url]);
        if o.status.code() == Some(0) || std::time::Instant::now() > deadline {
            return o;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM; the exit code.
fn terminate(served: &mut Served) -> Option<i32> {
    let pid = served.child.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    served.child.0.wait().unwrap().code()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_listens_where_its_flags_say_and_status_exits_0_once_ready() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let args: Vec<String> = ["serve", "--data-dir", data.to_str().unwrap()]
        .into_iter()
        .chain(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .map(str::to_owned)
        .collect();
    let mut served = serve(&args, &tmp.path().join("serve.log"));
    // Port 0 was asked for: the embedded default's 8443 and 9464 mean a flag was ignored.
    assert!(!served.public.ends_with(":8443"), "{}", served.public);
    assert!(!served.admin.ends_with(":9464"), "{}", served.admin);
    let status = wait_until_ready(&served.admin);
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    assert!(
        String::from_utf8_lossy(&status.stdout).contains(": ready"),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );

    // The embedded default's sample goes through the overridden public listener.
    let pki = TestPki {
        dir: data.join("pki"),
    };
    let sample = std::fs::read(data.join("samples/sample-message.xml")).unwrap();
    let a = TestClient::new(&pki)
        .post_xml(&format!("https://{}/v1/messages", served.public), sample)
        .await;
    assert_eq!(a.status, 202, "{}", a.json());

    assert_eq!(terminate(&mut served), Some(0));
    let gone = xoev(&["status", "--admin", &served.admin]);
    assert_eq!(gone.status.code(), Some(2), "no answer: exit 2");
    assert!(one_line(&stderr(&gone)), "{}", stderr(&gone));
}

/// The container's command line, run here: CI has no Docker daemon, so this keeps the
/// image's `CMD` and health checks in step with the binary's flags (`.ci/compose-check.sh`
/// runs the image itself where Docker is available).
#[test]
fn the_images_command_starts_a_router_that_its_health_check_reports_ready() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let compose = std::fs::read_to_string(root.join("docker-compose.yml")).unwrap();
    let exec_form = |instruction: &str| -> Vec<String> {
        let line = dockerfile
            .lines()
            .find_map(|l| l.strip_prefix(instruction))
            .unwrap_or_else(|| panic!("no {instruction} in the Dockerfile"));
        serde_json::from_str(line.trim()).expect("exec form: a JSON array")
    };
    assert_eq!(exec_form("ENTRYPOINT "), ["xoev-router"]);
    let health = "xoev-router status >/dev/null || exit 1";
    assert!(
        dockerfile.contains(&format!("CMD {health}")),
        "Dockerfile HEALTHCHECK"
    );
    assert!(
        compose.contains(&format!(r#"["CMD-SHELL", "{health}"]"#)),
        "docker-compose.yml health check"
    );

    // The image's data directory and port, mapped to this test's; the admin listener is
    // the container's own loopback there, and may be taken here.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let cmd = exec_form("CMD ");
    let mut args: Vec<String> = cmd
        .iter()
        .map(|a| match a.as_str() {
            "/var/lib/xoev-router" => data.to_str().unwrap().to_owned(),
            "0.0.0.0:8443" => "127.0.0.1:0".to_owned(),
            other => other.to_owned(),
        })
        .collect();
    assert!(
        args.contains(&"127.0.0.1:0".to_owned())
            && data.to_str().is_some_and(|d| args.iter().any(|a| a == d)),
        "the image's CMD no longer names its data directory and listener: {cmd:?}"
    );
    args.extend(["--admin-listen".to_owned(), "127.0.0.1:0".to_owned()]);
    let mut served = serve(&args, &tmp.path().join("serve.log"));
    let status = wait_until_ready(&served.admin);
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));

    // The health check as Docker runs it: a shell, the admin address from the environment.
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_xoev-router"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let check = |admin: &str| {
        Command::new("sh")
            .args(["-c", health])
            .env("PATH", &path)
            .env("XOEV_ROUTER_ADMIN", admin)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(check(&served.admin), Some(0), "healthy while ready");
    assert_eq!(terminate(&mut served), Some(0));
    assert_eq!(
        check(&served.admin),
        Some(1),
        "unhealthy, never Docker's reserved 2"
    );
}

#[test]
fn status_exits_1_when_the_router_answers_not_ready() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let admin = format!("http://{}", listener.local_addr().unwrap());
    // An admin listener that is shutting down: /readyz 503, the queues still listed.
    std::thread::spawn(move || {
        for stream in listener.incoming().take(2) {
            let mut s = stream.unwrap();
            let mut buf = [0u8; 2048];
            let n = s.read(&mut buf).unwrap();
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            let (status, body) = if request.starts_with("GET /readyz") {
                (
                    "503 Service Unavailable",
                    "not ready: the queue's disk is not answering (a sync of the queue log has been running for 21 s)\n".to_owned(),
                )
            } else {
                (
                    "200 OK",
                    r#"[{"destination":"d","adapter":"file","queued":3}]"#.to_owned(),
                )
            };
            write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
        }
    });
    let o = xoev(&["status", "--admin", &admin]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    assert!(
        out.starts_with(&format!(
            "router at {admin}: not ready: the queue's disk is not answering (a sync of the queue log has been running for 21 s)\n"
        )),
        "the cause is printed: {out}"
    );
    assert!(out.contains("d "), "the queues are still printed: {out}");
}

#[test]
fn serve_refuses_an_admin_listener_off_loopback_given_on_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let o = xoev(&[
        "serve",
        "--data-dir",
        tmp.path().join("data").to_str().unwrap(),
        "--admin-listen",
        "0.0.0.0:0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(one_line(&stderr(&o)), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "embedded default with --admin-listen: admin.listen 0.0.0.0:0 is not a loopback address"
        ),
        "{}",
        stderr(&o)
    );
    assert!(
        !tmp.path().join("data").exists(),
        "a refused configuration writes nothing"
    );
}

#[test]
fn output_to_a_pipe_nobody_reads_is_dropped_without_a_panic() {
    // `xoev-router dead list | head`: the reader leaves early. Here it left before the start.
    let tmp = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_xoev-router"))
        .args(["certs", "--out"])
        .arg(tmp.path().join("pki"))
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(tmp.path().join("pki").join("ca.crt").exists());
}
