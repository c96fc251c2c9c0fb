//! What a scenario found: facts (numbers worth printing) and findings (violated guarantees).

use std::fmt::Write;

/// The outcome of one scenario run.
#[derive(Debug, Default)]
pub struct Report {
    pub scenario: &'static str,
    /// Measured facts, one line each (`key: value`), in the order they were measured.
    pub facts: Vec<(String, String)>,
    /// Violated guarantees; the scenario passed iff this is empty.
    pub findings: Vec<String>,
    /// Where the run's files (router log, data directory, config) were kept, if kept.
    pub kept: Option<std::path::PathBuf>,
}

impl Report {
    pub fn new(scenario: &'static str) -> Self {
        Report {
            scenario,
            ..Report::default()
        }
    }

    /// Records a fact and prints it at once (long runs show progress).
    pub fn fact(&mut self, key: &str, value: impl std::fmt::Display) {
        let value = value.to_string();
        println!("  {key}: {value}");
        self.facts.push((key.to_owned(), value));
    }

    /// Records a violated guarantee.
    pub fn finding(&mut self, text: impl Into<String>) {
        let text = text.into();
        println!("  FINDING: {text}");
        self.findings.push(text);
    }

    /// Records `text` as a finding unless `ok`.
    pub fn require(&mut self, ok: bool, text: impl Into<String>) {
        if !ok {
            self.finding(text);
        }
    }

    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }

    /// The closing summary.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        let _ = writeln!(s, "{verdict} {}", self.scenario);
        for f in &self.findings {
            let _ = writeln!(s, "  - {f}");
        }
        if let Some(k) = &self.kept {
            let _ = writeln!(s, "  files kept in {}", k.display());
        }
        s
    }

    /// Facts and findings as JSON (for `--json`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "scenario": self.scenario,
            "passed": self.passed(),
            "facts": self.facts.iter().map(|(k, v)| serde_json::json!({"name": k, "value": v})).collect::<Vec<_>>(),
            "findings": self.findings,
            "kept": self.kept.as_ref().map(|k| k.display().to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_with_a_finding_fails_and_names_it() {
        let mut r = Report::new("crash");
        r.fact("kills", 20);
        assert!(r.passed());
        r.require(false, "a: 1 acknowledged message(s) never delivered");
        assert!(!r.passed());
        assert_eq!(
            r.summary(),
            "FAIL crash\n  - a: 1 acknowledged message(s) never delivered\n"
        );
    }
}
