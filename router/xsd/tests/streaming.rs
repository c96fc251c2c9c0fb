//! The event API the router uses (`Validator`), its limits, and the byte-level driver
//! (`validate_bytes`) and what it refuses.

mod common;

use common::{check, inline_schema};
use xoev_xsd::ViolationKind::*;
use xoev_xsd::{AttributeEvent, Limits, NamespaceScope, StartElement, Validator, validate_bytes};

const SCHEMA: &str = r#"
<xs:element name="r"><xs:complexType><xs:sequence>
  <xs:element name="a" type="xs:int" maxOccurs="unbounded"/>
  <xs:element name="q" type="xs:QName" minOccurs="0"/>
  <xs:element name="r" minOccurs="0" type="xs:anyType"/>
</xs:sequence><xs:attribute name="x" type="xs:int"/></xs:complexType></xs:element>"#;

/// A fixed set of bindings, as the router's tree would provide.
struct Bindings(&'static [(Option<&'static str>, &'static str)]);

impl NamespaceScope for Bindings {
    fn resolve(&self, prefix: Option<&str>) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(p, _)| *p == prefix)
            .map(|(_, u)| *u)
    }
    fn for_each_binding(&self, f: &mut dyn FnMut(Option<&str>, &str)) {
        for (p, u) in self.0 {
            f(*p, u);
        }
    }
}

const NS: Bindings = Bindings(&[(Some("t"), "urn:t")]);

fn start<'a>(local: &'a str, attributes: &'a [AttributeEvent<'a>], line: u32) -> StartElement<'a> {
    StartElement {
        namespace: Some("urn:t"),
        local_name: local,
        attributes,
        namespaces: &NS,
        line,
        column: 1,
    }
}

#[test]
fn events_from_a_tree_walk_validate_like_parsed_bytes() {
    let s = inline_schema(SCHEMA);
    let mut v = Validator::new(&s);
    let x = [AttributeEvent {
        namespace: None,
        local_name: "x",
        value: "7",
    }];
    v.start_element(&start("r", &x, 1)).expect("root");
    v.start_element(&start("a", &[], 2)).expect("a");
    v.text("4").expect("text");
    v.text("2").expect("text in pieces");
    v.end_element().expect("a ends");
    v.start_element(&start("q", &[], 3)).expect("q");
    v.text("t:name").expect("QName content");
    v.end_element()
        .expect("QName prefix resolves through the captured bindings");
    v.end_element().expect("r ends");
    assert_eq!(v.finish(), Ok(()));
}

#[test]
fn first_violation_is_reported_with_the_callers_position_and_then_repeated() {
    let s = inline_schema(SCHEMA);
    let mut v = Validator::new(&s);
    v.start_element(&start("r", &[], 1)).expect("root");
    v.start_element(&start("a", &[], 9)).expect("a");
    v.text("x").expect("text is buffered");
    let first = v.end_element().expect_err("not an int");
    assert_eq!(
        (first.kind, first.path.as_str(), first.line),
        (InvalidValue, "/r/a", 9)
    );
    assert_eq!(v.start_element(&start("a", &[], 10)), Err(first.clone()));
    assert_eq!(v.finish(), Err(first));
}

#[test]
fn finish_refuses_an_unfinished_document() {
    let s = inline_schema(SCHEMA);
    let mut v = Validator::new(&s);
    v.start_element(&start("r", &[], 1)).expect("root");
    let e = v.finish().expect_err("unfinished");
    assert_eq!(
        (e.kind, e.message.as_str()),
        (Malformed, "the document ended inside an element")
    );
}

#[test]
fn depth_and_text_limits_bound_the_validator_state() {
    let s = inline_schema(SCHEMA);
    let mut v = Validator::with_limits(
        &s,
        Limits {
            max_depth: 3,
            max_text: 8,
        },
    );
    v.start_element(&start("r", &[], 1)).expect("root");
    v.start_element(&start("a", &[], 2)).expect("a");
    v.text("1").expect("text");
    v.end_element().expect("a ends");
    v.start_element(&start("r", &[], 2)).expect("anyType child");
    v.start_element(&start("x", &[], 3)).expect("depth 3");
    assert_eq!(
        v.start_element(&start("y", &[], 4))
            .expect_err("too deep")
            .kind,
        LimitExceeded
    );

    let mut v = Validator::with_limits(
        &s,
        Limits {
            max_depth: 8,
            max_text: 8,
        },
    );
    v.start_element(&start("r", &[], 1)).expect("root");
    v.start_element(&start("a", &[], 2)).expect("a");
    v.text("12345").expect("within the limit");
    let e = v.text("67890").expect_err("over the limit");
    assert_eq!(
        (e.kind, e.message.as_str()),
        (LimitExceeded, "element text longer than 8 bytes")
    );
}

