//! A small element tree for schema and catalog documents (trusted configuration, read once at
//! start-up). Annotations are dropped while parsing; every element keeps its position and the
//! namespace bindings in scope (QName-valued attributes are resolved against them).

use std::path::Path;
use std::rc::Rc;

use quick_xml::events::{BytesStart, Event};

use crate::NamespaceScope;
use crate::error::{CompileError, Location};
use crate::names::{XML, XS};
use crate::position::LineTracker;

/// Namespace bindings in scope at an element: `(prefix, uri)`, innermost last; an empty URI
/// undeclares the prefix (or the default namespace).
#[derive(Debug, Default)]
pub(crate) struct Scope {
    bindings: Vec<(Option<Box<str>>, Box<str>)>,
}

impl NamespaceScope for Scope {
    fn resolve(&self, prefix: Option<&str>) -> Option<&str> {
        if prefix == Some("xml") {
            return Some(XML);
        }
        self.bindings
            .iter()
            .rev()
            .find(|(p, _)| p.as_deref() == prefix)
            .map(|(_, uri)| &**uri)
            .filter(|uri| !uri.is_empty())
    }

    fn for_each_binding(&self, f: &mut dyn FnMut(Option<&str>, &str)) {
        for (p, uri) in &self.bindings {
            f(p.as_deref(), uri);
        }
    }
}

#[derive(Debug)]
pub(crate) struct Attr {
    pub(crate) ns: Box<str>,
    pub(crate) local: Box<str>,
    pub(crate) value: String,
}

/// An element of a schema or catalog document.
#[derive(Debug)]
pub(crate) struct Node {
    /// Namespace URI, empty for none.
    pub(crate) ns: Box<str>,
    pub(crate) local: Box<str>,
    pub(crate) attrs: Vec<Attr>,
    pub(crate) children: Vec<Node>,
    pub(crate) line: u32,
    pub(crate) column: u32,
    pub(crate) scope: Rc<Scope>,
}

impl Node {
    /// An unqualified attribute (XSD's own attributes are all unqualified).
    pub(crate) fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_empty() && &*a.local == local)
            .map(|a| a.value.as_str())
    }

    pub(crate) fn is_xs(&self, local: &str) -> bool {
        &*self.ns == XS && &*self.local == local
    }

    /// Child elements in the XSD namespace (foreign elements are ignored, as XSD allows them
    /// only inside annotations, which are already dropped).
    pub(crate) fn xs_children(&self) -> impl Iterator<Item = &Node> {
        self.children.iter().filter(|c| &*c.ns == XS)
    }

    pub(crate) fn location(&self, file: &Path) -> Location {
        Location::new(file, self.line, self.column)
    }
}

/// Nesting limit for schema documents (keeps every later recursion over the tree shallow).
const MAX_DEPTH: usize = 256;

