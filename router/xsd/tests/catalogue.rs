//! The message-type catalogue: `schemas/catalogue.toml` as shipped, and the rules of its format.

mod common;

use std::path::PathBuf;

use xoev_xsd::{Catalogue, CompileError, Selection, validate_bytes};

const XWAS: &str = "https://gitlab.opencode.de/akdb/xoev/xwasser/-/raw/main/V1_0_0";

fn shipped() -> Catalogue {
    let path = common::crate_dir().join("../../schemas/catalogue.toml");
    Catalogue::load(&path).unwrap_or_else(|e| panic!("schemas/catalogue.toml loads: {e}"))
}

fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("catalogue.toml");
    std::fs::write(&path, text).expect("write catalogue");
    path
}

#[test]
fn shipped_catalogue_maps_every_xwasser_message_to_a_schema_that_declares_it() {
    let catalogue = shipped();
    let messages = [
        (
            "administration.rueckweisung.0010",
            "xwasser-1.0.0-administration",
        ),
        (
            "administration.quittung.0020",
            "xwasser-1.0.0-administration",
        ),
        (
            "administration.indexanfrage.0030",
            "xwasser-1.0.0-administration",
        ),
        (
            "administration.indexantwort.0040",
            "xwasser-1.0.0-administration",
        ),
        (
            "weiterleitung.weiterleitung.1010",
            "xwasser-1.0.0-weiterleitung",
        ),
        ("weiterleitung.abgabe.1020", "xwasser-1.0.0-weiterleitung"),
        (
            "weiterleitung.nichtzustaendigkeit.1030",
            "xwasser-1.0.0-weiterleitung",
        ),
        ("vorgang.transportieren.2010", "xwasser-1.0.0-vorgang"),
        ("vorgang.nachricht.2020", "xwasser-1.0.0-vorgang"),
        ("vorgang.statusanfrage.2030", "xwasser-1.0.0-vorgang"),
        ("vorgang.statusantwort.2040", "xwasser-1.0.0-vorgang"),
        ("vorgang.transportanfrage.2050", "xwasser-1.0.0-vorgang"),
    ];
    for (root, expected) in messages {
        match catalogue.select(Some(XWAS), root, None) {
            Selection::Validate { schema, name } => {
                assert_eq!(name, expected, "{root}");
                assert!(
                    schema.declares_element(Some(XWAS), root),
                    "{name} declares {root}"
                );
            }
            other => panic!("{root}: expected a schema, got {other:?}"),
        }
    }
}

#[test]
fn shipped_catalogue_validates_a_corpus_message_with_the_selected_schema() {
    let catalogue = shipped();
    let Selection::Validate { schema, .. } =
        catalogue.select(Some(XWAS), "vorgang.statusanfrage.2030", Some("2030"))
    else {
        panic!("statusanfrage is in the catalogue");
    };
    let xml = common::read(&common::corpus_dir().join("instances/statusanfrage_2030.xml"));
    assert_eq!(validate_bytes(schema, &xml), Ok(()));
}

#[test]
fn unknown_root_or_namespace_is_not_selected() {
    let catalogue = shipped();
    assert!(matches!(
        catalogue.select(Some(XWAS), "vorgang.statusanfrage.2031", None),
        Selection::Unknown
    ));
    assert!(matches!(
        catalogue.select(Some("urn:other"), "vorgang.statusanfrage.2030", None),
        Selection::Unknown
    ));
    assert!(matches!(
        catalogue.select(None, "vorgang.statusanfrage.2030", None),
        Selection::Unknown
    ));
}

#[test]
fn unvalidated_messages_need_an_explicit_entry_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        &dir,
        r#"
[[messages]]
namespace = "urn:legacy"
root = "alt"
unvalidated = "no schema published yet"
"#,
    );
    let c = Catalogue::load(&path).expect("loads");
    assert!(matches!(
        c.select(Some("urn:legacy"), "alt", None),
        Selection::Unvalidated {
            reason: "no schema published yet"
        }
    ));
    assert!(matches!(
        c.select(Some("urn:legacy"), "neu", None),
        Selection::Unknown
    ));
}

#[test]
fn most_specific_entry_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        &dir,
        r#"
[[messages]]
namespace = "urn:x"
unvalidated = "namespace-wide"

[[messages]]
namespace = "urn:x"
nachrichtentyp = "1"
unvalidated = "by code"

[[messages]]
namespace = "urn:x"
root = "a"
unvalidated = "by root"

[[messages]]
namespace = "urn:x"
root = "a"
nachrichtentyp = "1"
unvalidated = "by root and code"
"#,
    );
    let c = Catalogue::load(&path).expect("loads");
    let reason = |root, code| match c.select(Some("urn:x"), root, code) {
        Selection::Unvalidated { reason } => reason.to_owned(),
        other => panic!("{other:?}"),
    };
    assert_eq!(reason("a", Some("1")), "by root and code");
    assert_eq!(reason("a", Some("2")), "by root");
    assert_eq!(reason("b", Some("1")), "by code");
    assert_eq!(reason("b", None), "namespace-wide");
}

#[test]
fn rejects_entry_without_schema_or_reason_naming_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        &dir,
        "\n\n[[messages]]\nnamespace = \"urn:x\"\nroot = \"a\"\n",
    );
    let err = Catalogue::load(&path).expect_err("refused");
    match err {
        CompileError::Catalogue { at, message } => {
            assert_eq!(at.line, 3);
            assert_eq!(
                message,
                "a message entry needs exactly one of schema and unvalidated"
            );
        }
        other => panic!("unexpected error {other}"),
    }
}

#[test]
fn rejects_unknown_schema_names_and_duplicate_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        &dir,
        "[[messages]]\nnamespace = \"urn:x\"\nroot = \"a\"\nschema = \"nope\"\n",
    );
    assert!(
        matches!(Catalogue::load(&path), Err(CompileError::Catalogue { ref message, .. }) if message == "message entry names unknown schema \"nope\"")
    );
    let path = write(
        &dir,
        "[[messages]]\nnamespace = \"urn:x\"\nroot = \"a\"\nunvalidated = \"r\"\n[[messages]]\nnamespace = \"urn:x\"\nroot = \"a\"\nunvalidated = \"s\"\n",
    );
    assert!(
        matches!(Catalogue::load(&path), Err(CompileError::Catalogue { ref message, .. }) if message.starts_with("duplicate message entry"))
    );
}

#[test]
fn a_schema_that_does_not_compile_stops_loading_with_its_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("bad.xsd"),
        "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">\n  <xs:element name=\"a\" type=\"xs:nosuchtype\"/>\n</xs:schema>\n",
    )
    .expect("write");
    let path = write(&dir, "[schemas.bad]\nroot = \"bad.xsd\"\n");
    let err = Catalogue::load(&path).expect_err("refused");
    let at = err.location().expect("has a location").clone();
    assert!(at.file.ends_with("bad.xsd"));
    assert_eq!((at.line, at.column), (2, 3));
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2:3: unresolved reference to type {{http://www.w3.org/2001/XMLSchema}}nosuchtype",
            at.file.display()
        )
    );
}
