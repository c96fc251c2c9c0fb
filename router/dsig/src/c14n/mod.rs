//! Canonical XML 1.0 (inclusive) and Exclusive XML Canonicalization 1.0,
//! each with or without comments, over a [`Document`] subtree.
//!
//! Node-sets are limited to what enveloped signatures need: the whole
//! document or one element subtree (the apex), optionally minus one
//! subtree (the signature being verified). Within that, the W3C rules apply:
//! namespace rendering, attribute order, escaping, comments, PIs, and the
//! inheritance of `xml:*` attributes into the apex in inclusive mode.

mod escape;
mod method;
mod render;

pub use method::{C14nError, Method};
pub(crate) use render::write_canonical;

use xoev_xml::{Document, NodeId};

/// Canonicalizes `apex` (`None` = the whole document) of `doc` into `out`,
/// leaving out the subtree rooted at `exclude` (the enveloped signature).
/// Comments are kept only if `method` is a `WithComments` variant.
pub fn canonicalize(
    doc: &Document,
    apex: Option<NodeId>,
    exclude: Option<NodeId>,
    method: &Method,
    out: &mut Vec<u8>,
) {
    write_canonical(doc, apex, exclude, method, method.with_comments(), out);
}

/// Output of canonicalization: a byte buffer or a running digest.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests;
