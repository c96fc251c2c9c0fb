//! Builds a [`Document`] from bytes: quick-xml splits the markup, this module
//! enforces everything else (UTF-8, characters, names, namespaces, references,
//! structure, limits).

use bytes::Bytes;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::chars::{
    find_invalid_char, has_uri_scheme, is_name, is_space, is_xml_char, split_qname,
};
use crate::position::LineTracker;
use crate::tree::{AttrRec, DeclRec, Document, ElemRec, NONE, NodeKind, NodeRec, Span};
use crate::{Limits, Position, XML_NAMESPACE, XMLNS_NAMESPACE, XmlError};

/// Parses `input` into a read-only tree, enforcing `limits`.
///
/// Accepts UTF-8 only (an optional BOM is skipped). Refuses DOCTYPE, entity
/// references other than the five predefined ones, and anything that is not
/// namespace-well-formed XML 1.0.
pub fn parse(input: &[u8], limits: &Limits) -> Result<Document> {
    parse_shared(Bytes::copy_from_slice(input), limits)
}

/// Like [`parse`], sharing `input` with the caller instead of copying it: the document keeps
/// it (for positions in error messages), so a request body is held once, not twice.
pub fn parse_shared(input: Bytes, limits: &Limits) -> Result<Document> {
    if input.len() >= u32::MAX as usize {
        return Err(XmlError::InputTooLarge { len: input.len() });
    }
    let bom = if input.starts_with(&[0xEF, 0xBB, 0xBF]) {
        3
    } else {
        0
    };
    let body = input.get(bom..).unwrap_or(&[]);
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(e) => {
            let valid = body
                .get(..e.valid_up_to())
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or("");
            let position = LineTracker::new(valid, bom).at(valid.len());
            return Err(XmlError::InvalidUtf8 { position });
        }
    };
    let mut parser = Parser::new(text, bom, limits);
    if let Some((offset, c)) = find_invalid_char(text) {
        return Err(XmlError::InvalidCharacter {
            code: c as u32,
            position: parser.lines.at(offset),
        });
    }
    parser.run()?;
    Ok(parser.finish(bom, input.slice(bom..)))
}

struct Open {
    node: u32,
    elem: u32,
    last_child: u32,
    ns_mark: usize,
}

struct Parser<'a> {
    text: &'a str,
    limits: &'a Limits,
    lines: LineTracker<'a>,
    nodes: Vec<NodeRec>,
    elems: Vec<ElemRec>,
    attrs: Vec<AttrRec>,
    decls: Vec<DeclRec>,
    strings: String,
    /// In-scope declarations of the open elements, innermost last.
    scope: Vec<(Option<Span>, Span)>,
    open: Vec<Open>,
    doc_last_child: u32,
    root: Option<u32>,
    xml_ns: Span,
    /// Text, references and CDATA not yet turned into a node.
    /// Start in `strings` of text (and references, CDATA) not yet turned
    /// into a node; it is written in place, so the span just grows.
    pending: Option<usize>,
    pending_offset: usize,
    scratch_attrs: Vec<RawAttr<'a>>,
    /// First entry of `decls` that belongs to the element being read.
    current_decl_from: usize,
}

/// An attribute as written, before namespace processing.
struct RawAttr<'a> {
    prefix: Option<&'a str>,
    local: &'a str,
    qname: &'a str,
    value: Span,
}

type Result<T> = std::result::Result<T, XmlError>;

impl<'a> Parser<'a> {
    fn new(text: &'a str, bom: usize, limits: &'a Limits) -> Self {
        let mut strings = String::with_capacity(text.len() / 2 + 64);
        let xml_ns = push_str(&mut strings, XML_NAMESPACE);
        Self {
            text,
            limits,
            lines: LineTracker::new(text, bom),
            nodes: vec![NodeRec {
                kind: NodeKind::Document,
                parent: NONE,
                first_child: NONE,
                next_sibling: NONE,
            }],
            elems: Vec::new(),
            attrs: Vec::new(),
            decls: Vec::new(),
            strings,
            scope: Vec::new(),
            open: Vec::new(),
            doc_last_child: NONE,
            root: None,
            xml_ns,
            pending: None,
            pending_offset: 0,
            scratch_attrs: Vec::new(),
            current_decl_from: 0,
        }
    }

