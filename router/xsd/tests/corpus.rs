//! Every row of the XWasser corpus manifest gets the verdict xmllint gave it (column 2), with
//! no external tool: the manifest records libxml2's verdicts.

mod common;

use xoev_xsd::validate_bytes;

#[test]
fn every_manifest_row_gets_xmllints_verdict() {
    let rows = common::manifest();
    assert!(rows.len() >= 78, "the manifest lists {} rows", rows.len());
    let schemas = common::schemas(&rows);
    let mut mismatches = Vec::new();
    for row in &rows {
        let schema = &schemas[&row.schema];
        let result = validate_bytes(schema, &common::read(&row.path()));
        if result.is_ok() != row.expected_valid {
            mismatches.push(format!(
                "{}: expected {}, got {} ({})",
                row.file,
                if row.expected_valid {
                    "valid"
                } else {
                    "invalid"
                },
                match &result {
                    Ok(()) => "valid".to_owned(),
                    Err(v) => format!("invalid: {v}"),
                },
                row.reason
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} rows disagree:\n{}",
        mismatches.len(),
        rows.len(),
        mismatches.join("\n")
    );
}
