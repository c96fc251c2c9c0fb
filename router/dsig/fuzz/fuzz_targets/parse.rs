//! Parsing untrusted bytes never panics, and a parsed tree is consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = xoev_xml::parse(data, &xoev_xml::Limits::default()) {
        let root = doc.root();
        for e in root.descendants() {
            assert!(root.contains(e.id()));
            let _ = (e.text(), e.lookup_namespace(None), e.attributes().count());
        }
    }
});