    fn finish(self, bom: usize, source: Bytes) -> Document {
        Document {
            source,
            bom: to_u32(bom),
            line_starts: std::sync::OnceLock::new(),
            nodes: self.nodes,
            elems: self.elems,
            attrs: self.attrs,
            decls: self.decls,
            strings: self.strings,
            root: 0,
        }
    }

    fn str(&self, span: Span) -> &str {
        let start = span.start as usize;
        self.strings
            .get(start..start + span.len as usize)
            .unwrap_or("")
    }

    fn run(&mut self) -> Result<()> {
        let mut reader = Reader::from_str(self.text);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.check_comments = true;
        config.allow_unmatched_ends = false;
        config.allow_dangling_amp = false;
        config.expand_empty_elements = false;
        config.trim_text(false);
        let mut first = true;
        loop {
            let start = offset_usize(reader.buffer_position());
            let event = match reader.read_event() {
                Ok(ev) => ev,
                Err(e) => {
                    let position = self.lines.at(offset_usize(reader.error_position()));
                    return Err(XmlError::Syntax {
                        reason: e.to_string(),
                        position,
                    });
                }
            };
            let was_first = std::mem::replace(&mut first, false);
            match event {
                Event::Decl(decl) => {
                    let position = self.lines.at(start);
                    if !was_first || start != 0 {
                        return Err(XmlError::BadDeclaration {
                            reason: "not at the start of the document",
                            position,
                        });
                    }
                    check_declaration(&decl, position)?;
                }
                Event::DocType(_) => {
                    return Err(XmlError::DoctypeForbidden {
                        position: self.lines.at(start),
                    });
                }
                Event::Start(tag) => self
                    .start_element(&tag, start, false)
                    .map_err(|e| self.resolve(e))?,
                Event::Empty(tag) => {
                    let end = offset_usize(reader.buffer_position()).saturating_sub(2);
                    self.start_element(&tag, start, true)
                        .map_err(|e| self.resolve(e))?;
                    self.end_element(end)?;
                }
                Event::End(_) => {
                    self.flush_text()?;
                    self.end_element(start)?;
                }
                Event::Text(t) => {
                    let raw: &str = &t.into_inner();
                    self.text(raw, start)?;
                }
                Event::CData(c) => {
                    if self.open.is_empty() {
                        return Err(self.structure("CDATA section outside the root element", start));
                    }
                    let raw: &str = &c.into_inner();
                    self.add_pending(raw, start);
                }
                Event::GeneralRef(r) => {
                    if self.open.is_empty() {
                        return Err(self.structure("reference outside the root element", start));
                    }
                    let name: &str = &r.into_inner();
                    let c = self.resolve_reference(name, start)?;
                    self.open_pending(start);
                    self.strings.push(c);
                }
                Event::Comment(c) => {
                    let raw: &str = &c.into_inner();
                    if raw.contains('-') && (raw.contains("--") || raw.ends_with('-')) {
                        return Err(XmlError::Syntax {
                            reason: "'--' inside a comment".to_owned(),
                            position: self.lines.at(start),
                        });
                    }
                    self.flush_text()?;
                    self.check_text_len(raw.len(), start)?;
                    let span = push_normalized(&mut self.strings, raw);
                    self.push_node(NodeKind::Comment(span), start)?;
                }
                Event::PI(pi) => {
                    let raw: &str = &pi.into_inner();
                    self.flush_text()?;
                    self.processing_instruction(raw, start)?;
                }
                Event::Eof => {
                    if !self.open.is_empty() {
                        return Err(
                            self.structure("unclosed element at end of input", self.text.len())
                        );
                    }
                    if self.root.is_none() {
                        return Err(self.structure("no root element", self.text.len()));
                    }
                    return Ok(());
                }
            }
        }
    }

