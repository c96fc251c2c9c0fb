//! Simple types: facets, whitespace handling, lists and unions, and the built-in datatypes'
//! lexical rules as libxml2 applies them.

mod common;

use common::{check, inline_schema, kind_of};
use xoev_xsd::ViolationKind::*;

fn one_element(ty: &str) -> xoev_xsd::Schema {
    inline_schema(&format!(
        "<xs:element name=\"r\"><xs:complexType><xs:sequence>\
         <xs:element name=\"v\" maxOccurs=\"unbounded\">{ty}</xs:element>\
         </xs:sequence></xs:complexType></xs:element>"
    ))
}

fn restricted(base: &str, facets: &str) -> xoev_xsd::Schema {
    one_element(&format!(
        "<xs:simpleType><xs:restriction base=\"xs:{base}\">{facets}</xs:restriction></xs:simpleType>"
    ))
}

fn valid(s: &xoev_xsd::Schema, value: &str) -> bool {
    check(s, &format!("<t:r NS><t:v>{value}</t:v></t:r>")).is_ok()
}

#[test]
fn rejects_value_longer_than_max_length_counting_characters() {
    let s = restricted("string", "<xs:maxLength value=\"3\"/>");
    assert!(valid(&s, "äöü"));
    let v = check(&s, "<t:r NS><t:v>abcd</t:v></t:r>").expect_err("too long");
    assert_eq!(v.kind, InvalidValue);
    assert_eq!(
        v.message,
        "value 'abcd' of type (anonymous, derived from xs:string) violates facet maxLength"
    );
    assert_eq!(v.expected.as_deref(), Some("length at most 3"));
}

#[test]
fn rejects_value_outside_enumeration_listing_the_allowed_values() {
    let s = restricted(
        "token",
        "<xs:enumeration value=\"0010\"/><xs:enumeration value=\"0020\"/>",
    );
    assert!(valid(&s, " 0010 "));
    let v = check(&s, "<t:r NS><t:v>0030</t:v></t:r>").expect_err("not enumerated");
    assert_eq!(v.expected.as_deref(), Some("one of: 0010, 0020"));
}

#[test]
fn pattern_must_match_the_whole_normalised_value() {
    let s = restricted("string", "<xs:pattern value=\"[0-9]{4}\"/>");
    assert!(valid(&s, "2025"));
    assert!(!valid(&s, "2025Z"));
    assert!(!valid(&s, " 2025"));
    let v = check(&s, "<t:r NS><t:v>20</t:v></t:r>").expect_err("pattern");
    assert_eq!(v.expected.as_deref(), Some("a value matching [0-9]{4}"));
}

#[test]
fn patterns_of_one_step_are_alternatives_and_steps_all_apply() {
    let s = inline_schema(
        r#"<xs:simpleType name="A"><xs:restriction base="xs:string"><xs:pattern value="[a-z]+"/><xs:pattern value="[0-9]+"/></xs:restriction></xs:simpleType>
<xs:simpleType name="B"><xs:restriction base="t:A"><xs:pattern value=".{2}"/></xs:restriction></xs:simpleType>
<xs:element name="r"><xs:complexType><xs:sequence><xs:element name="v" type="t:B" maxOccurs="unbounded"/></xs:sequence></xs:complexType></xs:element>"#,
    );
    assert!(valid(&s, "ab"));
    assert!(valid(&s, "12"));
    assert!(!valid(&s, "a1"));
    assert!(!valid(&s, "abc"));
}

#[test]
fn bounds_and_digit_facets_compare_decimal_values() {
    let s = restricted(
        "decimal",
        "<xs:minInclusive value=\"-10.5\"/><xs:maxExclusive value=\"100\"/><xs:totalDigits value=\"5\"/><xs:fractionDigits value=\"2\"/>",
    );
    for ok in ["-10.5", "99.99", "0012.30", "+1"] {
        assert!(valid(&s, ok), "{ok}");
    }
    for bad in ["-10.51", "100", "100.0", "1.234", "123456"] {
        assert!(!valid(&s, bad), "{bad}");
    }
}

