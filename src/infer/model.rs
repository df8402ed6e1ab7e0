//! A loaded model: ONNX session + tokenizer + validated package, and batched inference.
//!
//! Loading checks everything that could otherwise fail at inference time — input names, output
//! names, the label count of every head (by a probe run, since exported graphs usually leave the
//! label dimension symbolic) — so a bad package is a clear error at load, never a panic later.
//! Inference encodes all texts, sorts them by token length and runs them in buckets of similar
//! length (little padding), then restores the caller's order. It is blocking work: callers on an
//! async runtime run it on a blocking thread.

use std::path::Path;
use std::sync::Mutex;

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{Tensor, ValueType};
use serde::Serialize;
use tokenizers::{Encoding, Tokenizer, TruncationParams};

use super::decode::{self, Tag};
use super::package::{Decoding, Inputs, Package, Task};
use super::{runtime, InferError};

/// Execution settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// CPU threads one `predict` call may use (0 = one per core). They are spent on up to
    /// [`MAX_SESSIONS`] sessions of one thread each that run different batches at once, the
    /// rest as intra-op threads of those sessions (see [`Model::predict`]).
    pub threads: usize,
    /// Most texts per ONNX run.
    pub batch_size: usize,
    /// Explicit `libonnxruntime.so`, else discovery.
    pub ort_lib: Option<std::path::PathBuf>,
    /// Whether ONNX Runtime's idle intra-op threads spin for work (its default: lowest latency
    /// when the model has the cores to itself). Off for a model that shares the cores with other
    /// work, such as the labeller inside an ingest run: spinning threads burn the cores the
    /// store writer needs, and a descheduled worker stalls every parallel step of the model.
    pub spin: bool,
}

impl Options {
    /// The settings of the `[infer]` configuration section.
    pub fn from_config(c: &super::InferConfig) -> Options {
        Options {
            threads: c.threads,
            batch_size: c.batch_size,
            ort_lib: c.ort_lib.clone(),
            spin: true,
        }
    }

    /// The same settings for a model that shares the cores with other work (no spinning).
    pub fn sharing_cores(self) -> Options {
        Options {
            spin: false,
            ..self
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: 0,
            batch_size: 32,
            ort_lib: None,
            spin: true,
        }
    }
}

/// Most ONNX Runtime sessions per model (each holds its own copy of the weights).
pub const MAX_SESSIONS: usize = 4;

/// (sessions, intra-op threads per session) for `threads` (0 = one per core).
fn layout(threads: usize) -> (usize, usize) {
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    let sessions = threads.clamp(1, MAX_SESSIONS);
    (sessions, (threads / sessions).max(1))
}

/// `run(session, k)` for every job `k < jobs`, on as many of `sessions` at once as there are
/// jobs, each worker taking the next job off a shared counter; answers in job order. A failed
/// job stops its worker, so the answers may end after the first failure (the caller stops
/// there too); a panic is passed on to the caller.
fn side_by_side<T: Send, E: Send>(
    sessions: &[Mutex<Session>],
    jobs: usize,
    run: impl Fn(&Mutex<Session>, usize) -> Result<T, E> + Sync,
) -> Vec<Result<T, E>> {
    let workers = sessions.len().min(jobs);
    if workers <= 1 {
        return (0..jobs).map(|k| run(&sessions[0], k)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = |session: &Mutex<Session>| {
        let mut mine = Vec::new();
        loop {
            let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if k >= jobs {
                return mine;
            }
            let answer = run(session, k);
            let failed = answer.is_err();
            mine.push((k, answer));
            if failed {
                return mine;
            }
        }
    };
    let mut done: Vec<(usize, Result<T, E>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = sessions[..workers]
            .iter()
            .map(|session| scope.spawn(|| work(session)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    // Jobs are handed out in order and each one taken is answered: `done` is a prefix.
    done.sort_by_key(|(k, _)| *k);
    done.into_iter().map(|(_, a)| a).collect()
}

/// An entity span; offsets count Unicode scalar values, end exclusive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entity {
    pub start: usize,
    pub end: usize,
    pub label: String,
    pub score: f32,
}

/// One label with its probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    pub label: String,
    pub score: f32,
}

/// The answer for one text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prediction {
    /// Token classification: spans in text order.
    pub entities: Vec<Entity>,
    /// Sequence classification: per head, every label best first.
    pub heads: Vec<(String, Vec<Scored>)>,
    /// The text was longer than the model's max length and only its beginning was read.
    pub truncated: bool,
}

/// A model ready to run.
pub struct Model {
    pub package: Package,
    /// One or more sessions of the same graph: batches of one call run on them side by side.
    sessions: Vec<Mutex<Session>>,
    tokenizer: Tokenizer,
    inputs: Inputs,
    pad_id: u32,
    tags: Vec<Tag>,
    batch_size: usize,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.package.config.name)
            .finish()
    }
}

