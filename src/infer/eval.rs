//! `models eval`: labelled data in, the metrics a model card reports out, computed here in Rust
//! so the numbers do not depend on the training script's own code (`labelled` reads the data).
//!
//! NER: entity-level exact span match, micro P/R/F1, per-type P/R/F1 and macro F1, over the
//! types the data annotates (or `--types`). Data: CoNLL one-character-per-line files (BIO or
//! BIOES, CRLF tolerated, dataset tags mapped through the model's `label_aliases`) or JSONL
//! `{"text", "entities": [{"start", "end", "label"}]}`.
//! Classification: accuracy and macro F1 per head. Data: JSONL `{"text", "labels": {head: label}}`
//! or CSV (also inside a `.zip`) whose columns are mapped to heads by `eval_columns`, with
//! an optional split file selecting rows (`{"test": [row, …]}`, rows counted without the header).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;
use serde_json::{json, Value};

use super::labelled::data_err;
pub use super::labelled::{load_cls, load_ner, ClsExample, NerExample, Split};
use super::{InferError, Model, Prediction, Task};

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

impl Prf {
    fn from_counts(tp: usize, fp: usize, fn_: usize) -> Prf {
        let p = if tp + fp > 0 {
            tp as f64 / (tp + fp) as f64
        } else {
            0.0
        };
        let r = if tp + fn_ > 0 {
            tp as f64 / (tp + fn_) as f64
        } else {
            0.0
        };
        let f1 = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        Prf {
            precision: p,
            recall: r,
            f1,
            support: tp + fn_,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NerMetrics {
    pub micro: Prf,
    pub macro_f1: f64,
    pub per_type: BTreeMap<String, Prf>,
    pub examples: usize,
}

/// Scores predicted spans against gold over `types`.
pub fn ner_metrics(
    gold: &[Vec<(usize, usize, String)>],
    pred: &[Vec<(usize, usize, String)>],
    types: &BTreeSet<String>,
) -> NerMetrics {
    let mut counts: BTreeMap<&str, (usize, usize, usize)> =
        types.iter().map(|t| (t.as_str(), (0, 0, 0))).collect();
    for (g, p) in gold.iter().zip(pred) {
        let g: BTreeSet<&(usize, usize, String)> =
            g.iter().filter(|s| types.contains(&s.2)).collect();
        let p: BTreeSet<&(usize, usize, String)> =
            p.iter().filter(|s| types.contains(&s.2)).collect();
        for s in &p {
            let c = counts.get_mut(s.2.as_str()).expect("filtered to types");
            if g.contains(s) {
                c.0 += 1
            } else {
                c.1 += 1
            }
        }
        for s in g.difference(&p) {
            counts.get_mut(s.2.as_str()).expect("filtered to types").2 += 1;
        }
    }
    let per_type: BTreeMap<String, Prf> = counts
        .iter()
        .map(|(t, &(tp, fp, fn_))| (t.to_string(), Prf::from_counts(tp, fp, fn_)))
        .collect();
    let (tp, fp, fn_) = counts
        .values()
        .fold((0, 0, 0), |a, c| (a.0 + c.0, a.1 + c.1, a.2 + c.2));
    let macro_f1 = if per_type.is_empty() {
        0.0
    } else {
        per_type.values().map(|m| m.f1).sum::<f64>() / per_type.len() as f64
    };
    NerMetrics {
        micro: Prf::from_counts(tp, fp, fn_),
        macro_f1,
        per_type,
        examples: gold.len(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HeadMetrics {
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_label: BTreeMap<String, Prf>,
    pub examples: usize,
}

/// Accuracy and macro F1 (over labels seen in gold or predictions) for one head.
pub fn head_metrics(gold: &[&str], pred: &[&str]) -> HeadMetrics {
    let mut counts: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    let mut correct = 0;
    for (g, p) in gold.iter().zip(pred) {
        if g == p {
            correct += 1;
            counts.entry(g).or_default().0 += 1;
        } else {
            counts.entry(p).or_default().1 += 1;
            counts.entry(g).or_default().2 += 1;
        }
    }
    let per_label: BTreeMap<String, Prf> = counts
        .iter()
        .map(|(l, &(tp, fp, fn_))| (l.to_string(), Prf::from_counts(tp, fp, fn_)))
        .collect();
    let macro_f1 = if per_label.is_empty() {
        0.0
    } else {
        per_label.values().map(|m| m.f1).sum::<f64>() / per_label.len() as f64
    };
    let n = gold.len();
    HeadMetrics {
        accuracy: if n > 0 {
            correct as f64 / n as f64
        } else {
            0.0
        },
        macro_f1,
        per_label,
        examples: n,
    }
}

/// Runs the model over labelled data and returns the metrics as JSON.
pub fn evaluate(
    model: &Model,
    data: &Path,
    split: Option<Split<'_>>,
    types: &[String],
    head: Option<&str>,
) -> Result<Value, InferError> {
    let cfg = &model.package.config;
    match cfg.task {
        Task::TokenClassification => {
            let examples = load_ner(data, &cfg.label_aliases)?;
            if examples.is_empty() {
                return Err(data_err(data, 0, "holds no examples"));
            }
            let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
            let preds = model.predict(&texts)?;
            let gold: Vec<Vec<(usize, usize, String)>> =
                examples.iter().map(|e| e.entities.clone()).collect();
            let pred: Vec<Vec<(usize, usize, String)>> = preds
                .iter()
                .map(|p| {
                    p.entities
                        .iter()
                        .map(|e| (e.start, e.end, e.label.clone()))
                        .collect()
                })
                .collect();
            let types: BTreeSet<String> = if types.is_empty() {
                gold.iter().flatten().map(|s| s.2.clone()).collect()
            } else {
                types.iter().cloned().collect()
            };
            let m = ner_metrics(&gold, &pred, &types);
            Ok(json!({
                "model": cfg.name, "sha256": model.package.sha256, "data": data.display().to_string(),
                "micro": m.micro, "macro_f1": m.macro_f1, "per_type": m.per_type, "examples": m.examples,
                "types": types,
            }))
        }
        Task::SequenceClassification => {
            let examples = load_cls(data, &cfg.eval_columns, &cfg.label_aliases, split)?;
            if examples.is_empty() {
                return Err(data_err(data, 0, "holds no examples"));
            }
            let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
            let preds = model.predict(&texts)?;
            let mut heads = BTreeMap::new();
            let mut order = Vec::new();
            for h in &cfg.heads {
                let scored: Vec<(usize, &str)> = examples
                    .iter()
                    .enumerate()
                    .filter_map(|(i, e)| e.labels.get(&h.name).map(|g| (i, g.as_str())))
                    .collect();
                if scored.is_empty() {
                    continue;
                }
                let gold: Vec<&str> = scored.iter().map(|(_, g)| *g).collect();
                let pred: Vec<&str> = scored
                    .iter()
                    .map(|(i, _)| best(&preds[*i], &h.name))
                    .collect();
                heads.insert(h.name.clone(), head_metrics(&gold, &pred));
                order.push(h.name.clone());
            }
            let top = match head {
                Some(h) => heads.get(h).map(|_| h.to_string()).ok_or_else(|| {
                    data_err(
                        data,
                        0,
                        format!(
                            "head {h:?} is not labelled in the data (labelled: {})",
                            order.join(", ")
                        ),
                    )
                })?,
                None => order.first().cloned().ok_or_else(|| {
                    let names: Vec<&str> = cfg.heads.iter().map(|h| h.name.as_str()).collect();
                    data_err(
                        data,
                        0,
                        format!("labels none of the model's heads ({})", names.join(", ")),
                    )
                })?,
            };
            let t = &heads[&top];
            Ok(json!({
                "model": cfg.name, "sha256": model.package.sha256, "data": data.display().to_string(),
                "head": top, "accuracy": t.accuracy, "macro_f1": t.macro_f1, "examples": t.examples,
                "heads": heads,
            }))
        }
    }
}

fn best<'a>(p: &'a Prediction, head: &str) -> &'a str {
    p.heads
        .iter()
        .find(|(h, _)| h == head)
        .and_then(|(_, s)| s.first())
        .map(|s| s.label.as_str())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conll_with_crlf_and_aliases() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.txt");
        std::fs::write(
            &p,
            "华 B-HPPX\r\n为 I-HPPX\r\n手 B-HCCX\r\n机 I-HCCX\r\n\r\n  O\r\nx S-XH\r\n",
        )
        .unwrap();
        let aliases: BTreeMap<String, String> =
            [("HPPX", "brand"), ("HCCX", "product"), ("XH", "model")]
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
        let ex = load_ner(&p, &aliases).unwrap();
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[0].text, "华为手机");
        assert_eq!(
            ex[0].entities,
            [(0, 2, "brand".into()), (2, 4, "product".into())]
        );
        assert_eq!(ex[1].text, " x");
        assert_eq!(ex[1].entities, [(1, 2, "model".into())]);
        std::fs::write(&p, "华 Q-x\n").unwrap();
        let e = load_ner(&p, &aliases).unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn metrics_by_hand() {
        let t = |s: usize, e: usize, l: &str| (s, e, l.to_string());
        let gold = vec![vec![t(0, 2, "a"), t(3, 4, "b")], vec![t(0, 1, "a")]];
        let pred = vec![
            vec![t(0, 2, "a"), t(3, 5, "b")],
            vec![t(0, 1, "a"), t(2, 3, "c")],
        ];
        let types: BTreeSet<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let m = ner_metrics(&gold, &pred, &types);
        assert_eq!(m.per_type["a"].f1, 1.0);
        assert_eq!(m.per_type["b"].f1, 0.0);
        assert!((m.micro.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.micro.recall - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(m.macro_f1, 0.5);
        let h = head_metrics(&["x", "x", "y", "z"], &["x", "y", "y", "z"]);
        assert_eq!(h.accuracy, 0.75);
        // x: P=1 R=.5 F=2/3; y: P=.5 R=1 F=2/3; z: 1.
        assert!((h.macro_f1 - (2.0 / 3.0 + 2.0 / 3.0 + 1.0) / 3.0).abs() < 1e-12);
    }
}
