//! `stocktake train`, `eval` and `predict`: TransE from the command line.
//!
//! Reads triples (a TSV folder or tarball), trains with a progress bar, writes resumable
//! checkpoints and the final model, describes the model in the catalog's models graph, and prints
//! evaluation and predictions as text or JSON. The work itself is in `kg` and `embed`.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::{json, Value};

use crate::config::Config;
use crate::embed::checkpoint::{resume, training_checkpoint, ModelInfo};
use crate::embed::predict::{predict, Direction};
use crate::embed::{self, Embedding, Evaluation, Loss, Norm, Optimizer, Sampler, Schedule};
use crate::embed::{TrainConfig, Trainer, Validation};
use crate::kg::{Checkpoint, Dataset, KnownTriples, UnseenPolicy};

/// Hyperparameters of `stocktake train`; unset ones keep the defaults shown.
#[derive(Debug, Clone, Args)]
pub struct Hyper {
    /// Embedding dimension [default: 100].
    #[arg(long)]
    pub dim: Option<usize>,
    /// l1 or l2 [default: l1].
    #[arg(long)]
    pub norm: Option<Norm>,
    /// margin, self-adversarial or softmax [default: margin].
    #[arg(long)]
    pub loss: Option<Loss>,
    /// Margin γ [default: 1].
    #[arg(long)]
    pub margin: Option<f32>,
    /// α of the self-adversarial loss [default: 1].
    #[arg(long)]
    pub adversarial_temperature: Option<f32>,
    /// Negatives per positive [default: 1].
    #[arg(long)]
    pub negatives: Option<usize>,
    /// uniform or bernoulli [default: bernoulli].
    #[arg(long)]
    pub sampler: Option<Sampler>,
    /// Positives per batch [default: 1024].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Most epochs [default: 100].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// sgd, adagrad or adam [default: adagrad].
    #[arg(long)]
    pub optimizer: Option<Optimizer>,
    /// Learning rate [default: 0.05].
    #[arg(long)]
    pub lr: Option<f32>,
    /// constant, linear or cosine [default: constant].
    #[arg(long)]
    pub schedule: Option<Schedule>,
    /// Do not rescale entity rows to unit norm after updates.
    #[arg(long)]
    pub no_normalize: bool,
    /// Random seed [default: 42].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Validate every N epochs; 0 turns validation and early stopping off [default: 10].
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// Evaluations without improvement before stopping [default: 3].
    #[arg(long)]
    pub patience: Option<usize>,
    /// Learn an inverse of every relation and predict heads as its tails (trains both
    /// directions, corrupting tails only; --sampler does not apply).
    #[arg(long)]
    pub reciprocal: bool,
}

impl Hyper {
    fn config(&self) -> TrainConfig {
        let d = TrainConfig::default();
        TrainConfig {
            dim: self.dim.unwrap_or(d.dim),
            norm: self.norm.unwrap_or(d.norm),
            loss: self.loss.unwrap_or(d.loss),
            margin: self.margin.unwrap_or(d.margin),
            adversarial_temperature: self
                .adversarial_temperature
                .unwrap_or(d.adversarial_temperature),
            negatives: self.negatives.unwrap_or(d.negatives),
            sampler: self.sampler.unwrap_or(d.sampler),
            batch_size: self.batch_size.unwrap_or(d.batch_size),
            epochs: self.epochs.unwrap_or(d.epochs),
            optimizer: self.optimizer.unwrap_or(d.optimizer),
            lr: self.lr.unwrap_or(d.lr),
            schedule: self.schedule.unwrap_or(d.schedule),
            normalize_entities: !self.no_normalize,
            seed: self.seed.unwrap_or(d.seed),
            eval_every: self.eval_every.unwrap_or(d.eval_every),
            patience: self.patience.unwrap_or(d.patience),
            reciprocal: self.reciprocal,
        }
    }
}

/// Options of `stocktake train`.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Folder or .tar.gz with train.txt (and valid.txt, test.txt).
    #[arg(
        long,
        value_name = "PATH",
        required_unless_present = "from_catalog",
        conflicts_with = "from_catalog"
    )]
    pub tsv: Option<PathBuf>,
    /// Train on the entity–entity triples of a catalog graph instead (5% valid, 5% test, split
    /// by triple hash so the split is stable across rescans).
    #[arg(long)]
    pub from_catalog: bool,
    /// Graph to read with --from-catalog (IRI or short name) [default: the product graph].
    #[arg(long, value_name = "IRI", requires = "from_catalog")]
    pub graph: Option<String>,
    /// Predicates to leave out with --from-catalog [default: rdf:type].
    #[arg(long, value_name = "IRI", requires = "from_catalog")]
    pub exclude_predicate: Vec<String>,
    /// Where to write the model [default: embed.model, i.e. DATA/embeddings/transe.stk, the
    /// file `serve` answers link prediction from].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Model name in the catalog.
    #[arg(long, default_value = "transe")]
    pub name: String,
    /// Resumable training checkpoint, rewritten after every validation.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Continue the run saved in this checkpoint.
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
    /// keep or drop valid/test triples whose entities training never saw.
    #[arg(long, default_value = "keep")]
    pub unseen: UnseenPolicy,
    /// Also evaluate on the test split at the end.
    #[arg(long)]
    pub test: bool,
    /// Threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Do not describe the model in the catalog's models graph.
    #[arg(long)]
    pub no_catalog: bool,
    /// text or json (the summary printed at the end).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    #[command(flatten)]
    pub hyper: Hyper,
}

