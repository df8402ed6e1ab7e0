//! The catalog: the only module that touches Oxigraph.
//!
//! It owns the store (on disk, or in memory for tests), the named-graph layout, the vocabulary
//! IRIs, ontology loading, SPARQL evaluation under a visibility policy, the graph store operations
//! and named queries. Everything above it (HTTP, CLI, pipelines) speaks in strings, bytes and the
//! small types exported here, so the store could be swapped without touching the server.

mod append;
mod bind;
mod describe;
mod entity;
mod formats;
mod graph_store;
mod links;
mod named;
pub mod ontology;
mod rows;
mod sealed;
mod shacl;
mod sparql;
mod text;
mod trees;
mod visibility;
pub mod vocab;
mod write;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use oxigraph::model::NamedNode;
use oxigraph::store::Store;

pub use append::Appender;
pub use entity::{EntityFacts, Fact};
pub use formats::{GraphFormat, ResultsFormat};
pub use graph_store::{GraphTarget, LoadStats};
pub use named::{NamedQuery, NamedQueryParam};
pub use ontology::OntologyReport;
pub use rows::{Cell, Table};
pub use sealed::SealedValue;
pub use shacl::{ValidationReport, ValidationResult};
pub use sparql::{
    CancelToken, DatasetRequest, Limits, OutputFormat, PreparedQuery, PreparedUpdate, QueryForm,
    Serialized,
};
pub use text::TextEntry;
pub use trees::SideGraph;
pub use visibility::{ReadGrants, Visibility};
pub use vocab::GraphLayout;
pub use write::{Object, Statement};

/// Everything that can go wrong in the catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The underlying store failed (I/O, corruption, lock held by another process).
    #[error("store error: {0}")]
    Storage(#[from] oxigraph::store::StorageError),
    /// A SPARQL query or update does not parse; the message carries the position.
    #[error("{0}")]
    Syntax(String),
    /// Evaluation failed for a reason other than cancellation.
    #[error("query evaluation failed: {0}")]
    Evaluation(String),
    /// The query ran past its time limit and was cancelled.
    #[error("query cancelled after exceeding the {0} s time limit")]
    Timeout(u64),
    /// The request asked for more than a per-request bound allows (strings a query builds).
    #[error("{0}")]
    ResourceLimit(String),
    /// The operation touches a graph or uses a form the caller's role does not allow.
    #[error("{0}")]
    NotAllowed(String),
    /// The input is well-formed but cannot be served as given (e.g. a dataset given twice, a
    /// parameter a named query does not have).
    #[error("{0}")]
    Invalid(String),
    /// An IRI is malformed.
    #[error("invalid IRI {0}")]
    InvalidIri(String),
    /// RDF data does not parse.
    #[error("invalid RDF: {0}")]
    RdfSyntax(String),
    /// A graph or named query does not exist (or is invisible to the caller).
    #[error("{0}")]
    NotFound(String),
    /// A media type or file extension names no format we support.
    #[error("unsupported format: {0}")]
    UnsupportedFormat(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl CatalogError {
    fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        CatalogError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// Whether `s` is an absolute IRI the store accepts (grants name graphs, assets and columns by
/// IRI).
pub fn is_iri(s: &str) -> bool {
    NamedNode::new(s).is_ok()
}

/// The store plus its layout and access policy.
pub struct Catalog {
    store: Store,
    layout: GraphLayout,
    configured_restricted: Vec<NamedNode>,
    /// Bumped on every write made through the catalog; the restricted set is recomputed lazily.
    generation: AtomicU64,
    policy_cache: RwLock<(u64, Arc<visibility::Policy>)>,
}

impl Catalog {
    /// Opens (or creates) the on-disk store in `dir`.
    pub fn open(dir: &Path, layout: GraphLayout) -> Result<Self, CatalogError> {
        std::fs::create_dir_all(dir).map_err(|e| CatalogError::io(dir, e))?;
        let store = Store::open(dir)?;
        Ok(Self::with_store(store, layout))
    }

    /// A fresh in-memory store (tests, throwaway runs).
    pub fn in_memory(layout: GraphLayout) -> Result<Self, CatalogError> {
        Ok(Self::with_store(Store::new()?, layout))
    }

    fn with_store(store: Store, layout: GraphLayout) -> Self {
        Self {
            store,
            layout,
            configured_restricted: Vec::new(),
            generation: AtomicU64::new(1),
            policy_cache: RwLock::new((0, Arc::new(visibility::Policy::default()))),
        }
    }

    /// Adds graph IRIs from the configuration to the restricted set.
    pub fn with_restricted_graphs(mut self, iris: &[String]) -> Result<Self, CatalogError> {
        for iri in iris {
            self.configured_restricted.push(self.layout.resolve(iri)?);
        }
        Ok(self)
    }

    /// The named-graph layout.
    pub fn layout(&self) -> &GraphLayout {
        &self.layout
    }

    /// A counter that changes whenever the catalog is written through this handle (callers cache
    /// derived data, such as who may see which entity, against it).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn touched(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Total number of quads in the store.
    pub fn len(&self) -> Result<usize, CatalogError> {
        Ok(self.store.len()?)
    }

    /// Whether the store holds no quad at all.
    pub fn is_empty(&self) -> Result<bool, CatalogError> {
        Ok(self.store.is_empty()?)
    }

    /// Persists everything written so far (RocksDB flush); called on shutdown.
    pub fn flush(&self) -> Result<(), CatalogError> {
        Ok(self.store.flush()?)
    }
}