/// Parses a schema or catalog document. A DOCTYPE is skipped when `allow_doctype` (schemas are
/// trusted configuration; the W3C xmldsig schema has one), otherwise refused. Elements named
/// `xs:annotation` are dropped with their content.
pub(crate) fn parse(path: &Path, bytes: &[u8], allow_doctype: bool) -> Result<Node, CompileError> {
    let malformed = |line: u32, column: u32, message: String| CompileError::Malformed {
        at: Location::new(path, line, column),
        message,
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let mut lines = LineTracker::new(bytes);
        let (l, c) = lines.at(e.valid_up_to());
        malformed(
            l,
            c,
            "not UTF-8 (only UTF-8 schema documents are supported)".into(),
        )
    })?;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().expand_empty_elements = true;
    reader.config_mut().check_end_names = true;
    let mut lines = LineTracker::new(bytes);
    let mut ns_stack: Vec<(Option<Box<str>>, Box<str>)> = Vec::new();
    let mut ns_marks: Vec<usize> = Vec::new();
    let mut scopes: Vec<Rc<Scope>> = vec![Rc::new(Scope::default())];
    let mut open: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut skip_depth = 0usize;
    loop {
        let offset = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_event().map_err(|e| {
            let at = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
            let (l, c) = lines.at(at);
            malformed(l, c, e.to_string())
        })?;
        match event {
            Event::Start(start) => {
                let (line, column) = lines.at(offset);
                if skip_depth > 0 {
                    skip_depth += 1;
                    continue;
                }
                if open.len() >= MAX_DEPTH {
                    return Err(malformed(
                        line,
                        column,
                        format!("elements nested deeper than {MAX_DEPTH}"),
                    ));
                }
                if root.is_some() {
                    return Err(malformed(
                        line,
                        column,
                        "content after the document element".into(),
                    ));
                }
                ns_marks.push(ns_stack.len());
                let mut attrs = Vec::new();
                let mut declared = false;
                for attr in start.attributes() {
                    let attr = attr.map_err(|e| malformed(line, column, e.to_string()))?;
                    let value = attr
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| malformed(line, column, e.to_string()))?
                        .into_owned();
                    let key = attr.key.into_inner();
                    if key == "xmlns" {
                        ns_stack.push((None, value.into()));
                        declared = true;
                    } else if let Some(p) = key.strip_prefix("xmlns:") {
                        ns_stack.push((Some(p.into()), value.into()));
                        declared = true;
                    } else {
                        attrs.push((key.to_owned(), value));
                    }
                }
                let scope = if declared {
                    let parent = scopes.last().cloned().unwrap_or_default();
                    let mut bindings: Vec<(Option<Box<str>>, Box<str>)> = parent.bindings.to_vec();
                    let mark = ns_marks.last().copied().unwrap_or(0);
                    bindings.extend(ns_stack.get(mark..).unwrap_or(&[]).iter().cloned());
                    Rc::new(Scope { bindings })
                } else {
                    scopes.last().cloned().unwrap_or_default()
                };
                let (ns, local) = resolve_element(&start, &scope)
                    .ok_or_else(|| malformed(line, column, "unbound namespace prefix".into()))?;
                let mut resolved = Vec::with_capacity(attrs.len());
                for (key, value) in attrs {
                    let (ans, alocal) = match key.split_once(':') {
                        Some((p, l)) => (
                            scope.resolve(Some(p)).ok_or_else(|| {
                                malformed(line, column, format!("unbound prefix {p} on attribute"))
                            })?,
                            l,
                        ),
                        None => ("", key.as_str()),
                    };
                    resolved.push(Attr {
                        ns: ans.into(),
                        local: alocal.into(),
                        value,
                    });
                }
                if &*ns == XS && &*local == "annotation" {
                    skip_depth = 1;
                    ns_stack.truncate(ns_marks.pop().unwrap_or(0));
                    continue;
                }
                scopes.push(scope.clone());
                open.push(Node {
                    ns,
                    local,
                    attrs: resolved,
                    children: Vec::new(),
                    line,
                    column,
                    scope,
                });
            }
            Event::End(_) => {
                if skip_depth > 0 {
                    skip_depth -= 1;
                    continue;
                }
                ns_stack.truncate(ns_marks.pop().unwrap_or(0));
                scopes.pop();
                let node = open.pop().ok_or_else(|| {
                    let (l, c) = lines.at(offset);
                    malformed(l, c, "unexpected end tag".into())
                })?;
                match open.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::DocType(_) if !allow_doctype => {
                let (l, c) = lines.at(offset);
                return Err(malformed(l, c, "DOCTYPE is not allowed here".into()));
            }
            Event::Decl(decl) => {
                if let Some(Ok(enc)) = decl.encoding()
                    && !enc.eq_ignore_ascii_case("utf-8")
                {
                    let (l, c) = lines.at(offset);
                    return Err(malformed(
                        l,
                        c,
                        format!("encoding {enc} (only UTF-8 schema documents are supported)"),
                    ));
                }
            }
            Event::GeneralRef(r) if skip_depth == 0 && !r.is_char_ref() => {
                // Text is not significant in schema documents, but an entity we cannot expand
                // might hide content, so refuse it.
                let name = r.into_inner();
                if !matches!(&*name, "lt" | "gt" | "amp" | "apos" | "quot") {
                    let (l, c) = lines.at(offset);
                    return Err(malformed(l, c, format!("undefined entity &{name};")));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    root.ok_or_else(|| malformed(1, 1, "no document element".into()))
}

fn resolve_element(start: &BytesStart<'_>, scope: &Scope) -> Option<(Box<str>, Box<str>)> {
    let name = start.name();
    let (local, prefix) = name.decompose();
    let ns = match prefix {
        Some(p) => scope.resolve(Some(p.into_inner()))?,
        None => scope.resolve(None).unwrap_or(""),
    };
    Some((ns.into(), local.into_inner().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_scopes_and_drops_annotations() {
        let doc = br#"<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:t="urn:t">
  <xs:annotation><xs:documentation>text &amp; more</xs:documentation></xs:annotation>
  <xs:element name="a" type="t:T" fixed="&#x41;&lt;"/>
</xs:schema>"#;
        let root = parse(Path::new("x.xsd"), doc, false).expect("parses");
        assert!(root.is_xs("schema"));
        assert_eq!(root.children.len(), 1);
        let el = &root.children[0];
        assert_eq!((el.line, el.column), (4, 3));
        assert_eq!(el.attr("fixed"), Some("A<"));
        assert_eq!(el.scope.resolve(Some("t")), Some("urn:t"));
    }

    #[test]
    fn refuses_a_doctype_unless_allowed() {
        let doc = b"<!DOCTYPE x [<!ENTITY e 'v'>]><x/>";
        assert!(matches!(
            parse(Path::new("c.xml"), doc, false),
            Err(CompileError::Malformed { .. })
        ));
        assert!(parse(Path::new("s.xsd"), doc, true).is_ok());
    }
}