/// `stocktake train`.
pub fn train(config: &Config, args: TrainArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let data = match &args.tsv {
        Some(path) => Dataset::load(path, args.unseen)?,
        None => catalog_dataset(config, &args)?,
    };
    for r in &data.reports {
        tracing::info!(split = %r.split, read = r.read, kept = r.kept, unseen = r.unseen, dropped = r.dropped, "triples");
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| config.embed.model_path(&config.data));
    let mut info = ModelInfo {
        source: data.source.clone(),
        snapshot: data.fingerprint.clone(),
        unseen_policy: args.unseen.to_string(),
        ..Default::default()
    };
    let mut trainer = match &args.resume {
        Some(path) => {
            let ckpt = Checkpoint::load(path)?;
            let (trainer, ids, saved, train) = resume(&ckpt)?;
            if saved.snapshot != data.fingerprint || ids != data.ids || train != data.train {
                bail!(
                    "{} was trained on other data (snapshot {}), not on {} (snapshot {})",
                    path.display(),
                    &saved.snapshot[..16.min(saved.snapshot.len())],
                    data.source,
                    &data.fingerprint[..16]
                );
            }
            info.seconds = saved.seconds;
            eprintln!(
                "resuming {} at epoch {}/{}",
                path.display(),
                trainer.epoch,
                trainer.config.epochs
            );
            trainer
        }
        None => Trainer::new(
            args.hyper.config(),
            &data.train,
            data.num_entities(),
            data.num_relations(),
        )?,
    };
    let validation = (!data.valid.is_empty()).then(|| Validation {
        triples: data.valid.clone(),
        known: KnownTriples::new([&data.train[..], &data.valid[..]]),
    });
    let bar = indicatif::ProgressBar::new(trainer.config.epochs as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] epoch {pos}/{len} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_position(trainer.epoch as u64);
    let base_seconds = info.seconds;
    let mut save_error = None;
    let run = embed::with_threads(args.threads, || {
        trainer.run(&data.train, validation.as_ref(), |t, rec| {
            bar.set_position(rec.epoch as u64);
            let per_s = data.train.len() as f64 / rec.seconds.max(1e-9);
            let mut msg = format!("loss {:.4} {:.0} triples/s", rec.loss, per_s);
            if let Some(m) = rec.valid_mrr {
                msg.push_str(&format!(" valid MRR {m:.4}"));
            }
            if rec.valid_mrr.is_some() || bar.is_hidden() {
                // The bar is invisible when stderr is not a terminal: keep a log line per epoch.
                bar.suspend(|| {
                    tracing::info!(
                        epoch = rec.epoch,
                        loss = format!("{:.5}", rec.loss),
                        triples_per_s = format!("{per_s:.0}"),
                        valid_mrr = rec.valid_mrr.map(|m| format!("{m:.4}")),
                        "epoch"
                    )
                });
            }
            bar.set_message(msg);
            if let (Some(path), true) = (&args.checkpoint, rec.valid_mrr.is_some() || t.finished())
            {
                let mut info = info.clone();
                info.seconds = base_seconds + started.elapsed().as_secs_f64();
                if let Err(e) = training_checkpoint(t, &data.ids, &info, &data.train).save(path) {
                    save_error = Some(e);
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
    });
    run?;
    bar.finish_and_clear();
    if let Some(e) = save_error {
        return Err(e).context("cannot write the training checkpoint");
    }
    info.seconds = base_seconds + started.elapsed().as_secs_f64();
    info.epochs = trainer.epoch;
    info.best_epoch = trainer.best.as_ref().map(|b| b.1);
    info.trained_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let model = trainer.best_model().clone();
    if let Some((mrr, _, _)) = &trainer.best {
        info.metrics.insert("valid.mrr".into(), *mrr);
    }
    let mut test_eval = None;
    if args.test && !data.test.is_empty() {
        let known = KnownTriples::new([&data.train[..], &data.valid[..], &data.test[..]]);
        let ev = embed::with_threads(args.threads, || embed::evaluate(&model, &data.test, &known))?;
        for (k, v) in metric_pairs(&ev) {
            info.metrics.insert(format!("test.{k}"), v);
        }
        test_eval = Some(ev);
    }
    let embedding = Embedding::new(
        model,
        data.ids.clone(),
        trainer.config.clone(),
        info,
        data.train.clone(),
    )?;
    embedding.to_checkpoint().save(&out)?;
    let mut catalog_iri = None;
    if !args.no_catalog {
        let catalog = super::commands::open_catalog(config)?;
        catalog_iri = Some(catalog.describe_model(&record(&args.name, &embedding, &out)?)?);
    }
    let summary = json!({
        "model": out.display().to_string(),
        "model_id": embedding.model_id(),
        "catalog_iri": catalog_iri.map(|i| i.as_str().to_string()),
        "epochs": embedding.info.epochs,
        "best_epoch": embedding.info.best_epoch,
        "stopped_early": trainer.stopped_early,
        "seconds": embedding.info.seconds,
        "triples_per_second": trainer.history.iter().map(|h| data.train.len() as f64 / h.seconds.max(1e-9)).sum::<f64>() / trainer.history.len().max(1) as f64,
        "splits": data.reports,
        "metrics": embedding.info.metrics,
        "test": test_eval.as_ref().map(eval_json),
    });
    if args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "trained {} epochs in {:.1}s (best epoch {}); model written to {}",
            embedding.info.epochs,
            embedding.info.seconds,
            embedding
                .info
                .best_epoch
                .map_or("-".to_string(), |e| e.to_string()),
            out.display()
        );
        for (k, v) in &embedding.info.metrics {
            println!("  {k:<16} {v:.4}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The entity–entity triples of a catalog graph, split by triple hash.
fn catalog_dataset(config: &Config, args: &TrainArgs) -> anyhow::Result<Dataset> {
    let catalog = super::commands::open_catalog(config)?;
    Ok(crate::recommend::retrain::catalog_dataset(
        &catalog,
        args.graph.as_deref().unwrap_or("products"),
        &args.exclude_predicate,
        args.unseen,
    )?)
}

fn metric_pairs(ev: &Evaluation) -> Vec<(&'static str, f64)> {
    let m = &ev.both;
    vec![
        ("mrr", m.mrr),
        ("mr", m.mr),
        ("hits@1", m.hits_at_1),
        ("hits@3", m.hits_at_3),
        ("hits@10", m.hits_at_10),
    ]
}

/// The evaluation JSON of the interface contract, plus directions.
fn eval_json(ev: &Evaluation) -> Value {
    let m = &ev.both;
    json!({
        "mrr": m.mrr, "mr": m.mr, "hits@1": m.hits_at_1, "hits@3": m.hits_at_3,
        "hits@10": m.hits_at_10, "triples": ev.triples,
        "head": ev.head, "tail": ev.tail,
    })
}

/// The catalog record of a trained embedding.
fn record(name: &str, e: &Embedding, path: &Path) -> anyhow::Result<crate::catalog::ModelRecord> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    use sha2::{Digest, Sha256};
    let sha = hex::encode(Sha256::digest(&bytes));
    let mut hyper: Vec<(String, String)> = Vec::new();
    if let Value::Object(map) = serde_json::to_value(&e.config)? {
        for (k, v) in map {
            hyper.push((k, v.to_string().trim_matches('"').to_string()));
        }
    }
    Ok(crate::catalog::ModelRecord {
        name: name.into(),
        version: Some(e.model_id()),
        sha256: sha,
        task: "link-prediction".into(),
        heads: Vec::new(),
        training_data: vec![e.info.source.clone()],
        licence: None,
        method: Some(format!(
            "TransE ({:?}, dim {}), {} entities, {} relations, {} training triples",
            e.config.norm,
            e.config.dim,
            e.ids.entities.len(),
            e.ids.relations.len(),
            e.train.len()
        )),
        metrics: e
            .info
            .metrics
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        hyperparameters: hyper,
        snapshot: Some(e.info.snapshot.clone()),
        created: Some(e.info.trained_at.clone()),
    })
}

/// Options of `stocktake eval`.
#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// Model file written by `stocktake train`.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Folder or .tar.gz with the splits (train/valid/test are all used as the filter).
    #[arg(long, value_name = "PATH")]
    pub tsv: PathBuf,
    /// train, valid or test.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Include per-relation metrics.
    #[arg(long)]
    pub per_relation: bool,
    /// text or json.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// `stocktake eval`.
pub fn eval(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let emb = Embedding::from_checkpoint(&Checkpoint::load(&args.model)?)?;
    let policy: UnseenPolicy = emb.info.unseen_policy.parse().unwrap_or_default();
    let data = Dataset::load(&args.tsv, policy)?;
    // Map the dataset's names onto the model's rows; a name the model lacks cannot be ranked.
    let remap = |ids: &crate::kg::IdMaps, t: &crate::kg::Triple| -> Option<crate::kg::Triple> {
        let h = emb.ids.entities.get(ids.entities.name(t.h)?)?;
        let r = emb.ids.relations.get(ids.relations.name(t.r)?)?;
        let tt = emb.ids.entities.get(ids.entities.name(t.t)?)?;
        Some(crate::kg::Triple::new(h, r, tt))
    };
    let map_split = |s: &[crate::kg::Triple]| -> (Vec<crate::kg::Triple>, usize) {
        let v: Vec<_> = s.iter().filter_map(|t| remap(&data.ids, t)).collect();
        let missing = s.len() - v.len();
        (v, missing)
    };
    let (train, _) = map_split(&data.train);
    let (valid, _) = map_split(&data.valid);
    let (test, _) = map_split(&data.test);
    let (split, missing) = map_split(data.split(&args.split)?);
    if split.is_empty() {
        bail!("the {} split has no triples the model can rank", args.split);
    }
    let known = KnownTriples::new([&train[..], &valid[..], &test[..]]);
    let started = Instant::now();
    let ev = embed::with_threads(args.threads, || embed::evaluate(&emb.model, &split, &known))?;
    let seconds = started.elapsed().as_secs_f64();
    let mut out = eval_json(&ev);
    out["split"] = json!(args.split);
    out["model_id"] = json!(emb.model_id());
    out["seconds"] = json!(seconds);
    out["skipped_unknown"] = json!(missing);
    if args.per_relation {
        let per: serde_json::Map<String, Value> = ev
            .per_relation
            .iter()
            .map(|(r, m)| {
                (
                    emb.ids.relations.name(*r).unwrap_or("?").to_string(),
                    serde_json::to_value(m).expect("serialisable"),
                )
            })
            .collect();
        out["per_relation"] = Value::Object(per);
    }
    if args.format == "json" {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        let m = &ev.both;
        println!(
            "{} {} triples ({} skipped: unknown to the model), filtered, both directions, realistic ranks:",
            args.split, ev.triples, missing
        );
        println!(
            "  MRR {:.4}  MR {:.1}  Hits@1 {:.4}  Hits@3 {:.4}  Hits@10 {:.4}   ({seconds:.2}s)",
            m.mrr, m.mr, m.hits_at_1, m.hits_at_3, m.hits_at_10
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Options of `stocktake predict`.
#[derive(Debug, Clone, Args)]
pub struct PredictArgs {
    /// Model file written by `stocktake train`.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Predict tails of (HEAD, RELATION, ?).
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "tail",
        required_unless_present = "tail"
    )]
    pub head: Option<String>,
    /// Predict heads of (?, RELATION, TAIL).
    #[arg(long, value_name = "NAME")]
    pub tail: Option<String>,
    #[arg(long, value_name = "NAME")]
    pub relation: String,
    /// Number of answers.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Keep answers that are already training triples.
    #[arg(long)]
    pub include_known: bool,
    /// text or json.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// `stocktake predict`.
pub fn predict_cmd(args: PredictArgs) -> anyhow::Result<ExitCode> {
    let emb = Embedding::from_checkpoint(&Checkpoint::load(&args.model)?)?;
    let r = emb.relation_id(&args.relation)?;
    let (direction, anchor_name) = match (&args.head, &args.tail) {
        (Some(h), None) => (Direction::Tails, h),
        (None, Some(t)) => (Direction::Heads, t),
        _ => bail!("give exactly one of --head and --tail"),
    };
    let anchor = emb.entity_id(anchor_name)?;
    let known = KnownTriples::new([&emb.train[..]]);
    let exclude: &[u32] = match (args.include_known, direction) {
        (true, _) => &[],
        (false, Direction::Tails) => known.tails(anchor, r),
        (false, Direction::Heads) => known.heads(r, anchor),
    };
    let got = predict(&emb.model, direction, anchor, r, args.k, exclude, &|_| true);
    let results: Vec<Value> = got
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({"rank": i + 1, "entity": emb.ids.entities.name(c.id), "score": c.score})
        })
        .collect();
    if args.format == "json" {
        let out = json!({
            "model_id": emb.model_id(),
            "snapshot": emb.info.snapshot,
            "direction": if direction == Direction::Tails { "tails" } else { "heads" },
            "relation": args.relation,
            "anchor": anchor_name,
            "results": results,
        });
        println!("{}", serde_json::to_string(&out)?);
    } else {
        for c in &got {
            println!(
                "{:>10.4}  {}",
                c.score,
                emb.ids.entities.name(c.id).unwrap_or("?")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
