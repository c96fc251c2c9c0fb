//! `validate_bytes`: parse a document with quick-xml and feed the streaming validator.
//!
//! The parser refuses DTDs (`<!DOCTYPE`), undefined entities and non-UTF-8 encodings, and keeps
//! its own namespace scope. It is a convenience for the CLI and tests; the router feeds the
//! validator from its own hardened parser.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};

use crate::error::{Violation, ViolationKind};
use crate::position::LineTracker;
use crate::validator::{AttributeEvent, StartElement, Validator};
use crate::{NamespaceScope, Schema};

/// Namespace bindings of the open elements; an empty URI undeclares.
struct Bindings {
    list: Vec<(Option<Box<str>>, Box<str>)>,
}

impl NamespaceScope for Bindings {
    fn resolve(&self, prefix: Option<&str>) -> Option<&str> {
        if prefix == Some("xml") {
            return Some(crate::names::XML);
        }
        self.list
            .iter()
            .rev()
            .find(|(p, _)| p.as_deref() == prefix)
            .map(|(_, u)| &**u)
            .filter(|u| !u.is_empty())
    }

    fn for_each_binding(&self, f: &mut dyn FnMut(Option<&str>, &str)) {
        for (p, u) in &self.list {
            f(p.as_deref(), u);
        }
    }
}

fn malformed(lines: &mut LineTracker<'_>, offset: usize, message: String) -> Violation {
    let (line, column) = lines.at(offset);
    Violation {
        path: "/".into(),
        line,
        column,
        message: format!("not well-formed: {message}"),
        expected: None,
        kind: ViolationKind::Malformed,
    }
}

/// Parses `xml` (UTF-8, no DTD) and validates it against `schema`; the first violation wins.
pub fn validate_bytes(schema: &Schema, xml: &[u8]) -> Result<(), Violation> {
    let bytes = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    let mut lines = LineTracker::new(bytes);
    let text = std::str::from_utf8(bytes)
        .map_err(|e| malformed(&mut lines, e.valid_up_to(), "not UTF-8".into()))?;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;
    let mut validator = Validator::new(schema);
    let mut ns = Bindings { list: Vec::new() };
    let mut marks: Vec<usize> = Vec::new();
    loop {
        let offset = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                let at = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
                return Err(malformed(&mut lines, at, e.to_string()));
            }
        };
        match event {
            Event::Start(start) => {
                start_element(
                    &mut validator,
                    &mut ns,
                    &mut marks,
                    &start,
                    &mut lines,
                    offset,
                )?;
            }
            Event::Empty(start) => {
                start_element(
                    &mut validator,
                    &mut ns,
                    &mut marks,
                    &start,
                    &mut lines,
                    offset,
                )?;
                validator.end_element()?;
                ns.list.truncate(marks.pop().unwrap_or(0));
            }
            Event::End(_) => {
                validator.end_element()?;
                ns.list.truncate(marks.pop().unwrap_or(0));
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                check_chars(&content, &mut lines, offset)?;
                validator.text(&content)?;
            }
            Event::CData(t) => {
                let content = t.xml10_content();
                check_chars(&content, &mut lines, offset)?;
                validator.text(&content)?;
            }
            Event::GeneralRef(r) => {
                let replacement: Cow<'_, str> = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) if is_xml_char(c) => Cow::Owned(c.to_string()),
                        _ => {
                            return Err(malformed(
                                &mut lines,
                                offset,
                                format!("invalid character reference &{};", &*r),
                            ));
                        }
                    }
                } else {
                    match &*r.xml10_content() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        "quot" => "\"".into(),
                        other => {
                            return Err(malformed(
                                &mut lines,
                                offset,
                                format!("undefined entity &{other};"),
                            ));
                        }
                    }
                };
                validator.text(&replacement)?;
            }
            Event::DocType(_) => {
                return Err(malformed(
                    &mut lines,
                    offset,
                    "a DOCTYPE is not allowed".into(),
                ));
            }
            Event::Decl(decl) => {
                if let Some(Ok(enc)) = decl.encoding()
                    && !enc.eq_ignore_ascii_case("utf-8")
                {
                    return Err(malformed(
                        &mut lines,
                        offset,
                        format!("encoding {enc} (only UTF-8 is supported)"),
                    ));
                }
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    validator.finish()
}

/// Refuses characters XML 1.0 does not allow (controls other than tab and line breaks,
/// U+FFFE, U+FFFF); quick-xml passes them through.
fn check_chars(s: &str, lines: &mut LineTracker<'_>, offset: usize) -> Result<(), Violation> {
    // Fast path: no control character other than tab and line breaks, and no 0xEF lead byte
    // (U+FFFE and U+FFFF are EF BF BE / EF BF BF in UTF-8).
    let suspicious = |c: u8| (c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r')) || c == 0xEF;
    if !s.bytes().any(suspicious) {
        return Ok(());
    }
    let b = s.as_bytes();
    let bad = b.iter().enumerate().any(|(i, &c)| {
        (c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r'))
            || (c == 0xEF
                && b.get(i + 1) == Some(&0xBF)
                && matches!(b.get(i + 2), Some(0xBE | 0xBF)))
    });
    if bad {
        return Err(malformed(
            lines,
            offset,
            "a character that XML does not allow".into(),
        ));
    }
    Ok(())
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn start_element(
    validator: &mut Validator<'_>,
    ns: &mut Bindings,
    marks: &mut Vec<usize>,
    start: &BytesStart<'_>,
    lines: &mut LineTracker<'_>,
    offset: usize,
) -> Result<(), Violation> {
    let (line, column) = lines.at(offset);
    marks.push(ns.list.len());
    let mut plain: Vec<(Option<&str>, &str, Cow<'_, str>)> = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| malformed(lines, offset, e.to_string()))?;
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| malformed(lines, offset, e.to_string()))?;
        check_chars(&value, lines, offset)?;
        let key = attr.key.into_inner();
        if key == "xmlns" {
            ns.list.push((None, value.into()));
        } else if let Some(p) = key.strip_prefix("xmlns:") {
            if value.is_empty() {
                return Err(malformed(
                    lines,
                    offset,
                    format!("prefix {p} bound to an empty namespace"),
                ));
            }
            ns.list.push((Some(p.into()), value.into()));
        } else {
            plain.push((None, key, value));
        }
    }
    let name = start.name().into_inner();
    let (prefix, local) = match name.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, name),
    };
    let el_ns = match prefix {
        Some(p) => match ns.resolve(Some(p)) {
            Some(u) => Some(u),
            None => {
                return Err(malformed(
                    lines,
                    offset,
                    format!("unbound namespace prefix {p}"),
                ));
            }
        },
        None => ns.resolve(None),
    };
    let mut attrs: Vec<AttributeEvent<'_>> = Vec::with_capacity(plain.len());
    for (_, key, value) in &plain {
        let (anamespace, alocal) = match key.split_once(':') {
            Some((p, l)) => match ns.resolve(Some(p)) {
                Some(u) => (Some(u), l),
                None => {
                    return Err(malformed(
                        lines,
                        offset,
                        format!("unbound namespace prefix {p}"),
                    ));
                }
            },
            None => (None, *key),
        };
        attrs.push(AttributeEvent {
            namespace: anamespace,
            local_name: alocal,
            value,
        });
    }
    validator.start_element(&StartElement {
        namespace: el_ns,
        local_name: local,
        attributes: &attrs,
        namespaces: &*ns,
        line,
        column,
    })
}
