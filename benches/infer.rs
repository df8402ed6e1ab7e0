//! Inference throughput: Stocktake's batched Rust inference against Python onnxruntime 1.31.1
//! (the same runtime library) on the same model package, texts, batch size and thread count,
//! in one run, alternating passes. Both sides do the same work per text: tokenize with the
//! package's tokenizer.json, sort into length buckets, run ONNX, then softmax per head
//! (classifier) or CRF Viterbi (NER, vectorised over the batch with NumPy on the peer's side).
//! The peer runs twice per pass: its default (one session with the intra-op threads) and its best
//! strategy on few cores, which is ours (one-thread sessions running batches side by side); both
//! ratios are printed. Texts: the review test split and the Taobao NER dev titles.
//!
//! Run: `./scripts/install-ort && ./scripts/install-peers && cargo bench --bench infer`
//! (env: `INFER_MODELS` folder of packages, default `models/`; `INFER_BATCH` default 32, `INFER_THREADS` default 2, `INFER_PASSES` default 5,
//! `INFER_TEXTS` default 2000, `STOCKTAKE_SHARED_DATA`). Skips with a message when the data, a
//! model or the peer is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use stocktake::infer::eval::{load_cls, load_ner, Split};
use stocktake::infer::{Model, Options};

/// Reads the benchmark texts for a model (the model's config maps the data's columns and tags).
type TextsOf<'a> = Box<dyn Fn(&Model) -> Vec<String> + 'a>;

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = std::env::var_os("STOCKTAKE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("../shared/data"));
    let peer = repo.join("runtime/peers/venv/bin/python");
    if !data.is_dir() || !peer.is_file() {
        eprintln!("SKIPPED: needs ../shared/data and ./scripts/install-peers");
        return;
    }
    let (batch, threads, passes, n) = (
        env_usize("INFER_BATCH", 32),
        env_usize("INFER_THREADS", 2),
        env_usize("INFER_PASSES", 5),
        env_usize("INFER_TEXTS", 2000),
    );
    let reviews = data.join("text/online_shopping_10_cats");
    let sets: Vec<(&str, TextsOf)> = vec![
        (
            "review-classifier",
            Box::new(|m: &Model| {
                let split = reviews.join("split_seed42.json");
                load_cls(
                    &reviews.join("online_shopping_10_cats.zip"),
                    &m.package.config.eval_columns,
                    &m.package.config.label_aliases,
                    Some(Split {
                        file: &split,
                        name: "test",
                    }),
                )
                .expect("review data")
                .into_iter()
                .map(|e| e.text.replace('\n', " "))
                .collect()
            }),
        ),
        (
            "product-ner",
            Box::new(|m: &Model| {
                load_ner(
                    &data.join("ner/taobao-ner-jie2019/dev.txt"),
                    &m.package.config.label_aliases,
                )
                .expect("ner data")
                .into_iter()
                .map(|e| e.text)
                .collect()
            }),
        ),
    ];
    println!(
        "inference throughput, batch {batch}, {threads} threads, {passes} passes (median), texts/s"
    );
    for (name, texts_of) in sets {
        let dir = std::env::var_os("INFER_MODELS")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo.join("models"))
            .join(name);
        if !dir.join("model.onnx").is_file() {
            eprintln!("SKIPPED {name}: no model package at {}", dir.display());
            continue;
        }
        let opts = Options {
            threads,
            batch_size: batch,
            ..Options::default()
        };
        let model = Model::load(&dir, &opts).expect("load model");
        let mut texts = texts_of(&model);
        let base = texts.clone();
        while texts.len() < n {
            texts.extend(base.iter().cloned());
        }
        texts.truncate(n);
        let file = std::env::temp_dir().join(format!("stocktake-bench-{name}.txt"));
        std::fs::write(&file, texts.join("\n") + "\n").expect("write texts");
        model.predict(&texts).expect("warm-up");
        let mut ours = Vec::new();
        // The peer's default (one session, intra-op threads) and its best strategy (one-thread
        // sessions side by side, as ours runs).
        let mut default = Vec::new();
        let mut sessions = Vec::new();
        for pass in 0..passes {
            let t0 = Instant::now();
            model.predict(&texts).expect("predict");
            ours.push(texts.len() as f64 / t0.elapsed().as_secs_f64());
            for (strategy, into) in [("default", &mut default), ("sessions", &mut sessions)] {
                into.push(run_peer(
                    &peer,
                    &repo.join("benches/infer_peer.py"),
                    &dir,
                    &file,
                    (batch, threads),
                    strategy,
                ));
            }
            println!(
                "raw {name} pass {pass}: stocktake {:.1}, python default {:.1}, python sessions {:.1}",
                ours[pass], default[pass], sessions[pass]
            );
        }
        let spread = |v: &[f64]| {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(0.0, f64::max);
            format!("{lo:.0}-{hi:.0}")
        };
        let (so, sd, ss) = (spread(&ours), spread(&default), spread(&sessions));
        let (o, d, s) = (
            median(&mut ours),
            median(&mut default),
            median(&mut sessions),
        );
        println!(
            "{name:<18} stocktake {o:>8.1} ({so})   python default {d:>8.1} ({sd})   python sessions {s:>8.1} ({ss})   \
             ratio default-vs-default {:.2}x, same strategy {:.2}x   ({n} texts)",
            o / d,
            o / s
        );
    }
}

fn run_peer(
    python: &Path,
    script: &Path,
    dir: &Path,
    texts: &Path,
    (batch, threads): (usize, usize),
    strategy: &str,
) -> f64 {
    let out = Command::new(python)
        .arg(script)
        .arg(dir)
        .arg(texts)
        .arg(batch.to_string())
        .arg(threads.to_string())
        .arg("1")
        .arg(strategy)
        .env("OMP_NUM_THREADS", threads.to_string())
        .output()
        .expect("run python peer");
    assert!(
        out.status.success(),
        "peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("peer JSON");
    v["texts_per_s"][0].as_f64().expect("rate")
}
