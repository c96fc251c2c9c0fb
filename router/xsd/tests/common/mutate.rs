//! Mutations of valid instances: structural (drop, duplicate, reorder, rename, requalify,
//! insert elements, text and attributes, xsi:type/xsi:nil) and value perturbations of every
//! leaf element and attribute, aimed at each facet and datatype rule.

use super::dom::{Doc, Elem, Node};

pub struct Mutation {
    pub desc: String,
    pub xml: String,
}

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const XS: &str = "http://www.w3.org/2001/XMLSchema";

fn path_str(doc: &Doc, path: &[usize]) -> String {
    let mut out = String::new();
    for depth in 0..=path.len() {
        out.push('/');
        out.push_str(doc.get(&path[..depth]).local());
    }
    out
}

fn declare(e: &mut Elem, prefix: &str, uri: &str) {
    let key = format!("xmlns:{prefix}");
    if !e.attrs.iter().any(|(k, _)| *k == key) {
        e.attrs.push((key, uri.into()));
    }
}

/// Structural mutations of every element.
pub fn structural(doc: &Doc) -> Vec<Mutation> {
    let mut out = Vec::new();
    let mut emit = |desc: String, d: Doc| {
        out.push(Mutation {
            desc,
            xml: d.serialize(),
        })
    };
    let root_prefix = doc.root.prefix().map(str::to_owned);
    for path in doc.element_paths() {
        let at = path_str(doc, &path);
        if let Some((&idx, parent_path)) = path.split_last() {
            // drop
            let mut d = doc.clone();
            d.get_mut(parent_path).children.remove(idx);
            emit(format!("drop {at}"), d);
            // duplicate
            let mut d = doc.clone();
            let copy = d.get_mut(parent_path).children[idx].clone();
            d.get_mut(parent_path).children.insert(idx + 1, copy);
            emit(format!("duplicate {at}"), d);
            // reorder: swap with the next element sibling
            let parent = doc.get(parent_path);
            if let Some(next) = (idx + 1..parent.children.len())
                .find(|&j| matches!(parent.children[j], Node::Elem(_)))
            {
                let mut d = doc.clone();
                d.get_mut(parent_path).children.swap(idx, next);
                emit(format!("swap {at} with its next sibling"), d);
            }
            // rename to a sibling's name, or to an unknown name
            let me = doc.get(&path);
            let sibling = parent.children.iter().find_map(|c| match c {
                Node::Elem(s) if s.name != me.name => Some(s.name.clone()),
                _ => None,
            });
            if let Some(name) = sibling {
                let mut d = doc.clone();
                d.get_mut(&path).name = name.clone();
                emit(format!("rename {at} to sibling name {name}"), d);
            }
            let mut d = doc.clone();
            let renamed = match me.prefix() {
                Some(p) => format!("{p}:zz{}", me.local()),
                None => format!("zz{}", me.local()),
            };
            d.get_mut(&path).name = renamed;
            emit(format!("rename {at} to an undeclared name"), d);
            // requalify: change the element's namespace
            let mut d = doc.clone();
            let e = d.get_mut(&path);
            match (me.prefix(), &root_prefix) {
                (Some(_), _) => e.name = me.local().to_owned(),
                (None, Some(rp)) => e.name = format!("{rp}:{}", me.local()),
                (None, None) => {
                    e.name = format!("zzns:{}", me.local());
                    declare(e, "zzns", "urn:zz");
                }
            }
            emit(format!("requalify {at}"), d);
            // an unknown element and stray text before it
            let mut d = doc.clone();
            d.get_mut(parent_path).children.insert(
                idx,
                Node::Elem(Elem {
                    name: "zzUnknown".into(),
                    attrs: Vec::new(),
                    children: Vec::new(),
                }),
            );
            emit(format!("insert unknown element before {at}"), d);
            let mut d = doc.clone();
            d.get_mut(parent_path)
                .children
                .insert(idx, Node::Text("x".into()));
            emit(format!("insert text before {at}"), d);
        }
        // attributes and xsi:* on every element
        let me = doc.get(&path);
        let mut d = doc.clone();
        d.get_mut(&path).attrs.push(("zzattr".into(), "1".into()));
        emit(format!("add undeclared attribute on {at}"), d);
        for (k, _) in me.attrs.iter().filter(|(k, _)| !k.starts_with("xmlns")) {
            let mut d = doc.clone();
            d.get_mut(&path).attrs.retain(|(x, _)| x != k);
            emit(format!("drop attribute {k} of {at}"), d);
            let mut d = doc.clone();
            for (x, _) in d.get_mut(&path).attrs.iter_mut() {
                if x == k {
                    *x = format!("zz{k}");
                }
            }
            emit(format!("rename attribute {k} of {at}"), d);
        }
        for (desc, value) in [("nil true", "true"), ("nil false", "false")] {
            let mut d = doc.clone();
            let e = d.get_mut(&path);
            declare(e, "zzxsi", XSI);
            e.attrs.push(("zzxsi:nil".into(), value.into()));
            emit(format!("xsi:{desc} on {at}"), d);
        }
        for ty in ["zzxs:string", "zzxs:anyType", "zzxs:int", "zzxs:nosuchtype"] {
            let mut d = doc.clone();
            let e = d.get_mut(&path);
            declare(e, "zzxsi", XSI);
            declare(e, "zzxs", XS);
            e.attrs.push(("zzxsi:type".into(), ty.into()));
            emit(format!("xsi:type {ty} on {at}"), d);
        }
        if me.children.is_empty() {
            let mut d = doc.clone();
            d.get_mut(&path).children.push(Node::Text("x".into()));
            emit(format!("add text to empty {at}"), d);
        }
    }
    out
}