fn onnx_err(p: &Path) -> impl Fn(ort::Error) -> InferError + '_ {
    move |e| InferError::Onnx {
        path: p.to_path_buf(),
        message: e.to_string(),
    }
}

impl Model {
    /// Opens, validates and loads `dir`.
    pub fn load(dir: &Path, opts: &Options) -> Result<Model, InferError> {
        let package = Package::open(dir)?;
        let rt = runtime::runtime(opts.ort_lib.as_deref())?;
        let model_path = package.model_path();
        let err = onnx_err(&model_path);
        let (count, intra) = layout(opts.threads);
        let mut sessions = Vec::with_capacity(count);
        for _ in 0..count {
            let mut builder = Session::builder(&rt.env)
                .map_err(&err)?
                .with_optimization_level(GraphOptimizationLevel::All)
                .map_err(|e| err(e.into()))?
                .with_intra_threads(intra)
                .map_err(|e| err(e.into()))?;
            if !opts.spin {
                builder = builder
                    .with_intra_op_spinning(false)
                    .map_err(|e| err(e.into()))?;
            }
            sessions.push(builder.commit_from_file(&model_path).map_err(&err)?);
        }
        let session = &sessions[0];

        let tok_path = package.tokenizer_path();
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| InferError::Tokenizer {
            path: tok_path.clone(),
            message: e.to_string(),
        })?;
        // Exported tokenizer.json files may carry their own padding/truncation; ours wins.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: package.config.max_length,
                ..Default::default()
            }))
            .map_err(|e| InferError::Tokenizer {
                path: tok_path.clone(),
                message: e.to_string(),
            })?;
        let pad_id = ["[PAD]", "<pad>", "<PAD>"]
            .iter()
            .find_map(|t| tokenizer.token_to_id(t))
            .unwrap_or(0);

        let inputs = resolve_inputs(&package, session)?;
        for head in &package.config.heads {
            if !session.outputs().iter().any(|o| o.name() == head.output) {
                return Err(InferError::Mismatch {
                    model: package.config.name.clone(),
                    message: format!(
                        "head {:?} reads output {:?}, but the graph's outputs are {}",
                        head.name,
                        head.output,
                        names(session.outputs().iter().map(|o| o.name()))
                    ),
                });
            }
        }
        let tags = match package.config.task {
            Task::TokenClassification => package.config.heads[0]
                .labels
                .iter()
                .map(|l| Tag::parse(l))
                .collect::<Result<_, _>>()
                .map_err(|message| InferError::Mismatch {
                    model: package.config.name.clone(),
                    message,
                })?,
            Task::SequenceClassification => Vec::new(),
        };
        let model = Model {
            package,
            sessions: sessions.into_iter().map(Mutex::new).collect(),
            tokenizer,
            inputs,
            pad_id,
            tags,
            batch_size: opts.batch_size.max(1),
        };
        // Probe: one tiny run proves the inputs are accepted and each head's label count matches.
        model.predict(&["probe"]).map_err(|e| match e {
            InferError::Mismatch { .. } => e,
            other => InferError::Mismatch {
                model: model.package.config.name.clone(),
                message: format!("a probe run failed: {other}"),
            },
        })?;
        Ok(model)
    }

    pub fn name(&self) -> &str {
        &self.package.config.name
    }

    pub fn task(&self) -> Task {
        self.package.config.task
    }

    /// Runs the model over `texts`, batched by length; answers in input order.
    ///
    /// The batches run on the model's sessions side by side, each session on one thread: on
    /// two cores, two one-thread sessions label a few thousand titles about 15% faster than one
    /// session with two intra-op threads (measured with ONNX Runtime 1.31 on product-ner), and
    /// they keep that pace when other work takes a core now and then, where intra-op threads
    /// wait for each other at every operator.
    pub fn predict<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Prediction>, InferError> {
        let started = std::time::Instant::now();
        let out = self.predict_inner(texts);
        metrics::histogram!("stocktake_inference_duration_seconds", "model" => self.name().to_string())
            .record(started.elapsed().as_secs_f64());
        metrics::counter!("stocktake_inference_texts_total", "model" => self.name().to_string())
            .increment(texts.len() as u64);
        out
    }

    fn predict_inner<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Prediction>, InferError> {
        // tokenizers parallelises a batch over its own rayon pool.
        let inputs: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
        let encodings = self
            .tokenizer
            .encode_batch_char_offsets(inputs.clone(), true)
            .map_err(|e| InferError::Encode {
                message: e.to_string(),
            })?;
        let mut truncated = Vec::with_capacity(inputs.len());
        for (t, enc) in inputs.iter().zip(&encodings) {
            let cut = self.was_truncated(enc, t);
            truncated.push(cut);
            if cut {
                tracing::warn!(
                    model = %self.name(),
                    chars = t.chars().count(),
                    max_length = self.package.config.max_length,
                    "text truncated to the model's max length"
                );
            }
        }
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].get_ids().len());
        let mut out = vec![Prediction::default(); texts.len()];
        // Batches of similar length, or of one length when padding would change the answer.
        let len = |i: usize| encodings[i].get_ids().len();
        let chunks: Vec<&[usize]> = if self.package.config.pad_free {
            order
                .chunk_by(|&a, &b| len(a) == len(b))
                .flat_map(|run| run.chunks(self.batch_size))
                .collect()
        } else {
            order.chunks(self.batch_size).collect()
        };
        let answers = side_by_side(&self.sessions, chunks.len(), |session, k| {
            let batch: Vec<&Encoding> = chunks[k].iter().map(|&i| &encodings[i]).collect();
            self.run_batch(session, &batch)
        });
        for (chunk, preds) in chunks.iter().zip(answers) {
            for (&i, mut p) in chunk.iter().zip(preds?) {
                p.truncated = truncated[i];
                out[i] = p;
            }
        }
        Ok(out)
    }

    fn run_batch(
        &self,
        session: &Mutex<Session>,
        batch: &[&Encoding],
    ) -> Result<Vec<Prediction>, InferError> {
        let b = batch.len();
        let len = batch
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut ids = vec![self.pad_id as i64; b * len];
        let mut mask = vec![0i64; b * len];
        for (r, e) in batch.iter().enumerate() {
            for (c, &id) in e.get_ids().iter().enumerate() {
                ids[r * len + c] = id as i64;
                mask[r * len + c] = 1;
            }
        }
        let shape = vec![b as i64, len as i64];
        let model_path = self.package.model_path();
        let err = onnx_err(&model_path);
        let tensor = |data: Vec<i64>| {
            Tensor::from_array((shape.clone(), data))
                .map(|t| t.into_dyn())
                .map_err(&err)
        };
        let mut feeds: Vec<(String, ort::value::DynValue)> =
            vec![(self.inputs.input_ids.clone(), tensor(ids)?)];
        if let Some(name) = &self.inputs.attention_mask {
            feeds.push((name.clone(), tensor(mask)?));
        }
        if let Some(name) = &self.inputs.token_type_ids {
            feeds.push((name.clone(), tensor(vec![0i64; b * len])?));
        }
        if let Some(name) = &self.inputs.lengths {
            let lengths: Vec<i64> = batch.iter().map(|e| e.get_ids().len() as i64).collect();
            let t = Tensor::from_array((vec![b as i64], lengths)).map_err(&err)?;
            feeds.push((name.clone(), t.into_dyn()));
        }
        let mut session = session.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = session.run(feeds).map_err(&err)?;
        let cfg = &self.package.config;
        let mut preds: Vec<Prediction> = vec![Prediction::default(); batch.len()];
        for head in &cfg.heads {
            let value = &outputs[head.output.as_str()];
            let (shape, data) = value.try_extract_tensor::<f32>().map_err(&err)?;
            let k = head.labels.len();
            let dims: Vec<i64> = shape.iter().copied().collect();
            let mismatch = |what: String| InferError::Mismatch {
                model: cfg.name.clone(),
                message: what,
            };
            match cfg.task {
                Task::SequenceClassification => {
                    if dims != [b as i64, k as i64] {
                        return Err(mismatch(format!(
                            "head {:?}: output {:?} has shape {dims:?}, expected [{b}, {k}] ({k} labels in config.json)",
                            head.name, head.output
                        )));
                    }
                    for (r, p) in preds.iter_mut().enumerate() {
                        let probs = decode::softmax(&data[r * k..(r + 1) * k], head.temperature);
                        let scored = decode::top_k(&probs, k)
                            .into_iter()
                            .map(|i| Scored {
                                label: head.labels[i].clone(),
                                score: probs[i],
                            })
                            .collect();
                        p.heads.push((head.name.clone(), scored));
                    }
                }
                Task::TokenClassification => {
                    if dims != [b as i64, len as i64, k as i64] {
                        return Err(mismatch(format!(
                            "output {:?} has shape {dims:?}, expected [{b}, {len}, {k}] ({k} labels in config.json)",
                            head.output
                        )));
                    }
                    for (r, (p, e)) in preds.iter_mut().zip(batch).enumerate() {
                        let rows = &data[r * len * k..(r + 1) * len * k];
                        p.entities = self.entities(e, rows, k);
                    }
                }
            }
        }
        Ok(preds)
    }

    /// Whether the tokenizer cut the text. tokenizers 0.23.2 does not keep the `overflowing`
    /// parts on this path, so: the encoding is full and its last real token ends before the
    /// text's last non-whitespace character.
    fn was_truncated(&self, e: &Encoding, text: &str) -> bool {
        if e.get_ids().len() < self.package.config.max_length {
            return false;
        }
        !e.get_overflowing().is_empty()
            || e.get_offsets()
                .iter()
                .zip(e.get_special_tokens_mask())
                .filter(|(_, &s)| s == 0)
                .map(|(o, _)| o.1)
                .max()
                .is_some_and(|end| end < text.trim_end().chars().count())
    }

    /// Decodes one sequence's tag scores (len×k, padded) into character spans.
    fn entities(&self, enc: &Encoding, rows: &[f32], k: usize) -> Vec<Entity> {
        // Decode over the real, non-special tokens only: that is the sequence the CRF scores.
        let positions: Vec<usize> = enc
            .get_special_tokens_mask()
            .iter()
            .enumerate()
            .filter(|&(_, &s)| s == 0)
            .map(|(i, _)| i)
            .collect();
        let mut em = Vec::with_capacity(positions.len() * k);
        for &i in &positions {
            em.extend_from_slice(&rows[i * k..(i + 1) * k]);
        }
        let (path, conf): (Vec<usize>, Vec<f32>) = match &self.package.config.decoding {
            Some(Decoding::Crf {
                transitions,
                start,
                end,
            }) => {
                let path = decode::viterbi(&em, k, transitions, start, end);
                let marg = decode::crf_marginals(&em, k, transitions, start, end);
                let conf = path
                    .iter()
                    .enumerate()
                    .map(|(t, &j)| marg[t * k + j])
                    .collect();
                (path, conf)
            }
            _ => em
                .chunks(k)
                .map(|row| {
                    let p = decode::softmax(row, 1.0);
                    let j = decode::top_k(&p, 1)[0];
                    (j, p[j])
                })
                .unzip(),
        };
        let tags: Vec<Tag> = path.iter().map(|&j| self.tags[j].clone()).collect();
        let offsets = enc.get_offsets();
        decode::spans(&tags)
            .into_iter()
            .filter_map(|s| {
                let toks = &positions[s.start..s.end];
                // Tokens with empty offsets (e.g. a lone "▁") carry no characters.
                let covered: Vec<(usize, usize)> = toks
                    .iter()
                    .map(|&i| offsets[i])
                    .filter(|(a, b)| b > a)
                    .collect();
                let start = covered.iter().map(|o| o.0).min()?;
                let end = covered.iter().map(|o| o.1).max()?;
                let score = conf[s.start..s.end].iter().sum::<f32>() / (s.end - s.start) as f32;
                Some(Entity {
                    start,
                    end,
                    label: s.kind,
                    score,
                })
            })
            .collect()
    }
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<String> = it.map(|s| format!("{s:?}")).collect();
    format!("[{}]", v.join(", "))
}