#[test]
fn date_and_duration_bounds_use_the_xsd_partial_order() {
    let d = restricted(
        "date",
        "<xs:minInclusive value=\"2020-01-01\"/><xs:maxInclusive value=\"2020-12-31\"/>",
    );
    assert!(valid(&d, "2020-06-15"));
    assert!(!valid(&d, "2021-01-01"));
    let p = restricted(
        "duration",
        "<xs:minExclusive value=\"P1D\"/><xs:maxInclusive value=\"P1M\"/>",
    );
    assert!(valid(&p, "PT36H"));
    assert!(valid(&p, "P27D"));
    assert!(!valid(&p, "P1D"));
    // P31D is longer than some months and not others: incomparable, so it fails the bound.
    assert!(!valid(&p, "P31D"));
}

#[test]
fn length_facets_count_octets_for_binary_and_items_for_lists() {
    let hex = restricted("hexBinary", "<xs:length value=\"3\"/>");
    assert!(valid(&hex, "0A0B0C"));
    assert!(!valid(&hex, "0A0B"));
    let s = inline_schema(
        r#"<xs:simpleType name="L"><xs:list itemType="xs:int"/></xs:simpleType>
<xs:simpleType name="L2"><xs:restriction base="t:L"><xs:minLength value="2"/><xs:maxLength value="3"/></xs:restriction></xs:simpleType>
<xs:element name="r"><xs:complexType><xs:sequence><xs:element name="v" type="t:L2" maxOccurs="unbounded"/></xs:sequence></xs:complexType></xs:element>"#,
    );
    assert!(valid(&s, " 1\n 2 "));
    assert!(!valid(&s, "1"));
    assert!(!valid(&s, "1 2 3 4"));
    let v = check(&s, "<t:r NS><t:v>1 x</t:v></t:r>").expect_err("item");
    assert_eq!(
        v.message,
        "list item value 'x' is not a valid value of type xs:int"
    );
}

#[test]
fn union_takes_the_first_member_that_accepts_the_value() {
    let s = inline_schema(
        r#"<xs:simpleType name="U"><xs:union memberTypes="xs:int xs:boolean"/></xs:simpleType>
<xs:simpleType name="E"><xs:restriction base="t:U"><xs:enumeration value="1"/><xs:enumeration value="true"/></xs:restriction></xs:simpleType>
<xs:element name="r"><xs:complexType><xs:sequence><xs:element name="v" type="t:E" maxOccurs="unbounded"/></xs:sequence></xs:complexType></xs:element>"#,
    );
    assert!(valid(&s, "01"));
    assert!(valid(&s, "true"));
    assert!(!valid(&s, "0"));
    assert!(!valid(&s, "false"));
    assert!(!valid(&s, "x"));
}

#[test]
fn whitespace_replace_keeps_runs_of_spaces_but_collapse_does_not() {
    let r = restricted(
        "string",
        "<xs:whiteSpace value=\"replace\"/><xs:maxLength value=\"3\"/>",
    );
    assert!(valid(&r, "a\tb"));
    assert!(!valid(&r, " a b"));
    let c = restricted(
        "string",
        "<xs:whiteSpace value=\"collapse\"/><xs:maxLength value=\"3\"/>",
    );
    assert!(valid(&c, "  a \n b  "));
}

#[test]
fn leading_whitespace_before_a_date_time_is_refused_like_libxml2() {
    let s = one_element("<xs:simpleType><xs:restriction base=\"xs:dateTime\"/></xs:simpleType>");
    assert!(valid(&s, "2026-04-02T08:30:00Z\n  "));
    assert!(!valid(&s, "\n  2026-04-02T08:30:00Z"));
    assert!(!valid(&s, "2026-04-02T08:30:00 "));
    // With a pattern or enumeration facet libxml2 normalises first, as the spec says.
    let p = restricted("dateTime", "<xs:pattern value=\".*\"/>");
    assert!(valid(&p, " 2026-04-02T08:30:00 "));
}

#[test]
fn no_whitespace_is_allowed_around_bounded_integers_unless_normalised() {
    let int = one_element("<xs:simpleType><xs:restriction base=\"xs:int\"/></xs:simpleType>");
    assert!(valid(&int, "42"));
    assert!(!valid(&int, " 42"));
    let integer =
        one_element("<xs:simpleType><xs:restriction base=\"xs:integer\"/></xs:simpleType>");
    assert!(valid(&integer, " 42 "));
}

