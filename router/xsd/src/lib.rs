//! XSD 1.0 validation of XÖV messages, in pure Rust.
//!
//! - [`Schema::compile_file`] loads a root XSD with its includes and imports (absolute import
//!   locations through an OASIS [`Catalog`]; never the network) and compiles it: content models
//!   become deterministic automata, facets are pre-parsed, patterns are translated from XSD
//!   regular expressions to anchored `regex` expressions. A construct the validator does not
//!   implement is a [`CompileError::Unsupported`], never silently skipped.
//! - [`Validator`] validates one document from start/text/end events in bounded memory.
//! - [`validate_bytes`] parses bytes with quick-xml (no DTD) and validates.
//! - [`Catalogue`] maps message types to schemas (`schemas/catalogue.toml`).
//!
//! Verdicts follow libxml2 2.9 (`xmllint --schema`) where it deviates from the XSD 1.0
//! specification; each deviation is listed in `docs/schema-validation.md`.
//!
//! Invariants: a compiled [`Schema`] is immutable and `Send + Sync`; validation never panics on
//! untrusted input; validator state is bounded by [`Limits`] plus the set of ID values seen.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod automaton;
mod bytes;
mod catalog;
mod catalogue;
mod compile;
mod error;
mod model;
mod names;
mod position;
mod regex;
mod schema_doc;
mod types;
mod validator;
mod xmlchar;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use bytes::validate_bytes;
pub use catalog::Catalog;
pub use catalogue::{Catalogue, Selection};
pub use error::{CompileError, Location, Violation, ViolationKind};
pub use validator::{AttributeEvent, Limits, StartElement, Validator};

/// Namespace bindings in scope at an element.
pub trait NamespaceScope {
    /// The namespace URI bound to `prefix` (None: the default namespace), or None when unbound.
    fn resolve(&self, prefix: Option<&str>) -> Option<&str>;

    /// Calls `f` with every binding in scope, outermost first (a later binding of the same
    /// prefix shadows an earlier one; an empty URI undeclares). Needed to validate QName-typed
    /// element content after the start tag.
    fn for_each_binding(&self, f: &mut dyn FnMut(Option<&str>, &str));
}

/// A compiled schema set (one root XSD with its includes and imports). Cheap to clone and
/// share between threads.
#[derive(Clone)]
pub struct Schema {
    set: Arc<model::SchemaSet>,
    root: PathBuf,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema")
            .field("root", &self.root)
            .field("elements", &self.set.elements.len())
            .field("complex_types", &self.set.complex_types.len())
            .field("simple_types", &self.set.simple_types.len())
            .finish()
    }
}

impl Schema {
    /// Compiles the schema set rooted at `root`. `catalog` maps absolute `schemaLocation`s
    /// (import URLs) to local files; relative locations resolve against the including file.
    pub fn compile_file(root: &Path, catalog: Option<&Catalog>) -> Result<Schema, CompileError> {
        let set = compile::compile_schema(root, catalog)?;
        Ok(Schema {
            set: Arc::new(set),
            root: root.to_path_buf(),
        })
    }

    /// The root schema document this set was compiled from.
    pub fn root_file(&self) -> &Path {
        &self.root
    }

    /// Whether the schema has a global element declaration `{namespace}local_name` (a message
    /// type it can validate).
    pub fn declares_element(&self, namespace: Option<&str>, local_name: &str) -> bool {
        let ns = self.set.ns.lookup(namespace);
        self.set.global_elements.get(ns, local_name).is_some()
    }

    pub(crate) fn set(&self) -> &model::SchemaSet {
        &self.set
    }
}

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn schema_and_catalogue_are_send_and_sync() {
        assert_send_sync::<super::Schema>();
        assert_send_sync::<super::Catalogue>();
    }
}
