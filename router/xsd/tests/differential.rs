//! Differential tests against libxml2: every document gets the same verdict from
//! `xmllint --nonet --noout --schema` (with `XML_CATALOG_FILES`) and from this crate.
//!
//! - the corpus manifest rows, re-checked with the installed xmllint;
//! - datatype probes: edge values of every built-in type in eight contexts (element, derived
//!   type, derived type with a pattern, attribute, attribute of derived type, simpleContent,
//!   list item, union member);
//! - semantic probes: empty/nilled content, wildcards, IDs, fixed/default values, xsi:type,
//!   substitution groups, unions, lists, `xs:all` (tests/probes/semantics.*);
//! - mutations of every valid corpus instance: structural ones (drop, duplicate, reorder,
//!   rename, requalify, insert, attributes, xsi:nil, xsi:type) and value perturbations aimed at
//!   each facet, sampled with a fixed seed (`XSD_DIFF_SAMPLE`, percent, default 20).
//!
//! They need xmllint, so plain `cargo test` skips them; `router/xsd/ci.sh` runs them.

mod common;

use std::collections::HashSet;
use std::path::PathBuf;

use common::xmllint::{Case, compare, report};
use common::{dom, mutate};
use xoev_xsd::Schema;

/// A scratch directory, in memory (/dev/shm) where available: the mutation run writes tens of
/// thousands of small files.
fn workdir(name: &str) -> tempfile::TempDir {
    let prefix = format!("xsd-diff-{name}-");
    let mut b = tempfile::Builder::new();
    b.prefix(&prefix);
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = b.tempdir_in(shm)
    {
        return d;
    }
    b.tempdir().expect("temp dir")
}

fn keep_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("xsd-differential-mismatches")
}

fn catalog_path() -> PathBuf {
    common::xsd_dir().join("catalog.xml")
}

#[test]
#[ignore = "needs xmllint; run by router/xsd/ci.sh"]
fn corpus_rows_get_the_same_verdict_from_xmllint_and_from_us() {
    let rows = common::manifest();
    let schemas = common::schemas(&rows);
    let mut total = 0;
    let mut all = Vec::new();
    let mut by_schema: Vec<&str> = rows.iter().map(|r| r.schema.as_str()).collect();
    by_schema.sort();
    by_schema.dedup();
    for schema_name in by_schema {
        let cases: Vec<Case> = rows
            .iter()
            .filter(|r| r.schema == schema_name)
            .map(|r| Case {
                desc: r.file.clone(),
                xml: common::read(&r.path()),
            })
            .collect();
        let row = rows.iter().find(|r| r.schema == schema_name).expect("row");
        total += cases.len();
        let dir = workdir("corpus");
        all.extend(compare(
            &row.schema_path(),
            Some(&catalog_path()),
            &schemas[schema_name],
            &cases,
            dir.path(),
        ));
    }
    let summary = report("corpus", total, &all, &keep_dir());
    println!("{summary}");
    assert!(all.is_empty(), "{summary}");
}

/// The contexts a datatype probe value is tried in.
const CONTEXTS: [&str; 8] = ["E", "D", "F", "A", "AD", "S", "L", "U"];

fn datatype_schema(types: &[String]) -> String {
    let mut s = String::from(
        "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">\n<xs:element name=\"r\"><xs:complexType><xs:choice>\n",
    );
    for t in types {
        s.push_str(&format!("<xs:element name=\"E{t}\" type=\"xs:{t}\"/>\n"));
        s.push_str(&format!("<xs:element name=\"D{t}\" type=\"D{t}\"/>\n"));
        s.push_str(&format!("<xs:element name=\"F{t}\" type=\"F{t}\"/>\n"));
        s.push_str(&format!("<xs:element name=\"S{t}\" type=\"S{t}\"/>\n"));
        s.push_str(&format!("<xs:element name=\"L{t}\" type=\"L{t}\"/>\n"));
        s.push_str(&format!("<xs:element name=\"U{t}\" type=\"U{t}\"/>\n"));
        s.push_str(&format!("<xs:element name=\"A{t}\"><xs:complexType><xs:attribute name=\"a\" type=\"xs:{t}\"/></xs:complexType></xs:element>\n"));
        s.push_str(&format!("<xs:element name=\"AD{t}\"><xs:complexType><xs:attribute name=\"a\" type=\"D{t}\"/></xs:complexType></xs:element>\n"));
    }
    s.push_str("</xs:choice></xs:complexType></xs:element>\n");
    for t in types {
        let is_list = matches!(t.as_str(), "IDREFS" | "ENTITIES" | "NMTOKENS");
        let base = if t == "anySimpleType" {
            "string"
        } else {
            t.as_str()
        };
        s.push_str(&format!(
            "<xs:simpleType name=\"D{t}\"><xs:restriction base=\"xs:{base}\"/></xs:simpleType>\n"
        ));
        let facet = if is_list {
            "<xs:maxLength value=\"100\"/>"
        } else {
            "<xs:pattern value=\"[\\s\\S]*\"/>"
        };
        s.push_str(&format!("<xs:simpleType name=\"F{t}\"><xs:restriction base=\"xs:{base}\">{facet}</xs:restriction></xs:simpleType>\n"));
        s.push_str(&format!("<xs:complexType name=\"S{t}\"><xs:simpleContent><xs:extension base=\"xs:{t}\"><xs:attribute name=\"z\"/></xs:extension></xs:simpleContent></xs:complexType>\n"));
        let item = if is_list || t == "anySimpleType" {
            "string".to_owned()
        } else {
            t.clone()
        };
        s.push_str(&format!(
            "<xs:simpleType name=\"L{t}\"><xs:list itemType=\"xs:{item}\"/></xs:simpleType>\n"
        ));
        s.push_str(&format!(
            "<xs:simpleType name=\"U{t}\"><xs:union memberTypes=\"xs:{base}\"/></xs:simpleType>\n"
        ));
    }
    s.push_str("</xs:schema>\n");
    s
}

