//! The two error types: [`CompileError`] (a schema, catalog or catalogue is unusable; a start-up
//! error) and [`Violation`] (an instance document is not valid; the first violation found).

use std::fmt;
use std::path::PathBuf;

/// A position in a schema, catalog or catalogue file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, as it was opened.
    pub file: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: u32,
    /// 1-based column in characters (0 when unknown).
    pub column: u32,
}

impl Location {
    pub(crate) fn new(file: impl Into<PathBuf>, line: u32, column: u32) -> Self {
        Location {
            file: file.into(),
            line,
            column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Why a schema set (or catalog, or catalogue) could not be compiled. Every variant names the
/// file and, where there is one, the line and column of the offending construct.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// A file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A schema or catalog document is not well-formed XML.
    #[error("{at}: not well-formed XML: {message}")]
    Malformed {
        /// Where.
        at: Location,
        /// What the XML parser said.
        message: String,
    },
    /// A construct this validator does not implement; refused rather than skipped.
    #[error("{at}: {construct} is not supported")]
    Unsupported {
        /// Where.
        at: Location,
        /// The construct, e.g. `xs:redefine`.
        construct: String,
    },
    /// The schema breaks a rule of XSD 1.0 (a schema component constraint).
    #[error("{at}: invalid schema: {message}")]
    Invalid {
        /// Where.
        at: Location,
        /// Which rule, in words.
        message: String,
    },
    /// A QName reference (`type`, `ref`, `base`, ...) names no component.
    #[error("{at}: unresolved reference to {kind} {name}")]
    Unresolved {
        /// Where.
        at: Location,
        /// The kind of component: `type`, `element`, `attribute`, `group`, `attributeGroup`.
        kind: &'static str,
        /// The name, as `{namespace}local`.
        name: String,
    },
    /// An `include`/`import` location that maps to no local file. Network access is never used.
    #[error("{at}: cannot resolve schemaLocation {location:?}: {reason}")]
    Location {
        /// Where the include or import is.
        at: Location,
        /// The `schemaLocation` as written.
        location: String,
        /// Why it could not be resolved.
        reason: String,
    },
    /// A content model violates Unique Particle Attribution (it is not deterministic).
    #[error("{at}: content model is not deterministic: {message}")]
    NotDeterministic {
        /// Where the complex type or group is.
        at: Location,
        /// Which element names compete.
        message: String,
    },
    /// A `pattern` facet that is not a valid XSD regular expression.
    #[error("{at}: invalid pattern {pattern:?}: {message}")]
    Pattern {
        /// Where.
        at: Location,
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// The message-type catalogue (`catalogue.toml`) is malformed or inconsistent.
    #[error("{at}: catalogue: {message}")]
    Catalogue {
        /// Where.
        at: Location,
        /// What is wrong.
        message: String,
    },
}

impl CompileError {
    /// The file position the error refers to, when it has one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            CompileError::Io { .. } => None,
            CompileError::Malformed { at, .. }
            | CompileError::Unsupported { at, .. }
            | CompileError::Invalid { at, .. }
            | CompileError::Unresolved { at, .. }
            | CompileError::Location { at, .. }
            | CompileError::NotDeterministic { at, .. }
            | CompileError::Pattern { at, .. }
            | CompileError::Catalogue { at, .. } => Some(at),
        }
    }
}

/// What kind of rule an instance document broke. Stable, so it can become a metric label.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViolationKind {
    /// The document is not well-formed, not UTF-8, or uses a DTD (only from `validate_bytes`).
    Malformed,
    /// The root element has no global declaration in the schema.
    UndeclaredRoot,
    /// A child element that the content model does not allow here.
    UnexpectedElement,
    /// An element ended before its content model was complete.
    MissingElement,
    /// Character data where the content type does not allow it.
    UnexpectedText,
    /// A value is not in the lexical or value space of its type, or breaks a facet.
    InvalidValue,
    /// A value differs from the declared fixed value.
    FixedValueMismatch,
    /// An attribute that the type does not declare and no wildcard allows.
    UnexpectedAttribute,
    /// A required attribute is absent.
    MissingAttribute,
    /// An element declared abstract appears in the document.
    AbstractElement,
    /// An element's type (declared or via `xsi:type`) is abstract.
    AbstractType,
    /// `xsi:type` names no type, or one not validly derived from the declared type.
    InvalidXsiType,
    /// `xsi:nil` on an element that is not nillable, or a nilled element with content.
    InvalidNil,
    /// Two `xs:ID` values in the document are equal.
    DuplicateId,
    /// A processing limit (depth, text length) was exceeded.
    LimitExceeded,
}

impl ViolationKind {
    /// A short, bounded label (`unexpected-element`, ...), e.g. for metrics.
    pub fn label(self) -> &'static str {
        match self {
            ViolationKind::Malformed => "malformed",
            ViolationKind::UndeclaredRoot => "undeclared-root",
            ViolationKind::UnexpectedElement => "unexpected-element",
            ViolationKind::MissingElement => "missing-element",
            ViolationKind::UnexpectedText => "unexpected-text",
            ViolationKind::InvalidValue => "invalid-value",
            ViolationKind::FixedValueMismatch => "fixed-value-mismatch",
            ViolationKind::UnexpectedAttribute => "unexpected-attribute",
            ViolationKind::MissingAttribute => "missing-attribute",
            ViolationKind::AbstractElement => "abstract-element",
            ViolationKind::AbstractType => "abstract-type",
            ViolationKind::InvalidXsiType => "invalid-xsi-type",
            ViolationKind::InvalidNil => "invalid-nil",
            ViolationKind::DuplicateId => "duplicate-id",
            ViolationKind::LimitExceeded => "limit-exceeded",
        }
    }
}

/// The first rule an instance document breaks. `Display` is one line:
/// `<path> (line L, column C): <what>; expected <what>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Element path from the root, local names only, e.g. `/vorgang.statusanfrage.2030/identifikationVorgang`.
    pub path: String,
    /// 1-based line of the element's start tag (0 when unknown).
    pub line: u32,
    /// 1-based column of the element's start tag (0 when unknown).
    pub column: u32,
    /// What is wrong, in one line.
    pub message: String,
    /// What would have been valid here, when that can be said in one line.
    pub expected: Option<String>,
    /// The rule that was broken.
    pub kind: ViolationKind,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (line {}, column {}): {}",
            self.path, self.line, self.column, self.message
        )?;
        if let Some(expected) = &self.expected {
            write!(f, "; expected {expected}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violation {}
