//! Safe XML parsing for xoev-router: a small read-only tree built for the
//! hot path of every message.
//!
//! What it guarantees (details in `docs/xml-safety.md`):
//! - UTF-8 only; an XML declaration naming another encoding is refused.
//! - Namespace-well-formed XML 1.0; characters outside `Char` are refused.
//! - No DOCTYPE (so no DTD, entity declarations, XXE or entity expansion) and
//!   no references except `&lt; &gt; &amp; &apos; &quot;` and character references.
//! - Hard [`Limits`] on depth, attributes, names, node count and text length.
//! - Everything canonicalization needs is kept: comments and PIs (also around
//!   the root), namespace declarations and attributes in the order written,
//!   text exactly (line ends normalised to LF, attribute values per §3.3.3).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod chars;
mod error;
mod limits;
mod parser;
mod position;
mod tree;

pub use error::{XmlError, XmlErrorCategory};
pub use limits::Limits;
pub use parser::{parse, parse_shared};
pub use position::Position;
pub use tree::{Attribute, Children, Document, Element, Node, NodeId};

/// The namespace bound to the `xml` prefix.
pub const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace of `xmlns` declarations (never declarable).
pub const XMLNS_NAMESPACE: &str = "http://www.w3.org/2000/xmlns/";

#[cfg(test)]
mod tests;
