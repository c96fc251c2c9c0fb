//! Property: any generated document signs and verifies with every key type,
//! C14N method and reference kind; inserting an element then breaks the
//! digest; and every canonical form is a fixed point.

mod common;

use common::*;
use proptest::prelude::*;
use xoev_dsig::c14n::{Method, canonicalize};
use xoev_dsig::{ReferenceTarget, SignOptions, VerifyError, sign, verify};

#[derive(Clone, Debug)]
enum Content {
    Text(String),
    CData(String),
    Comment(String),
    Element(Elem),
}

#[derive(Clone, Debug)]
struct Elem {
    prefix: Option<&'static str>,
    name: &'static str,
    decls: Vec<(Option<&'static str>, &'static str)>,
    attrs: Vec<(&'static str, String)>,
    children: Vec<Content>,
}

const URIS: &[&str] = &["urn:eins", "urn:zwei", "http://example.org/drei", ""];

fn text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z0-9 äöüß€&<>\"'\t\n\r]{0,12}").expect("regex")
}

fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\r', "&#13;")
}

fn escape_attr(s: &str) -> String {
    escape_text(s)
        .replace('"', "&quot;")
        .replace('\t', "&#9;")
        .replace('\n', "&#10;")
}

fn elem(depth: u32) -> BoxedStrategy<Elem> {
    let decl = (
        prop::option::of(prop::sample::select(vec!["p", "q"])),
        prop::sample::select(URIS.to_vec()),
    )
        .prop_filter("prefixes cannot be undeclared", |(p, u)| {
            p.is_none() || !u.is_empty()
        });
    let attr_names = prop::sample::subsequence(vec!["a", "b", "p:x", "q:y", "xml:lang"], 0..4);
    let leaf = (
        prop::option::of(prop::sample::select(vec!["p", "q"])),
        prop::sample::select(vec!["a", "kopf", "größe", "b"]),
        prop::collection::vec(decl, 0..2),
        attr_names,
        prop::collection::vec(text(), 4),
    );
    let children = if depth == 0 {
        Just(Vec::new()).boxed()
    } else {
        prop::collection::vec(
            prop_oneof![
                text().prop_map(Content::Text),
                text().prop_map(|t| Content::CData(t.replace("]]>", ""))),
                "[a-z äß]{0,8}".prop_map(Content::Comment),
                elem(depth - 1).prop_map(Content::Element),
            ],
            0..4,
        )
        .boxed()
    };
    (leaf, children)
        .prop_map(|((prefix, name, mut decls, names, values), children)| {
            decls.dedup_by_key(|d| d.0);
            let attrs = names.into_iter().zip(values).collect();
            Elem {
                prefix,
                name,
                decls,
                attrs,
                children,
            }
        })
        .boxed()
}

fn write(e: &Elem, out: &mut String, root: bool) {
    let qname = match e.prefix {
        Some(p) => format!("{p}:{}", e.name),
        None => e.name.to_owned(),
    };
    out.push('<');
    out.push_str(&qname);
    if root {
        // Every prefix is bound at the root, so any element may use it.
        out.push_str(" xmlns:p=\"urn:p\" xmlns:q=\"urn:q\" Id=\"wurzel\"");
    }
    for (p, u) in &e.decls {
        if root && p.is_some() {
            continue;
        }
        match p {
            Some(p) => out.push_str(&format!(" xmlns:{p}=\"{u}\"")),
            None => out.push_str(&format!(" xmlns=\"{u}\"")),
        }
    }
    for (n, v) in &e.attrs {
        out.push_str(&format!(" {n}=\"{}\"", escape_attr(v)));
    }
    out.push('>');
    for c in &e.children {
        match c {
            Content::Text(t) => out.push_str(&escape_text(t)),
            Content::CData(t) => out.push_str(&format!("<![CDATA[{t}]]>")),
            Content::Comment(t) => out.push_str(&format!("<!--{t}-->")),
            Content::Element(child) => write(child, out, false),
        }
    }
    out.push_str(&format!("</{qname}>"));
}

fn document() -> impl Strategy<Value = String> {
    elem(3).prop_map(|e| {
        let mut s = String::new();
        write(&e, &mut s, true);
        s
    })
}

fn method(i: usize) -> Method {
    match i {
        0 => Method::Inclusive {
            with_comments: false,
        },
        1 => Method::Inclusive {
            with_comments: true,
        },
        2 => Method::Exclusive {
            with_comments: false,
            inclusive_prefixes: vec![],
        },
        _ => Method::Exclusive {
            with_comments: true,
            inclusive_prefixes: vec!["#default".into(), "q".into()],
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn generated_documents_sign_then_verify(xml in document(), key_index in 0usize..3, m in 0usize..4, by_id in any::<bool>()) {
        let name = ["p256", "ed25519", "rsa2048"][key_index];
        let mut o = SignOptions::default();
        o.c14n = method(m);
        o.reference = if by_id { ReferenceTarget::RootId } else { ReferenceTarget::WholeDocument };
        let signed = sign(xml.as_bytes(), &key(name), Some(&cert(name)), &o).expect("sign");
        let doc = parse(&signed);
        prop_assert_eq!(verify(&doc, &ca_store(), &opts()).map(|_| ()), Ok(()));

        // An element inserted right after the root start tag breaks the digest.
        let text = String::from_utf8(signed).expect("utf8");
        let at = text.find('>').expect("root start tag") + 1;
        let tampered = format!("{}<eingefuegt/>{}", &text[..at], &text[at..]);
        let doc = parse(tampered.as_bytes());
        let uri = if by_id { "#wurzel".to_owned() } else { String::new() };
        prop_assert_eq!(verify(&doc, &ca_store(), &opts()).map(|_| ()), Err(VerifyError::DigestMismatch { uri }));
    }

    #[test]
    fn canonical_forms_are_fixed_points(xml in document(), m in 0usize..4) {
        let doc = parse(xml.as_bytes());
        let mut once = Vec::new();
        canonicalize(&doc, None, None, &method(m), &mut once);
        let again = parse(&once);
        let mut twice = Vec::new();
        canonicalize(&again, None, None, &method(m), &mut twice);
        prop_assert_eq!(String::from_utf8_lossy(&once), String::from_utf8_lossy(&twice));
    }
}
