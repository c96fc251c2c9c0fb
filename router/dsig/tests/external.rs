//! Differential and interop checks against external tools. Ignored in plain
//! `cargo test`; `router/dsig/ci.sh` installs the tools and runs them with
//! `cargo test -p xoev-dsig --test external -- --ignored`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use xoev_dsig::c14n::{Method, canonicalize};
use xoev_dsig::{ReferenceTarget, SignOptions, SignatureAlgorithm, sign};

fn xml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data(dir))
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    files
}

fn run(cmd: &mut Command) -> std::process::Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

#[test]
#[ignore = "needs xmllint (libxml2-utils); run by router/dsig/ci.sh"]
fn c14n_equals_xmllint_byte_for_byte_on_the_corpus() {
    let mut files = xml_files("c14n-corpus");
    files.extend(xml_files("interop"));
    let mut compared = 0;
    for path in &files {
        let doc = parse(&std::fs::read(path).expect("read"));
        for (flag, method) in [
            (
                "--c14n",
                Method::Inclusive {
                    with_comments: true,
                },
            ),
            (
                "--exc-c14n",
                Method::Exclusive {
                    with_comments: true,
                    inclusive_prefixes: vec![],
                },
            ),
        ] {
            let expected = run(Command::new("xmllint").arg(flag).arg(path));
            assert!(
                expected.status.success(),
                "xmllint {flag} {}",
                path.display()
            );
            let mut ours = Vec::new();
            canonicalize(&doc, None, None, &method, &mut ours);
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&expected.stdout),
                "{flag} {}",
                path.display()
            );
            compared += 1;
        }
    }
    assert!(compared >= 2 * (14 + 3 + 72), "compared {compared}");
    println!("{compared} canonical forms equal to xmllint's");
}

/// Signs every corpus document with every combination; returns (file, key name).
fn sign_all(dir: &Path, keys: &[&str]) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let sources = xml_files("interop/src");
    for src in &sources {
        let input = std::fs::read(src).expect("read");
        let stem = src
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        for key_name in keys {
            for (c, method) in [
                (
                    "inc",
                    Method::Inclusive {
                        with_comments: false,
                    },
                ),
                (
                    "incc",
                    Method::Inclusive {
                        with_comments: true,
                    },
                ),
                (
                    "exc",
                    Method::Exclusive {
                        with_comments: false,
                        inclusive_prefixes: vec![],
                    },
                ),
                (
                    "excp",
                    Method::Exclusive {
                        with_comments: true,
                        inclusive_prefixes: vec!["#default".into(), "a".into()],
                    },
                ),
            ] {
                for (r, reference) in [
                    ("doc", ReferenceTarget::WholeDocument),
                    ("id", ReferenceTarget::RootId),
                ] {
                    let (key_file, algorithm) = match *key_name {
                        "rsa2048pss" => ("rsa2048", Some(SignatureAlgorithm::RsaPssSha256)),
                        "rsa3072sha512" => ("rsa3072", Some(SignatureAlgorithm::RsaSha512)),
                        k => (k, None),
                    };
                    let mut o = SignOptions::default();
                    o.c14n = method.clone();
                    o.reference = reference;
                    o.algorithm = algorithm;
                    let signed =
                        sign(&input, &key(key_file), Some(&cert(key_file)), &o).expect("sign");
                    let file = dir.join(format!("{stem}-{key_name}-{c}-{r}.xml"));
                    std::fs::write(&file, signed).expect("write");
                    out.push((file, key_file.to_owned()));
                }
            }
        }
    }
    out
}

#[test]
#[ignore = "needs xmlsec1; run by router/dsig/ci.sh"]
fn documents_signed_here_verify_with_xmlsec1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signed = sign_all(
        dir.path(),
        &["rsa2048", "rsa3072", "rsa3072sha512", "p256", "p384"],
    );
    let ca = data("keys/ca.cert.pem");
    for (file, _) in &signed {
        let id = if file.to_string_lossy().contains("xoev") {
            "ID"
        } else {
            "Id"
        };
        let node = match file.file_name().map(|n| n.to_string_lossy().into_owned()) {
            Some(n) if n.starts_with("namespaces") => "urn:xoev-de:test:nachricht:nachricht",
            Some(n) if n.starts_with("crlf") => "urn:xoev-de:test:crlf:nachricht",
            _ => "http://www.xwasser.de/1.0:wasser.antrag.0101",
        };
        let out = run(Command::new("xmlsec1")
            .arg("--verify")
            .arg("--trusted-pem")
            .arg(&ca)
            .arg(format!("--id-attr:{id}"))
            .arg(node)
            .arg(file));
        assert!(
            out.status.success(),
            "xmlsec1 rejects {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    println!("{} documents signed here verified by xmlsec1", signed.len());
}

#[test]
#[ignore = "needs java (JDK 17+); run by router/dsig/ci.sh"]
fn documents_signed_here_verify_with_the_jdk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signed = sign_all(dir.path(), &["ed25519", "rsa2048pss", "p256", "rsa3072"]);
    let tool = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop/XmlDsigTool.java");
    let mut cmd = Command::new("java");
    cmd.arg(tool).arg("verify");
    for (file, key_file) in &signed {
        cmd.arg(data(&format!("keys/{key_file}.cert.pem")))
            .arg(file);
    }
    let out = run(&mut cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "JDK rejects some documents:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("OK ")).count(),
        signed.len(),
        "{stdout}"
    );
    println!("{} documents signed here verified by the JDK", signed.len());
}
