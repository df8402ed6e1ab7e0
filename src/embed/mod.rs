//! Knowledge-graph embeddings: TransE trained natively on `ndarray` + `rayon`.
//!
//! The embeddings turn the product graph into recommendations: "items for this user", "the
//! missing brand of this product", "related items" are all nearest neighbours of `h + r`. This
//! module holds the model and its distance kernels (`model`), the sparse optimizers (`optim`), hyperparameters and losses (`config`),
//! the trainer with negative sampling, losses, early stopping and exact determinism (`train`), the
//! filtered evaluator (`eval`), the trained-model and resumable-checkpoint formats on top of
//! `kg::Checkpoint` (`checkpoint`), top-k search for serving (`predict`, exact; `index`, 8-bit
//! quantised, and `pq`, 4-bit product-quantised fast scan, both with exact re-ranking), and the formats other
//! tools read and write: DGL-KE (`export`) and PyTorch-BigGraph (`pbg`). It does no I/O of its
//! own beyond what callers hand it and never imports the store, the server or ONNX Runtime.

pub mod checkpoint;
pub mod config;
pub mod eval;
pub mod export;
pub mod index;
pub mod model;
pub mod optim;
pub mod pbg;
pub mod pq;
pub mod predict;
pub mod train;

pub use checkpoint::Embedding;
pub use eval::{evaluate, Evaluation, Metrics};
pub use model::{Norm, TransE};
pub use optim::Optimizer;
pub use train::{EpochRecord, Loss, Sampler, Schedule, TrainConfig, Trainer, Validation};

/// What can go wrong configuring, training, loading or querying embeddings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// A hyperparameter or input that cannot train (rejected before any work).
    #[error("invalid training setup: {0}")]
    Config(String),
    /// A model or checkpoint whose contents do not fit together.
    #[error("invalid model: {0}")]
    Model(String),
    /// A name the model has no row for.
    #[error("unknown {kind} {name:?}: the model was not trained on it")]
    Unknown { kind: &'static str, name: String },
    /// A reading or writing problem in the data layer.
    #[error(transparent)]
    Kg(#[from] crate::kg::KgError),
}

/// Runs `f` on a rayon pool of `threads` threads (0: rayon's default, one per core).
pub fn with_threads<T: Send>(
    threads: usize,
    f: impl FnOnce() -> T + Send,
) -> Result<T, EmbedError> {
    if threads == 0 {
        return Ok(f());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| EmbedError::Config(format!("cannot start {threads} threads: {e}")))?;
    Ok(pool.install(f))
}
