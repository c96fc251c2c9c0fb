//! No input makes validation panic: random edits of corpus messages and arbitrary bytes go
//! through `validate_bytes`, and arbitrary patterns through schema compilation.

mod common;

use proptest::prelude::*;
use xoev_xsd::validate_bytes;

fn corpus_message() -> Vec<u8> {
    common::read(&common::corpus_dir().join("instances/nachricht_2020.xml"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn edited_messages_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8)) {
        static SCHEMA: std::sync::OnceLock<xoev_xsd::Schema> = std::sync::OnceLock::new();
        let schema = SCHEMA.get_or_init(|| {
            let rows = common::manifest();
            let row = rows.iter().find(|r| r.file.ends_with("nachricht_2020.xml")).expect("row");
            xoev_xsd::Schema::compile_file(&row.schema_path(), Some(&common::catalog())).expect("schema")
        });
        let mut bytes = corpus_message();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len().max(1));
            match op {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.insert(i.min(bytes.len()), byte),
                _ if i < bytes.len() => { bytes.remove(i); }
                _ => {}
            }
        }
        let _ = validate_bytes(schema, &bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let schema = common::inline_schema("<xs:element name=\"r\"/>");
        let _ = validate_bytes(&schema, &bytes);
    }

    #[test]
    fn arbitrary_patterns_compile_or_are_refused_without_panic(pattern in "[-a-z0-9\\\\\\[\\]{}(),|.*+?^$ipcdsw{}]{0,24}") {
        let escaped = pattern.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
        let _ = common::try_inline_schema(&format!(
            "<xs:simpleType name=\"s\"><xs:restriction base=\"xs:string\"><xs:pattern value=\"{escaped}\"/></xs:restriction></xs:simpleType>"
        ));
    }
}
