//! The model package format: `models/<name>/` with `model.onnx`, `tokenizer.json`,
//! `config.json` and `MODEL_CARD.md`.
//!
//! `config.json` is either ours (`"format": "stocktake-model/1"`: task, heads with labels and
//! output names, max length, decoding with CRF transitions, calibration temperatures) or a
//! Hugging Face config as Optimum exports it (`architectures` + `id2label`), which loads with
//! no conversion. Everything here is plain data and validation; sessions live in `model`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::decode::Scheme;
use super::InferError;

/// What a model does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    SequenceClassification,
    TokenClassification,
}

impl Task {
    pub fn as_str(self) -> &'static str {
        match self {
            Task::SequenceClassification => "sequence-classification",
            Task::TokenClassification => "token-classification",
        }
    }
}

/// One output of the model: a named set of labels read from one ONNX output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Head {
    pub name: String,
    pub output: String,
    pub labels: Vec<String>,
    /// Temperature fitted on held-out data; probabilities are `softmax(logits / T)`.
    #[serde(default = "one")]
    pub temperature: f32,
}

fn one() -> f32 {
    1.0
}

/// How token tags are decoded.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum Decoding {
    Argmax,
    /// Linear-chain CRF: `transitions[i][j]` scores tag i followed by tag j.
    Crf {
        transitions: Vec<Vec<f32>>,
        start: Vec<f32>,
        end: Vec<f32>,
    },
}

/// Names of the ONNX inputs we feed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Inputs {
    pub input_ids: String,
    #[serde(default)]
    pub attention_mask: Option<String>,
    #[serde(default)]
    pub token_type_ids: Option<String>,
    /// Per-row token counts (int64 `[batch]`), for graphs that take sequence lengths.
    #[serde(default)]
    pub lengths: Option<String>,
}

/// A model's configuration after reading either config flavour.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelConfig {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    pub task: Task,
    pub max_length: usize,
    /// `None` means "take them from the ONNX graph" (Hugging Face exports).
    #[serde(default)]
    pub inputs: Option<Inputs>,
    pub heads: Vec<Head>,
    #[serde(default)]
    pub decoding: Option<Decoding>,
    /// The graph's recurrent layers read padding as input (e.g. LAC's GRUs ignore their
    /// sequence lengths), so texts are only batched with texts of the same token count.
    #[serde(default)]
    pub pad_free: bool,
    /// Dataset tag or value names → our labels (e.g. `HPPX` → `brand`), used by `models eval`.
    #[serde(default)]
    pub label_aliases: BTreeMap<String, String>,
    /// CSV column per head (and `text`) for `models eval` on tabular data.
    #[serde(default)]
    pub eval_columns: BTreeMap<String, String>,
    /// Free-form provenance recorded in the catalog: training data, licence, method.
    #[serde(default)]
    pub training: serde_json::Value,
    /// Held-out metrics the training script measured.
    #[serde(default)]
    pub metrics: serde_json::Value,
}

/// A model package on disk, validated as data (not yet loaded into ONNX Runtime).
#[derive(Debug, Clone)]
pub struct Package {
    pub dir: PathBuf,
    pub config: ModelConfig,
    /// Tag scheme for token classification.
    pub scheme: Option<Scheme>,
    /// SHA-256 of `model.onnx`: the version the catalog records.
    pub sha256: String,
}

impl Package {
    pub fn model_path(&self) -> PathBuf {
        self.dir.join("model.onnx")
    }
    pub fn tokenizer_path(&self) -> PathBuf {
        self.dir.join("tokenizer.json")
    }
    pub fn card_path(&self) -> PathBuf {
        self.dir.join("MODEL_CARD.md")
    }

