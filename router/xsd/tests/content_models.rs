//! Content models: sequence, choice, all, occurrence bounds, mixed/empty/element-only
//! content, extension and restriction of complex types, model groups.

mod common;

use common::{check, inline_schema, kind_of};
use xoev_xsd::ViolationKind::*;

const SEQ: &str = r#"
<xs:element name="r"><xs:complexType><xs:sequence>
  <xs:element name="a" type="xs:int" minOccurs="2" maxOccurs="3"/>
  <xs:element name="b" type="xs:int" minOccurs="0"/>
  <xs:element name="c" type="xs:int"/>
</xs:sequence></xs:complexType></xs:element>"#;

#[test]
fn sequence_accepts_children_in_order_within_their_bounds() {
    let s = inline_schema(SEQ);
    assert_eq!(
        check(&s, "<t:r NS><t:a>1</t:a><t:a>2</t:a><t:c>3</t:c></t:r>"),
        Ok(())
    );
    assert_eq!(
        check(
            &s,
            "<t:r NS><t:a>1</t:a><t:a>2</t:a><t:a>3</t:a><t:b>1</t:b><t:c>3</t:c></t:r>"
        ),
        Ok(())
    );
}

#[test]
fn rejects_element_out_of_order_naming_what_was_expected() {
    let s = inline_schema(SEQ);
    let v =
        check(&s, "<t:r NS>\n  <t:a>1</t:a><t:c>3</t:c></t:r>").expect_err("c before the second a");
    assert_eq!(v.kind, UnexpectedElement);
    assert_eq!(v.path, "/r/c");
    assert_eq!((v.line, v.column), (2, 15));
    assert_eq!(v.message, "element {urn:t}c is not expected here");
    assert_eq!(v.expected.as_deref(), Some("{urn:t}a"));
    assert_eq!(
        v.to_string(),
        "/r/c (line 2, column 15): element {urn:t}c is not expected here; expected {urn:t}a"
    );
}

#[test]
fn rejects_too_many_occurrences_as_unexpected_element() {
    let s = inline_schema(SEQ);
    let xml = "<t:r NS><t:a>1</t:a><t:a>2</t:a><t:a>3</t:a><t:a>4</t:a><t:c>3</t:c></t:r>";
    assert_eq!(kind_of(&s, xml), UnexpectedElement);
}

#[test]
fn rejects_missing_required_child_at_the_end_of_its_parent() {
    let s = inline_schema(SEQ);
    let v = check(&s, "<t:r NS><t:a>1</t:a><t:a>2</t:a></t:r>").expect_err("c missing");
    assert_eq!(v.kind, MissingElement);
    assert_eq!(v.path, "/r");
    assert_eq!(v.message, "element content is incomplete");
    assert_eq!(
        v.expected.as_deref(),
        Some("one of: {urn:t}a, {urn:t}b, {urn:t}c")
    );
}

#[test]
fn repeated_choice_with_nested_sequence_accepts_any_mix_up_to_its_bound() {
    let s = inline_schema(
        r#"<xs:element name="r"><xs:complexType><xs:choice maxOccurs="3">
  <xs:element name="x"/><xs:sequence><xs:element name="y"/><xs:element name="z"/></xs:sequence>
</xs:choice></xs:complexType></xs:element>"#,
    );
    assert_eq!(
        check(&s, "<t:r NS><t:y/><t:z/><t:x/><t:y/><t:z/></t:r>"),
        Ok(())
    );
    assert_eq!(kind_of(&s, "<t:r NS><t:y/><t:x/></t:r>"), UnexpectedElement);
    assert_eq!(
        kind_of(&s, "<t:r NS><t:x/><t:x/><t:x/><t:x/></t:r>"),
        UnexpectedElement
    );
    assert_eq!(kind_of(&s, "<t:r NS/>"), MissingElement);
}

#[test]
fn all_group_accepts_any_order_once_each() {
    let s = inline_schema(
        r#"<xs:element name="r"><xs:complexType><xs:all>
  <xs:element name="a"/><xs:element name="b" minOccurs="0"/><xs:element name="c"/>
</xs:all></xs:complexType></xs:element>"#,
    );
    assert_eq!(check(&s, "<t:r NS><t:c/><t:a/></t:r>"), Ok(()));
    assert_eq!(check(&s, "<t:r NS><t:b/><t:c/><t:a/></t:r>"), Ok(()));
    assert_eq!(
        kind_of(&s, "<t:r NS><t:a/><t:a/><t:c/></t:r>"),
        UnexpectedElement
    );
    let v = check(&s, "<t:r NS><t:c/></t:r>").expect_err("a missing");
    assert_eq!(
        (v.kind, v.expected.as_deref()),
        (MissingElement, Some("{urn:t}a"))
    );
}

#[test]
fn text_is_refused_in_element_only_content_but_whitespace_is_not() {
    let s = inline_schema(SEQ);
    assert_eq!(
        check(
            &s,
            "<t:r NS>\n <t:a>1</t:a> <t:a>2</t:a>\t<t:c>3</t:c>\n</t:r>"
        ),
        Ok(())
    );
    let v = check(&s, "<t:r NS><t:a>1</t:a>oops<t:a>2</t:a><t:c>3</t:c></t:r>").expect_err("text");
    assert_eq!(v.kind, UnexpectedText);
    assert_eq!(v.message, "character data 'oops' in element-only content");
}

