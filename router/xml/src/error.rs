//! Parse errors: one variant per cause, each with where it happened.

use crate::Position;

/// Broad class of a parse failure, for mapping to a response.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XmlErrorCategory {
    /// Not well-formed XML 1.0 with namespaces, or not UTF-8.
    Malformed,
    /// Well-formed, but uses a construct refused by policy (DTD, entities).
    Forbidden,
    /// A configured [`Limits`](crate::Limits) bound was exceeded.
    LimitExceeded,
}

/// Why a document was refused.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// The input is not valid UTF-8.
    #[error("malformed XML at {position}: invalid UTF-8")]
    InvalidUtf8 {
        /// Where the first invalid byte is.
        position: Position,
    },
    /// The XML declaration names an encoding other than UTF-8.
    #[error(
        "malformed XML at {position}: unsupported encoding {encoding:?}, only UTF-8 is accepted"
    )]
    UnsupportedEncoding {
        /// The declared encoding.
        encoding: String,
        /// Where the declaration is.
        position: Position,
    },
    /// The XML declaration is wrong or misplaced.
    #[error("malformed XML at {position}: bad XML declaration: {reason}")]
    BadDeclaration {
        /// What is wrong.
        reason: &'static str,
        /// Where the declaration is.
        position: Position,
    },
    /// A character that XML 1.0 does not allow.
    #[error("malformed XML at {position}: character U+{code:04X} is not allowed in XML")]
    InvalidCharacter {
        /// The code point.
        code: u32,
        /// Where it is.
        position: Position,
    },
    /// A character reference to a character XML does not allow, or a bad one.
    #[error("malformed XML at {position}: invalid character reference &{reference};")]
    InvalidCharReference {
        /// The reference without `&` and `;`.
        reference: String,
        /// Where it is.
        position: Position,
    },
    /// Markup the tokenizer could not read.
    #[error("malformed XML at {position}: {reason}")]
    Syntax {
        /// What the tokenizer reported.
        reason: String,
        /// Where it stopped.
        position: Position,
    },
    /// An element, attribute or PI target name that is not a valid QName.
    #[error("malformed XML at {position}: invalid name {name:?}")]
    InvalidName {
        /// The offending name.
        name: String,
        /// Where it is.
        position: Position,
    },
    /// The same attribute twice on one element (by raw name or by namespace and local name).
    #[error("malformed XML at {position}: duplicate attribute {name:?}")]
    DuplicateAttribute {
        /// The attribute name as written.
        name: String,
        /// Where the element starts.
        position: Position,
    },
    /// A prefix that is not declared.
    #[error("malformed XML at {position}: namespace prefix {prefix:?} is not declared")]
    UnboundPrefix {
        /// The prefix.
        prefix: String,
        /// Where the element starts.
        position: Position,
    },
    /// A namespace declaration that breaks the Namespaces in XML 1.0 rules.
    #[error("malformed XML at {position}: bad namespace declaration: {reason}")]
    BadNamespaceDeclaration {
        /// Which rule is broken.
        reason: &'static str,
        /// Where the element starts.
        position: Position,
    },
    /// The document structure is wrong (no root, two roots, text outside the root...).
    #[error("malformed XML at {position}: {reason}")]
    BadStructure {
        /// What is wrong.
        reason: &'static str,
        /// Where it was noticed.
        position: Position,
    },
    /// A DOCTYPE declaration: refused, with everything a DTD could bring.
    #[error("forbidden XML construct at {position}: DOCTYPE declarations are not accepted")]
    DoctypeForbidden {
        /// Where the DOCTYPE is.
        position: Position,
    },
    /// A reference to an entity other than the five predefined ones.
    #[error("forbidden XML construct at {position}: reference to undefined entity &{name};")]
    UndefinedEntity {
        /// The entity name.
        name: String,
        /// Where the reference is.
        position: Position,
    },
    /// A namespace name that is a relative URI reference (C14N cannot process it).
    #[error("forbidden XML construct at {position}: relative namespace URI {uri:?}")]
    RelativeNamespaceUri {
        /// The declared value.
        uri: String,
        /// Where the element starts.
        position: Position,
    },
    /// The input is larger than this parser can address (4 GiB).
    #[error("XML limit exceeded: input of {len} bytes is too large")]
    InputTooLarge {
        /// Input length in bytes.
        len: usize,
    },
    /// Elements nested deeper than `max_depth`.
    #[error("XML limit exceeded at {position}: nesting deeper than {limit}")]
    TooDeep {
        /// The limit.
        limit: usize,
        /// Where the element starts.
        position: Position,
    },
    /// More attributes on one element than `max_attributes`.
    #[error("XML limit exceeded at {position}: more than {limit} attributes on one element")]
    TooManyAttributes {
        /// The limit.
        limit: usize,
        /// Where the element starts.
        position: Position,
    },
    /// A name longer than `max_name_len`.
    #[error("XML limit exceeded at {position}: name longer than {limit} bytes")]
    NameTooLong {
        /// The limit.
        limit: usize,
        /// Where the name is.
        position: Position,
    },
    /// More nodes than `max_nodes`.
    #[error("XML limit exceeded at {position}: more than {limit} nodes")]
    TooManyNodes {
        /// The limit.
        limit: usize,
        /// Where the node that broke it starts.
        position: Position,
    },
    /// A text node, attribute value, comment or PI longer than `max_text_len`.
    #[error("XML limit exceeded at {position}: text longer than {limit} bytes")]
    TextTooLong {
        /// The limit.
        limit: usize,
        /// Where the text starts.
        position: Position,
    },
}

