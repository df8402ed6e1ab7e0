//! Search as a use case: the index kept in step with the store, read through the caller's
//! visibility.
//!
//! The index ([`crate::search`]) is derived from the store's text ([`Catalog::text_entries`]).
//! The server's follower ([`App::sync_search`] after every change of
//! [`Catalog::generation`]) keeps it in step with ingests, scans, SPARQL updates and graph
//! store writes, rewriting only the entries whose text changed; the first search of a process
//! builds it if the follower has not yet. A reader's search leaves out every restricted graph,
//! exactly the graphs their SPARQL cannot see.

use std::sync::Arc;
use std::time::Instant;

use super::{App, AppError};
use crate::catalog::TextEntry;
use crate::catalog::Visibility;
use crate::search::{Doc, Page, SearchIndex, SyncStats};

/// A page of answers and how fresh the index was.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchAnswer {
    #[serde(flatten)]
    pub page: Page,
    /// Whether the store changed after the index was last brought up to date (the follower
    /// catches up within about a second; the answer reflects the store as it was then).
    pub stale: bool,
}

fn doc(e: TextEntry) -> Doc {
    Doc {
        iri: e.iri,
        graph: e.graph,
        kind: e.kind,
        names: e.names,
        texts: e.texts,
    }
}

impl App {
    /// The search index (empty until the first sync).
    pub fn search_index(&self) -> Result<&Arc<SearchIndex>, AppError> {
        if let Some(ix) = self.search.get() {
            return Ok(ix);
        }
        let ix = Arc::new(SearchIndex::new()?);
        Ok(self.search.get_or_init(|| ix))
    }

    /// Brings the index up to the store's current content, if the store changed since the last
    /// sync; `None` when nothing was to do. Blocking (reads every text property).
    pub fn sync_search(&self) -> Result<Option<SyncStats>, AppError> {
        let ix = self.search_index()?;
        let _one = self.search_sync.lock().unwrap_or_else(|e| e.into_inner());
        // Read the generation first: a write during the read below leaves the index marked
        // older than the store, so the next sync picks it up.
        let generation = self.catalog.generation();
        if ix.generation() == generation {
            return Ok(None);
        }
        let started = Instant::now();
        let entries = self.catalog.text_entries()?;
        let stats = ix.sync(entries.into_iter().map(doc).collect(), generation)?;
        tracing::debug!(
            ?stats,
            ms = started.elapsed().as_millis() as u64,
            "search index synchronised"
        );
        Ok(Some(stats))
    }

    /// `q` over names, titles and descriptions, leaving out what the caller may not see
    /// (restricted graphs it is not granted). Builds the index on the first call of a process.
    /// Blocking.
    pub fn search(
        &self,
        q: &str,
        vis: &Visibility,
        kind: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<SearchAnswer, AppError> {
        let ix = self.search_index()?;
        if ix.generation() == 0 {
            self.sync_search()?;
        }
        let hidden: Vec<String> = self
            .catalog
            .hidden_entity_graphs(vis)?
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect();
        let page = ix.search(q, &hidden, kind, offset, limit)?;
        Ok(SearchAnswer {
            page,
            stale: ix.generation() != self.catalog.generation(),
        })
    }
}
