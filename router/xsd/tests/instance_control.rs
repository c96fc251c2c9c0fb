//! Declarations that control instances: substitution groups, abstract elements and types,
//! `xsi:type`, `xsi:nil`, fixed and default values, IDs.

mod common;

use common::{check, inline_schema, kind_of};
use xoev_xsd::ViolationKind::*;

const TYPES: &str = r#"
<xs:complexType name="Base"><xs:sequence><xs:element name="a" type="xs:int"/></xs:sequence></xs:complexType>
<xs:complexType name="Ext"><xs:complexContent><xs:extension base="t:Base">
  <xs:sequence><xs:element name="b" type="xs:int"/></xs:sequence></xs:extension></xs:complexContent></xs:complexType>
<xs:complexType name="Abs" abstract="true"><xs:sequence/></xs:complexType>
<xs:element name="head" type="t:Base"/>
<xs:element name="member" type="t:Ext" substitutionGroup="t:head"/>
<xs:element name="ahead" type="t:Base" abstract="true"/>
<xs:element name="amember" substitutionGroup="t:ahead"/>
<xs:element name="bhead" type="t:Base" block="substitution"/>
<xs:element name="bmember" substitutionGroup="t:bhead"/>
<xs:element name="r"><xs:complexType><xs:choice maxOccurs="unbounded">
  <xs:element ref="t:head"/><xs:element ref="t:ahead"/><xs:element ref="t:bhead"/>
  <xs:element name="base" type="t:Base"/>
  <xs:element name="noext" type="t:Base" block="extension"/>
  <xs:element name="abs" type="t:Abs"/>
  <xs:element name="n" type="xs:int" nillable="true"/>
  <xs:element name="plain" type="xs:int"/>
  <xs:element name="fixed" type="xs:token" fixed="x y"/>
  <xs:element name="dflt" type="xs:int" default="5"/>
  <xs:element name="attrs"><xs:complexType>
    <xs:attribute name="id" type="xs:ID"/><xs:attribute name="ref" type="xs:IDREF"/>
    <xs:attribute name="f" type="xs:int" fixed="5"/>
  </xs:complexType></xs:element>
</xs:choice></xs:complexType></xs:element>"#;

#[test]
fn substitution_group_member_may_replace_its_head() {
    let s = inline_schema(TYPES);
    assert_eq!(
        check(
            &s,
            "<t:r NS><t:head><t:a>1</t:a></t:head><t:member><t:a>1</t:a><t:b>2</t:b></t:member></t:r>"
        ),
        Ok(())
    );
    assert_eq!(
        kind_of(&s, "<t:r NS><t:member><t:a>1</t:a></t:member></t:r>"),
        MissingElement
    );
}

#[test]
fn abstract_head_is_refused_but_its_members_are_accepted() {
    let s = inline_schema(TYPES);
    assert_eq!(
        check(&s, "<t:r NS><t:amember><t:a>1</t:a></t:amember></t:r>"),
        Ok(())
    );
    let v = check(&s, "<t:r NS><t:ahead><t:a>1</t:a></t:ahead></t:r>").expect_err("abstract");
    assert_eq!(
        (v.kind, v.message.as_str()),
        (AbstractElement, "element {urn:t}ahead is declared abstract")
    );
}

#[test]
fn blocked_substitution_is_refused() {
    let s = inline_schema(TYPES);
    assert_eq!(
        kind_of(&s, "<t:r NS><t:bmember><t:a>1</t:a></t:bmember></t:r>"),
        UnexpectedElement
    );
}

#[test]
fn xsi_type_selects_a_derived_type() {
    let s = inline_schema(TYPES);
    assert_eq!(
        check(
            &s,
            "<t:r NS><t:base xsi:type='t:Ext'><t:a>1</t:a><t:b>2</t:b></t:base></t:r>"
        ),
        Ok(())
    );
    assert_eq!(
        kind_of(
            &s,
            "<t:r NS><t:base xsi:type='t:Ext'><t:a>1</t:a></t:base></t:r>"
        ),
        MissingElement
    );
    assert_eq!(
        check(&s, "<t:r NS><t:plain xsi:type='xs:short'>5</t:plain></t:r>"),
        Ok(())
    );
    assert_eq!(
        kind_of(
            &s,
            "<t:r NS><t:plain xsi:type='xs:short'>99999</t:plain></t:r>"
        ),
        InvalidValue
    );
}

