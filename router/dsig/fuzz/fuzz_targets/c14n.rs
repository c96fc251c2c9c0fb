//! Canonicalization of any parsed document, any apex and any excluded
//! subtree, never panics; the canonical form parses again and is a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xoev_dsig::c14n::{canonicalize, Method};

fuzz_target!(|data: &[u8]| {
    let limits = xoev_xml::Limits::default();
    let Ok(doc) = xoev_xml::parse(data, &limits) else { return };
    let methods = [
        Method::Inclusive { with_comments: true },
        Method::Inclusive { with_comments: false },
        Method::Exclusive { with_comments: true, inclusive_prefixes: vec![] },
        Method::Exclusive { with_comments: false, inclusive_prefixes: vec!["#default".into(), "a".into()] },
    ];
    let elements: Vec<_> = std::iter::once(doc.root()).chain(doc.root().descendants()).take(8).collect();
    for method in &methods {
        let mut whole = Vec::new();
        canonicalize(&doc, None, None, method, &mut whole);
        // Canonical XML is well-formed, and canonicalizing it again changes
        // nothing (for the whole document, with comments kept).
        let again = xoev_xml::parse(&whole, &limits).expect("canonical form parses");
        if method.with_comments() {
            let mut twice = Vec::new();
            canonicalize(&again, None, None, method, &mut twice);
            assert_eq!(whole, twice, "canonical form is not a fixed point");
        }
        for apex in &elements {
            for exclude in &elements {
                let mut out = Vec::new();
                canonicalize(&doc, Some(apex.id()), Some(exclude.id()), method, &mut out);
            }
        }
    }
});