type Perturb = fn(&str) -> String;

fn first_digit_up(v: &str) -> String {
    let mut done = false;
    v.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) if !done => {
                done = true;
                char::from_digit((d + 1) % 10, 10).unwrap_or(c)
            }
            _ => c,
        })
        .collect()
}

fn half(v: &str) -> String {
    v.chars().take(v.chars().count() / 2).collect()
}

/// Value perturbations: each aims at a lexical rule or facet (length, pattern, enumeration,
/// bounds, digits, whitespace, datatype syntax).
pub const PERTURBATIONS: &[(&str, Perturb)] = &[
    ("empty", |_| String::new()),
    ("space", |_| " ".into()),
    ("leading space", |v| format!(" {v}")),
    ("trailing space", |v| format!("{v} ")),
    ("surrounding newlines", |v| format!("\n{v}\n")),
    ("leading tab", |v| format!("\t{v}")),
    ("append x", |v| format!("{v}x")),
    ("prepend x", |v| format!("x{v}")),
    ("append 0", |v| format!("{v}0")),
    ("prepend 0", |v| format!("0{v}")),
    ("append Z", |v| format!("{v}Z")),
    ("append offset", |v| format!("{v}+01:00")),
    ("append .5", |v| format!("{v}.5")),
    ("negate", |v| format!("-{v}")),
    ("plus sign", |v| format!("+{v}")),
    ("half", half),
    ("drop first char", |v| v.chars().skip(1).collect()),
    ("drop last char", |v| {
        let mut s = v.to_owned();
        s.pop();
        s
    }),
    ("doubled", |v| format!("{v}{v}")),
    ("doubled with space", |v| format!("{v} {v}")),
    ("upper case", |v| v.to_uppercase()),
    ("lower case", |v| v.to_lowercase()),
    ("first digit + 1", first_digit_up),
    ("inner double space", |v| v.replacen(' ', "  ", 1)),
    ("101 chars", |_| "x".repeat(101)),
    ("100 chars", |_| "y".repeat(100)),
    ("256 chars", |_| "z".repeat(256)),
    ("zero", |_| "0".into()),
    ("one", |_| "1".into()),
    ("minus one", |_| "-1".into()),
    ("decimal", |_| "1.5".into()),
    ("comma decimal", |_| "1,5".into()),
    ("three fraction digits", |_| "12.345".into()),
    ("true", |_| "true".into()),
    ("yes", |_| "yes".into()),
    ("word", |_| "abc".into()),
    ("date", |_| "2026-04-02".into()),
    ("dateTime", |_| "2026-04-02T08:30:00Z".into()),
    ("invalid date", |_| "2026-02-30".into()),
    ("month 13", |_| "2026-13-01T00:00:00".into()),
    ("time 24", |_| "24:00:00".into()),
    ("gMonthDay", |_| "--04-31".into()),
    ("gYear", |_| "2025".into()),
    ("duration", |_| "P1D".into()),
    ("bad duration", |_| "PT1.5H".into()),
    ("INF", |_| "INF".into()),
    ("exponent", |_| "1e5".into()),
    ("nil uuid", |_| {
        "00000000-0000-0000-0000-000000000000".into()
    }),
    ("umlaut", |_| "ä".into()),
    ("en dash", |v| format!("{v}\u{2013}")),
    ("emoji", |v| format!("{v}\u{1F4A7}")),
    ("no-break space", |v| format!("{v}\u{A0}")),
    ("control char", |v| format!("{v}\u{7}")),
    ("markup chars", |v| format!("{v}<&>\"'")),
    ("space in uri", |_| "http://x y/".into()),
    ("bad escape", |_| "%zz".into()),
    ("25 digits", |_| "1234567890123456789012345".into()),
    ("big", |_| "99999999999".into()),
    ("minus zero", |_| "-0".into()),
    ("tiny", |_| "0.0000000000000000000000001".into()),
    ("base64", |_| "AAAA".into()),
    ("bad base64 padding", |_| "AB==".into()),
    ("qname", |_| "a:b".into()),
    ("ncname", |_| "_id".into()),
    ("digit-first name", |_| "1id".into()),
];

/// Value perturbations of every leaf element and attribute; `keep` decides which to emit (so
/// callers can sample deterministically without building every document).
pub fn values(doc: &Doc, keep: &mut dyn FnMut() -> bool) -> Vec<Mutation> {
    let mut out = Vec::new();
    for path in doc.element_paths() {
        let at = path_str(doc, &path);
        let me = doc.get(&path);
        if me.is_leaf() {
            let original = me.text();
            for (name, f) in PERTURBATIONS {
                if !keep() {
                    continue;
                }
                let mut d = doc.clone();
                let e = d.get_mut(&path);
                e.children.retain(|c| matches!(c, Node::Raw(_)));
                let v = f(&original);
                if !v.is_empty() {
                    e.children.push(Node::Text(v));
                }
                out.push(Mutation {
                    desc: format!("{name} in text of {at}"),
                    xml: d.serialize(),
                });
            }
        }
        for (k, v) in me.attrs.iter().filter(|(k, _)| !k.starts_with("xmlns")) {
            for (name, f) in PERTURBATIONS {
                if !keep() {
                    continue;
                }
                let mut d = doc.clone();
                let nv = f(v);
                for (x, val) in d.get_mut(&path).attrs.iter_mut() {
                    if x == k {
                        *val = nv.clone();
                    }
                }
                out.push(Mutation {
                    desc: format!("{name} in attribute {k} of {at}"),
                    xml: d.serialize(),
                });
            }
        }
    }
    out
}
