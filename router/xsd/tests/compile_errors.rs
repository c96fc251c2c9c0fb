//! Schemas that do not compile: every error names the file, line and column, and constructs
//! the validator does not implement are refused rather than skipped.

mod common;

use common::try_inline_schema;
use xoev_xsd::{Catalog, CompileError, Schema};

fn err(body: &str) -> CompileError {
    try_inline_schema(body).expect_err("schema must be refused")
}

#[test]
fn refuses_identity_constraints_as_unsupported() {
    let e = err(r#"<xs:element name="r"><xs:complexType/>
  <xs:key name="k"><xs:selector xpath="."/><xs:field xpath="@id"/></xs:key></xs:element>"#);
    match e {
        CompileError::Unsupported { at, construct } => {
            assert_eq!(construct, "identity constraint xs:key");
            assert_eq!((at.line, at.column), (3, 3));
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn refuses_redefine_and_notation_as_unsupported() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("base.xsd"),
        "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"/>",
    )
    .expect("write");
    let root = dir.path().join("root.xsd");
    std::fs::write(&root, "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">\n<xs:redefine schemaLocation=\"base.xsd\"/>\n</xs:schema>").expect("write");
    let e = Schema::compile_file(&root, None).expect_err("refused");
    assert!(
        matches!(e, CompileError::Unsupported { ref construct, ref at } if construct == "xs:redefine" && at.line == 2)
    );
    let e = err(r#"<xs:simpleType name="n"><xs:restriction base="xs:NOTATION"/></xs:simpleType>"#);
    assert!(
        matches!(e, CompileError::Unsupported { ref construct, .. } if construct == "xs:NOTATION")
    );
}

#[test]
fn refuses_non_deterministic_content_models() {
    let e = err(r#"<xs:element name="r"><xs:complexType><xs:sequence>
  <xs:element name="a" minOccurs="0"/><xs:element name="a"/></xs:sequence></xs:complexType></xs:element>"#);
    match e {
        CompileError::NotDeterministic { message, .. } => {
            assert_eq!(message, "{urn:t}a can match two particles")
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn refuses_unresolved_references_naming_the_reference() {
    let e = err(r#"<xs:element name="r" type="t:Missing"/>"#);
    assert_eq!(
        e.to_string().rsplit_once(": ").map(|(_, m)| m),
        Some("unresolved reference to type {urn:t}Missing")
    );
    assert_eq!(e.location().map(|l| (l.line, l.column)), Some((2, 1)));
}

#[test]
fn refuses_invalid_patterns_facets_and_default_values() {
    assert!(matches!(
        err(r#"<xs:simpleType name="s"><xs:restriction base="xs:string"><xs:pattern value="(a"/></xs:restriction></xs:simpleType>"#),
        CompileError::Pattern { ref pattern, .. } if pattern == "(a"
    ));
    assert!(matches!(
        err(r#"<xs:simpleType name="s"><xs:restriction base="xs:decimal"><xs:length value="2"/></xs:restriction></xs:simpleType>"#),
        CompileError::Invalid { ref message, .. } if message == "facet length does not apply to the base type"
    ));
    assert!(matches!(
        err(r#"<xs:element name="r" type="xs:int" default="x"/>"#),
        CompileError::Invalid { ref message, .. } if message == "default value: value 'x' is not a valid value of type xs:int"
    ));
}

#[test]
fn refuses_circular_definitions() {
    assert!(matches!(
        err(r#"<xs:group name="g"><xs:sequence><xs:group ref="t:g"/></xs:sequence></xs:group>"#),
        CompileError::Invalid { ref message, .. } if message == "circular model group {urn:t}g"
    ));
    assert!(matches!(
        err(r#"<xs:complexType name="A"><xs:complexContent><xs:extension base="t:B"/></xs:complexContent></xs:complexType>
    <xs:complexType name="B"><xs:complexContent><xs:extension base="t:A"/></xs:complexContent></xs:complexType>"#),
        CompileError::Invalid { ref message, .. } if message.starts_with("circular derivation of complex type")
    ));
}

#[test]
fn a_type_may_contain_elements_of_types_derived_from_itself() {
    assert!(try_inline_schema(
        r#"<xs:complexType name="T"><xs:sequence><xs:element name="c" minOccurs="0"><xs:complexType>
  <xs:complexContent><xs:extension base="t:T"><xs:attribute name="x"/></xs:extension></xs:complexContent>
</xs:complexType></xs:element></xs:sequence></xs:complexType><xs:element name="r" type="t:T"/>"#
    )
    .is_ok());
}

#[test]
fn absolute_import_without_catalog_never_reaches_the_network() {
    let e = err(r#"<xs:import namespace="urn:x" schemaLocation="https://example.invalid/x.xsd"/>"#);
    match e {
        CompileError::Location {
            location,
            reason,
            at,
        } => {
            assert_eq!(location, "https://example.invalid/x.xsd");
            assert_eq!(
                reason,
                "absolute URI without a catalog, and network access is disabled"
            );
            assert_eq!(at.line, 2);
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn catalog_maps_absolute_imports_to_local_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("x.xsd"),
        "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" targetNamespace=\"urn:x\"><xs:simpleType name=\"X\"><xs:restriction base=\"xs:int\"/></xs:simpleType></xs:schema>",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("catalog.xml"),
        "<catalog xmlns=\"urn:oasis:names:tc:entity:xmlns:xml:catalog\"><uri name=\"https://example.invalid/x.xsd\" uri=\"x.xsd\"/></catalog>",
    )
    .expect("write");
    let root = dir.path().join("root.xsd");
    std::fs::write(
        &root,
        "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:x=\"urn:x\"><xs:import namespace=\"urn:x\" schemaLocation=\"https://example.invalid/x.xsd\"/><xs:element name=\"r\" type=\"x:X\"/></xs:schema>",
    )
    .expect("write");
    let catalog = Catalog::load(&dir.path().join("catalog.xml")).expect("catalog");
    let schema = Schema::compile_file(&root, Some(&catalog)).expect("compiles");
    assert_eq!(xoev_xsd::validate_bytes(&schema, b"<r>42</r>"), Ok(()));
    assert!(xoev_xsd::validate_bytes(&schema, b"<r>x</r>").is_err());
}

#[test]
fn chameleon_include_takes_the_namespace_of_the_including_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("parts.xsd"),
        "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"><xs:simpleType name=\"P\"><xs:restriction base=\"xs:int\"/></xs:simpleType><xs:element name=\"p\" type=\"P\"/></xs:schema>",
    )
    .expect("write");
    let root = dir.path().join("root.xsd");
    std::fs::write(
        &root,
        "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" targetNamespace=\"urn:c\" xmlns:c=\"urn:c\"><xs:include schemaLocation=\"parts.xsd\"/><xs:element name=\"r\" type=\"c:P\"/></xs:schema>",
    )
    .expect("write");
    let schema = Schema::compile_file(&root, None).expect("compiles");
    assert_eq!(
        xoev_xsd::validate_bytes(&schema, b"<c:p xmlns:c=\"urn:c\">1</c:p>"),
        Ok(())
    );
    assert!(xoev_xsd::validate_bytes(&schema, b"<p>1</p>").is_err());
}

#[test]
fn malformed_schema_documents_are_reported_with_their_position() {
    let e = err("<xs:element name=\"r\">\n</xs:elementx>");
    match e {
        CompileError::Malformed { at, .. } => assert_eq!(at.line, 3),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn refuses_all_groups_larger_than_the_validator_tracks() {
    let members: String = (0..65)
        .map(|i| format!("<xs:element name=\"e{i}\" minOccurs=\"0\"/>"))
        .collect();
    let e = err(&format!(
        "<xs:element name=\"r\"><xs:complexType><xs:all>{members}</xs:all></xs:complexType></xs:element>"
    ));
    assert!(
        matches!(e, CompileError::Unsupported { ref construct, .. } if construct == "xs:all with more than 64 element particles")
    );
    let members: String = (0..64)
        .map(|i| format!("<xs:element name=\"e{i}\" minOccurs=\"0\"/>"))
        .collect();
    assert!(try_inline_schema(&format!("<xs:element name=\"r\"><xs:complexType><xs:all>{members}</xs:all></xs:complexType></xs:element>")).is_ok());
}