/// Input names from config.json, or inferred from the graph (Hugging Face exports); every
/// graph input must be one we can feed, with an integer type.
fn resolve_inputs(package: &Package, session: &Session) -> Result<Inputs, InferError> {
    let graph: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
    let model = package.config.name.clone();
    let inputs = match &package.config.inputs {
        Some(i) => i.clone(),
        None => {
            let find = |n: &str| graph.iter().find(|g| **g == n).map(|g| g.to_string());
            Inputs {
                input_ids: find("input_ids").ok_or_else(|| InferError::Mismatch {
                    model: model.clone(),
                    message: format!(
                        "the graph has no input named \"input_ids\"; its inputs are {}",
                        names(graph.iter().copied())
                    ),
                })?,
                attention_mask: find("attention_mask"),
                token_type_ids: find("token_type_ids"),
                lengths: None,
            }
        }
    };
    let ours: Vec<&str> = std::iter::once(inputs.input_ids.as_str())
        .chain(inputs.attention_mask.as_deref())
        .chain(inputs.token_type_ids.as_deref())
        .chain(inputs.lengths.as_deref())
        .collect();
    for name in &ours {
        if !graph.contains(name) {
            return Err(InferError::Mismatch {
                model,
                message: format!(
                    "config.json names input {name:?}, but the graph's inputs are {}",
                    names(graph.iter().copied())
                ),
            });
        }
    }
    for input in session.inputs() {
        if !ours.contains(&input.name()) {
            return Err(InferError::Mismatch {
                model,
                message: format!(
                    "the graph needs input {:?}, which is none of input_ids/attention_mask/token_type_ids/lengths in config.json",
                    input.name()
                ),
            });
        }
        if let ValueType::Tensor { ty, .. } = input.dtype() {
            if !matches!(ty, ort::value::TensorElementType::Int64) {
                return Err(InferError::Mismatch {
                    model,
                    message: format!(
                        "input {:?} has element type {ty:?}; int64 token ids are expected",
                        input.name()
                    ),
                });
            }
        }
    }
    Ok(inputs)
}
