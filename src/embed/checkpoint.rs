//! Trained models and resumable training state, as `kg::Checkpoint` files.
//!
//! Two kinds share the container format. A *model* (`stocktake-transe`) is what serving loads:
//! the best tables, the id maps that name their rows, the hyperparameters, the data snapshot and
//! the metrics, so an answer can say which model and which data it came from. A *training
//! checkpoint* (`stocktake-transe-training`) additionally holds the optimizer state, the progress
//! counters and the best model so far: loading it continues the run exactly where it stopped.

use serde::{Deserialize, Serialize};

use super::model::{array_tensor, tensor_to_array, Norm, TransE};
use super::train::{Progress, TrainConfig, Trainer};
use super::EmbedError;
use crate::kg::{Checkpoint, Data, IdMaps, Tensor, Triple};

const MODEL_KIND: &str = "stocktake-transe";
const TRAINING_KIND: &str = "stocktake-transe-training";

/// Where a model came from and how good it is; stored with it and described in the catalog.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Where the triples came from (a path or the catalog graph).
    pub source: String,
    /// sha256 of the training data (the data snapshot).
    pub snapshot: String,
    /// Epochs run, and the epoch whose tables were kept.
    pub epochs: usize,
    pub best_epoch: Option<usize>,
    /// Wall time of training in seconds.
    pub seconds: f64,
    /// When training finished (RFC 3339).
    pub trained_at: String,
    /// Named metrics (e.g. `valid.mrr`, `test.hits@10`).
    pub metrics: std::collections::BTreeMap<String, f64>,
    /// How valid/test triples with unseen entities were handled.
    pub unseen_policy: String,
}

/// A trained TransE model with the names of its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    pub model: TransE,
    pub ids: IdMaps,
    pub config: TrainConfig,
    pub info: ModelInfo,
    /// The training triples: serving filters them out of answers ("known" links).
    pub train: Vec<Triple>,
}

fn triples_tensor(train: &[Triple]) -> Tensor {
    Tensor::u32(
        "train",
        vec![train.len(), 3],
        train.iter().flat_map(|t| [t.h, t.r, t.t]).collect(),
    )
}

fn triples_from(ckpt: &Checkpoint) -> Result<Vec<Triple>, EmbedError> {
    match ckpt.tensor("train") {
        None => Ok(Vec::new()),
        Some(Tensor {
            data: Data::U32(v),
            shape,
            ..
        }) if shape.len() == 2 && shape[1] == 3 => Ok(v
            .chunks_exact(3)
            .map(|c| Triple::new(c[0], c[1], c[2]))
            .collect()),
        Some(_) => Err(EmbedError::Model(
            "tensor train must be u32 with shape [n, 3]".into(),
        )),
    }
}

#[derive(Serialize, Deserialize)]
struct ModelMeta {
    kind: String,
    config: TrainConfig,
    ids: IdMaps,
    info: ModelInfo,
}

#[derive(Serialize, Deserialize)]
struct TrainingMeta {
    kind: String,
    config: TrainConfig,
    ids: IdMaps,
    info: ModelInfo,
    progress: Progress,
    best: Option<(f64, usize)>,
}

fn meta_error(e: serde_json::Error) -> EmbedError {
    EmbedError::Model(format!("unreadable checkpoint header: {e}"))
}

fn kind_of(ckpt: &Checkpoint) -> &str {
    ckpt.meta.get("kind").and_then(|k| k.as_str()).unwrap_or("")
}

impl Embedding {
    /// The model a finished `trainer` keeps (its best validated tables), with `info` completed
    /// from the run: epochs run, the best epoch, when training ended, and the best validation
    /// MRR as `valid.mrr`. Training and warm retraining both end here, so their models are
    /// described alike.
    pub fn from_trainer(
        trainer: &crate::embed::Trainer,
        ids: IdMaps,
        mut info: ModelInfo,
        train: Vec<Triple>,
    ) -> Result<Self, EmbedError> {
        info.epochs = trainer.epoch;
        info.best_epoch = trainer.best.as_ref().map(|b| b.1);
        info.trained_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if let Some((mrr, _, _)) = &trainer.best {
            info.metrics.insert("valid.mrr".into(), *mrr);
        }
        Self::new(
            trainer.best_model().clone(),
            ids,
            trainer.config.clone(),
            info,
            train,
        )
    }

