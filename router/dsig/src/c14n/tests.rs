//! Document-subset rules that a whole-document differential test against
//! xmllint cannot reach: apex namespace and xml:* inheritance, exclusion.

use super::{C14nError, Method, canonicalize};
use crate::uri;

fn doc(s: &str) -> xoev_xml::Document {
    xoev_xml::parse(s.as_bytes(), &xoev_xml::Limits::default()).expect("parse")
}

fn c14n(
    d: &xoev_xml::Document,
    apex: Option<xoev_xml::NodeId>,
    exclude: Option<xoev_xml::NodeId>,
    m: &Method,
) -> String {
    let mut out = Vec::new();
    canonicalize(d, apex, exclude, m, &mut out);
    String::from_utf8(out).expect("utf8")
}

fn find<'d>(d: &'d xoev_xml::Document, local: &str) -> xoev_xml::Element<'d> {
    d.root()
        .descendants()
        .find(|e| e.local_name() == local)
        .expect("element")
}

const INC: Method = Method::Inclusive {
    with_comments: false,
};

fn exc() -> Method {
    Method::Exclusive {
        with_comments: false,
        inclusive_prefixes: vec![],
    }
}

const NESTED: &str = r#"<r xmlns="urn:d" xmlns:p="urn:p" xmlns:q="urn:q" xml:lang="de" xml:space="preserve"><p:a b="1"><c xml:lang="en"/></p:a></r>"#;

#[test]
fn inclusive_apex_takes_ancestor_namespaces_and_xml_attributes() {
    let d = doc(NESTED);
    let a = find(&d, "a");
    assert_eq!(
        c14n(&d, Some(a.id()), None, &INC),
        r#"<p:a xmlns="urn:d" xmlns:p="urn:p" xmlns:q="urn:q" b="1" xml:lang="de" xml:space="preserve"><c xml:lang="en"></c></p:a>"#
    );
}

#[test]
fn exclusive_apex_renders_only_visibly_used_namespaces_and_no_xml_attributes() {
    let d = doc(NESTED);
    let a = find(&d, "a");
    assert_eq!(
        c14n(&d, Some(a.id()), None, &exc()),
        r#"<p:a xmlns:p="urn:p" b="1"><c xmlns="urn:d" xml:lang="en"></c></p:a>"#
    );
}

#[test]
fn exclusive_prefix_list_renders_listed_namespaces_like_inclusive() {
    let d = doc(NESTED);
    let a = find(&d, "a");
    let m = Method::Exclusive {
        with_comments: false,
        inclusive_prefixes: vec!["q".into(), "#default".into()],
    };
    assert_eq!(
        c14n(&d, Some(a.id()), None, &m),
        r#"<p:a xmlns="urn:d" xmlns:p="urn:p" xmlns:q="urn:q" b="1"><c xml:lang="en"></c></p:a>"#
    );
}

#[test]
fn excluded_subtree_is_left_out_entirely() {
    let d = doc("<r><a/><s><x/></s>text<b/></r>");
    let s = find(&d, "s");
    assert_eq!(
        c14n(&d, None, Some(s.id()), &INC),
        "<r><a></a>text<b></b></r>"
    );
    assert_eq!(c14n(&d, Some(s.id()), Some(s.id()), &INC), "");
}

#[test]
fn apex_without_default_namespace_gets_no_empty_declaration() {
    let d = doc(r#"<a xmlns="urn:x"><b xmlns=""><c/></b></a>"#);
    for m in [INC, exc()] {
        assert_eq!(
            c14n(&d, Some(find(&d, "b").id()), None, &m),
            "<b><c></c></b>"
        );
        assert_eq!(c14n(&d, Some(find(&d, "c").id()), None, &m), "<c></c>");
        assert_eq!(
            c14n(&d, None, None, &m),
            r#"<a xmlns="urn:x"><b xmlns=""><c></c></b></a>"#
        );
    }
}

#[test]
fn document_level_nodes_follow_c14n_spec_example_3_1() {
    let d = doc(
        "<?xml version=\"1.0\"?>\n\n<?xml-stylesheet   href=\"doc.xsl\"\n   type=\"text/xsl\"   ?>\n\n<doc>Hello, world!<!-- Comment 1 --></doc>\n\n<?pi-without-data     ?>\n\n<!-- Comment 2 -->\n\n<!-- Comment 3 -->\n",
    );
    assert_eq!(
        c14n(&d, None, None, &INC),
        "<?xml-stylesheet href=\"doc.xsl\"\n   type=\"text/xsl\"   ?>\n<doc>Hello, world!</doc>\n<?pi-without-data?>"
    );
    assert_eq!(
        c14n(
            &d,
            None,
            None,
            &Method::Inclusive {
                with_comments: true
            }
        ),
        "<?xml-stylesheet href=\"doc.xsl\"\n   type=\"text/xsl\"   ?>\n<doc>Hello, world!<!-- Comment 1 --></doc>\n<?pi-without-data?>\n<!-- Comment 2 -->\n<!-- Comment 3 -->"
    );
}

#[test]
fn signed_info_canonical_form_carries_the_roots_namespaces_in_inclusive_mode() {
    let d = doc(
        r#"<m xmlns="urn:msg" xmlns:x="urn:x"><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo Id="si"/></ds:Signature></m>"#,
    );
    let si = find(&d, "SignedInfo");
    assert_eq!(
        c14n(&d, Some(si.id()), None, &INC),
        r#"<ds:SignedInfo xmlns="urn:msg" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:x="urn:x" Id="si"></ds:SignedInfo>"#
    );
    assert_eq!(
        c14n(&d, Some(si.id()), None, &exc()),
        r#"<ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="si"></ds:SignedInfo>"#
    );
}

#[test]
fn method_uris_round_trip_and_unknown_ones_are_refused() {
    for u in [
        uri::C14N,
        uri::C14N_WITH_COMMENTS,
        uri::EXC_C14N,
        uri::EXC_C14N_WITH_COMMENTS,
    ] {
        assert_eq!(Method::from_uri(u, None).expect("known").uri(), u);
    }
    assert_eq!(
        Method::from_uri("http://www.w3.org/2006/12/xml-c14n11", None),
        Err(C14nError::Unsupported(
            "http://www.w3.org/2006/12/xml-c14n11".into()
        ))
    );
    assert_eq!(
        Method::from_uri(uri::C14N, Some("a")),
        Err(C14nError::PrefixListNotAllowed)
    );
    assert_eq!(
        Method::from_uri(uri::EXC_C14N, Some("a:b")),
        Err(C14nError::InvalidPrefix("a:b".into()))
    );
    assert_eq!(
        Method::from_uri(uri::EXC_C14N, Some(" a  #default ")),
        Ok(Method::Exclusive {
            with_comments: false,
            inclusive_prefixes: vec!["a".into(), "#default".into()]
        })
    );
}
