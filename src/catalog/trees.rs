//! Rewriting nested descriptions by tree, in place and beside the main graph.
//!
//! A scan describes a source as trees (an asset, its distribution, its columns, their top
//! values, all IRIs under the asset's): a rescan replaces the trees it profiled anew, reading
//! only what it replaces. The columns of a table about people keep their profile in a detail
//! graph of their own beside the catalog graph ([`SideGraph`]), written in the same call with
//! its access marks committed first; [`Catalog::move_triples`] moves what an older release
//! wrote in the wrong graph.

use std::collections::HashSet;

use oxigraph::model::{GraphNameRef, NamedNode, NamedOrBlankNode, Quad, Term as OxTerm};

use super::write::{node, quads, Statement};
use super::{Catalog, CatalogError};

/// Statements written beside a main graph, into a graph of their own, by
/// [`Catalog::replace_trees_beside`]: the previous trees of `subjects` there (a subject and what
/// hangs under `subject/`) are replaced.
#[derive(Debug, Clone, Default)]
pub struct SideGraph {
    pub graph: String,
    pub subjects: Vec<String>,
    pub statements: Vec<Statement>,
}

impl Catalog {
    /// Writes `statements` into `graph` in one transaction, first removing the triples of the
    /// `exact` subjects and the trees rooted at `trees`: a root and every IRI under `root/`
    /// that its triples link to, recursively (how nested descriptions — an asset, its
    /// distribution, its columns, their top values — hang together). Unlike
    /// [`Catalog::describe`] this reads only what it replaces (index lookups), never the whole
    /// graph, so rewriting one part of a large catalog costs what that part holds. `changes`
    /// are added to the changes graph in the same transaction.
    pub fn replace_trees(
        &self,
        graph: &NamedNode,
        exact: &[String],
        trees: &[String],
        statements: &[Statement],
        changes: &[Statement],
    ) -> Result<usize, CatalogError> {
        self.replace_trees_beside(graph, exact, trees, statements, changes, &[])
    }

    /// Like [`Catalog::replace_trees`], and in the same transaction replaces the trees of each
    /// side graph's `subjects` in that graph by its statements (a column's detail graph: its
    /// evidence and top values are replaced, its measurements, named by scan, added).
    pub fn replace_trees_beside(
        &self,
        graph: &NamedNode,
        exact: &[String],
        trees: &[String],
        statements: &[Statement],
        changes: &[Statement],
        side: &[SideGraph],
    ) -> Result<usize, CatalogError> {
        let mut new = quads(graph, statements)?;
        let written = new.len();
        // What is said about the side graphs themselves (their access marks) is committed
        // first, on its own: readers must know a graph is restricted before it holds anything
        // (a large write is not one transaction).
        let marks: Vec<Quad> = new
            .iter()
            .filter(|q| {
                matches!(&q.subject, NamedOrBlankNode::NamedNode(n)
                    if side.iter().any(|sg| sg.graph == n.as_str()))
            })
            .cloned()
            .collect();
        if !marks.is_empty() {
            self.rewrite(Vec::new(), marks)?;
        }
        new.extend(quads(&self.layout().changes, changes)?);
        let g = GraphNameRef::NamedNode(graph.as_ref());
        let mut old = Vec::new();
        for sg in side {
            let side_graph = node(&sg.graph)?;
            new.extend(quads(&side_graph, &sg.statements)?);
            for root in &sg.subjects {
                old.extend(self.tree(&side_graph, root)?);
            }
        }
        for s in exact {
            let s = node(s)?;
            for q in self
                .store
                .quads_for_pattern(Some(s.as_ref().into()), None, None, Some(g))
            {
                old.push(q?);
            }
        }
        for root in trees {
            old.extend(self.tree(graph, root)?);
        }
        self.rewrite(old, new)?;
        Ok(written)
    }

    /// The triples of the tree rooted at `root` in `graph`: the root's, and those of every IRI
    /// under `root/` its triples link to, recursively.
    fn tree(&self, graph: &NamedNode, root: &str) -> Result<Vec<Quad>, CatalogError> {
        let g = GraphNameRef::NamedNode(graph.as_ref());
        let under = format!("{root}/");
        let mut todo = vec![node(root)?];
        let mut seen: HashSet<NamedNode> = todo.iter().cloned().collect();
        let mut out = Vec::new();
        while let Some(s) = todo.pop() {
            for q in self
                .store
                .quads_for_pattern(Some(s.as_ref().into()), None, None, Some(g))
            {
                let q = q?;
                if let OxTerm::NamedNode(o) = &q.object {
                    if o.as_str().starts_with(&under) && seen.insert(o.clone()) {
                        todo.push(o.clone());
                    }
                }
                out.push(q);
            }
        }
        Ok(out)
    }

    /// Moves every triple of `subjects`, and the `(subject, predicate)` triples of
    /// `properties`, from graph `from` into graph `to` in one write (a migration moving a
    /// column's profile into its detail graph). Returns the triples moved. Blocking.
    pub fn move_triples(
        &self,
        from: &NamedNode,
        to: &str,
        subjects: &[String],
        properties: &[(String, String)],
    ) -> Result<usize, CatalogError> {
        let to = node(to)?;
        let mut old = Vec::new();
        for s in subjects {
            old.extend(self.quads_about(from, &node(s)?)?);
        }
        for (s, p) in properties {
            old.extend(self.quads_with(from, &node(s)?, &node(p)?)?);
        }
        let new: Vec<Quad> = old
            .iter()
            .map(|q| {
                Quad::new(
                    q.subject.clone(),
                    q.predicate.clone(),
                    q.object.clone(),
                    to.clone(),
                )
            })
            .collect();
        let moved = old.len();
        self.rewrite(old, new)?;
        Ok(moved)
    }
}
