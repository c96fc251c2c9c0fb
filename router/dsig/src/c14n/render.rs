//! The canonical serializer: an explicit-stack walk (no recursion, so depth
//! is bounded only by the parser's limit, never by the thread stack).
//!
//! Namespace state, both as stacks of `(prefix, uri)` with `""` = default:
//! - `in_scope`: declarations on the path from the document root to the
//!   current element (the apex's ancestors included);
//! - `rendered`: declarations written on output ancestors. A namespace is
//!   written on an element exactly when its in-scope value differs from the
//!   nearest rendered one (C14N §2.3 / Exc-C14N §3, "not already in effect").

use xoev_xml::{Children, Document, Element, Node, NodeId, XML_NAMESPACE};

use super::{Method, Sink, escape};

type Ns<'d> = (&'d str, &'d str);

fn lookup<'d>(stack: &[Ns<'d>], prefix: &str) -> Option<&'d str> {
    stack
        .iter()
        .rev()
        .find(|(p, _)| same(p, prefix))
        .map(|(_, u)| *u)
}

/// String equality tuned for the short, often identical (same arena slice)
/// prefixes and URIs compared here; a libc `memcmp` call per comparison
/// dominated the profile otherwise.
#[inline]
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && (std::ptr::eq(a.as_ptr(), b.as_ptr()) || a.bytes().zip(b.bytes()).all(|(x, y)| x == y))
}

/// Writes the canonical form of `apex` (or the document) to `out`.
pub(crate) fn write_canonical(
    doc: &Document,
    apex: Option<NodeId>,
    exclude: Option<NodeId>,
    method: &Method,
    comments: bool,
    out: &mut impl Sink,
) {
    let mut w = Writer {
        method,
        comments,
        exclude,
        in_scope: Vec::new(),
        rendered: Vec::new(),
        decls: Vec::new(),
        attrs: Vec::new(),
    };
    match apex {
        None => {
            let mut after_root = false;
            for node in doc.children() {
                match node {
                    Node::Element(root) => {
                        w.subtree(root, true, out);
                        after_root = true;
                    }
                    Node::Comment(_) | Node::ProcessingInstruction { .. } => {
                        if !w.comments && matches!(node, Node::Comment(_)) {
                            continue;
                        }
                        // C14N §2.1: a line feed separates document-level nodes from the root.
                        if after_root {
                            out.put(b"\n");
                        }
                        w.leaf(node, out);
                        if !after_root {
                            out.put(b"\n");
                        }
                    }
                    Node::Text(_) => {}
                }
            }
        }
        Some(id) => {
            if Some(id) == exclude {
                return;
            }
            if let Some(element) = doc.element(id) {
                // Seed the in-scope namespaces with the apex's ancestors, outermost first.
                let mut ancestors: Vec<Element<'_>> = Vec::new();
                let mut current = element.parent();
                while let Some(a) = current {
                    ancestors.push(a);
                    current = a.parent();
                }
                for a in ancestors.iter().rev() {
                    for (p, u) in a.namespace_declarations() {
                        w.in_scope.push((p.unwrap_or(""), u));
                    }
                }
                w.subtree(element, ancestors.is_empty(), out);
            } else if let Some(node) = doc.node(id) {
                w.leaf(node, out);
            }
        }
    }
}

struct Writer<'m, 'd> {
    method: &'m Method,
    comments: bool,
    exclude: Option<NodeId>,
    in_scope: Vec<Ns<'d>>,
    rendered: Vec<Ns<'d>>,
    /// Scratch: declarations to write on the current element.
    decls: Vec<Ns<'d>>,
    /// Scratch: attributes to write, as (namespace, local, qname prefix, value).
    attrs: Vec<(&'d str, &'d str, Option<&'d str>, &'d str)>,
}

struct Frame<'d> {
    element: Element<'d>,
    children: Children<'d>,
    in_scope_mark: usize,
    rendered_mark: usize,
}