    /// Reads and validates `dir`.
    pub fn open(dir: &Path) -> Result<Package, InferError> {
        for file in ["model.onnx", "tokenizer.json", "config.json"] {
            let p = dir.join(file);
            if !p.is_file() {
                return Err(InferError::MissingFile { path: p });
            }
        }
        let cfg_path = dir.join("config.json");
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| InferError::Io {
            path: cfg_path.clone(),
            source: e,
        })?;
        let fallback = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("model")
            .to_string();
        let config = parse_config(&text, &fallback).map_err(|message| InferError::Config {
            path: cfg_path.clone(),
            message,
        })?;
        let scheme = validate(&config).map_err(|message| InferError::Config {
            path: cfg_path,
            message,
        })?;
        let model = dir.join("model.onnx");
        let bytes = std::fs::read(&model).map_err(|e| InferError::Io {
            path: model.clone(),
            source: e,
        })?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        Ok(Package {
            dir: dir.to_path_buf(),
            config,
            scheme,
            sha256,
        })
    }
}

/// Parses our format or a Hugging Face / Optimum `config.json`.
pub fn parse_config(text: &str, fallback_name: &str) -> Result<ModelConfig, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    if value.get("format").and_then(|f| f.as_str()) == Some("stocktake-model/1") {
        return serde_json::from_value(value).map_err(|e| e.to_string());
    }
    if value.get("id2label").is_some() {
        return from_hugging_face(&value, fallback_name);
    }
    Err(
        "neither a Stocktake model config (\"format\": \"stocktake-model/1\") nor a Hugging Face \
         config with id2label"
            .into(),
    )
}

fn from_hugging_face(v: &serde_json::Value, fallback_name: &str) -> Result<ModelConfig, String> {
    let arch = v
        .get("architectures")
        .and_then(|a| a.get(0))
        .and_then(|a| a.as_str())
        .unwrap_or("");
    let task = if arch.ends_with("ForTokenClassification") {
        Task::TokenClassification
    } else if arch.ends_with("ForSequenceClassification") {
        Task::SequenceClassification
    } else {
        return Err(format!(
            "architecture {arch:?} is neither *ForTokenClassification nor *ForSequenceClassification"
        ));
    };
    let map = v
        .get("id2label")
        .and_then(|m| m.as_object())
        .ok_or("id2label is not an object")?;
    let mut labels = vec![None; map.len()];
    for (k, name) in map {
        let i: usize = k
            .parse()
            .map_err(|_| format!("id2label key {k:?} is not an integer"))?;
        let slot = labels
            .get_mut(i)
            .ok_or(format!("id2label ids are not 0..{}", map.len()))?;
        *slot = Some(
            name.as_str()
                .ok_or("id2label values must be strings")?
                .to_string(),
        );
    }
    let labels: Vec<String> = labels
        .into_iter()
        .collect::<Option<_>>()
        .ok_or("id2label ids are not contiguous")?;
    let max_length = v
        .get("max_position_embeddings")
        .and_then(|m| m.as_u64())
        .unwrap_or(512)
        .min(512) as usize;
    Ok(ModelConfig {
        name: v
            .get("name_or_path")
            .or(v.get("_name_or_path"))
            .and_then(|n| n.as_str())
            .filter(|n| !n.is_empty())
            .map(|n| n.rsplit('/').next().unwrap_or(n).to_string())
            .unwrap_or_else(|| fallback_name.to_string()),
        version: v
            .get("transformers_version")
            .and_then(|t| t.as_str())
            .map(|t| format!("transformers-{t}")),
        task,
        max_length,
        inputs: None,
        heads: vec![Head {
            name: "label".into(),
            output: "logits".into(),
            labels,
            temperature: 1.0,
        }],
        decoding: None,
        pad_free: false,
        label_aliases: BTreeMap::new(),
        eval_columns: BTreeMap::new(),
        training: serde_json::Value::Null,
        metrics: serde_json::Value::Null,
    })
}

