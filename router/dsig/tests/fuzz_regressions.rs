//! Every kept fuzz input runs through parse, all C14N methods and verify
//! without panicking; the known forgeries are refused.

mod common;

use common::*;
use xoev_dsig::c14n::{Method, canonicalize};
use xoev_dsig::verify;

#[test]
fn kept_fuzz_inputs_never_panic_and_never_verify() {
    let mut trust = xoev_dsig::TrustStore::new();
    trust
        .add_pinned_public_key(&key("ed25519").public_key_spki_der(), "fuzz")
        .expect("pin");
    let dir = data("fuzz-regressions");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("dir").filter_map(Result::ok) {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "md") {
            continue;
        }
        seen += 1;
        let bytes = std::fs::read(&path).expect("read");
        let Ok(doc) = xoev_xml::parse(&bytes, &xoev_xml::Limits::default()) else {
            continue;
        };
        for method in [
            Method::Inclusive {
                with_comments: true,
            },
            Method::Exclusive {
                with_comments: false,
                inclusive_prefixes: vec!["#default".into()],
            },
        ] {
            let mut out = Vec::new();
            canonicalize(&doc, None, None, &method, &mut out);
            for e in doc.root().descendants() {
                out.clear();
                canonicalize(&doc, Some(e.id()), Some(doc.root().id()), &method, &mut out);
                canonicalize(&doc, Some(doc.root().id()), Some(e.id()), &method, &mut out);
            }
        }
        assert!(
            verify(&doc, &trust, &opts()).is_err(),
            "{} must not verify",
            path.display()
        );
    }
    assert!(seen >= 4);
}
