//! Writing a long stream of record batches into one graph with few, large bulk loads.
//!
//! Each bulk load becomes one sorted file per index that RocksDB ingests as a whole. Store
//! keys are term hashes, so every file overlaps everything already stored, lands in level 0,
//! and two such files start a compaction that rewrites the index (Oxigraph's settings). Loading
//! an ingest run batch by batch, one load each, therefore had RocksDB rewrite the growing graph
//! over and over beside the labelling model: at 30,000 labelled records, 14 % of the run's CPU
//! went to compaction. An [`Appender`] keeps one bulk loader open across batches instead: its
//! quads are sorted into files of `SORT_BATCH` quads on a helper thread as they come (memory
//! stays bounded by that), and the files are ingested together at [`Appender::commit`], or
//! when `commit_every` quads are waiting.
//!
//! Replacing is what a batch of records also needs (a record seen before replaces its earlier
//! triples). Quads waiting in the loader are invisible to reads, so the appender remembers the
//! subjects it holds: asking whether such a subject exists says yes, and replacing one commits
//! the waiting files first, so a replacement always sees everything written before it. Writes
//! that remove anything go through a transaction, as in [`Catalog::replace_subjects`].

use std::collections::HashSet;

use oxigraph::model::{NamedNode, NamedOrBlankNode};
use oxigraph::store::BulkLoader;

use super::write::quads;
use super::{Catalog, CatalogError, Statement};

/// Quads per sorted file set: the loader holds this many quads, and sorts the previous set on
/// its thread. Fewer sets mean less compaction (at 30,000 labelled records: 400,000 -> 28.6-29.3
/// s end to end, 500,000 -> 26.7-27.4 s, 1,000,000 -> 26.1-28.9 s; peak RSS 514, 571-581 and
/// 528-562 MB).
const SORT_BATCH: usize = 500_000;

/// Batches of statements into one graph, bulk-loaded as one stream (see the module comment).
pub struct Appender<'a> {
    catalog: &'a Catalog,
    graph: NamedNode,
    loader: Option<BulkLoader<'a>>,
    /// Subjects with quads in the open loader.
    pending: HashSet<String>,
    pending_quads: usize,
    commit_every: usize,
}

impl Catalog {
    /// An appender into `graph` that commits at the latest when `commit_every` quads wait.
    pub fn appender(&self, graph: &NamedNode, commit_every: usize) -> Appender<'_> {
        Appender {
            catalog: self,
            graph: graph.clone(),
            loader: None,
            pending: HashSet::new(),
            pending_quads: 0,
            commit_every: commit_every.max(1),
        }
    }
}

impl Appender<'_> {
    /// Whether the graph holds quads about `subject`, committed or waiting in the loader.
    pub fn has_subject(&self, subject: &str) -> Result<bool, CatalogError> {
        if self.pending.contains(subject) {
            return Ok(true);
        }
        self.catalog.has_subject(&self.graph, subject)
    }

    /// Replaces everything the graph says about the subjects in `replace` by `statements`
    /// (like [`Catalog::replace_subjects`]); returns the number of statements. A pure insertion
    /// waits in the loader; anything that removes quads is written at once in a transaction,
    /// after the waiting quads if it touches one of their subjects.
    pub fn replace_subjects(
        &mut self,
        replace: &[String],
        statements: &[Statement],
    ) -> Result<usize, CatalogError> {
        // Build (and so validate) before touching anything.
        let new = quads(&self.graph, statements)?;
        let written = new.len();
        if replace.iter().any(|s| self.pending.contains(s)) {
            self.commit_pending()?;
        }
        let mut old = Vec::new();
        for s in replace {
            // A malformed IRI names nothing the graph could hold.
            let Ok(s) = NamedNode::new(s.as_str()) else {
                continue;
            };
            old.extend(self.catalog.quads_about(&self.graph, &s)?);
        }
        if !old.is_empty() {
            self.catalog.rewrite(old, new)?;
            return Ok(written);
        }
        for q in &new {
            if let NamedOrBlankNode::NamedNode(n) = &q.subject {
                if !self.pending.contains(n.as_str()) {
                    self.pending.insert(n.as_str().to_owned());
                }
            }
        }
        self.pending_quads += new.len();
        let loader = self.loader.get_or_insert_with(|| {
            self.catalog
                .store
                .bulk_loader()
                .with_num_threads(1)
                .with_max_memory_size_in_megabytes(SORT_BATCH / 1000)
        });
        loader.load_quads(new)?;
        if self.pending_quads >= self.commit_every {
            self.commit_pending()?;
        }
        Ok(written)
    }

    /// Ingests what waits in the loader.
    fn commit_pending(&mut self) -> Result<(), CatalogError> {
        if let Some(loader) = self.loader.take() {
            loader.commit()?;
            self.catalog.touched();
        }
        self.pending.clear();
        self.pending_quads = 0;
        Ok(())
    }

    /// Ingests what waits in the loader and ends the appender. Dropping an appender without
    /// committing discards what waits (nothing half-written reaches the store).
    pub fn commit(mut self) -> Result<(), CatalogError> {
        self.commit_pending()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{GraphLayout, Object};

    fn s(subject: &str, v: &str) -> Statement {
        Statement::new(
            format!("https://example.org/{subject}"),
            "https://example.org/p",
            Object::string(v),
        )
    }

    fn values(c: &Catalog, subject: &str) -> Vec<String> {
        let g = c.layout().products.clone();
        let mut v = c
            .objects(
                &g,
                &format!("https://example.org/{subject}"),
                "https://example.org/p",
            )
            .unwrap();
        v.sort();
        v
    }

    #[test]
    fn waits_until_commit_and_replacing_a_waiting_subject_sees_it() {
        let c = Catalog::in_memory(GraphLayout::new("https://example.org/st/").unwrap()).unwrap();
        let g = c.layout().products.clone();
        let mut a = c.appender(&g, 1_000_000);
        a.replace_subjects(&[], &[s("a", "1"), s("b", "1")])
            .unwrap();
        assert!(a.has_subject("https://example.org/a").unwrap());
        assert!(values(&c, "a").is_empty(), "not visible before commit");
        // Replacing a waiting subject commits it first, then replaces it: one value, not two.
        let a_iri = vec!["https://example.org/a".to_string()];
        a.replace_subjects(&a_iri, &[s("a", "2")]).unwrap();
        assert_eq!(values(&c, "a"), ["2"]);
        assert_eq!(values(&c, "b"), ["1"]);
        a.replace_subjects(&[], &[s("c", "1")]).unwrap();
        a.commit().unwrap();
        assert_eq!(values(&c, "c"), ["1"]);
        assert_eq!(c.len().unwrap(), 3);
    }

    #[test]
    fn commits_every_n_quads_and_drop_discards() {
        let c = Catalog::in_memory(GraphLayout::new("https://example.org/st/").unwrap()).unwrap();
        let g = c.layout().products.clone();
        let mut a = c.appender(&g, 2);
        a.replace_subjects(&[], &[s("a", "1"), s("b", "1")])
            .unwrap();
        assert_eq!(values(&c, "a"), ["1"], "committed at the threshold");
        a.replace_subjects(&[], &[s("c", "1")]).unwrap();
        drop(a);
        assert!(values(&c, "c").is_empty(), "dropped without commit");
        let bad = vec![Statement::new(
            "not an iri",
            "https://example.org/p",
            Object::boolean(true),
        )];
        let mut a = c.appender(&g, 10);
        assert!(matches!(
            a.replace_subjects(&[], &bad),
            Err(CatalogError::InvalidIri(_))
        ));
    }
}
