//! Hard limits applied while parsing untrusted input.

/// Bounds checked during parsing; exceeding any of them fails with
/// [`XmlErrorCategory::LimitExceeded`](crate::XmlErrorCategory::LimitExceeded).
///
/// The defaults suit XÖV messages (headers, a body of business data, base64
/// attachments of a few MiB) and are documented in `docs/xml-safety.md`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum element nesting depth; the root element has depth 1.
    pub max_depth: usize,
    /// Maximum attributes on one element, namespace declarations included.
    pub max_attributes: usize,
    /// Maximum length in bytes of a qualified name (element, attribute, PI target).
    pub max_name_len: usize,
    /// Maximum number of nodes: elements, text nodes, comments and PIs.
    pub max_nodes: usize,
    /// Maximum length in bytes of one text node, attribute value, comment or PI.
    pub max_text_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_attributes: 64,
            max_name_len: 256,
            max_nodes: 1_000_000,
            max_text_len: 16 * 1024 * 1024,
        }
    }
}
