//! The message-type catalogue (`schemas/catalogue.toml`): which messages are validated against
//! which root schema, and which are accepted without one (each with a stated reason).
//!
//! ```toml
//! [schemas.xwasser-vorgang]                 # a name, used in logs and metrics
//! root = "xwasser-1.0.0/V1_0_0/xwasser-vorgang.xsd"   # relative to this file
//! catalog = "xwasser-1.0.0/catalog.xml"      # optional OASIS catalog for absolute imports
//!
//! [[messages]]
//! namespace = "https://gitlab.opencode.de/akdb/xoev/xwasser/-/raw/main/V1_0_0"
//! root = "vorgang.statusanfrage.2030"        # local name of the root element (optional)
//! nachrichtentyp = "2030"                    # header code (optional)
//! schema = "xwasser-vorgang"                 # exactly one of `schema` / `unvalidated`
//!
//! [[messages]]
//! namespace = "urn:example:legacy"
//! root = "altmeldung"
//! unvalidated = "no XSD published yet; accepted until 2027-12-31 (ticket 123)"
//! ```
//!
//! Selection: among the entries whose namespace matches (`""` is "no namespace") and whose
//! given `root` and `nachrichtentyp` match, the most specific wins: root and code, then root,
//! then code, then namespace only. Two entries with the same keys are a load error. Anything
//! that matches no entry is [`Selection::Unknown`], which the router rejects.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::Schema;
use crate::catalog::Catalog;
use crate::error::{CompileError, Location};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    schemas: BTreeMap<String, SchemaEntry>,
    #[serde(default)]
    messages: Vec<toml::Spanned<MessageEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaEntry {
    root: String,
    catalog: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageEntry {
    namespace: String,
    root: Option<String>,
    nachrichtentyp: Option<String>,
    schema: Option<String>,
    unvalidated: Option<String>,
}

#[derive(Debug)]
enum Action {
    Validate(usize),
    Unvalidated(String),
}

#[derive(Debug)]
struct Entry {
    namespace: String,
    root: Option<String>,
    nachrichtentyp: Option<String>,
    action: Action,
}

impl Entry {
    fn specificity(&self) -> u8 {
        match (&self.root, &self.nachrichtentyp) {
            (Some(_), Some(_)) => 3,
            (Some(_), None) => 2,
            (None, Some(_)) => 1,
            (None, None) => 0,
        }
    }
}

/// What the router should do with a message.
#[derive(Debug, Clone, Copy)]
pub enum Selection<'c> {
    /// Validate against `schema`.
    Validate {
        /// The compiled schema.
        schema: &'c Schema,
        /// Its catalogue name (a bounded set, usable as a metric label).
        name: &'c str,
    },
    /// Accept without validation, as the catalogue explicitly says.
    Unvalidated {
        /// The reason the catalogue gives.
        reason: &'c str,
    },
    /// Not in the catalogue: reject.
    Unknown,
}

/// The loaded catalogue with every schema compiled.
#[derive(Debug)]
pub struct Catalogue {
    schemas: Vec<(String, Schema)>,
    entries: Vec<Entry>,
}

fn catalogue_error(
    path: &Path,
    text: &str,
    offset: Option<usize>,
    message: String,
) -> CompileError {
    let (line, column) = match offset {
        Some(o) => crate::position::LineTracker::new(text.as_bytes()).at(o),
        None => (0, 0),
    };
    CompileError::Catalogue {
        at: Location::new(path, line, column),
        message,
    }
}

impl Catalogue {
    /// Reads the catalogue and compiles every schema it names; any error names file and line.
    pub fn load(path: &Path) -> Result<Catalogue, CompileError> {
        let text = std::fs::read_to_string(path).map_err(|source| CompileError::Io {
            path: path.to_owned(),
            source,
        })?;
        let file: File = toml::from_str(&text).map_err(|e| {
            let message = e.message().to_owned();
            catalogue_error(path, &text, e.span().map(|s| s.start), message)
        })?;
        let dir = path.parent().unwrap_or_else(|| Path::new(""));
        let mut schemas = Vec::new();
        for (name, entry) in &file.schemas {
            let catalog = match &entry.catalog {
                Some(c) => Some(Catalog::load(&dir.join(c))?),
                None => None,
            };
            let schema = Schema::compile_file(&dir.join(&entry.root), catalog.as_ref())?;
            schemas.push((name.clone(), schema));
        }
        let mut entries: Vec<Entry> = Vec::new();
        for spanned in file.messages {
            let offset = Some(spanned.span().start);
            let m = spanned.into_inner();
            let action = match (m.schema, m.unvalidated) {
                (Some(s), None) => match schemas.iter().position(|(n, _)| *n == s) {
                    Some(i) => Action::Validate(i),
                    None => {
                        return Err(catalogue_error(
                            path,
                            &text,
                            offset,
                            format!("message entry names unknown schema {s:?}"),
                        ));
                    }
                },
                (None, Some(reason)) if !reason.trim().is_empty() => Action::Unvalidated(reason),
                (None, Some(_)) => {
                    return Err(catalogue_error(
                        path,
                        &text,
                        offset,
                        "unvalidated needs a reason".into(),
                    ));
                }
                _ => {
                    return Err(catalogue_error(
                        path,
                        &text,
                        offset,
                        "a message entry needs exactly one of schema and unvalidated".into(),
                    ));
                }
            };
            let entry = Entry {
                namespace: m.namespace,
                root: m.root,
                nachrichtentyp: m.nachrichtentyp,
                action,
            };
            if entries.iter().any(|e| {
                e.namespace == entry.namespace
                    && e.root == entry.root
                    && e.nachrichtentyp == entry.nachrichtentyp
            }) {
                return Err(catalogue_error(
                    path,
                    &text,
                    offset,
                    "duplicate message entry (same namespace, root and nachrichtentyp)".into(),
                ));
            }
            entries.push(entry);
        }
        Ok(Catalogue { schemas, entries })
    }

    /// Chooses what to do with a message whose root element is `{root_namespace}root_local_name`
    /// and whose header carries `nachrichtentyp` (when the caller could read it).
    pub fn select(
        &self,
        root_namespace: Option<&str>,
        root_local_name: &str,
        nachrichtentyp: Option<&str>,
    ) -> Selection<'_> {
        let ns = root_namespace.unwrap_or("");
        let best = self
            .entries
            .iter()
            .filter(|e| e.namespace == ns)
            .filter(|e| e.root.as_deref().is_none_or(|r| r == root_local_name))
            .filter(|e| match &e.nachrichtentyp {
                None => true,
                Some(code) => nachrichtentyp.map(str::trim) == Some(code.as_str()),
            })
            .max_by_key(|e| e.specificity());
        match best.map(|e| &e.action) {
            Some(Action::Validate(i)) => match self.schemas.get(*i) {
                Some((name, schema)) => Selection::Validate { schema, name },
                None => Selection::Unknown,
            },
            Some(Action::Unvalidated(reason)) => Selection::Unvalidated { reason },
            None => Selection::Unknown,
        }
    }

    /// A compiled schema by its catalogue name.
    pub fn schema(&self, name: &str) -> Option<&Schema> {
        self.schemas.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    /// The catalogue names of all schemas.
    pub fn schema_names(&self) -> impl Iterator<Item = &str> {
        self.schemas.iter().map(|(n, _)| n.as_str())
    }
}