#[test]
fn rejects_xsi_type_that_is_unknown_underived_blocked_or_abstract() {
    let s = inline_schema(TYPES);
    let v = check(&s, "<t:r NS><t:base xsi:type='t:Nope'/></t:r>").expect_err("unknown");
    assert_eq!(
        (v.kind, v.message.as_str()),
        (InvalidXsiType, "xsi:type names an unknown type 't:Nope'")
    );
    assert_eq!(
        kind_of(&s, "<t:r NS><t:plain xsi:type='xs:date'>5</t:plain></t:r>"),
        InvalidXsiType
    );
    assert_eq!(
        kind_of(
            &s,
            "<t:r NS><t:noext xsi:type='t:Ext'><t:a>1</t:a><t:b>2</t:b></t:noext></t:r>"
        ),
        InvalidXsiType
    );
    assert_eq!(kind_of(&s, "<t:r NS><t:abs/></t:r>"), AbstractType);
    assert_eq!(
        kind_of(&s, "<t:r NS><t:base xsi:type='zz:Ext'/></t:r>"),
        InvalidXsiType
    );
}

#[test]
fn nil_is_allowed_only_on_nillable_elements_and_only_without_content() {
    let s = inline_schema(TYPES);
    assert_eq!(
        check(
            &s,
            "<t:r NS><t:n xsi:nil='true'/><t:n xsi:nil='false'>3</t:n></t:r>"
        ),
        Ok(())
    );
    let v = check(&s, "<t:r NS><t:plain xsi:nil='true'/></t:r>").expect_err("not nillable");
    assert_eq!(
        (v.kind, v.message.as_str()),
        (InvalidNil, "element {urn:t}plain is not nillable")
    );
    assert_eq!(
        kind_of(&s, "<t:r NS><t:n xsi:nil='true'>3</t:n></t:r>"),
        InvalidNil
    );
    assert_eq!(
        kind_of(&s, "<t:r NS><t:n xsi:nil='true'> </t:n></t:r>"),
        InvalidNil
    );
    assert_eq!(
        kind_of(&s, "<t:r NS><t:n xsi:nil='yes'/></t:r>"),
        InvalidValue
    );
}

#[test]
fn element_fixed_value_is_compared_as_a_string_like_libxml2() {
    let s = inline_schema(TYPES);
    assert_eq!(
        check(&s, "<t:r NS><t:fixed>x y</t:fixed><t:fixed/></t:r>"),
        Ok(())
    );
    let v = check(&s, "<t:r NS><t:fixed>x  y</t:fixed></t:r>").expect_err("differs as a string");
    assert_eq!(
        (v.kind, v.expected.as_deref()),
        (FixedValueMismatch, Some("'x y'"))
    );
}

#[test]
fn default_value_fills_an_empty_element() {
    let s = inline_schema(TYPES);
    assert_eq!(
        check(&s, "<t:r NS><t:dflt/><t:dflt>7</t:dflt></t:r>"),
        Ok(())
    );
    assert_eq!(
        kind_of(&s, "<t:r NS><t:dflt> </t:dflt></t:r>"),
        InvalidValue
    );
}

#[test]
fn attribute_fixed_value_is_compared_in_the_value_space() {
    let s = inline_schema(TYPES);
    assert_eq!(check(&s, "<t:r NS><t:attrs f=' 05 '/></t:r>"), Ok(()));
    let v = check(&s, "<t:r NS><t:attrs f='6'/></t:r>").expect_err("fixed");
    assert_eq!(v.kind, FixedValueMismatch);
    assert_eq!(v.message, "attribute f has value '6' but is fixed");
}

#[test]
fn duplicate_id_attributes_are_refused_but_dangling_idrefs_are_not() {
    let s = inline_schema(TYPES);
    assert_eq!(
        check(
            &s,
            "<t:r NS><t:attrs id='a' ref='nowhere'/><t:attrs id='b'/></t:r>"
        ),
        Ok(())
    );
    let v = check(&s, "<t:r NS><t:attrs id='a'/><t:attrs id='a'/></t:r>").expect_err("duplicate");
    assert_eq!(
        (v.kind, v.message.as_str()),
        (DuplicateId, "ID value 'a' is not unique")
    );
}
