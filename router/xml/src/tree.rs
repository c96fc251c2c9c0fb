//! The read-only tree: one arena of nodes in document order, one string arena.
//!
//! Invariants (established by the parser, relied on by every accessor):
//! - `nodes[0]` is the document node; all other nodes follow in document order,
//!   so an element's descendants are exactly `nodes[i + 1 ..= subtree_end]`.
//! - every `Span` lies inside `strings` on char boundaries.
//! - `parent`, `first_child` and `next_sibling` are node indices or `NONE`.
//! - a document has exactly one root element, the only element child of node 0.

use std::sync::OnceLock;

use crate::Position;

pub(crate) const NONE: u32 = u32::MAX;

/// Identifies a node of one [`Document`]. Meaningless for another document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The node's index in document order (0 is the document node).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) len: u32,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum NodeKind {
    Document,
    Element(u32),
    Text(Span),
    Comment(Span),
    Pi { target: Span, data: Span },
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct NodeRec {
    pub(crate) kind: NodeKind,
    pub(crate) parent: u32,
    pub(crate) first_child: u32,
    pub(crate) next_sibling: u32,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct ElemRec {
    pub(crate) node: u32,
    pub(crate) prefix: Option<Span>,
    pub(crate) local: Span,
    pub(crate) namespace: Option<Span>,
    pub(crate) attrs: (u32, u32),
    pub(crate) decls: (u32, u32),
    pub(crate) subtree_end: u32,
    /// Byte offset of the start tag's `<` in the input after the BOM.
    pub(crate) start: u32,
    /// Byte offset of `</` of the end tag, or of `/>` for an empty-element tag.
    pub(crate) content_end: u32,
    pub(crate) self_closing: bool,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct AttrRec {
    pub(crate) prefix: Option<Span>,
    pub(crate) local: Span,
    pub(crate) namespace: Option<Span>,
    pub(crate) value: Span,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct DeclRec {
    pub(crate) prefix: Option<Span>,
    pub(crate) uri: Span,
}

static EMPTY_ELEM: ElemRec = ElemRec {
    node: 0,
    prefix: None,
    local: Span { start: 0, len: 0 },
    namespace: None,
    attrs: (0, 0),
    decls: (0, 0),
    subtree_end: 0,
    start: 0,
    content_end: 0,
    self_closing: false,
};

/// A parsed document. Owns all its data; `Send + Sync`; never changes.
#[derive(Clone, Debug)]
pub struct Document {
    pub(crate) nodes: Vec<NodeRec>,
    pub(crate) elems: Vec<ElemRec>,
    pub(crate) attrs: Vec<AttrRec>,
    pub(crate) decls: Vec<DeclRec>,
    pub(crate) strings: String,
    pub(crate) root: u32,
    /// The input after the BOM, kept so positions can be computed on demand
    /// instead of on the hot path.
    pub(crate) source: bytes::Bytes,
    pub(crate) bom: u32,
    pub(crate) line_starts: OnceLock<Vec<u32>>,
}

impl Document {
    pub(crate) fn str(&self, span: Span) -> &str {
        let start = span.start as usize;
        self.strings
            .get(start..start + span.len as usize)
            .unwrap_or("")
    }

    /// The root (document) element.
    pub fn root(&self) -> Element<'_> {
        Element {
            doc: self,
            elem: self.root,
        }
    }

    /// The element with this id, or `None` if the id is not an element of this document.
    pub fn element(&self, id: NodeId) -> Option<Element<'_>> {
        match self.nodes.get(id.index())?.kind {
            NodeKind::Element(elem) => Some(Element { doc: self, elem }),
            _ => None,
        }
    }

    /// The node with this id (element, text, comment or PI); `None` for the
    /// document node and for ids outside this document.
    pub fn node(&self, id: NodeId) -> Option<Node<'_>> {
        self.node_at(id.0)
    }

    /// Children of the document node: comments and PIs before and after the
    /// root, and the root element, in document order.
    pub fn children(&self) -> Children<'_> {
        Children {
            doc: self,
            next: self.nodes.first().map_or(NONE, |n| n.first_child),
        }
    }

    /// Number of nodes (elements, text, comments, PIs).
    pub fn node_count(&self) -> usize {
        self.nodes.len().saturating_sub(1)
    }

    fn node_at(&self, index: u32) -> Option<Node<'_>> {
        let rec = self.nodes.get(index as usize)?;
        Some(match rec.kind {
            NodeKind::Document => return None,
            NodeKind::Element(elem) => Node::Element(Element { doc: self, elem }),
            NodeKind::Text(s) => Node::Text(self.str(s)),
            NodeKind::Comment(s) => Node::Comment(self.str(s)),
            NodeKind::Pi { target, data } => Node::ProcessingInstruction {
                target: self.str(target),
                data: self.str(data),
            },
        })
    }

    /// Line and column of byte `offset` (after the BOM). The line index is
    /// built on first use, O(n) once; each lookup is O(log lines + column).
    fn position_at(&self, offset: u32) -> Position {
        let bytes: &[u8] = &self.source;
        let starts = self.line_starts.get_or_init(|| {
            // The router asks for positions of every element it validates, so this runs for
            // every message: a SIMD search for line ends instead of a loop over each byte.
            let mut starts = vec![0u32];
            for i in memchr::memchr2_iter(b'\n', b'\r', bytes) {
                let line_end = bytes.get(i) == Some(&b'\n') || bytes.get(i + 1) != Some(&b'\n');
                if line_end {
                    starts.push(u32::try_from(i + 1).unwrap_or(u32::MAX));
                }
            }
            starts
        });
        let line = starts.partition_point(|s| *s <= offset).max(1);
        let line_start = starts.get(line - 1).copied().unwrap_or(0) as usize;
        let column = bytes
            .get(line_start..offset as usize)
            .unwrap_or(&[])
            .iter()
            .filter(|b| (**b & 0xC0) != 0x80 && **b != b'\r')
            .count();
        Position {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX).saturating_add(1),
            offset: offset as usize + self.bom as usize,
        }
    }

    fn elem_rec(&self, elem: u32) -> &ElemRec {
        // Element handles are only made from valid indices (tree invariant);
        // an empty record stands in rather than a panic.
        self.elems.get(elem as usize).unwrap_or(&EMPTY_ELEM)
    }
}