    /// Fills in line and column of an error raised with an unresolved
    /// position (only the offset known), keeping the hot path free of it.
    fn resolve(&mut self, mut e: XmlError) -> XmlError {
        if let Some(p) = e.position_mut()
            && p.line == 0
        {
            *p = self.lines.at(p.offset);
        }
        e
    }

    fn structure(&mut self, reason: &'static str, offset: usize) -> XmlError {
        XmlError::BadStructure {
            reason,
            position: self.lines.at(offset),
        }
    }

    fn check_text_len(&mut self, len: usize, offset: usize) -> Result<()> {
        if len > self.limits.max_text_len {
            return Err(XmlError::TextTooLong {
                limit: self.limits.max_text_len,
                position: self.lines.at(offset),
            });
        }
        Ok(())
    }

    fn text(&mut self, raw: &str, start: usize) -> Result<()> {
        if self.open.is_empty() {
            if raw.bytes().all(is_space) {
                return Ok(());
            }
            let lead = raw.bytes().take_while(|b| is_space(*b)).count();
            return Err(self.structure("text outside the root element", start + lead));
        }
        if raw.contains(']')
            && let Some(i) = raw.find("]]>")
        {
            return Err(XmlError::Syntax {
                reason: "']]>' in character data".to_owned(),
                position: self.lines.at(start + i),
            });
        }
        self.add_pending(raw, start);
        Ok(())
    }

    fn open_pending(&mut self, start: usize) {
        if self.pending.is_none() {
            self.pending = Some(self.strings.len());
            self.pending_offset = start;
        }
    }

    fn add_pending(&mut self, raw: &str, start: usize) {
        self.open_pending(start);
        normalize_line_ends_into(&mut self.strings, raw);
    }

    fn flush_text(&mut self) -> Result<()> {
        let Some(from) = self.pending.take() else {
            return Ok(());
        };
        let len = self.strings.len() - from;
        if len == 0 {
            return Ok(());
        }
        let offset = self.pending_offset;
        self.check_text_len(len, offset)?;
        let span = Span {
            start: to_u32(from),
            len: to_u32(len),
        };
        self.push_node(NodeKind::Text(span), offset)?;
        Ok(())
    }

    fn processing_instruction(&mut self, raw: &str, start: usize) -> Result<()> {
        let name_len = raw.bytes().position(is_space).unwrap_or(raw.len());
        let target = raw.get(..name_len).unwrap_or("");
        let data = raw
            .get(name_len..)
            .unwrap_or("")
            .trim_start_matches([' ', '\t', '\r', '\n']);
        let position = self.lines.at(start);
        if target.len() > self.limits.max_name_len {
            return Err(XmlError::NameTooLong {
                limit: self.limits.max_name_len,
                position,
            });
        }
        if !is_name(target) || target.eq_ignore_ascii_case("xml") || target.contains(':') {
            return Err(XmlError::InvalidName {
                name: target.to_owned(),
                position,
            });
        }
        self.check_text_len(data.len(), start)?;
        let target = push_str(&mut self.strings, target);
        let data = push_normalized(&mut self.strings, data);
        self.push_node(NodeKind::Pi { target, data }, start)?;
        Ok(())
    }

    /// Appends a node under the innermost open element (or the document) and
    /// returns its index.
    fn push_node(&mut self, kind: NodeKind, offset: usize) -> Result<u32> {
        if self.nodes.len() > self.limits.max_nodes {
            return Err(XmlError::TooManyNodes {
                limit: self.limits.max_nodes,
                position: self.lines.at(offset),
            });
        }
        let index = u32::try_from(self.nodes.len()).map_err(|_| XmlError::InputTooLarge {
            len: self.text.len(),
        })?;
        let (parent, last) = match self.open.last_mut() {
            Some(open) => (open.node, &mut open.last_child),
            None => (0, &mut self.doc_last_child),
        };
        let previous = std::mem::replace(last, index);
        if previous == NONE {
            if let Some(p) = self.nodes.get_mut(parent as usize) {
                p.first_child = index;
            }
        } else if let Some(prev) = self.nodes.get_mut(previous as usize) {
            prev.next_sibling = index;
        }
        self.nodes.push(NodeRec {
            kind,
            parent,
            first_child: NONE,
            next_sibling: NONE,
        });
        Ok(index)
    }

