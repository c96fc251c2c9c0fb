//! Shared helpers for the integration tests: corpus paths and the manifest.
#![allow(dead_code)]

pub mod dom;
pub mod events;
pub mod mutate;
pub mod xmllint;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use xoev_xsd::{Catalog, Schema};

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn corpus_dir() -> PathBuf {
    crate_dir().join("tests/corpus")
}

/// The XWasser schema tree (the manifest's `xsd/` prefix).
pub fn xsd_dir() -> PathBuf {
    crate_dir().join("../../schemas/xwasser-1.0.0")
}

pub fn catalog() -> Catalog {
    Catalog::load(&xsd_dir().join("catalog.xml")).expect("the XWasser catalog loads")
}

/// One row of `manifest.tsv`.
#[derive(Debug, Clone)]
pub struct Row {
    pub file: String,
    pub expected_valid: bool,
    pub reason: String,
    pub xmllint_error: String,
    pub schema: String,
    pub spec_valid: bool,
}

impl Row {
    pub fn path(&self) -> PathBuf {
        corpus_dir().join(&self.file)
    }

    /// The root schema file, with the manifest's `xsd/` prefix mapped to `schemas/`.
    pub fn schema_path(&self) -> PathBuf {
        let rel = self.schema.strip_prefix("xsd/").unwrap_or(&self.schema);
        xsd_dir().join(rel)
    }
}

pub fn manifest() -> Vec<Row> {
    let text =
        std::fs::read_to_string(corpus_dir().join("manifest.tsv")).expect("manifest readable");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            // Split on every tab: the fourth column is empty for valid rows.
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 6, "manifest row has six columns: {line}");
            Row {
                file: cols[0].into(),
                expected_valid: cols[1] == "valid",
                reason: cols[2].into(),
                xmllint_error: cols[3].into(),
                schema: cols[4].into(),
                spec_valid: cols[5] == "valid",
            }
        })
        .collect()
}

/// Compiles each distinct root schema of the manifest once.
pub fn schemas(rows: &[Row]) -> HashMap<String, Schema> {
    let catalog = catalog();
    let mut out = HashMap::new();
    for row in rows {
        if !out.contains_key(&row.schema) {
            let s = Schema::compile_file(&row.schema_path(), Some(&catalog))
                .unwrap_or_else(|e| panic!("{} compiles: {e}", row.schema));
            out.insert(row.schema.clone(), s);
        }
    }
    out
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Compiles a one-file schema in target namespace `urn:t` (prefix `t`, elements qualified)
/// whose top-level components are `body`.
pub fn inline_schema(body: &str) -> Schema {
    try_inline_schema(body).unwrap_or_else(|e| panic!("schema compiles: {e}"))
}

pub fn try_inline_schema(body: &str) -> Result<Schema, xoev_xsd::CompileError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.xsd");
    std::fs::write(
        &path,
        format!(
            "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:t=\"urn:t\" \
             targetNamespace=\"urn:t\" elementFormDefault=\"qualified\">\n{body}\n</xs:schema>\n"
        ),
    )
    .expect("write schema");
    Schema::compile_file(&path, None)
}

/// Validates `xml`, with `t`, `xs` and `xsi` declared on the root by the caller's convention:
/// the placeholder `NS` in `xml` is replaced by those declarations.
pub fn check(schema: &Schema, xml: &str) -> Result<(), xoev_xsd::Violation> {
    let xml = xml.replace(
        " NS",
        " xmlns:t=\"urn:t\" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"",
    );
    xoev_xsd::validate_bytes(schema, xml.as_bytes())
}

/// The violation kind of an invalid document (panics when it is valid).
pub fn kind_of(schema: &Schema, xml: &str) -> xoev_xsd::ViolationKind {
    match check(schema, xml) {
        Ok(()) => panic!("expected a violation for {xml}"),
        Err(v) => v.kind,
    }
}