/// A node of the tree.
#[derive(Clone, Copy, Debug)]
pub enum Node<'d> {
    /// An element.
    Element(Element<'d>),
    /// Character data: adjacent text, references and CDATA sections merged,
    /// line ends normalised to LF.
    Text(&'d str),
    /// A comment's content (between `<!--` and `-->`).
    Comment(&'d str),
    /// A processing instruction; `data` has the white space after the target removed.
    ProcessingInstruction {
        /// The PI target.
        target: &'d str,
        /// The PI data.
        data: &'d str,
    },
}

/// An attribute (never a namespace declaration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attribute<'d> {
    /// Local part of the name.
    pub local_name: &'d str,
    /// Prefix as written, if any.
    pub prefix: Option<&'d str>,
    /// Namespace URI; `None` for unprefixed attributes.
    pub namespace: Option<&'d str>,
    /// Value after reference expansion and XML 1.0 §3.3.3 normalisation.
    pub value: &'d str,
}

/// An element of a [`Document`]; a cheap copyable handle.
#[derive(Clone, Copy)]
pub struct Element<'d> {
    doc: &'d Document,
    elem: u32,
}

impl std::fmt::Debug for Element<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Element")
            .field("name", &self.local_name())
            .field("namespace", &self.namespace())
            .field("position", &self.position())
            .finish()
    }
}

impl PartialEq for Element<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.doc, other.doc) && self.elem == other.elem
    }
}
impl Eq for Element<'_> {}