#[test]
fn empty_content_refuses_even_whitespace_and_mixed_content_takes_text() {
    let s = inline_schema(
        r#"<xs:element name="r"><xs:complexType><xs:sequence>
  <xs:element name="e" minOccurs="0"><xs:complexType><xs:attribute name="x"/></xs:complexType></xs:element>
  <xs:element name="m" minOccurs="0"><xs:complexType mixed="true"><xs:sequence>
    <xs:element name="i" minOccurs="0" maxOccurs="unbounded"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:sequence></xs:complexType></xs:element>"#,
    );
    assert_eq!(
        check(&s, "<t:r NS><t:e x='1'/><t:m>a<t:i/>b<t:i/>c</t:m></t:r>"),
        Ok(())
    );
    assert_eq!(kind_of(&s, "<t:r NS><t:e> </t:e></t:r>"), UnexpectedText);
    assert_eq!(
        kind_of(&s, "<t:r NS><t:e><t:i/></t:e></t:r>"),
        UnexpectedElement
    );
}

#[test]
fn extension_appends_content_and_attributes_to_the_base_type() {
    let s = inline_schema(
        r#"<xs:complexType name="B"><xs:sequence><xs:element name="a"/></xs:sequence>
  <xs:attribute name="x" type="xs:int"/></xs:complexType>
<xs:complexType name="D"><xs:complexContent><xs:extension base="t:B">
  <xs:sequence><xs:element name="b"/></xs:sequence><xs:attribute name="y" use="required"/>
</xs:extension></xs:complexContent></xs:complexType>
<xs:element name="r" type="t:D"/>"#,
    );
    assert_eq!(check(&s, "<t:r NS x='1' y='2'><t:a/><t:b/></t:r>"), Ok(()));
    assert_eq!(kind_of(&s, "<t:r NS y='2'><t:b/></t:r>"), UnexpectedElement);
    assert_eq!(kind_of(&s, "<t:r NS><t:a/><t:b/></t:r>"), MissingAttribute);
    assert_eq!(
        kind_of(&s, "<t:r NS y='2' x='z'><t:a/><t:b/></t:r>"),
        InvalidValue
    );
}

#[test]
fn restriction_replaces_the_content_and_inherits_attributes() {
    let s = inline_schema(
        r#"<xs:complexType name="B"><xs:sequence><xs:element name="a"/><xs:element name="o" minOccurs="0"/></xs:sequence>
  <xs:attribute name="x" type="xs:int"/><xs:attribute name="z"/></xs:complexType>
<xs:complexType name="R"><xs:complexContent><xs:restriction base="t:B">
  <xs:sequence><xs:element name="a"/></xs:sequence>
  <xs:attribute name="x" type="xs:int" use="required"/><xs:attribute name="z" use="prohibited"/>
</xs:restriction></xs:complexContent></xs:complexType>
<xs:element name="r" type="t:R"/>"#,
    );
    assert_eq!(check(&s, "<t:r NS x='1'><t:a/></t:r>"), Ok(()));
    assert_eq!(
        kind_of(&s, "<t:r NS x='1'><t:a/><t:o/></t:r>"),
        UnexpectedElement
    );
    assert_eq!(kind_of(&s, "<t:r NS><t:a/></t:r>"), MissingAttribute);
    assert_eq!(
        kind_of(&s, "<t:r NS x='1' z='2'><t:a/></t:r>"),
        UnexpectedAttribute
    );
}

#[test]
fn model_and_attribute_groups_are_expanded_where_referenced() {
    let s = inline_schema(
        r#"<xs:group name="G"><xs:sequence><xs:element name="g1"/><xs:element name="g2" minOccurs="0"/></xs:sequence></xs:group>
<xs:attributeGroup name="AG"><xs:attribute name="p" use="required"/><xs:attribute name="q" type="xs:boolean" default="true"/></xs:attributeGroup>
<xs:element name="r"><xs:complexType><xs:sequence><xs:group ref="t:G" maxOccurs="2"/><xs:element name="end"/></xs:sequence>
  <xs:attributeGroup ref="t:AG"/></xs:complexType></xs:element>"#,
    );
    assert_eq!(
        check(&s, "<t:r NS p='1'><t:g1/><t:g2/><t:g1/><t:end/></t:r>"),
        Ok(())
    );
    assert_eq!(
        kind_of(&s, "<t:r NS p='1'><t:g1/><t:g1/><t:g1/><t:end/></t:r>"),
        UnexpectedElement
    );
    assert_eq!(
        kind_of(&s, "<t:r NS><t:g1/><t:end/></t:r>"),
        MissingAttribute
    );
    assert_eq!(
        kind_of(&s, "<t:r NS p='1' q='maybe'><t:g1/><t:end/></t:r>"),
        InvalidValue
    );
}

#[test]
fn unqualified_local_elements_must_be_in_no_namespace() {
    let s = inline_schema(
        r#"<xs:element name="r"><xs:complexType><xs:sequence>
  <xs:element name="q"/><xs:element name="u" form="unqualified"/>
</xs:sequence></xs:complexType></xs:element>"#,
    );
    assert_eq!(check(&s, "<t:r NS><t:q/><u/></t:r>"), Ok(()));
    let v = check(&s, "<t:r NS><t:q/><t:u/></t:r>").expect_err("u is unqualified");
    assert_eq!(
        (v.kind, v.expected.as_deref()),
        (UnexpectedElement, Some("u"))
    );
}

#[test]
fn all_group_with_64_members_tracks_the_last_one() {
    let members: String = (0..64)
        .map(|i| format!("<xs:element name=\"e{i}\" minOccurs=\"0\"/>"))
        .collect();
    let s = inline_schema(&format!(
        "<xs:element name=\"r\"><xs:complexType><xs:all>{members}</xs:all></xs:complexType></xs:element>"
    ));
    assert_eq!(check(&s, "<t:r NS><t:e63/><t:e0/></t:r>"), Ok(()));
    assert_eq!(
        kind_of(&s, "<t:r NS><t:e63/><t:e63/></t:r>"),
        UnexpectedElement
    );
}