#[test]
fn undeclared_root_is_refused() {
    let s = inline_schema(SCHEMA);
    let e = validate_bytes(&s, b"<t:other xmlns:t='urn:t'/>").expect_err("undeclared");
    assert_eq!(e.kind, UndeclaredRoot);
    assert_eq!(
        e.to_string(),
        "/other (line 1, column 1): no global declaration for root element {urn:t}other"
    );
}

#[test]
fn bytes_driver_refuses_dtds_entities_and_foreign_encodings() {
    let s = inline_schema(SCHEMA);
    let cases: [(&[u8], &str); 6] = [
        (
            b"<!DOCTYPE t:r [<!ENTITY e 'v'>]><t:r xmlns:t='urn:t'/>",
            "not well-formed: a DOCTYPE is not allowed",
        ),
        (
            b"<t:r xmlns:t='urn:t'><t:a>&e;</t:a></t:r>",
            "not well-formed: undefined entity &e;",
        ),
        (
            b"<?xml version='1.0' encoding='ISO-8859-1'?><t:r xmlns:t='urn:t'/>",
            "not well-formed: encoding ISO-8859-1 (only UTF-8 is supported)",
        ),
        (
            b"<t:r xmlns:t='urn:t'><t:a>\xff</t:a></t:r>",
            "not well-formed: not UTF-8",
        ),
        (
            b"<t:r xmlns:t='urn:t'><t:a>1\x07</t:a></t:r>",
            "not well-formed: a character that XML does not allow",
        ),
        (
            b"<z:r xmlns:t='urn:t'/>",
            "not well-formed: unbound namespace prefix z",
        ),
    ];
    for (xml, message) in cases {
        let e = validate_bytes(&s, xml).expect_err("refused");
        assert_eq!((e.kind, e.message.as_str()), (Malformed, message));
    }
}

#[test]
fn references_and_cdata_are_part_of_the_value() {
    let s = inline_schema(SCHEMA);
    assert_eq!(
        check(&s, "<t:r NS><t:a>&#52;<![CDATA[2]]></t:a></t:r>"),
        Ok(())
    );
    assert_eq!(
        check(&s, "<t:r NS><t:a>4<!-- comment -->2</t:a></t:r>"),
        Ok(())
    );
    assert_eq!(check(&s, "<t:r NS x='&#x34;2'><t:a>1</t:a></t:r>"), Ok(()));
}

#[test]
fn accepts_child_tells_whether_the_content_model_allows_an_element_here() {
    let s = inline_schema(SCHEMA);
    let mut v = Validator::new(&s);
    assert!(v.accepts_child(Some("urn:t"), "r"));
    assert!(!v.accepts_child(Some("urn:t"), "a"));
    v.start_element(&start("r", &[], 1)).expect("root");
    assert!(v.accepts_child(Some("urn:t"), "a"));
    assert!(!v.accepts_child(Some("urn:t"), "q"));
    assert!(!v.accepts_child(Some("http://www.w3.org/2000/09/xmldsig#"), "Signature"));
    v.start_element(&start("a", &[], 2)).expect("a");
    assert!(
        !v.accepts_child(Some("urn:t"), "a"),
        "simple content takes no elements"
    );
}

/// Feeds a corpus message up to (not including) the end of its root element, then asks
/// whether an enveloped signature could follow.
fn signature_allowed_at_end_of(file: &str) -> bool {
    let rows = common::manifest();
    let schemas = common::schemas(&rows);
    let row = rows.iter().find(|r| r.file.ends_with(file)).expect("row");
    let (events, scope) = common::events::events(&common::read(&row.path()));
    let mut v = Validator::new(&schemas[&row.schema]);
    let root_end = events
        .iter()
        .rposition(|e| matches!(e, common::events::Ev::End))
        .expect("the root ends");
    for e in &events[..root_end] {
        common::events::feed(&mut v, e, &scope).expect("valid message");
    }
    v.accepts_child(Some("http://www.w3.org/2000/09/xmldsig#"), "Signature")
}

#[test]
fn only_the_transport_message_takes_an_enveloped_signature_in_its_schema() {
    assert!(
        signature_allowed_at_end_of("olb_report_minimal.xml"),
        "vorgang.transportieren.2010"
    );
    assert!(
        !signature_allowed_at_end_of("statusanfrage_2030.xml"),
        "vorgang.statusanfrage.2030"
    );
    assert!(
        !signature_allowed_at_end_of("rueckweisung_0010.xml"),
        "administration.rueckweisung.0010"
    );
}

#[test]
fn every_valid_corpus_message_validates_through_the_event_api() {
    let rows = common::manifest();
    let schemas = common::schemas(&rows);
    for row in rows.iter().filter(|r| r.expected_valid) {
        let (events, scope) = common::events::events(&common::read(&row.path()));
        let mut v = Validator::new(&schemas[&row.schema]);
        for e in &events {
            common::events::feed(&mut v, e, &scope).unwrap_or_else(|e| panic!("{}: {e}", row.file));
        }
        assert_eq!(v.finish(), Ok(()), "{}", row.file);
    }
}