    /// Checks that the tables and the id maps describe the same rows.
    pub fn new(
        model: TransE,
        ids: IdMaps,
        config: TrainConfig,
        info: ModelInfo,
        train: Vec<Triple>,
    ) -> Result<Self, EmbedError> {
        if model.num_entities() != ids.entities.len()
            || model.num_relations() != ids.relations.len()
        {
            return Err(EmbedError::Model(format!(
                "tables have {} entities × {} relations but the id maps name {} × {}",
                model.num_entities(),
                model.num_relations(),
                ids.entities.len(),
                ids.relations.len()
            )));
        }
        if model.reciprocal != config.reciprocal {
            return Err(EmbedError::Model(format!(
                "the tables are {}reciprocal but the configuration says otherwise",
                if model.reciprocal { "" } else { "not " }
            )));
        }
        let (n, m) = (model.num_entities() as u32, model.num_relations() as u32);
        if let Some(t) = train.iter().find(|t| t.h >= n || t.t >= n || t.r >= m) {
            return Err(EmbedError::Model(format!(
                "training triple {t:?} is outside the tables"
            )));
        }
        Ok(Embedding {
            model,
            ids,
            config,
            info,
            train,
        })
    }

    /// A short stable id: the first 16 hex digits of the snapshot plus the hyperparameters' hash.
    pub fn model_id(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.info.snapshot.as_bytes());
        h.update(serde_json::to_vec(&self.config).unwrap_or_default());
        h.update(self.info.trained_at.as_bytes());
        hex::encode(&h.finalize()[..8])
    }

    /// The model as a checkpoint container.
    pub fn to_checkpoint(&self) -> Checkpoint {
        let meta = ModelMeta {
            kind: MODEL_KIND.into(),
            config: self.config.clone(),
            ids: self.ids.clone(),
            info: self.info.clone(),
        };
        let mut tensors = self.model.to_tensors();
        tensors.push(triples_tensor(&self.train));
        Checkpoint {
            meta: serde_json::to_value(meta).expect("serialisable"),
            tensors,
        }
    }

    /// Reads a model; a training checkpoint is accepted too (its best tables are used).
    pub fn from_checkpoint(ckpt: &Checkpoint) -> Result<Embedding, EmbedError> {
        match kind_of(ckpt) {
            MODEL_KIND => {
                let meta: ModelMeta =
                    serde_json::from_value(ckpt.meta.clone()).map_err(meta_error)?;
                let model =
                    TransE::from_checkpoint(ckpt, meta.config.norm, meta.config.reciprocal)?;
                Embedding::new(model, meta.ids, meta.config, meta.info, triples_from(ckpt)?)
            }
            TRAINING_KIND => {
                let meta: TrainingMeta =
                    serde_json::from_value(ckpt.meta.clone()).map_err(meta_error)?;
                let prefix = if meta.best.is_some() { "best." } else { "" };
                let model = TransE {
                    norm: meta.config.norm,
                    entities: tensor_to_array(ckpt, &format!("{prefix}entities"))?,
                    relations: tensor_to_array(ckpt, &format!("{prefix}relations"))?,
                    reciprocal: meta.config.reciprocal,
                };
                Embedding::new(model, meta.ids, meta.config, meta.info, triples_from(ckpt)?)
            }
            other => Err(EmbedError::Model(format!(
                "not a TransE model (kind {other:?})"
            ))),
        }
    }

    /// Id of an entity by name.
    pub fn entity_id(&self, name: &str) -> Result<u32, EmbedError> {
        self.ids
            .entities
            .get(name)
            .ok_or_else(|| EmbedError::Unknown {
                kind: "entity",
                name: name.into(),
            })
    }

    /// Id of a relation by name.
    pub fn relation_id(&self, name: &str) -> Result<u32, EmbedError> {
        self.ids
            .relations
            .get(name)
            .ok_or_else(|| EmbedError::Unknown {
                kind: "relation",
                name: name.into(),
            })
    }
}

/// A training run's full state, resumable.
pub fn training_checkpoint(
    trainer: &Trainer,
    ids: &IdMaps,
    info: &ModelInfo,
    train: &[Triple],
) -> Checkpoint {
    let meta = TrainingMeta {
        kind: TRAINING_KIND.into(),
        config: trainer.config.clone(),
        ids: ids.clone(),
        info: info.clone(),
        progress: trainer.progress(),
        best: trainer.best.as_ref().map(|(m, e, _)| (*m, *e)),
    };
    let (ent_state, rel_state) = trainer.optimizer_state();
    let mut tensors = trainer.model.to_tensors();
    let t = array_tensor;
    tensors.push(t("state.entities", ent_state));
    tensors.push(t("state.relations", rel_state));
    tensors.push(triples_tensor(train));
    if let Some((_, _, best)) = &trainer.best {
        tensors.push(t("best.entities", &best.entities));
        tensors.push(t("best.relations", &best.relations));
    }
    Checkpoint {
        meta: serde_json::to_value(meta).expect("serialisable"),
        tensors,
    }
}

