//! The event types the validator is driven with, and its limits.

use crate::NamespaceScope;

/// An attribute of a start tag (namespace declarations excluded). `value` is the attribute
/// value after XML attribute-value normalisation (references expanded, line breaks and tabs
/// replaced by spaces), as an XML parser reports it.
#[derive(Debug, Clone, Copy)]
pub struct AttributeEvent<'a> {
    /// Namespace URI, None for an unprefixed attribute.
    pub namespace: Option<&'a str>,
    /// Local name (without prefix).
    pub local_name: &'a str,
    /// The normalised value.
    pub value: &'a str,
}

/// A start tag.
pub struct StartElement<'a> {
    /// Namespace URI, None when the element is in no namespace.
    pub namespace: Option<&'a str>,
    /// Local name (without prefix).
    pub local_name: &'a str,
    /// The attributes, namespace declarations excluded.
    pub attributes: &'a [AttributeEvent<'a>],
    /// The namespace bindings in scope at this element (for QName values and `xsi:type`).
    pub namespaces: &'a dyn NamespaceScope,
    /// 1-based line of the start tag, for messages (0 when unknown).
    pub line: u32,
    /// 1-based column of the start tag, for messages (0 when unknown).
    pub column: u32,
}

/// Bounds on validator state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum element nesting depth.
    pub max_depth: usize,
    /// Maximum characters buffered for one element with simple content.
    pub max_text: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 256,
            max_text: 64 << 20,
        }
    }
}
