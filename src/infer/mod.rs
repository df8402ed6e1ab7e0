//! Inference: the only module that touches ONNX Runtime (`ort`) and `tokenizers`.
//!
//! Labels are only worth recording if the models behind them are loaded the same way every time
//! and fail loudly when a package is wrong. This module owns the model package format
//! (`package`), the single process-wide ONNX Runtime environment (`runtime`), batched inference
//! (`model`), decoding of logits into labels and entity spans (`decode`) and the evaluator that
//! produces model-card metrics (`eval`). Everything here is blocking; async callers use
//! `spawn_blocking`.

pub mod decode;
pub mod eval;
mod labelled;
pub mod model;
pub mod package;
pub mod runtime;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use model::{Entity, Model, Options, Prediction, Scored};
pub use package::{Package, Task};

/// Model packages and the ONNX Runtime that runs them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InferConfig {
    /// Folder of model packages (`<name>/model.onnx`, `tokenizer.json`, `config.json`).
    pub models_dir: PathBuf,
    /// `libonnxruntime.so` to load; discovered when unset (see `scripts/install-ort`).
    pub ort_lib: Option<PathBuf>,
    /// CPU threads per inference call (0: one per core), spent on up to 4 one-thread ONNX
    /// Runtime sessions that run a call's batches side by side (`infer::Options::threads`).
    pub threads: usize,
    /// Most texts per inference run.
    pub batch_size: usize,
    /// Model package that judges Chinese personal names and addresses during scans (installed
    /// by `scripts/install-lac`); empty: rules only.
    pub pii_model: String,
}

impl Default for InferConfig {
    fn default() -> Self {
        Self {
            models_dir: PathBuf::from("models"),
            ort_lib: None,
            threads: 0,
            batch_size: 32,
            pii_model: "lac".into(),
        }
    }
}

/// Everything that can go wrong loading or running a model, each with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error("{message}")]
    Runtime { message: String },
    #[error("model file {path} is missing (a model package needs model.onnx, tokenizer.json and config.json)")]
    MissingFile { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid model config {path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("cannot load tokenizer {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("ONNX Runtime rejected {path}: {message}")]
    Onnx { path: PathBuf, message: String },
    #[error("model {model} does not match its config.json: {message}")]
    Mismatch { model: String, message: String },
    #[error("cannot tokenize the input: {message}")]
    Encode { message: String },
    #[error("no model named {name:?} in {dir} (available: {available})")]
    UnknownModel {
        name: String,
        dir: PathBuf,
        available: String,
    },
    #[error("{path}{}: {message}", if *line > 0 { format!(" line {line}") } else { String::new() })]
    Data {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Finds the package folder for `name` under `root` (folder name or config name).
pub fn find_package(root: &std::path::Path, name: &str) -> Result<PathBuf, InferError> {
    let direct = root.join(name);
    if direct.join("config.json").is_file() {
        return Ok(direct);
    }
    let dirs = package::list(root)?;
    // Only config.json is read here: opening a whole package hashes its model file.
    for d in &dirs {
        let fallback = d.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let config = std::fs::read_to_string(d.join("config.json")).ok();
        if config.is_some_and(|c| package::parse_config(&c, fallback).is_ok_and(|c| c.name == name))
        {
            return Ok(d.clone());
        }
    }
    Err(InferError::UnknownModel {
        name: name.to_string(),
        dir: root.to_path_buf(),
        available: dirs
            .iter()
            .filter_map(|d| d.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .collect::<Vec<_>>()
            .join(", "),
    })
}