/// Checks the config's internal consistency; returns the tag scheme for NER models.
fn validate(c: &ModelConfig) -> Result<Option<Scheme>, String> {
    if c.heads.is_empty() {
        return Err("no heads: at least one output with labels is needed".into());
    }
    if c.max_length < 2 {
        return Err(format!("max_length {} is too small", c.max_length));
    }
    for h in &c.heads {
        if h.labels.is_empty() {
            return Err(format!("head {:?} has no labels", h.name));
        }
        if !(h.temperature.is_finite() && h.temperature > 0.0) {
            return Err(format!("head {:?}: temperature must be > 0", h.name));
        }
    }
    match c.task {
        Task::SequenceClassification => {
            if c.decoding.is_some() {
                return Err("decoding applies to token classification only".into());
            }
            Ok(None)
        }
        Task::TokenClassification => {
            if c.heads.len() != 1 {
                return Err("token classification takes exactly one head".into());
            }
            let labels = &c.heads[0].labels;
            let scheme = Scheme::detect(labels)?;
            if let Some(Decoding::Crf {
                transitions,
                start,
                end,
            }) = &c.decoding
            {
                let n = labels.len();
                if transitions.len() != n
                    || transitions.iter().any(|r| r.len() != n)
                    || start.len() != n
                    || end.len() != n
                {
                    return Err(format!(
                        "CRF transitions must be {n}×{n} with {n} start and end scores (one per label)"
                    ));
                }
                if transitions
                    .iter()
                    .flatten()
                    .chain(start)
                    .chain(end)
                    .any(|x| !x.is_finite())
                {
                    return Err("CRF scores must be finite".into());
                }
            }
            Ok(Some(scheme))
        }
    }
}

/// Every package directory under `root` (folders holding a `config.json`), sorted by name.
pub fn list(root: &Path) -> Result<Vec<PathBuf>, InferError> {
    let entries = std::fs::read_dir(root).map_err(|e| InferError::Io {
        path: root.to_path_buf(),
        source: e,
    })?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("config.json").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

impl Package {
    /// The entity or class names of a head's labels (BIOES tags folded to their kinds).
    pub fn label_names(&self, labels: &[String]) -> Vec<String> {
        match self.config.task {
            Task::SequenceClassification => labels.to_vec(),
            Task::TokenClassification => {
                let mut seen = Vec::new();
                for l in labels {
                    if let Ok(t) = super::decode::Tag::parse(l) {
                        if let Some(k) = t.kind {
                            if !seen.contains(&k) {
                                seen.push(k);
                            }
                        }
                    }
                }
                seen
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hugging_face_config_reads_id2label() {
        let c = parse_config(
            r#"{"architectures":["BertForTokenClassification"],"id2label":{"1":"B-PER","0":"O","2":"I-PER"},
                "max_position_embeddings":512,"_name_or_path":"org/bert-ner"}"#,
            "x",
        )
        .unwrap();
        assert_eq!(c.task, Task::TokenClassification);
        assert_eq!(c.heads[0].labels, ["O", "B-PER", "I-PER"]);
        assert_eq!(c.name, "bert-ner");
        assert_eq!(validate(&c).unwrap(), Some(Scheme::Bio));
    }

    #[test]
    fn bad_configs_are_explained() {
        assert!(parse_config("{", "x").unwrap_err().contains("JSON"));
        assert!(parse_config("{}", "x").unwrap_err().contains("id2label"));
        let e = parse_config(
            r#"{"architectures":["BertModel"],"id2label":{"0":"a"}}"#,
            "x",
        )
        .unwrap_err();
        assert!(e.contains("BertModel"), "{e}");
        let c: ModelConfig = serde_json::from_str(
            r#"{"name":"n","task":"token-classification","max_length":8,
                "heads":[{"name":"t","output":"logits","labels":["O","B-x"]}],
                "decoding":{"method":"crf","transitions":[[0.0]],"start":[0,0],"end":[0,0]}}"#,
        )
        .unwrap();
        assert!(validate(&c).unwrap_err().contains("2×2"));
    }
}
