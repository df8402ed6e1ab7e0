//! `stocktake train`, `eval` and `predict`: TransE from the command line.
//!
//! Reads triples (a TSV folder or tarball), trains with a progress bar, writes resumable
//! checkpoints and the final model, describes the model in the catalog's models graph, and prints
//! evaluation and predictions as text or JSON. The work itself is in `kg` and `embed`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::bail;
use clap::Args;
use serde_json::{json, Value};

use crate::app::{self, TrainData, TrainEvent, TrainJob};
use crate::config::Config;
use crate::embed::predict::{predict, Direction};
use crate::embed::TrainConfig;
use crate::embed::{self, Embedding, Evaluation, Loss, Norm, Optimizer, Sampler, Schedule};
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
    let job = TrainJob {
        data: match &args.tsv {
            Some(path) => TrainData::Tsv(path.clone()),
            None => TrainData::Catalog {
                graph: args.graph.clone().unwrap_or_else(|| "products".into()),
                exclude: args.exclude_predicate.clone(),
            },
        },
        unseen: args.unseen,
        hyper: args.hyper.config(),
        out: args.out.clone(),
        checkpoint: args.checkpoint.clone(),
        resume: args.resume.clone(),
        test: args.test,
        threads: args.threads,
        describe_as: (!args.no_catalog).then(|| args.name.clone()),
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] epoch {pos}/{len} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let mut triples = 0;
    let trained = app::train(config, &job, &mut |event| match event {
        TrainEvent::Start {
            epoch,
            epochs,
            triples: n,
            resumed,
        } => {
            triples = n;
            if let Some(path) = resumed {
                bar.suspend(|| eprintln!("resuming {} at epoch {epoch}/{epochs}", path.display()));
            }
            bar.set_length(epochs as u64);
            bar.set_position(epoch as u64);
        }
        TrainEvent::Epoch(rec) => {
            bar.set_position(rec.epoch as u64);
            let per_s = triples as f64 / rec.seconds.max(1e-9);
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
        }
    });
    bar.finish_and_clear();
    let trained = trained?;
    let embedding = &trained.embedding;
    if args.format == "json" {
        let mut summary = serde_json::to_value(&trained)?;
        summary["model"] = json!(trained.model.display().to_string());
        summary["epochs"] = json!(embedding.info.epochs);
        summary["best_epoch"] = json!(embedding.info.best_epoch);
        summary["seconds"] = json!(embedding.info.seconds);
        summary["metrics"] = json!(embedding.info.metrics);
        summary["test"] = trained.test.as_ref().map(eval_json).unwrap_or(Value::Null);
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
            trained.model.display()
        );
        for (k, v) in &embedding.info.metrics {
            println!("  {k:<16} {v:.4}");
        }
    }
    Ok(ExitCode::SUCCESS)
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
