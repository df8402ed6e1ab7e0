//! Scores PII column detection on a labelled column set, so the quality bar in the tests and
//! the `inventory` benchmark measure the same thing the same way.
//!
//! A set is JSON lines `{"name", "label", "values"}` where `label` is a PII type name (`phone`,
//! `person_name`, …) or `none` (see `tests/fixtures/pii/`). Each column is profiled by the real
//! profiler and typed by `semantic::infer`, with the name/address model when one is given. A
//! column typed as the wrong PII type counts as both a false positive and a false negative.

use serde::Deserialize;

use super::ner::NameTagger;
use super::profile::ColumnProfiler;
use super::semantic;

/// Precision and recall of PII columns, with what went wrong.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PiiScore {
    pub columns: usize,
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
    pub precision: f64,
    pub recall: f64,
    /// `name: expected → got` for every mistake.
    pub mistakes: Vec<String>,
}

#[derive(Deserialize)]
struct Labelled {
    name: String,
    label: String,
    values: Vec<Option<String>>,
}

/// Scores every column of `jsonl`; a malformed line is an error naming its line number.
pub fn score(jsonl: &str, ner: Option<&NameTagger>) -> Result<PiiScore, String> {
    let mut s = PiiScore::default();
    for (i, line) in jsonl.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let c: Labelled = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        let mut p = ColumnProfiler::new(c.name.clone(), None);
        for v in &c.values {
            p.push(v.as_deref());
        }
        let profile = p.finish();
        let verdicts = ner.map(|t| t.verdicts(std::slice::from_ref(&profile)));
        let got = semantic::infer(&profile, verdicts.as_ref())
            .kind
            .pii()
            .map(|t| t.name());
        s.columns += 1;
        match (c.label.as_str(), got) {
            ("none", None) => {}
            (l, Some(g)) if l == g => s.tp += 1,
            (l, g) => {
                if l != "none" {
                    s.fn_ += 1;
                }
                if g.is_some() {
                    s.fp += 1;
                }
                s.mistakes
                    .push(format!("{}: {l} → {}", c.name, g.unwrap_or("none")));
            }
        }
    }
    s.precision = s.tp as f64 / (s.tp + s.fp).max(1) as f64;
    s.recall = s.tp as f64 / (s.tp + s.fn_).max(1) as f64;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_right_wrong_and_mistyped_columns() {
        let set = [
            r#"{"name":"手机","label":"phone","values":["13800138000","13912345678"]}"#,
            r#"{"name":"price","label":"none","values":["12.50","3.99"]}"#,
            r#"{"name":"email","label":"phone","values":["a@example.com","b@example.org"]}"#,
        ]
        .join("\n");
        let s = score(&set, None).unwrap();
        assert_eq!((s.tp, s.fp, s.fn_), (1, 1, 1), "{s:?}");
        assert_eq!(s.mistakes, ["email: phone → email"]);
        assert!(score("{not json", None).unwrap_err().starts_with("line 1"));
    }
}
