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

#[test]
fn the_ten_rows_where_libxml2_deviates_from_the_spec_get_libxml2s_verdict() {
    let rows = common::manifest();
    let schemas = common::schemas(&rows);
    let quirks: Vec<_> = rows
        .iter()
        .filter(|r| r.expected_valid != r.spec_valid)
        .collect();
    assert_eq!(quirks.len(), 10, "the corpus README lists ten such rows");
    for row in quirks {
        let verdict = validate_bytes(&schemas[&row.schema], &common::read(&row.path()));
        assert_eq!(
            verdict.is_ok(),
            row.expected_valid,
            "{}: {verdict:?}",
            row.file
        );
    }
    let leading = rows
        .iter()
        .find(|r| r.file == "quirks/datetime_leading_whitespace.xml")
        .expect("row");
    let v = validate_bytes(&schemas[&leading.schema], &common::read(&leading.path()))
        .expect_err("invalid");
    assert_eq!(v.kind, xoev_xsd::ViolationKind::InvalidValue);
    assert!(
        v.message
            .ends_with("is not a valid value of type xs:dateTime"),
        "{}",
        v.message
    );
}