#[test]
fn built_in_types_follow_libxml2_lexical_rules() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("boolean", &["true", "0", " 1 "], &["TRUE", "yes"]),
        (
            "decimal",
            &["1.5", ".5", "5.", "-0.0", "123456789012345678901234"],
            &[".", "1e5", "1,5", "1234567890123456789012345"],
        ),
        ("integer", &["+12", "-0", "012"], &["1.0", "+"]),
        ("byte", &["-128", "127"], &["128", "-129"]),
        ("unsignedInt", &["4294967295"], &["+5", "-0", "4294967296"]),
        (
            "double",
            &["INF", "-INF", "NaN", "1e", "1.e5", "1e999999"],
            &["+INF", "nan", "1,5", "e5"],
        ),
        (
            "date",
            &["2020-02-29", "-0001-01-01", "2020-01-01+14:00"],
            &["2021-02-29", "0000-01-01", "2020-01-01+14:01", "20-01-01"],
        ),
        (
            "time",
            &["24:00:00", "10:00:00.5"],
            &["24:00:01", "23:59:60", "10:00"],
        ),
        (
            "gYear",
            &["2020", "-2020", "12345"],
            &["24", "02020", "0000"],
        ),
        ("gMonthDay", &["--02-29"], &["--04-31", "--13-01"]),
        (
            "duration",
            &["P1Y2M3DT4H5M6.7S", "-P1D", "PT.5S"],
            &["P", "PT", "P1DT", "P1.5D", "PT1M1H"],
        ),
        ("hexBinary", &["0aFF", ""], &["0", "0g"]),
        (
            "base64Binary",
            &["AAAA", "AA==", "AAA\n=", "ä"],
            &["AAA", "AB==", "AA==AA"],
        ),
        (
            "anyURI",
            &["http://x/ y", "urn:a:b", "#f", ""],
            &["%zz", "::", "a#b#c", "http://x:8a/"],
        ),
        (
            "language",
            &["de-DE-1996", "x-klingon"],
            &["123", "abcdefghi"],
        ),
        ("NCName", &["_a.b", "Müller"], &["1a", "a:b"]),
        ("Name", &[":a"], &["a b"]),
        ("NMTOKEN", &[".", "a:b"], &["a b"]),
        ("QName", &["t:x", "x"], &["zz:x", "a:"]),
    ];
    for (ty, good, bad) in cases {
        let s = one_element(&format!(
            "<xs:simpleType><xs:restriction base=\"xs:{ty}\"/></xs:simpleType>"
        ));
        for g in *good {
            assert!(valid(&s, g), "xs:{ty} should accept {g:?}");
        }
        for b in *bad {
            assert!(!valid(&s, b), "xs:{ty} should reject {b:?}");
        }
    }
}

#[test]
fn entity_values_are_always_invalid_without_a_dtd() {
    let s = one_element("<xs:simpleType><xs:restriction base=\"xs:ENTITY\"/></xs:simpleType>");
    assert_eq!(kind_of(&s, "<t:r NS><t:v>abc</t:v></t:r>"), InvalidValue);
}

#[test]
fn base64_length_counts_octets_across_line_breaks_and_patterns_see_collapsed_text() {
    let length = one_element(
        "<xs:simpleType><xs:restriction base=\"xs:base64Binary\"><xs:length value=\"3\"/></xs:restriction></xs:simpleType>",
    );
    assert!(valid(&length, "QUJD"));
    assert!(valid(&length, "\n  QU\r\n\tJD \n"));
    assert!(!valid(&length, "QUJD\nQUJD"));
    let pattern = one_element(
        "<xs:simpleType><xs:restriction base=\"xs:base64Binary\"><xs:pattern value=\"[A-Z]{2} [A-Z]{2}\"/></xs:restriction></xs:simpleType>",
    );
    assert!(valid(&pattern, "  QU \n\t JD "));
    assert!(!valid(&pattern, "QUJD"));
}