fn escape(v: &str, attr: bool) -> String {
    let mut out = String::new();
    for c in v.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            '\n' if attr => out.push_str("&#10;"),
            '\t' if attr => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

#[test]
#[ignore = "needs xmllint; run by router/xsd/ci.sh"]
fn datatype_probes_get_the_same_verdict_from_xmllint_and_from_us() {
    let table = std::fs::read_to_string(common::crate_dir().join("tests/probes/datatypes.tsv"))
        .expect("probe table");
    let mut values: Vec<(String, String)> = table
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(t, v)| (t.to_owned(), v.replace("\\n", "\n").replace("\\t", "\t")))
        .collect();
    // Every type also gets one valid base value with whitespace around it.
    let bases = [
        ("string", "ab"),
        ("normalizedString", "ab"),
        ("token", "ab"),
        ("language", "en"),
        ("Name", "ab"),
        ("NCName", "ab"),
        ("ID", "ab"),
        ("IDREF", "ab"),
        ("IDREFS", "ab"),
        ("NMTOKEN", "ab"),
        ("NMTOKENS", "ab"),
        ("boolean", "true"),
        ("decimal", "1.5"),
        ("integer", "12"),
        ("nonPositiveInteger", "-1"),
        ("negativeInteger", "-1"),
        ("long", "12"),
        ("int", "12"),
        ("short", "12"),
        ("byte", "12"),
        ("nonNegativeInteger", "12"),
        ("unsignedLong", "12"),
        ("unsignedInt", "12"),
        ("unsignedShort", "12"),
        ("unsignedByte", "12"),
        ("positiveInteger", "12"),
        ("float", "1.5"),
        ("double", "1.5"),
        ("duration", "P1D"),
        ("dateTime", "2020-01-01T00:00:00"),
        ("dateTime", "2020-01-01T00:00:00Z"),
        ("time", "10:00:00"),
        ("time", "10:00:00Z"),
        ("date", "2020-01-01"),
        ("gYearMonth", "2020-01"),
        ("gYear", "2020"),
        ("gYear", "2020Z"),
        ("gMonthDay", "--01-01"),
        ("gDay", "---01"),
        ("gMonth", "--01"),
        ("hexBinary", "0A"),
        ("base64Binary", "AAAA"),
        ("anyURI", "http://x/"),
        ("QName", "ab"),
        ("anySimpleType", "ab"),
    ];
    for (t, v) in bases {
        for w in ["{}", " {}", "{} ", "\n{}", "{}\n", " {} ", "{}  {}"] {
            values.push((t.to_owned(), w.replace("{}", v)));
        }
    }
    let mut types: Vec<String> = values.iter().map(|(t, _)| t.clone()).collect();
    types.sort();
    types.dedup();
    let dir = workdir("datatypes");
    let schema_path = dir.path().join("datatypes.xsd");
    std::fs::write(&schema_path, datatype_schema(&types)).expect("write schema");
    let schema = Schema::compile_file(&schema_path, None).expect("probe schema compiles");
    let mut cases = Vec::new();
    for (t, v) in &values {
        for ctx in CONTEXTS {
            let xml = if ctx.starts_with('A') {
                format!("<r><{ctx}{t} a=\"{}\"/></r>", escape(v, true))
            } else {
                format!("<r><{ctx}{t}>{}</{ctx}{t}></r>", escape(v, false))
            };
            cases.push(Case {
                desc: format!("{t} {v:?} as {ctx}"),
                xml: xml.into_bytes(),
            });
        }
    }
    let mismatches = compare(&schema_path, None, &schema, &cases, dir.path());
    let summary = report("datatypes", cases.len(), &mismatches, &keep_dir());
    println!("{summary}");
    assert!(mismatches.is_empty(), "{summary}");
}