    fn start_element(
        &mut self,
        tag: &BytesStart<'a>,
        start: usize,
        self_closing: bool,
    ) -> Result<()> {
        self.flush_text()?;
        // Resolved to line and column only if an error is returned (see `resolve`).
        let position = Position {
            line: 0,
            column: 0,
            offset: start,
        };
        if self.open.is_empty() && self.root.is_some() {
            return Err(XmlError::BadStructure {
                reason: "more than one root element",
                position,
            });
        }
        if self.open.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep {
                limit: self.limits.max_depth,
                position,
            });
        }
        // Re-slice from the input so names live as long as the input.
        let name_len = tag.name().as_ref().len();
        let attrs_len = tag.attributes_raw().len();
        let qname = self.text.get(start + 1..start + 1 + name_len).unwrap_or("");
        if qname.len() > self.limits.max_name_len {
            return Err(XmlError::NameTooLong {
                limit: self.limits.max_name_len,
                position,
            });
        }
        let Some((prefix, local)) = split_qname(qname) else {
            return Err(XmlError::InvalidName {
                name: qname.to_owned(),
                position,
            });
        };
        if prefix == Some("xmlns") {
            return Err(XmlError::BadNamespaceDeclaration {
                reason: "element name with prefix 'xmlns'",
                position,
            });
        }

        // Attributes and declarations, as written.
        let mut raw_attrs = std::mem::take(&mut self.scratch_attrs);
        raw_attrs.clear();
        let ns_mark = self.scope.len();
        let decl_from = self.decls.len();
        self.current_decl_from = decl_from;
        let base = start + 1 + name_len;
        let raw = self.text.get(base..base + attrs_len).unwrap_or("");
        let result = self.read_attributes(raw, base, position, &mut raw_attrs);
        if let Err(e) = result {
            self.scratch_attrs = raw_attrs;
            return Err(e);
        }
        let decl_to = self.decls.len();

        let namespace = match prefix {
            None => self.lookup(None),
            Some("xml") => Some(self.xml_ns),
            Some(p) => match self.lookup(Some(p)) {
                Some(uri) => Some(uri),
                None => {
                    self.scratch_attrs = raw_attrs;
                    return Err(XmlError::UnboundPrefix {
                        prefix: p.to_owned(),
                        position,
                    });
                }
            },
        };

        let attr_from = self.attrs.len();
        for a in &raw_attrs {
            let ns = match a.prefix {
                None => None,
                Some("xml") => Some(self.xml_ns),
                Some(p) => match self.lookup(Some(p)) {
                    Some(uri) => Some(uri),
                    None => {
                        let prefix = p.to_owned();
                        self.scratch_attrs = raw_attrs;
                        return Err(XmlError::UnboundPrefix { prefix, position });
                    }
                },
            };
            let duplicate = self
                .attrs
                .get(attr_from..)
                .unwrap_or(&[])
                .iter()
                .any(|other| {
                    self.str(other.local) == a.local
                        && other.namespace.map(|s| self.str(s)) == ns.map(|s| self.str(s))
                });
            if duplicate {
                let name = a.qname.to_owned();
                self.scratch_attrs = raw_attrs;
                return Err(XmlError::DuplicateAttribute { name, position });
            }
            let prefix = a.prefix.map(|p| push_str(&mut self.strings, p));
            let local = push_str(&mut self.strings, a.local);
            self.attrs.push(AttrRec {
                prefix,
                local,
                namespace: ns,
                value: a.value,
            });
        }
        self.scratch_attrs = raw_attrs;
        let attr_to = self.attrs.len();

        let prefix_span = prefix.map(|p| push_str(&mut self.strings, p));
        let local_span = push_str(&mut self.strings, local);
        let elem = u32::try_from(self.elems.len()).map_err(|_| XmlError::InputTooLarge {
            len: self.text.len(),
        })?;
        let node = self.push_node(NodeKind::Element(elem), start)?;
        self.elems.push(ElemRec {
            node,
            prefix: prefix_span,
            local: local_span,
            namespace,
            attrs: (to_u32(attr_from), to_u32(attr_to)),
            decls: (to_u32(decl_from), to_u32(decl_to)),
            subtree_end: node,
            start: to_u32(start),
            content_end: 0,
            self_closing,
        });
        if self.open.is_empty() {
            self.root = Some(elem);
        }
        self.open.push(Open {
            node,
            elem,
            last_child: NONE,
            ns_mark,
        });
        Ok(())
    }

    fn end_element(&mut self, content_end: usize) -> Result<()> {
        let Some(open) = self.open.pop() else {
            return Err(self.structure("end tag without start tag", content_end));
        };
        self.scope.truncate(open.ns_mark);
        let subtree_end = to_u32(self.nodes.len().saturating_sub(1));
        if let Some(rec) = self.elems.get_mut(open.elem as usize) {
            rec.subtree_end = subtree_end;
            rec.content_end = to_u32(content_end);
        }
        Ok(())
    }

    fn lookup(&self, prefix: Option<&str>) -> Option<Span> {
        // Inline byte comparison: these are short prefixes, and a libc
        // memcmp call per scope entry showed up in profiles.
        let same =
            |a: &str, b: &str| a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y);
        for (p, uri) in self.scope.iter().rev() {
            let matches = match (p, prefix) {
                (None, None) => true,
                (Some(s), Some(q)) => same(self.str(*s), q),
                _ => false,
            };
            if matches {
                return (uri.len > 0).then_some(*uri);
            }
        }
        None
    }

    /// Tokenizes `raw` (everything after the element name) into attributes;
    /// namespace declarations go to `self.decls` and `self.scope`.
    fn read_attributes(
        &mut self,
        raw: &'a str,
        base: usize,
        position: Position,
        out: &mut Vec<RawAttr<'a>>,
    ) -> Result<()> {
        let bytes = raw.as_bytes();
        let mut i = 0;
        let mut count = 0usize;
        loop {
            let ws = bytes
                .get(i..)
                .unwrap_or(&[])
                .iter()
                .take_while(|b| is_space(**b))
                .count();
            i += ws;
            if i >= bytes.len() {
                return Ok(());
            }
            if ws == 0 {
                return Err(XmlError::Syntax {
                    reason: "missing white space before attribute".to_owned(),
                    position: self.lines.at(base + i),
                });
            }
            let name_start = i;
            while let Some(b) = bytes.get(i) {
                if is_space(*b) || *b == b'=' {
                    break;
                }
                i += 1;
            }
            let qname = raw.get(name_start..i).unwrap_or("");
            i += bytes
                .get(i..)
                .unwrap_or(&[])
                .iter()
                .take_while(|b| is_space(**b))
                .count();
            if bytes.get(i) != Some(&b'=') {
                return Err(XmlError::Syntax {
                    reason: format!("attribute {qname:?} without value"),
                    position: self.lines.at(base + i),
                });
            }
            i += 1;
            i += bytes
                .get(i..)
                .unwrap_or(&[])
                .iter()
                .take_while(|b| is_space(**b))
                .count();
            let quote = match bytes.get(i) {
                Some(q @ (b'"' | b'\'')) => *q,
                _ => {
                    return Err(XmlError::Syntax {
                        reason: format!("attribute {qname:?} value not quoted"),
                        position: self.lines.at(base + i),
                    });
                }
            };
            i += 1;
            let value_start = i;
            let Some(len) = bytes
                .get(i..)
                .and_then(|rest| rest.iter().position(|b| *b == quote))
            else {
                return Err(XmlError::Syntax {
                    reason: format!("attribute {qname:?} value not closed"),
                    position: self.lines.at(base + i),
                });
            };
            let value_raw = raw.get(value_start..value_start + len).unwrap_or("");
            i = value_start + len + 1;

            count += 1;
            if count > self.limits.max_attributes {
                return Err(XmlError::TooManyAttributes {
                    limit: self.limits.max_attributes,
                    position,
                });
            }
            if qname.len() > self.limits.max_name_len {
                return Err(XmlError::NameTooLong {
                    limit: self.limits.max_name_len,
                    position: self.lines.at(base + name_start),
                });
            }
            if value_raw.len() > self.limits.max_text_len {
                return Err(XmlError::TextTooLong {
                    limit: self.limits.max_text_len,
                    position: self.lines.at(base + value_start),
                });
            }
            let Some((prefix, local)) = split_qname(qname) else {
                return Err(XmlError::InvalidName {
                    name: qname.to_owned(),
                    position: self.lines.at(base + name_start),
                });
            };
            let duplicate_raw = out.iter().any(|a| a.qname == qname)
                || self
                    .decls
                    .get(self.current_decl_from..)
                    .unwrap_or(&[])
                    .iter()
                    .any(|d| {
                        let dq = d.prefix.map(|p| self.str(p));
                        (qname == "xmlns" && dq.is_none())
                            || (prefix == Some("xmlns") && dq == Some(local))
                    });
            if duplicate_raw {
                return Err(XmlError::DuplicateAttribute {
                    name: qname.to_owned(),
                    position,
                });
            }
            let value = self.attribute_value(value_raw, base + value_start)?;
            if qname == "xmlns" {
                self.declare(None, value, position)?;
            } else if prefix == Some("xmlns") {
                self.declare(Some(local), value, position)?;
            } else {
                out.push(RawAttr {
                    prefix,
                    local,
                    qname,
                    value,
                });
            }
        }
    }

    /// Expands references and normalises white space (XML 1.0 §3.3.3, CDATA
    /// type: every literal white-space character, CRLF counted once, becomes
    /// a space; characters from references are kept as they are).
    fn attribute_value(&mut self, raw: &str, offset: usize) -> Result<Span> {
        let start = self.strings.len();
        let bytes = raw.as_bytes();
        let mut i = 0;
        let mut run = 0;
        while i < bytes.len() {
            let b = bytes.get(i).copied().unwrap_or(0);
            match b {
                b'<' => {
                    return Err(XmlError::Syntax {
                        reason: "'<' in attribute value".to_owned(),
                        position: self.lines.at(offset + i),
                    });
                }
                b'&' | b'\t' | b'\n' | b'\r' => {
                    self.strings.push_str(raw.get(run..i).unwrap_or(""));
                    if b == b'&' {
                        let Some(len) = bytes
                            .get(i..)
                            .and_then(|r| r.iter().position(|c| *c == b';'))
                        else {
                            return Err(XmlError::Syntax {
                                reason: "unterminated reference in attribute value".to_owned(),
                                position: self.lines.at(offset + i),
                            });
                        };
                        let name = raw.get(i + 1..i + len).unwrap_or("");
                        let c = self.resolve_reference(name, offset + i)?;
                        self.strings.push(c);
                        i += len + 1;
                    } else {
                        self.strings.push(' ');
                        i += if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                            2
                        } else {
                            1
                        };
                    }
                    run = i;
                }
                _ => i += 1,
            }
        }
        self.strings.push_str(raw.get(run..).unwrap_or(""));
        let len = self.strings.len() - start;
        self.check_text_len(len, offset)?;
        Ok(Span {
            start: to_u32(start),
            len: to_u32(len),
        })
    }

    /// Records a namespace declaration after checking Namespaces in XML 1.0.
    fn declare(&mut self, prefix: Option<&str>, uri: Span, position: Position) -> Result<()> {
        let value = self.str(uri);
        let reason = match prefix {
            Some("xmlns") => Some("the prefix 'xmlns' must not be declared"),
            Some("xml") if value != XML_NAMESPACE => {
                Some("the prefix 'xml' must be bound to its namespace")
            }
            Some(p) if p != "xml" && value == XML_NAMESPACE => {
                Some("the XML namespace must not be bound to another prefix")
            }
            None if value == XML_NAMESPACE => {
                Some("the XML namespace must not be the default namespace")
            }
            _ if value == XMLNS_NAMESPACE => Some("the xmlns namespace must not be declared"),
            Some(_) if value.is_empty() => Some("a prefix must not be undeclared in XML 1.0"),
            _ => None,
        };
        if let Some(reason) = reason {
            return Err(XmlError::BadNamespaceDeclaration { reason, position });
        }
        if !value.is_empty() && !has_uri_scheme(value) {
            return Err(XmlError::RelativeNamespaceUri {
                uri: value.to_owned(),
                position,
            });
        }
        let prefix = prefix.map(|p| push_str(&mut self.strings, p));
        self.decls.push(DeclRec { prefix, uri });
        self.scope.push((prefix, uri));
        Ok(())
    }

    /// The character a reference stands for: one of the five predefined
    /// entities or a character reference; anything else is refused.
    fn resolve_reference(&mut self, name: &str, offset: usize) -> Result<char> {
        let predefined = match name {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "apos" => Some('\''),
            "quot" => Some('"'),
            _ => None,
        };
        if let Some(c) = predefined {
            return Ok(c);
        }
        if let Some(num) = name.strip_prefix('#') {
            let code = match num.strip_prefix('x') {
                Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    u32::from_str_radix(hex, 16).ok()
                }
                None if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) => {
                    num.parse::<u32>().ok()
                }
                _ => None,
            };
            return match code.and_then(char::from_u32).filter(|c| is_xml_char(*c)) {
                Some(c) => Ok(c),
                None => Err(XmlError::InvalidCharReference {
                    reference: name.to_owned(),
                    position: self.lines.at(offset),
                }),
            };
        }
        Err(XmlError::UndefinedEntity {
            name: name.to_owned(),
            position: self.lines.at(offset),
        })
    }
}

