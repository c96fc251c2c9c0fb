//! Runs `xmllint --nonet --noout --schema` over batches of documents and compares its verdicts
//! with ours, two batches at a time (the CI machine has two cores).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// Time spent in xmllint and in our validator (microseconds), over all batches.
pub static XMLLINT_MICROS: AtomicU64 = AtomicU64::new(0);
pub static OURS_MICROS: AtomicU64 = AtomicU64::new(0);
pub static PREP_MICROS: AtomicU64 = AtomicU64::new(0);

use xoev_xsd::{Schema, validate_bytes};

pub struct Case {
    pub desc: String,
    pub xml: Vec<u8>,
}

pub struct Mismatch {
    pub desc: String,
    pub xmllint_valid: bool,
    pub xmllint_error: String,
    pub ours: String,
    pub xml: Vec<u8>,
}

const BATCH: usize = 400;

/// xmllint's verdict per file: Some(true) validates, Some(false) fails (or does not parse).
fn xmllint(
    schema: &Path,
    catalog: Option<&Path>,
    files: &[PathBuf],
) -> (HashMap<PathBuf, bool>, HashMap<PathBuf, String>) {
    let mut cmd = Command::new("xmllint");
    cmd.arg("--nonet")
        .arg("--noout")
        .arg("--schema")
        .arg(schema)
        .args(files);
    cmd.env(
        "XML_CATALOG_FILES",
        catalog
            .map(|c| c.as_os_str().to_owned())
            .unwrap_or_default(),
    );
    let out = cmd.output().expect("xmllint runs (install libxml2-utils)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("failed to compile"),
        "xmllint could not compile {}: {stderr}",
        schema.display()
    );
    let mut verdicts = HashMap::new();
    let mut errors: HashMap<PathBuf, String> = HashMap::new();
    for line in stderr.lines() {
        if let Some(f) = line.strip_suffix(" validates") {
            verdicts.insert(PathBuf::from(f), true);
        } else if let Some(f) = line.strip_suffix(" fails to validate") {
            verdicts.insert(PathBuf::from(f), false);
        } else if let Some((f, _)) = line.split_once(':')
            && line.contains("error")
        {
            errors
                .entry(PathBuf::from(f))
                .or_insert_with(|| line.chars().take(300).collect());
        }
    }
    // A document that does not parse gets no verdict line: that is "invalid".
    for f in files {
        verdicts.entry(f.clone()).or_insert(false);
    }
    (verdicts, errors)
}

/// Validates every case with both validators; returns the disagreements.
pub fn compare(
    schema_path: &Path,
    catalog: Option<&Path>,
    schema: &Schema,
    cases: &[Case],
    workdir: &Path,
) -> Vec<Mismatch> {
    let next = AtomicUsize::new(0);
    let mismatches = Mutex::new(Vec::new());
    let batches = cases.len().div_ceil(BATCH);
    std::thread::scope(|scope| {
        for worker in 0..2 {
            let (next, mismatches) = (&next, &mismatches);
            scope.spawn(move || {
                let dir = workdir.join(format!("w{worker}"));
                std::fs::create_dir_all(&dir).expect("work dir");
                loop {
                    let b = next.fetch_add(1, Ordering::SeqCst);
                    if b >= batches {
                        break;
                    }
                    let chunk = &cases[b * BATCH..((b + 1) * BATCH).min(cases.len())];
                    let t0 = Instant::now();
                    let files: Vec<PathBuf> = chunk
                        .iter()
                        .enumerate()
                        .map(|(i, c)| {
                            let f = dir.join(format!("{i:04}.xml"));
                            std::fs::write(&f, &c.xml).expect("write case");
                            f
                        })
                        .collect();
                    let t1 = Instant::now();
                    let (verdicts, errors) = xmllint(schema_path, catalog, &files);
                    let t2 = Instant::now();
                    PREP_MICROS.fetch_add((t1 - t0).as_micros() as u64, Ordering::Relaxed);
                    XMLLINT_MICROS.fetch_add((t2 - t1).as_micros() as u64, Ordering::Relaxed);
                    for (c, f) in chunk.iter().zip(&files) {
                        let theirs = verdicts[f];
                        let t = Instant::now();
                        let ours = validate_bytes(schema, &c.xml);
                        OURS_MICROS.fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
                        if ours.is_ok() != theirs {
                            mismatches.lock().expect("lock").push(Mismatch {
                                desc: c.desc.clone(),
                                xmllint_valid: theirs,
                                xmllint_error: errors.get(f).cloned().unwrap_or_default(),
                                ours: match ours {
                                    Ok(()) => "valid".into(),
                                    Err(v) => v.to_string(),
                                },
                                xml: c.xml.clone(),
                            });
                        }
                    }
                }
            });
        }
    });
    mismatches.into_inner().expect("lock")
}

/// Prints mismatches and keeps the documents for inspection; returns a summary line.
pub fn report(kind: &str, total: usize, mismatches: &[Mismatch], keep_dir: &Path) -> String {
    let _ = std::fs::create_dir_all(keep_dir);
    for (i, m) in mismatches.iter().enumerate().take(40) {
        let file = keep_dir.join(format!("{kind}-{i:03}.xml"));
        let _ = std::fs::write(&file, &m.xml);
        eprintln!(
            "MISMATCH [{kind}] {}\n  xmllint: {} {}\n  ours:    {}\n  saved:   {}",
            m.desc,
            if m.xmllint_valid { "valid" } else { "invalid" },
            m.xmllint_error,
            m.ours,
            file.display()
        );
    }
    format!(
        "{kind}: {total} documents, {} disagreements (time so far: xmllint {} ms, ours {} ms, writing {} ms)",
        mismatches.len(),
        XMLLINT_MICROS.load(Ordering::Relaxed) / 1000,
        OURS_MICROS.load(Ordering::Relaxed) / 1000,
        PREP_MICROS.load(Ordering::Relaxed) / 1000
    )
}
