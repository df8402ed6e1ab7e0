//! `AppError`: what a use case can fail with. Domain errors stay whole inside it, as causes,
//! so each face decides what they mean to its user: the HTTP face maps every variant to a status
//! in one table (`http::error`), the command line prints the chain.

use crate::catalog::CatalogError;
use crate::config::ConfigError;
use crate::embed::EmbedError;
use crate::infer::InferError;
use crate::ingest::label::LabelError;
use crate::ingest::mapping::MappingError;
use crate::ingest::IngestError;
use crate::inventory::InventoryError;
use crate::kg::KgError;
use crate::monitor::MonitorError;
use crate::recommend::RecommendError;

/// Errors of the use cases.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The store directory cannot be opened (held by another process, unreadable, corrupt).
    #[error("cannot open store in {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: CatalogError,
    },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Monitor(#[from] MonitorError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Infer(#[from] InferError),
    #[error(transparent)]
    Recommend(#[from] RecommendError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Kg(#[from] KgError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Search(#[from] crate::search::SearchError),
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
    #[error(transparent)]
    Stock(#[from] crate::stock::StockError),
    /// An anonymisation policy that cannot be applied to the data.
    #[error(transparent)]
    Anon(#[from] crate::privacy::anon::AnonError),
    /// The caller's role or grants do not allow the use case.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A configured labelling model cannot be loaded; `setting` names the option to fix.
    #[error("{setting} {model:?} cannot be loaded: {message}")]
    Labeler {
        setting: &'static str,
        model: String,
        message: String,
    },
    /// The request names something the use case cannot work on (a file that is not data, a
    /// graph without triples to learn from): the caller must change it.
    #[error("{0}")]
    Invalid(String),
    /// Another run of the same kind holds the resource; `retry_after` is a fair wait in seconds.
    #[error("{message}")]
    Busy { message: String, retry_after: u64 },
    /// A local file cannot be read or written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<LabelError> for AppError {
    fn from(e: LabelError) -> Self {
        match e {
            LabelError::Catalog(c) => AppError::Catalog(c),
            LabelError::Model(m) => AppError::Infer(m),
        }
    }
}