impl<'d> Writer<'_, 'd> {
    fn leaf(&self, node: Node<'d>, out: &mut impl Sink) {
        match node {
            Node::Text(t) => escape::text(out, t),
            Node::Comment(c) => {
                if self.comments {
                    out.put(b"<!--");
                    escape::raw(out, c);
                    out.put(b"-->");
                }
            }
            Node::ProcessingInstruction { target, data } => {
                out.put(b"<?");
                out.put(target.as_bytes());
                if !data.is_empty() {
                    out.put(b" ");
                    escape::raw(out, data);
                }
                out.put(b"?>");
            }
            Node::Element(_) => {}
        }
    }

    /// `is_document_root`: the apex has no ancestors, so nothing is inherited.
    fn subtree(&mut self, apex: Element<'d>, is_document_root: bool, out: &mut impl Sink) {
        let mut stack: Vec<Frame<'d>> = Vec::new();
        let frame = self.start_tag(apex, true, is_document_root, out);
        stack.push(frame);
        while let Some(top) = stack.last_mut() {
            match top.children.next() {
                Some(Node::Element(child)) => {
                    if Some(child.id()) == self.exclude {
                        continue;
                    }
                    let frame = self.start_tag(child, false, false, out);
                    stack.push(frame);
                }
                Some(other) => self.leaf(other, out),
                None => {
                    let element = top.element;
                    let (in_scope_mark, rendered_mark) = (top.in_scope_mark, top.rendered_mark);
                    stack.pop();
                    out.put(b"</");
                    write_qname(out, element.prefix(), element.local_name());
                    out.put(b">");
                    self.in_scope.truncate(in_scope_mark);
                    self.rendered.truncate(rendered_mark);
                }
            }
        }
    }

    fn start_tag(
        &mut self,
        e: Element<'d>,
        is_apex: bool,
        is_document_root: bool,
        out: &mut impl Sink,
    ) -> Frame<'d> {
        let in_scope_mark = self.in_scope.len();
        let rendered_mark = self.rendered.len();
        for (p, u) in e.namespace_declarations() {
            self.in_scope.push((p.unwrap_or(""), u));
        }

        // Which prefixes might need a declaration here.
        self.decls.clear();
        let candidates_from_scope = is_apex && !is_document_root;
        if self.method.is_exclusive() {
            self.consider(e.prefix().unwrap_or(""));
            for a in e.attributes() {
                if let Some(p) = a.prefix {
                    self.consider(p);
                }
            }
        }
        if candidates_from_scope {
            // Every namespace in scope at the apex (inclusive, or listed in the PrefixList).
            let scope: Vec<Ns<'d>> = self.in_scope.clone();
            for (p, _) in scope {
                if self.method.includes_prefix(p) {
                    self.consider(p);
                }
            }
        } else {
            for (p, _) in e.namespace_declarations() {
                let p = p.unwrap_or("");
                if self.method.includes_prefix(p) {
                    self.consider(p);
                }
            }
        }
        if self.decls.len() > 1 {
            self.decls
                .sort_unstable_by(|a, b| a.0.bytes().cmp(b.0.bytes()));
        }
        self.rendered.extend_from_slice(&self.decls);

        // Attributes: own ones, plus xml:* inherited into the apex (inclusive only).
        self.attrs.clear();
        for a in e.attributes() {
            self.attrs
                .push((a.namespace.unwrap_or(""), a.local_name, a.prefix, a.value));
        }
        if is_apex && !is_document_root && !self.method.is_exclusive() {
            let mut current = e.parent();
            while let Some(anc) = current {
                for a in anc.attributes() {
                    if a.namespace == Some(XML_NAMESPACE)
                        && !self
                            .attrs
                            .iter()
                            .any(|(ns, local, _, _)| *ns == XML_NAMESPACE && *local == a.local_name)
                    {
                        self.attrs
                            .push((XML_NAMESPACE, a.local_name, Some("xml"), a.value));
                    }
                }
                current = anc.parent();
            }
        }
        if self.attrs.len() > 1 {
            // Namespace URI, then local name (C14N §2.2); short strings, so an
            // inline byte comparison beats a libc memcmp call.
            self.attrs.sort_by(|a, b| {
                a.0.bytes()
                    .cmp(b.0.bytes())
                    .then_with(|| a.1.bytes().cmp(b.1.bytes()))
            });
        }

        out.put(b"<");
        write_qname(out, e.prefix(), e.local_name());
        for (p, u) in &self.decls {
            if p.is_empty() {
                out.put(b" xmlns=\"");
            } else {
                out.put(b" xmlns:");
                out.put(p.as_bytes());
                out.put(b"=\"");
            }
            escape::attribute(out, u);
            out.put(b"\"");
        }
        for (_, local, prefix, value) in &self.attrs {
            out.put(b" ");
            write_qname(out, *prefix, local);
            out.put(b"=\"");
            escape::attribute(out, value);
            out.put(b"\"");
        }
        out.put(b">");
        Frame {
            element: e,
            children: e.children(),
            in_scope_mark,
            rendered_mark,
        }
    }

    /// Queues a declaration of `prefix` if its in-scope value is not the one
    /// already in effect in the output. `xml` is never declared.
    fn consider(&mut self, prefix: &'d str) {
        if prefix == "xml" || self.decls.iter().any(|(p, _)| same(p, prefix)) {
            return;
        }
        let value = lookup(&self.in_scope, prefix).unwrap_or("");
        let rendered = lookup(&self.rendered, prefix);
        let differs = if prefix.is_empty() {
            !same(value, rendered.unwrap_or(""))
        } else {
            !value.is_empty() && !rendered.is_some_and(|r| same(r, value))
        };
        if differs {
            self.decls.push((prefix, value));
        }
    }
}

fn write_qname(out: &mut impl Sink, prefix: Option<&str>, local: &str) {
    if let Some(p) = prefix {
        out.put(p.as_bytes());
        out.put(b":");
    }
    out.put(local.as_bytes());
}
