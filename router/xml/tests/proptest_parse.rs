//! Parsing arbitrary input never panics, and well-formed generated
//! documents keep their text and attributes exactly.

use proptest::prelude::*;
use xoev_xml::{Limits, parse};

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes, &Limits::default());
    }

    #[test]
    fn markup_like_strings_never_panic(s in "[<>/?!&;#x=\"' a-z:\\-\\[\\]CDATOYP0-9\u{e4}\r\n]{0,200}") {
        let _ = parse(s.as_bytes(), &Limits::default());
    }

    #[test]
    fn escaped_text_and_attributes_round_trip(text in "[^\u{0}-\u{8}\u{b}\u{c}\u{e}-\u{1f}\u{fffe}\u{ffff}\r]{0,64}", attr in "[a-zA-Z0-9 äß<>&\"']{0,32}") {
        let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
        let xml = format!("<r a=\"{}\">{}</r>", esc(&attr), esc(&text));
        let doc = parse(xml.as_bytes(), &Limits::default()).expect("well-formed");
        prop_assert_eq!(doc.root().text(), text);
        prop_assert_eq!(doc.root().attribute(None, "a"), Some(attr.as_str()));
    }
}