fn check_declaration(decl: &quick_xml::events::BytesDecl<'_>, position: Position) -> Result<()> {
    match decl.version() {
        Ok(v) if v.as_ref() == "1.0" => {}
        _ => {
            return Err(XmlError::BadDeclaration {
                reason: "version must be 1.0",
                position,
            });
        }
    }
    if let Some(enc) = decl.encoding() {
        let enc = enc.map_err(|_| XmlError::BadDeclaration {
            reason: "unreadable encoding",
            position,
        })?;
        if !enc.eq_ignore_ascii_case("utf-8") {
            return Err(XmlError::UnsupportedEncoding {
                encoding: enc.into_owned(),
                position,
            });
        }
    }
    if let Some(sa) = decl.standalone() {
        match sa {
            Ok(v) if v.as_ref() == "yes" || v.as_ref() == "no" => {}
            _ => {
                return Err(XmlError::BadDeclaration {
                    reason: "standalone must be yes or no",
                    position,
                });
            }
        }
    }
    Ok(())
}

fn offset_usize(offset: u64) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}

/// Callers keep all lengths below `u32::MAX` (the input size is checked first).
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn push_str(strings: &mut String, s: &str) -> Span {
    let start = strings.len();
    strings.push_str(s);
    Span {
        start: to_u32(start),
        len: to_u32(s.len()),
    }
}

fn push_normalized(strings: &mut String, s: &str) -> Span {
    let start = strings.len();
    normalize_line_ends_into(strings, s);
    Span {
        start: to_u32(start),
        len: to_u32(strings.len() - start),
    }
}

/// XML 1.0 §2.11: CRLF and lone CR become LF.
fn normalize_line_ends_into(out: &mut String, s: &str) {
    if !s.contains('\r') {
        out.push_str(s);
        return;
    }
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
}