/// A run restored from a checkpoint: the trainer, its id maps, info and training triples.
pub type Resumed = (Trainer, IdMaps, ModelInfo, Vec<Triple>);

/// Restores a run from [`training_checkpoint`]'s output.
pub fn resume(ckpt: &Checkpoint) -> Result<Resumed, EmbedError> {
    if kind_of(ckpt) != TRAINING_KIND {
        return Err(EmbedError::Model(format!(
            "not a training checkpoint (kind {:?}); a finished model cannot be resumed",
            kind_of(ckpt)
        )));
    }
    let meta: TrainingMeta = serde_json::from_value(ckpt.meta.clone()).map_err(meta_error)?;
    let norm: Norm = meta.config.norm;
    let model = TransE::from_checkpoint(ckpt, norm, meta.config.reciprocal)?;
    let best = match meta.best {
        Some((mrr, epoch)) => Some((
            mrr,
            epoch,
            TransE {
                norm,
                entities: tensor_to_array(ckpt, "best.entities")?,
                reciprocal: meta.config.reciprocal,
                relations: tensor_to_array(ckpt, "best.relations")?,
            },
        )),
        None => None,
    };
    let train = triples_from(ckpt)?;
    let trainer = Trainer::restore(
        meta.config,
        &train,
        model,
        tensor_to_array(ckpt, "state.entities")?,
        tensor_to_array(ckpt, "state.relations")?,
        meta.progress,
        best,
    )?;
    Ok((trainer, meta.ids, meta.info, train))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::train::TrainConfig;
    use rand::SeedableRng;

    #[test]
    fn saved_models_score_identically_after_loading() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        let mut ids = IdMaps::default();
        for i in 0..6 {
            ids.entities.intern(&format!("e{i}"));
        }
        ids.relations.intern("r");
        let model = TransE::init(6, 1, 8, Norm::L2, &mut rng);
        let info = ModelInfo {
            snapshot: "ab".repeat(32),
            metrics: [("valid.mrr".to_string(), 0.5)].into_iter().collect(),
            ..Default::default()
        };
        let config = TrainConfig {
            dim: 8,
            norm: Norm::L2,
            ..TrainConfig::default()
        };
        let emb = Embedding::new(model, ids, config, info, vec![Triple::new(0, 0, 1)]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.stk");
        emb.to_checkpoint().save(&path).unwrap();
        let back = Embedding::from_checkpoint(&Checkpoint::load(&path).unwrap()).unwrap();
        assert_eq!(back, emb);
        for h in 0..6 {
            for t in 0..6 {
                assert_eq!(
                    back.model.score(h, 0, t).to_bits(),
                    emb.model.score(h, 0, t).to_bits()
                );
            }
        }
        assert_eq!(back.model_id(), emb.model_id());

        // A reciprocal model keeps its inverse rows and answers heads with them after loading.
        let mut model = TransE::init(6, 2, 8, Norm::L2, &mut rng);
        model.reciprocal = true;
        let config = TrainConfig {
            reciprocal: true,
            ..emb.config.clone()
        };
        let rec = Embedding::new(model, emb.ids.clone(), config, emb.info.clone(), vec![]).unwrap();
        rec.to_checkpoint().save(&path).unwrap();
        let back = Embedding::from_checkpoint(&Checkpoint::load(&path).unwrap()).unwrap();
        assert!(back.model.reciprocal);
        assert_eq!(back, rec);
        assert_eq!(back.model.head_query(0, 3), rec.model.head_query(0, 3));
        assert_ne!(back.model.head_query(0, 3), {
            let (r, t) = (back.model.relation(0), back.model.entity(3));
            t.iter().zip(r).map(|(a, b)| a - b).collect::<Vec<f32>>()
        });

        // A finished model is not a resumable run.
        let err = resume(&Checkpoint::load(&path).unwrap()).err().unwrap();
        assert!(
            err.to_string().contains("not a training checkpoint"),
            "{err}"
        );
    }

    #[test]
    fn tables_and_id_maps_must_agree() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        let model = TransE::init(3, 1, 4, Norm::L1, &mut rng);
        let err = Embedding::new(
            model,
            IdMaps::default(),
            TrainConfig::default(),
            ModelInfo::default(),
            vec![],
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("id maps name 0 × 0"), "{err}");
    }
}