#[test]
#[ignore = "needs xmllint; run by router/xsd/ci.sh"]
fn semantic_and_feature_probes_get_the_same_verdict_from_xmllint_and_from_us() {
    let probes = common::crate_dir().join("tests/probes");
    let mut summaries = Vec::new();
    let mut failed = false;
    // (probe set, prefix and namespace of its wrapper element <p:r>)
    for (set, prefix, ns) in [("semantics", "t", "urn:t"), ("features", "f", "urn:f")] {
        let schema_path = probes.join(format!("{set}.xsd"));
        let schema = Schema::compile_file(&schema_path, None).expect("probe schema compiles");
        let text = std::fs::read_to_string(probes.join(format!("{set}.txt"))).expect("cases");
        let cases: Vec<Case> = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let body = l.replace("\\n", "\n");
                Case {
                    desc: l.to_owned(),
                    xml: format!(
                        "<{prefix}:r xmlns:{prefix}=\"{ns}\" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">{body}</{prefix}:r>"
                    )
                    .into_bytes(),
                }
            })
            .collect();
        let dir = workdir(set);
        let mismatches = compare(&schema_path, None, &schema, &cases, dir.path());
        failed |= !mismatches.is_empty();
        summaries.push(report(set, cases.len(), &mismatches, &keep_dir()));
    }
    println!("{}", summaries.join("\n"));
    assert!(!failed, "{}", summaries.join("; "));
}

/// Schema probes where this crate deliberately refuses what libxml2 compiles (see
/// docs/schema-validation.md): unsupported constructs, and errors libxml2 lets pass.
const REFUSED_BY_US_ONLY: [&str; 6] = [
    "bad-pattern-block",
    "bad-pattern-quantifier",
    "whitespace-relaxed",
    "unsupported-identity-constraint",
    "unsupported-notation",
    "unsupported-redefine",
];

#[test]
#[ignore = "needs xmllint; run by router/xsd/ci.sh"]
fn schema_probes_compile_or_fail_as_in_xmllint() {
    let dir = common::crate_dir().join("tests/probes/schemas");
    let instance = workdir("schemas");
    let doc = instance.path().join("x.xml");
    std::fs::write(&doc, "<x/>").expect("write");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("probe dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xsd"))
        .collect();
    paths.sort();
    let mut problems = Vec::new();
    for path in &paths {
        let out = std::process::Command::new("xmllint")
            .args(["--nonet", "--noout", "--schema"])
            .arg(path)
            .arg(&doc)
            .output()
            .expect("xmllint runs");
        let theirs = !String::from_utf8_lossy(&out.stderr).contains("failed to compile");
        let ours = Schema::compile_file(path, None);
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let expected_ours = theirs && !REFUSED_BY_US_ONLY.contains(&name);
        if ours.is_ok() != expected_ours {
            problems.push(format!(
                "{name}: xmllint {}, we {}",
                if theirs { "compiles" } else { "refuses" },
                match &ours {
                    Ok(_) => "compile".to_owned(),
                    Err(e) => format!("refuse: {e}"),
                }
            ));
        }
    }
    println!(
        "schemas: {} probes, {} disagreements",
        paths.len(),
        problems.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A small deterministic generator (xorshift64*), so samples are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
#[ignore = "needs xmllint; run by router/xsd/ci.sh"]
fn mutations_of_valid_instances_get_the_same_verdict_from_xmllint_and_from_us() {
    let percent: u64 = std::env::var("XSD_DIFF_SAMPLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let rows = common::manifest();
    let schemas = common::schemas(&rows);
    let mut rng = Rng(0x5EED_2026_0402_0830);
    let mut seen = HashSet::new();
    let (mut total, mut structural, mut values) = (0, 0, 0);
    let mut all = Vec::new();
    for row in rows
        .iter()
        .filter(|r| r.expected_valid && r.file.starts_with("instances/"))
    {
        let bytes = common::read(&row.path());
        if !seen.insert(bytes.clone()) {
            continue; // byte-identical upstream duplicates
        }
        let doc = dom::parse(std::str::from_utf8(&bytes).expect("UTF-8"));
        let mut cases: Vec<Case> = Vec::new();
        let s = mutate::structural(&doc);
        structural += s.len();
        cases.extend(s.into_iter().map(|m| Case {
            desc: format!("{}: {}", row.file, m.desc),
            xml: m.xml.into_bytes(),
        }));
        let mut keep = || rng.next() % 100 < percent;
        let v = mutate::values(&doc, &mut keep);
        values += v.len();
        cases.extend(v.into_iter().map(|m| Case {
            desc: format!("{}: {}", row.file, m.desc),
            xml: m.xml.into_bytes(),
        }));
        total += cases.len();
        let dir = workdir("mutations");
        all.extend(compare(
            &row.schema_path(),
            Some(&catalog_path()),
            &schemas[&row.schema],
            &cases,
            dir.path(),
        ));
    }
    let summary = report("mutations", total, &all, &keep_dir());
    println!(
        "{summary} ({structural} structural, {values} value perturbations sampled at {percent}%)"
    );
    assert!(all.is_empty(), "{summary}");
}