impl XmlError {
    /// The class of the failure.
    pub fn category(&self) -> XmlErrorCategory {
        match self {
            Self::DoctypeForbidden { .. }
            | Self::UndefinedEntity { .. }
            | Self::RelativeNamespaceUri { .. } => XmlErrorCategory::Forbidden,
            Self::InputTooLarge { .. }
            | Self::TooDeep { .. }
            | Self::TooManyAttributes { .. }
            | Self::NameTooLong { .. }
            | Self::TooManyNodes { .. }
            | Self::TextTooLong { .. } => XmlErrorCategory::LimitExceeded,
            _ => XmlErrorCategory::Malformed,
        }
    }

    /// Where the failure was detected, when known.
    pub fn position(&self) -> Option<Position> {
        match self {
            Self::InputTooLarge { .. } => None,
            Self::InvalidUtf8 { position }
            | Self::UnsupportedEncoding { position, .. }
            | Self::BadDeclaration { position, .. }
            | Self::InvalidCharacter { position, .. }
            | Self::InvalidCharReference { position, .. }
            | Self::Syntax { position, .. }
            | Self::InvalidName { position, .. }
            | Self::DuplicateAttribute { position, .. }
            | Self::UnboundPrefix { position, .. }
            | Self::BadNamespaceDeclaration { position, .. }
            | Self::BadStructure { position, .. }
            | Self::DoctypeForbidden { position }
            | Self::UndefinedEntity { position, .. }
            | Self::RelativeNamespaceUri { position, .. }
            | Self::TooDeep { position, .. }
            | Self::TooManyAttributes { position, .. }
            | Self::NameTooLong { position, .. }
            | Self::TooManyNodes { position, .. }
            | Self::TextTooLong { position, .. } => Some(*position),
        }
    }

    /// Mutable access for the parser, which fills in line and column lazily.
    pub(crate) fn position_mut(&mut self) -> Option<&mut Position> {
        match self {
            Self::InputTooLarge { .. } => None,
            Self::InvalidUtf8 { position }
            | Self::UnsupportedEncoding { position, .. }
            | Self::BadDeclaration { position, .. }
            | Self::InvalidCharacter { position, .. }
            | Self::InvalidCharReference { position, .. }
            | Self::Syntax { position, .. }
            | Self::InvalidName { position, .. }
            | Self::DuplicateAttribute { position, .. }
            | Self::UnboundPrefix { position, .. }
            | Self::BadNamespaceDeclaration { position, .. }
            | Self::BadStructure { position, .. }
            | Self::DoctypeForbidden { position }
            | Self::UndefinedEntity { position, .. }
            | Self::RelativeNamespaceUri { position, .. }
            | Self::TooDeep { position, .. }
            | Self::TooManyAttributes { position, .. }
            | Self::NameTooLong { position, .. }
            | Self::TooManyNodes { position, .. }
            | Self::TextTooLong { position, .. } => Some(position),
        }
    }
}
