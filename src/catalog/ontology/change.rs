//! An ontology change against the live store, in one transaction: the ontology graph replaced
//! by the new files, the data rewritten for the moves the change declares (a concept merged
//! into another, a brand alias that now names an ontology brand), the SHACL shapes evaluated
//! on the result and compared with the current results — and then either committed (apply,
//! with a version record) or dropped (plan: nothing is written). Because a plan evaluates the
//! very transaction an apply would commit, what the plan says is what the apply does.
//!
//! Which rewrites a change carries is decided above (`app::ontology`), where the ingest's rules
//! for resolving brands and categories live; this module only knows quads.

use std::collections::HashSet;

use oxigraph::model::{GraphNameRef, NamedNode, Quad, Term};
use serde::Serialize;

use super::super::shacl::Reader;
use super::super::vocab::DCTERMS;
use super::super::write::{node, quads};
use super::super::{Catalog, CatalogError, Statement, ValidationResult};
use super::OntologyFiles;

/// One data rewrite: every `?s ?p from` in the data graph becomes `?s ?p to`, and
/// `from dcterms:isReplacedBy to` is recorded so the old IRI keeps resolving.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rewrite {
    pub from: String,
    pub to: String,
    /// `merge` (declared by dcterms:isReplacedBy/replaces), `brand-alias`, `category-label`.
    pub kind: &'static str,
    pub why: String,
}

/// What a rewrite touched.
#[derive(Debug, Clone, Serialize)]
pub struct Rewritten {
    #[serde(flatten)]
    pub rewrite: Rewrite,
    /// Statements rewritten, and the subjects they belong to (products, labels, …).
    pub statements: usize,
    pub subjects: usize,
    /// A few of those subjects.
    pub sample: Vec<String>,
}

/// The shapes' results before and after the change, compared result by result.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ShaclDelta {
    pub before: usize,
    pub after: usize,
    /// Results the change brings (all counted; samples listed).
    pub new: usize,
    /// Results the change resolves.
    pub resolved: usize,
    pub new_samples: Vec<ValidationResult>,
    pub resolved_samples: Vec<ValidationResult>,
    /// Shapes that were checked after the change, and constraints not checked.
    pub shapes: usize,
    pub unsupported: Vec<String>,
}

/// What the transaction did.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeOutcome {
    pub rewritten: Vec<Rewritten>,
    pub shacl: ShaclDelta,
    pub committed: bool,
}

/// Samples of a delta kept in the outcome.
const DELTA_SAMPLES: usize = 100;

impl Catalog {
    /// Replaces the ontology by `files`, applies `rewrites` to `data`, compares the shapes'
    /// results on `data` before and after, and commits (with `version` statements added to the
    /// catalog graph) only when `commit`. Blocking.
    pub fn change_ontology(
        &self,
        files: &OntologyFiles,
        rewrites: &[Rewrite],
        data: &NamedNode,
        version: &[Statement],
        commit: bool,
    ) -> Result<ChangeOutcome, CatalogError> {
        let before = self.validate_on(Reader::Store(&self.store), data, true)?;
        let mut tx = self.store.start_transaction()?;
        self.replace_ontology_in(&mut tx, files)?;
        let g = GraphNameRef::NamedNode(data.as_ref());
        let replaced_by = node(&format!("{DCTERMS}isReplacedBy"))?;
        let mut rewritten = Vec::new();
        for r in rewrites {
            let (from, to) = (node(&r.from)?, node(&r.to)?);
            let found: Vec<Quad> = tx
                .quads_for_pattern(None, None, Some(from.as_ref().into()), Some(g))
                .collect::<Result<_, _>>()?;
            let mut subjects: Vec<String> = Vec::new();
            let mut seen = HashSet::new();
            for q in &found {
                tx.remove(q.as_ref());
                tx.insert(&Quad::new(
                    q.subject.clone(),
                    q.predicate.clone(),
                    Term::NamedNode(to.clone()),
                    q.graph_name.clone(),
                ));
                let s = q.subject.to_string();
                if seen.insert(s.clone()) && subjects.len() < 20 {
                    subjects.push(s.trim_matches(['<', '>']).to_owned());
                }
            }
            tx.insert(&Quad::new(
                from.clone(),
                replaced_by.clone(),
                to,
                data.clone(),
            ));
            rewritten.push(Rewritten {
                rewrite: r.clone(),
                statements: found.len(),
                subjects: seen.len(),
                sample: subjects,
            });
        }
        let after = self.validate_on(Reader::Tx(&tx), data, true)?;
        let shacl = delta(before, after);
        let committed = if commit {
            for q in quads(&self.layout.catalog, version)? {
                tx.insert(&q);
            }
            tx.commit()?;
            self.touched();
            true
        } else {
            // Dropped: a plan writes nothing.
            drop(tx);
            false
        };
        Ok(ChangeOutcome {
            rewritten,
            shacl,
            committed,
        })
    }
}

fn delta(
    before: super::super::ValidationReport,
    after: super::super::ValidationReport,
) -> ShaclDelta {
    let kb: HashSet<u64> = before
        .keys
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let ka: HashSet<u64> = after.keys.clone().unwrap_or_default().into_iter().collect();
    ShaclDelta {
        before: before.total,
        after: after.total,
        new: ka.difference(&kb).count(),
        resolved: kb.difference(&ka).count(),
        new_samples: after
            .results
            .iter()
            .filter(|r| !kb.contains(&r.key()))
            .take(DELTA_SAMPLES)
            .cloned()
            .collect(),
        resolved_samples: before
            .results
            .iter()
            .filter(|r| !ka.contains(&r.key()))
            .take(DELTA_SAMPLES)
            .cloned()
            .collect(),
        shapes: after.shapes,
        unsupported: after.unsupported,
    }
}