impl<'d> Element<'d> {
    fn rec(&self) -> &'d ElemRec {
        self.doc.elem_rec(self.elem)
    }

    /// The document this element belongs to.
    pub fn document(&self) -> &'d Document {
        self.doc
    }

    /// This element's node id.
    pub fn id(&self) -> NodeId {
        NodeId(self.rec().node)
    }

    /// Local part of the name.
    pub fn local_name(&self) -> &'d str {
        self.doc.str(self.rec().local)
    }

    /// Prefix as written, if any.
    pub fn prefix(&self) -> Option<&'d str> {
        self.rec().prefix.map(|s| self.doc.str(s))
    }

    /// Resolved namespace URI; `None` when the element is in no namespace.
    pub fn namespace(&self) -> Option<&'d str> {
        self.rec().namespace.map(|s| self.doc.str(s))
    }

    /// Is this element `{namespace}local`?
    pub fn is(&self, namespace: &str, local: &str) -> bool {
        self.namespace() == Some(namespace) && self.local_name() == local
    }

    /// Attributes in the order written, namespace declarations excluded.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'d>> + 'd {
        let doc = self.doc;
        let (from, to) = self.rec().attrs;
        doc.attrs
            .get(from as usize..to as usize)
            .unwrap_or(&[])
            .iter()
            .map(move |a| Attribute {
                local_name: doc.str(a.local),
                prefix: a.prefix.map(|s| doc.str(s)),
                namespace: a.namespace.map(|s| doc.str(s)),
                value: doc.str(a.value),
            })
    }

    /// Value of the attribute `{namespace}local` (`None` namespace = unprefixed).
    pub fn attribute(&self, namespace: Option<&str>, local: &str) -> Option<&'d str> {
        self.attributes()
            .find(|a| a.local_name == local && a.namespace == namespace)
            .map(|a| a.value)
    }

    /// Namespace declarations on this element as written: `(prefix, uri)`,
    /// prefix `None` for the default namespace, uri `""` for `xmlns=""`.
    pub fn namespace_declarations(&self) -> impl Iterator<Item = (Option<&'d str>, &'d str)> + 'd {
        let doc = self.doc;
        let (from, to) = self.rec().decls;
        doc.decls
            .get(from as usize..to as usize)
            .unwrap_or(&[])
            .iter()
            .map(move |d| (d.prefix.map(|s| doc.str(s)), doc.str(d.uri)))
    }

    /// The namespace URI bound to `prefix` (`None` = default) here, or `None`
    /// if unbound. `xml` is always bound; `xmlns=""` unbinds the default.
    pub fn lookup_namespace(&self, prefix: Option<&str>) -> Option<&'d str> {
        if prefix == Some("xml") {
            return Some(crate::XML_NAMESPACE);
        }
        let mut current = Some(*self);
        while let Some(e) = current {
            if let Some((_, uri)) = e.namespace_declarations().find(|(p, _)| *p == prefix) {
                return (!uri.is_empty()).then_some(uri);
            }
            current = e.parent();
        }
        None
    }

    /// Child nodes in document order.
    pub fn children(&self) -> Children<'d> {
        let first = self
            .doc
            .nodes
            .get(self.rec().node as usize)
            .map_or(NONE, |n| n.first_child);
        Children {
            doc: self.doc,
            next: first,
        }
    }

    /// Child elements in document order.
    pub fn child_elements(&self) -> impl Iterator<Item = Element<'d>> + 'd {
        self.children().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// All descendant elements in document order, excluding this element.
    pub fn descendants(&self) -> impl Iterator<Item = Element<'d>> + 'd {
        let doc = self.doc;
        let rec = self.rec();
        let from = rec.node as usize + 1;
        let to = rec.subtree_end as usize + 1;
        doc.nodes
            .get(from..to)
            .unwrap_or(&[])
            .iter()
            .filter_map(move |n| match n.kind {
                NodeKind::Element(elem) => Some(Element { doc, elem }),
                _ => None,
            })
    }

    /// Is `other` this element or one of its descendants?
    pub fn contains(&self, other: NodeId) -> bool {
        let rec = self.rec();
        rec.node <= other.0 && other.0 <= rec.subtree_end
    }

    /// The parent element; `None` for the root.
    pub fn parent(&self) -> Option<Element<'d>> {
        let parent = self.doc.nodes.get(self.rec().node as usize)?.parent;
        match self.doc.nodes.get(parent as usize)?.kind {
            NodeKind::Element(elem) => Some(Element {
                doc: self.doc,
                elem,
            }),
            _ => None,
        }
    }

    /// All direct text children (CDATA included) concatenated; comments and
    /// PIs skipped, so `a<!---->b` reads as `ab`, exactly as C14N signs it.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for child in self.children() {
            if let Node::Text(t) = child {
                out.push_str(t);
            }
        }
        out
    }

    /// Position of the start tag's `<`.
    pub fn position(&self) -> Position {
        self.doc.position_at(self.rec().start)
    }

    /// Byte offset in the input of the end tag's `</`, or of the `/>` that
    /// closes an empty-element tag. Used to insert content (an enveloped
    /// signature) without re-serialising the document.
    pub fn content_end_offset(&self) -> usize {
        self.rec().content_end as usize + self.doc.bom as usize
    }

    /// Was the element written as an empty-element tag (`<e/>`)?
    pub fn is_self_closing(&self) -> bool {
        self.rec().self_closing
    }
}

/// Iterator over child nodes.
#[derive(Clone)]
pub struct Children<'d> {
    doc: &'d Document,
    next: u32,
}

impl<'d> Iterator for Children<'d> {
    type Item = Node<'d>;

    fn next(&mut self) -> Option<Node<'d>> {
        if self.next == NONE {
            return None;
        }
        let index = self.next;
        self.next = self
            .doc
            .nodes
            .get(index as usize)
            .map_or(NONE, |n| n.next_sibling);
        self.doc.node_at(index)
    }
}
