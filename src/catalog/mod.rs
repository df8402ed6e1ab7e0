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
mod ontology;
mod rows;
mod sealed;
mod shacl;
mod sparql;
mod text;
pub mod vocab;
mod write;

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use oxigraph::model::{GraphNameRef, Literal, NamedNode, NamedOrBlankNode, QuadRef, Term};
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

/// The store plus its layout and access policy.
pub struct Catalog {
    store: Store,
    layout: GraphLayout,
    configured_restricted: Vec<NamedNode>,
    /// Bumped on every write made through the catalog; the restricted set is recomputed lazily.
    generation: AtomicU64,
    policy_cache: RwLock<(u64, Arc<Policy>)>,
}

/// Who sees what, derived from the configuration and the store's current content.
struct Policy {
    restricted: Arc<HashSet<NamedNode>>,
    /// Named graphs that exist and are not restricted.
    visible_named: Vec<NamedOrBlankNode>,
    /// Whether any restricted graph exists; when none does, restricting a dataset is a no-op.
    any_restricted_present: bool,
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
            policy_cache: RwLock::new((
                0,
                Arc::new(Policy {
                    restricted: Arc::new(HashSet::new()),
                    visible_named: Vec::new(),
                    any_restricted_present: false,
                }),
            )),
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

    /// Graphs only admins may see: quarantine, configured ones, and those the catalog graph marks
    /// with `st:restricted true` (e.g. graphs holding personal data).
    pub fn restricted_graphs(&self) -> Result<Arc<HashSet<NamedNode>>, CatalogError> {
        Ok(Arc::clone(&self.policy()?.restricted))
    }

    /// Graphs only admins may change, whatever the form of the write (SPARQL Update, graph
    /// store, multipart): the restricted ones, and the system graphs — the catalog (it holds the
    /// `st:restricted` marks that decide who sees what), the ontology (it drives validation and
    /// brand resolution), the models, the change history and the quarantine. Writers keep the
    /// product graph, the default graph and graphs of their own.
    pub fn write_protected_graphs(&self) -> Result<HashSet<NamedNode>, CatalogError> {
        let mut set: HashSet<NamedNode> = self.restricted_graphs()?.iter().cloned().collect();
        let l = &self.layout;
        for g in [
            &l.catalog,
            &l.ontology,
            &l.models,
            &l.changes,
            &l.quarantine,
        ] {
            set.insert(g.clone());
        }
        Ok(set)
    }

    /// Why a non-admin may not write `graph`, if they may not.
    pub(crate) fn write_denied(&self, graph: &NamedNode) -> Result<Option<String>, CatalogError> {
        Ok(if self.restricted_graphs()?.contains(graph) {
            Some(format!(
                "graph <{}> is restricted: only admins may change it",
                graph.as_str()
            ))
        } else if self.write_protected_graphs()?.contains(graph) {
            Some(format!(
                "graph <{}> is a system graph (access marks, ontology, models, changes or \
                 quarantine): only admins may change it",
                graph.as_str()
            ))
        } else {
            None
        })
    }

    /// The named graphs that exist and that a caller sees (admins: all of them), by IRI;
    /// from the cached policy, so cheap enough for every page.
    pub fn visible_graphs(&self, admin: bool) -> Result<Vec<String>, CatalogError> {
        let policy = self.policy()?;
        let mut out: Vec<String> = policy
            .visible_named
            .iter()
            .filter_map(|g| match g {
                NamedOrBlankNode::NamedNode(n) => Some(n.as_str().to_owned()),
                NamedOrBlankNode::BlankNode(_) => None,
            })
            .collect();
        if admin {
            for g in self.store.named_graphs() {
                if let NamedOrBlankNode::NamedNode(n) = g? {
                    if policy.restricted.contains(&n) {
                        out.push(n.into_string());
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The visibility policy for the store as it is now, recomputed only after writes.
    fn policy(&self) -> Result<Arc<Policy>, CatalogError> {
        let generation = self.generation.load(Ordering::Acquire);
        {
            let cache = self.policy_cache.read().unwrap_or_else(|e| e.into_inner());
            if cache.0 == generation {
                return Ok(Arc::clone(&cache.1));
            }
        }
        let mut set: HashSet<NamedNode> = self.configured_restricted.iter().cloned().collect();
        set.insert(self.layout.quarantine.clone());
        let flag = vocab::st("restricted");
        let yes = Term::from(Literal::from(true));
        for quad in self.store.quads_for_pattern(
            None,
            Some(flag.as_ref()),
            Some(yes.as_ref()),
            Some(GraphNameRef::NamedNode(self.layout.catalog.as_ref())),
        ) {
            if let NamedOrBlankNode::NamedNode(g) = quad?.subject {
                set.insert(g);
            }
        }
        let mut visible_named = Vec::new();
        let mut any_restricted_present = false;
        for g in self.store.named_graphs() {
            let g = g?;
            match &g {
                NamedOrBlankNode::NamedNode(n) if set.contains(n) => any_restricted_present = true,
                _ => visible_named.push(g),
            }
        }
        let policy = Arc::new(Policy {
            restricted: Arc::new(set),
            visible_named,
            any_restricted_present,
        });
        *self.policy_cache.write().unwrap_or_else(|e| e.into_inner()) =
            (generation, Arc::clone(&policy));
        Ok(policy)
    }

    /// Marks a graph as restricted (admin-only) in the catalog graph.
    pub fn mark_restricted(&self, graph: &NamedNode) -> Result<(), CatalogError> {
        self.store.insert(QuadRef::new(
            graph,
            &vocab::st("restricted"),
            &Literal::from(true),
            &self.layout.catalog,
        ))?;
        self.touched();
        Ok(())
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
