//! Knowledge-graph data: the pure layer under the embeddings.
//!
//! Link prediction is only as trustworthy as the bookkeeping around it: which string is which id,
//! which triples are known (so filtered ranks never punish a model for a true answer), which
//! valid/test triples mention entities training never saw, and which bytes a checkpoint holds.
//! This module owns that bookkeeping and nothing else — no store, no server, no ONNX — so the
//! trainer and evaluator in `embed` test and benchmark on their own. The catalog feeds it triples
//! through [`Dataset::from_named`], files through [`Dataset::load`].

pub mod checkpoint;
pub mod ids;
pub mod known;
pub mod triples;

use std::path::PathBuf;

pub use checkpoint::{Checkpoint, Data, Tensor};
pub use ids::{IdMap, IdMaps};
pub use known::{KnownTriples, RelationStats};
pub use triples::{split_by_hash, Dataset, SplitReport, Triple, UnseenPolicy};

/// What can go wrong reading triples, checkpoints or exports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KgError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line of a triples file is not `head<TAB>relation<TAB>tail`.
    #[error("{path} line {line}: {message}")]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A dataset lacks something it needs (a split, any training triple).
    #[error("{0}")]
    Invalid(String),
    /// A checkpoint is truncated, from a newer version, or not a checkpoint at all.
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
}

impl KgError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        KgError::Io {
            path: path.into(),
            source,
        }
    }
}
