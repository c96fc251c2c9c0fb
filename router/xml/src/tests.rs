use crate::{Limits, Node, XmlError, XmlErrorCategory, parse};

fn doc(s: &str) -> crate::Document {
    match parse(s.as_bytes(), &Limits::default()) {
        Ok(d) => d,
        Err(e) => panic!("parse failed: {e}"),
    }
}

fn err(s: &str) -> XmlError {
    match parse(s.as_bytes(), &Limits::default()) {
        Ok(_) => panic!("expected an error for {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn reads_names_namespaces_and_attributes_in_written_order() {
    let d = doc(r#"<a:r xmlns:a="urn:a" xmlns="urn:d" z="1" a:y="2"><c>t</c></a:r>"#);
    let root = d.root();
    assert_eq!(root.local_name(), "r");
    assert_eq!(root.prefix(), Some("a"));
    assert_eq!(root.namespace(), Some("urn:a"));
    let attrs: Vec<_> = root
        .attributes()
        .map(|a| (a.local_name, a.namespace, a.value))
        .collect();
    assert_eq!(attrs, vec![("z", None, "1"), ("y", Some("urn:a"), "2")]);
    let decls: Vec<_> = root.namespace_declarations().collect();
    assert_eq!(decls, vec![(Some("a"), "urn:a"), (None, "urn:d")]);
    let c = root.child_elements().next().expect("child");
    assert_eq!(c.namespace(), Some("urn:d"));
    assert_eq!(c.text(), "t");
    assert_eq!(c.parent(), Some(root));
    assert_eq!(root.attribute(Some("urn:a"), "y"), Some("2"));
    assert_eq!(root.attribute(None, "y"), None);
}

#[test]
fn empty_default_namespace_declaration_unbinds_the_default() {
    let d = doc(r#"<r xmlns="urn:d"><c xmlns=""/></r>"#);
    let c = d.root().child_elements().next().expect("child");
    assert_eq!(c.namespace(), None);
    assert_eq!(c.lookup_namespace(None), None);
    assert_eq!(d.root().lookup_namespace(None), Some("urn:d"));
    assert_eq!(c.lookup_namespace(Some("xml")), Some(crate::XML_NAMESPACE));
}

#[test]
fn merges_text_references_and_cdata_and_normalises_line_ends() {
    let d = doc("<r>a\r\nb\rc&amp;&#x41;<![CDATA[<x>\r\n]]>d</r>");
    let children: Vec<_> = d.root().children().collect();
    assert_eq!(children.len(), 1);
    assert!(matches!(children[0], Node::Text("a\nb\nc&A<x>\nd")));
}

#[test]
fn text_skips_comments_so_split_values_read_as_signed() {
    let d = doc("<r>ags:0811<!--x-->1000<?pi d?></r>");
    assert_eq!(d.root().text(), "ags:08111000");
    assert_eq!(d.root().children().count(), 4);
}

#[test]
fn normalises_attribute_values_per_xml_3_3_3() {
    let d = doc("<r a=\"x\ty\r\nz&#10;&#9;&lt;\" b='&quot;'/>");
    assert_eq!(d.root().attribute(None, "a"), Some("x y z\n\t<"));
    assert_eq!(d.root().attribute(None, "b"), Some("\""));
}

#[test]
fn keeps_comments_and_pis_around_the_root() {
    let d =
        doc("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!--a-->\n<?p  q ?>\n<r/>\n<!--b-->\n");
    let kinds: Vec<_> = d
        .children()
        .map(|n| match n {
            Node::Comment(c) => format!("c:{c}"),
            Node::ProcessingInstruction { target, data } => format!("p:{target}:{data}"),
            Node::Element(e) => format!("e:{}", e.local_name()),
            Node::Text(t) => format!("t:{t}"),
        })
        .collect();
    assert_eq!(kinds, vec!["c:a", "p:p:q ", "e:r", "c:b"]);
}

#[test]
fn descendants_are_in_document_order_and_exclude_self() {
    let d = doc("<r><a><b/></a><c/></r>");
    let names: Vec<_> = d.root().descendants().map(|e| e.local_name()).collect();
    assert_eq!(names, vec!["a", "b", "c"]);
    let a = d.root().child_elements().next().expect("a");
    assert_eq!(
        a.descendants().map(|e| e.local_name()).collect::<Vec<_>>(),
        vec!["b"]
    );
    assert!(d.root().contains(a.id()));
    assert!(!a.contains(d.root().id()));
}

#[test]
fn reports_line_and_column_of_elements() {
    let d = doc("<r>\n  <ä/>\r\n <b/></r>");
    let kids: Vec<_> = d.root().child_elements().collect();
    assert_eq!((kids[0].position().line, kids[0].position().column), (2, 3));
    assert_eq!((kids[1].position().line, kids[1].position().column), (3, 2));
}

#[test]
fn records_where_the_content_of_an_element_ends() {
    let src = "<r><a/></r>";
    let d = doc(src);
    assert_eq!(&src[d.root().content_end_offset()..], "</r>");
    let a = d.root().child_elements().next().expect("a");
    assert!(a.is_self_closing());
    assert_eq!(&src[a.content_end_offset()..], "/></r>");
}

#[test]
fn accepts_a_utf8_bom() {
    let mut input = vec![0xEF, 0xBB, 0xBF];
    input.extend_from_slice(b"<r/>");
    assert!(parse(&input, &Limits::default()).is_ok());
}

#[test]
fn rejects_doctype_as_forbidden() {
    let e = err("<!DOCTYPE r [<!ENTITY x \"y\">]><r>&x;</r>");
    assert!(matches!(e, XmlError::DoctypeForbidden { .. }), "{e:?}");
    assert_eq!(e.category(), XmlErrorCategory::Forbidden);
}

#[test]
fn rejects_external_entity_reference_as_undefined_entity() {
    let e = err("<r>&xxe;</r>");
    assert!(
        matches!(&e, XmlError::UndefinedEntity { name, .. } if name == "xxe"),
        "{e:?}"
    );
    assert_eq!(e.category(), XmlErrorCategory::Forbidden);
    let e = err("<r a='&lol9;'/>");
    assert!(
        matches!(&e, XmlError::UndefinedEntity { name, .. } if name == "lol9"),
        "{e:?}"
    );
}

#[test]
fn rejects_character_reference_to_nul_as_malformed() {
    let e = err("<r>&#0;</r>");
    assert!(
        matches!(&e, XmlError::InvalidCharReference { reference, .. } if reference == "#0"),
        "{e:?}"
    );
    assert_eq!(e.category(), XmlErrorCategory::Malformed);
    assert!(matches!(
        err("<r>&#xD800;</r>"),
        XmlError::InvalidCharReference { .. }
    ));
    assert!(matches!(
        err("<r>&#X41;</r>"),
        XmlError::InvalidCharReference { .. }
    ));
}

#[test]
fn rejects_other_encodings() {
    let e = err("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r/>");
    assert!(
        matches!(&e, XmlError::UnsupportedEncoding { encoding, .. } if encoding == "ISO-8859-1"),
        "{e:?}"
    );
}

#[test]
fn rejects_invalid_utf8_with_its_position() {
    let e = parse(b"<r>\n\xC3\x28</r>", &Limits::default()).expect_err("invalid");
    assert_eq!(
        e,
        XmlError::InvalidUtf8 {
            position: crate::Position {
                line: 2,
                column: 1,
                offset: 4
            }
        }
    );
}

#[test]
fn rejects_control_characters() {
    let e = err("<r>\u{1}</r>");
    assert!(
        matches!(e, XmlError::InvalidCharacter { code: 1, .. }),
        "{e:?}"
    );
    assert!(matches!(
        err("<r>\u{FFFE}</r>"),
        XmlError::InvalidCharacter { code: 0xFFFE, .. }
    ));
}

#[test]
fn rejects_unbound_prefixes() {
    assert!(matches!(err("<p:r/>"), XmlError::UnboundPrefix { prefix, .. } if prefix == "p"));
    assert!(matches!(err("<r p:a='1'/>"), XmlError::UnboundPrefix { prefix, .. } if prefix == "p"));
}

#[test]
fn rejects_duplicate_attributes_after_namespace_resolution() {
    let e = err("<r xmlns:a='urn:x' xmlns:b='urn:x' a:k='1' b:k='2'/>");
    assert!(
        matches!(&e, XmlError::DuplicateAttribute { name, .. } if name == "b:k"),
        "{e:?}"
    );
    assert!(matches!(
        err("<r k='1' k='2'/>"),
        XmlError::DuplicateAttribute { .. }
    ));
    assert!(matches!(
        err("<r xmlns:a='urn:x' xmlns:a='urn:y'/>"),
        XmlError::DuplicateAttribute { .. }
    ));
}

#[test]
fn rejects_reserved_namespace_misuse() {
    for bad in [
        "<r xmlns:xmlns='urn:x'/>",
        "<r xmlns:xml='urn:x'/>",
        "<r xmlns:p='http://www.w3.org/XML/1998/namespace'/>",
        "<r xmlns='http://www.w3.org/2000/xmlns/'/>",
        "<r xmlns:p=''/>",
        "<xmlns:r/>",
    ] {
        assert!(
            matches!(err(bad), XmlError::BadNamespaceDeclaration { .. }),
            "{bad}"
        );
    }
    assert!(
        parse(
            b"<r xmlns:xml='http://www.w3.org/XML/1998/namespace' xml:lang='de'/>",
            &Limits::default()
        )
        .is_ok()
    );
}

#[test]
fn rejects_relative_namespace_uris() {
    assert!(
        matches!(err("<r xmlns='foo'/>"), XmlError::RelativeNamespaceUri { uri, .. } if uri == "foo")
    );
}

#[test]
fn rejects_structural_errors() {
    assert!(matches!(
        err(""),
        XmlError::BadStructure {
            reason: "no root element",
            ..
        }
    ));
    assert!(matches!(
        err("<a/><b/>"),
        XmlError::BadStructure {
            reason: "more than one root element",
            ..
        }
    ));
    assert!(matches!(
        err("<a/>x"),
        XmlError::BadStructure {
            reason: "text outside the root element",
            ..
        }
    ));
    assert!(matches!(
        err("<a>"),
        XmlError::BadStructure { .. } | XmlError::Syntax { .. }
    ));
    assert!(matches!(err("<a></b>"), XmlError::Syntax { .. }));
    assert!(matches!(
        err(" <?xml version='1.0'?><a/>"),
        XmlError::BadDeclaration { .. }
    ));
    assert!(matches!(err("<a>]]></a>"), XmlError::Syntax { .. }));
    assert!(matches!(
        err("<a><!-- a -- b --></a>"),
        XmlError::Syntax { .. }
    ));
    assert!(matches!(
        err("<a><?xml x?></a>"),
        XmlError::BadDeclaration { .. }
    ));
    assert!(matches!(
        err("<a><?XmL x?></a>"),
        XmlError::InvalidName { .. }
    ));
    assert!(matches!(err("<a b='<'/>"), XmlError::Syntax { .. }));
    assert!(matches!(err("<a b='1'c='2'/>"), XmlError::Syntax { .. }));
    assert!(matches!(err("<a b/>"), XmlError::Syntax { .. }));
    assert!(matches!(err("<1a/>"), XmlError::InvalidName { .. }));
    assert!(matches!(
        err("<a:b:c xmlns:a='urn:a'/>"),
        XmlError::InvalidName { .. }
    ));
}

#[test]
fn enforces_depth_limit() {
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    assert!(parse(b"<a><b><c/></b></a>", &limits).is_ok());
    let e = parse(b"<a><b><c><d/></c></b></a>", &limits).expect_err("too deep");
    assert!(matches!(e, XmlError::TooDeep { limit: 3, .. }), "{e:?}");
    assert_eq!(e.category(), XmlErrorCategory::LimitExceeded);
}

#[test]
fn enforces_attribute_count_limit_including_namespace_declarations() {
    let limits = Limits {
        max_attributes: 2,
        ..Limits::default()
    };
    assert!(parse(b"<a xmlns='urn:a' b='1'/>", &limits).is_ok());
    let e = parse(b"<a xmlns='urn:a' b='1' c='2'/>", &limits).expect_err("too many");
    assert!(
        matches!(e, XmlError::TooManyAttributes { limit: 2, .. }),
        "{e:?}"
    );
}

#[test]
fn enforces_name_node_and_text_limits() {
    let limits = Limits {
        max_name_len: 4,
        max_nodes: 3,
        max_text_len: 5,
        ..Limits::default()
    };
    assert!(matches!(
        parse(b"<abcde/>", &limits),
        Err(XmlError::NameTooLong { limit: 4, .. })
    ));
    assert!(matches!(
        parse(b"<a><b/><b/><b/></a>", &limits),
        Err(XmlError::TooManyNodes { limit: 3, .. })
    ));
    assert!(matches!(
        parse(b"<a>123456</a>", &limits),
        Err(XmlError::TextTooLong { limit: 5, .. })
    ));
    assert!(matches!(
        parse(b"<a b='123456'/>", &limits),
        Err(XmlError::TextTooLong { limit: 5, .. })
    ));
    assert!(matches!(
        parse(b"<a>123<![CDATA[456]]></a>", &limits),
        Err(XmlError::TextTooLong { limit: 5, .. })
    ));
}

#[test]
fn error_display_is_one_line_with_position() {
    let e = err("<r>\n&foo;</r>");
    assert_eq!(
        e.to_string(),
        "forbidden XML construct at 2:1: reference to undefined entity &foo;"
    );
    assert_eq!(e.position().map(|p| p.line), Some(2));
}

#[test]
fn document_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<crate::Document>();
}

#[test]
fn finds_invalid_characters_anywhere_in_long_input() {
    for pad in 0..20 {
        let text = format!("<r>{}\u{1F}</r>", "x".repeat(pad));
        let e = parse(text.as_bytes(), &Limits::default()).expect_err("invalid");
        assert_eq!(e.position().map(|p| p.offset), Some(3 + pad), "pad {pad}");
        let fine = format!("<r>{}\u{FFFD}\u{EFFF}</r>", "x".repeat(pad));
        assert!(
            parse(fine.as_bytes(), &Limits::default()).is_ok(),
            "pad {pad}"
        );
        let bad = format!("<r>{}\u{FFFF}</r>", "x".repeat(pad));
        assert!(matches!(
            parse(bad.as_bytes(), &Limits::default()),
            Err(XmlError::InvalidCharacter { code: 0xFFFF, .. })
        ));
    }
}

#[test]
fn columns_stay_right_on_very_long_lines() {
    let text = format!("<r>{}<a/></r>", "<b/>".repeat(10_000));
    let d = doc(&text);
    let a = d.root().child_elements().last().expect("a");
    assert_eq!((a.position().line, a.position().column), (1, 4 + 40_000));
}

#[test]
fn counts_lone_cr_and_crlf_as_one_line_end_each() {
    let d = doc("<r>\r<a/>\r\n\r\n  <ü/><b/>\n\r<c/></r>");
    let kids: Vec<_> = d
        .root()
        .child_elements()
        .map(|e| (e.position().line, e.position().column))
        .collect();
    assert_eq!(kids, vec![(2, 1), (4, 3), (4, 7), (6, 1)]);
}
