//! Element and attribute wildcards with their namespace constraints and processContents.

mod common;

use common::{check, inline_schema, kind_of};
use xoev_xsd::ViolationKind::*;

const WILD: &str = r###"
<xs:element name="glob"><xs:complexType><xs:sequence><xs:element name="g" type="xs:int"/></xs:sequence></xs:complexType></xs:element>
<xs:attribute name="gattr" type="xs:int"/>
<xs:element name="r"><xs:complexType><xs:choice maxOccurs="unbounded">
  <xs:element name="lax"><xs:complexType><xs:sequence>
    <xs:any namespace="##any" processContents="lax" maxOccurs="unbounded"/></xs:sequence></xs:complexType></xs:element>
  <xs:element name="strict"><xs:complexType><xs:sequence>
    <xs:any namespace="##targetNamespace" processContents="strict"/></xs:sequence></xs:complexType></xs:element>
  <xs:element name="skip"><xs:complexType><xs:sequence>
    <xs:any namespace="##other" processContents="skip"/></xs:sequence></xs:complexType></xs:element>
  <xs:element name="local"><xs:complexType><xs:sequence>
    <xs:any namespace="##local urn:a" processContents="skip"/></xs:sequence></xs:complexType></xs:element>
  <xs:element name="attrs"><xs:complexType>
    <xs:anyAttribute namespace="##targetNamespace" processContents="strict"/></xs:complexType></xs:element>
  <xs:element name="laxattrs"><xs:complexType>
    <xs:anyAttribute namespace="##other" processContents="lax"/></xs:complexType></xs:element>
</xs:choice></xs:complexType></xs:element>"###;

#[test]
fn lax_wildcard_accepts_unknown_elements_and_validates_declared_ones() {
    let s = inline_schema(WILD);
    assert_eq!(
        check(
            &s,
            "<t:r NS><t:lax><foo a='1'>text<bar/></foo></t:lax></t:r>"
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &s,
            "<t:r NS><t:lax><t:glob><t:g>1</t:g></t:glob></t:lax></t:r>"
        ),
        Ok(())
    );
    let v = check(
        &s,
        "<t:r NS><t:lax><t:glob><t:g>x</t:g></t:glob></t:lax></t:r>",
    )
    .expect_err("declared");
    assert_eq!((v.kind, v.path.as_str()), (InvalidValue, "/r/lax/glob/g"));
    // Declared elements nested inside an undeclared one are validated too.
    assert_eq!(
        kind_of(&s, "<t:r NS><t:lax><foo><t:glob/></foo></t:lax></t:r>"),
        MissingElement
    );
}

#[test]
fn strict_wildcard_needs_a_global_declaration() {
    let s = inline_schema(WILD);
    assert_eq!(
        check(
            &s,
            "<t:r NS><t:strict><t:glob><t:g>1</t:g></t:glob></t:strict></t:r>"
        ),
        Ok(())
    );
    let v = check(&s, "<t:r NS><t:strict><t:unknown/></t:strict></t:r>").expect_err("undeclared");
    assert_eq!(v.kind, UnexpectedElement);
    assert_eq!(
        v.message,
        "no global declaration for element {urn:t}unknown (demanded by a strict wildcard)"
    );
    assert_eq!(
        kind_of(&s, "<t:r NS><t:strict><other/></t:strict></t:r>"),
        UnexpectedElement
    );
}

#[test]
fn skip_wildcard_ignores_the_whole_subtree_of_other_namespaces() {
    let s = inline_schema(WILD);
    assert_eq!(
        check(
            &s,
            "<t:r NS><t:skip><o:x xmlns:o='urn:o'><t:glob>junk</t:glob></o:x></t:skip></t:r>"
        ),
        Ok(())
    );
    // ##other excludes the target namespace and unqualified names.
    assert_eq!(
        kind_of(&s, "<t:r NS><t:skip><t:glob/></t:skip></t:r>"),
        UnexpectedElement
    );
    assert_eq!(
        kind_of(&s, "<t:r NS><t:skip><x/></t:skip></t:r>"),
        UnexpectedElement
    );
}

#[test]
fn namespace_lists_with_local_match_only_those_namespaces() {
    let s = inline_schema(WILD);
    assert_eq!(
        check(
            &s,
            "<t:r NS><t:local><x/></t:local><t:local><a:x xmlns:a='urn:a'/></t:local></t:r>"
        ),
        Ok(())
    );
    assert_eq!(
        kind_of(
            &s,
            "<t:r NS><t:local><b:x xmlns:b='urn:b'/></t:local></t:r>"
        ),
        UnexpectedElement
    );
}

#[test]
fn attribute_wildcards_follow_the_same_rules() {
    let s = inline_schema(WILD);
    assert_eq!(
        check(
            &s,
            "<t:r NS><t:attrs t:gattr='1'/><t:laxattrs o:x='1' xmlns:o='urn:o'/></t:r>"
        ),
        Ok(())
    );
    assert_eq!(
        kind_of(&s, "<t:r NS><t:attrs t:gattr='x'/></t:r>"),
        InvalidValue
    );
    assert_eq!(
        kind_of(&s, "<t:r NS><t:attrs t:nope='1'/></t:r>"),
        UnexpectedAttribute
    );
    assert_eq!(
        kind_of(&s, "<t:r NS><t:attrs plain='1'/></t:r>"),
        UnexpectedAttribute
    );
    assert_eq!(
        kind_of(&s, "<t:r NS><t:laxattrs plain='1'/></t:r>"),
        UnexpectedAttribute
    );
}

#[test]
fn any_type_content_is_a_lax_wildcard() {
    let s = inline_schema(r#"<xs:element name="glob" type="xs:int"/><xs:element name="r"/>"#);
    assert_eq!(
        check(&s, "<t:r NS any='1'>text<x/><t:glob>1</t:glob></t:r>"),
        Ok(())
    );
    assert_eq!(
        kind_of(&s, "<t:r NS><t:glob>x</t:glob></t:r>"),
        InvalidValue
    );
}
