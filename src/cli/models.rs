//! `stocktake models list | eval | run`: the model packages from the command line.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc;

use anyhow::Context;
use serde_json::{json, Value};

use super::ModelsAction;
use crate::config::Config;
use crate::infer::eval::{evaluate, Split};
use crate::infer::{package, Model, Package, Prediction, Task};

pub(super) fn run(config: &Config, action: ModelsAction) -> anyhow::Result<ExitCode> {
    match action {
        ModelsAction::List { format } => list(config, &format),
        ModelsAction::Eval {
            name,
            data,
            split_file,
            split,
            types,
            head,
            format,
        } => {
            let model = load(config, &name)?;
            let split = match (&split_file, &split) {
                (Some(f), Some(n)) => Some(Split { file: f, name: n }),
                _ => None,
            };
            let out = evaluate(&model, &data, split, &types, head.as_deref())?;
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print_metrics(&out);
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelsAction::Run { name, top_k } => {
            let model = load(config, &name)?;
            run_stdin(&model, config.infer.batch_size, top_k)
        }
        ModelsAction::Feedback { name, out } => {
            let app = crate::app::App::open(config.clone())?;
            let rows = app.model_feedback(&name)?;
            let mut text = String::new();
            for r in &rows {
                text.push_str(&serde_json::to_string(r)?);
                text.push('\n');
            }
            match out {
                Some(path) => {
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    let rejected = rows.iter().filter(|r| r.verdict == "rejected").count();
                    eprintln!(
                        "{} reviewed labels of {name} ({rejected} rejected) written to {}",
                        rows.len(),
                        path.display()
                    );
                }
                None => print!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load(config: &Config, name: &str) -> anyhow::Result<Model> {
    Ok(crate::app::load_model(&config.infer, name)?)
}

fn list(config: &Config, format: &str) -> anyhow::Result<ExitCode> {
    let root = &config.infer.models_dir;
    let dirs = package::list(root)
        .with_context(|| format!("cannot list model packages in {}", root.display()))?;
    let mut rows = Vec::new();
    for dir in dirs {
        let folder = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        match Package::open(&dir) {
            Ok(p) => {
                let bytes = std::fs::metadata(p.model_path())
                    .map(|m| m.len())
                    .unwrap_or(0);
                rows.push(json!({
                    "name": p.config.name,
                    "folder": folder,
                    "version": p.config.version,
                    "task": p.config.task.as_str(),
                    "heads": p.config.heads.iter().map(|h| json!({
                        "name": h.name,
                        "labels": p.label_names(&h.labels),
                    })).collect::<Vec<_>>(),
                    "sha256": p.sha256,
                    "bytes": bytes,
                    "model_card": p.card_path().is_file(),
                    "metrics": p.config.metrics,
                }));
            }
            Err(e) => rows.push(json!({"folder": folder, "error": e.to_string()})),
        }
    }
    if format == "json" {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no model packages in {}", root.display());
    }
    for r in &rows {
        if let Some(err) = r.get("error") {
            println!(
                "{}  INVALID: {}",
                r["folder"].as_str().unwrap_or("?"),
                err.as_str().unwrap_or("")
            );
            continue;
        }
        let heads: Vec<String> = r["heads"]
            .as_array()
            .map(|hs| {
                hs.iter()
                    .map(|h| {
                        let labels: Vec<&str> = h["labels"]
                            .as_array()
                            .map(|l| l.iter().filter_map(|x| x.as_str()).collect())
                            .unwrap_or_default();
                        format!(
                            "{} [{}]",
                            h["name"].as_str().unwrap_or(""),
                            labels.join(", ")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let card = if r["model_card"].as_bool() == Some(true) {
            ""
        } else {
            "  (no MODEL_CARD.md)"
        };
        println!(
            "{}  {}  {:.1} MB  sha256 {}…{card}\n    {}",
            r["name"].as_str().unwrap_or(""),
            r["task"].as_str().unwrap_or(""),
            r["bytes"].as_u64().unwrap_or(0) as f64 / 1e6,
            r["sha256"].as_str().unwrap_or("").get(..12).unwrap_or(""),
            heads.join("; ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Entity types for tag sets (B-brand, I-brand, … → brand), labels as they are otherwise.
fn print_metrics(v: &Value) {
    println!(
        "model {} on {} ({} examples)",
        v["model"].as_str().unwrap_or(""),
        v["data"].as_str().unwrap_or(""),
        v["examples"]
    );
    let f = |x: &Value| format!("{:.4}", x.as_f64().unwrap_or(0.0));
    if let Some(per) = v["per_type"].as_object() {
        println!(
            "{:<12} {:>9} {:>9} {:>9} {:>8}",
            "type", "precision", "recall", "f1", "support"
        );
        for (t, m) in per {
            println!(
                "{:<12} {:>9} {:>9} {:>9} {:>8}",
                t,
                f(&m["precision"]),
                f(&m["recall"]),
                f(&m["f1"]),
                m["support"]
            );
        }
        let m = &v["micro"];
        println!(
            "{:<12} {:>9} {:>9} {:>9} {:>8}",
            "micro",
            f(&m["precision"]),
            f(&m["recall"]),
            f(&m["f1"]),
            m["support"]
        );
        println!("macro F1 {}", f(&v["macro_f1"]));
    }
    if let Some(heads) = v["heads"].as_object() {
        for (h, m) in heads {
            println!(
                "{h}: accuracy {}  macro F1 {}",
                f(&m["accuracy"]),
                f(&m["macro_f1"])
            );
        }
    }
}

/// One JSON object per prediction, in the interface contract's shape.
pub fn prediction_json(text: &str, p: &Prediction, task: Task, top_k: Option<usize>) -> Value {
    let mut obj = serde_json::Map::new();
    obj.insert("text".into(), json!(text));
    match task {
        Task::TokenClassification => {
            obj.insert("entities".into(), json!(p.entities));
        }
        Task::SequenceClassification => {
            let labels: serde_json::Map<String, Value> = p
                .heads
                .iter()
                .map(|(h, s)| {
                    let k = top_k.unwrap_or(s.len()).min(s.len());
                    (h.clone(), json!(&s[..k]))
                })
                .collect();
            obj.insert("labels".into(), Value::Object(labels));
        }
    }
    if p.truncated {
        obj.insert("truncated".into(), json!(true));
    }
    Value::Object(obj)
}

/// Lines in, JSON lines out. A reader thread feeds a channel so lines that arrive together are
/// batched, while a single interactive line is answered at once.
fn run_stdin(model: &Model, batch: usize, top_k: Option<usize>) -> anyhow::Result<ExitCode> {
    let (tx, rx) = mpsc::sync_channel::<std::io::Result<String>>(batch * 4);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    while let Ok(first) = rx.recv() {
        let mut lines = vec![first.context("cannot read stdin")?];
        while lines.len() < batch {
            match rx.try_recv() {
                Ok(l) => lines.push(l.context("cannot read stdin")?),
                Err(_) => break,
            }
        }
        let texts: Vec<&str> = lines
            .iter()
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        let preds = model.predict(&texts)?;
        for (t, p) in texts.iter().zip(&preds) {
            serde_json::to_writer(&mut out, &prediction_json(t, p, model.task(), top_k))?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
