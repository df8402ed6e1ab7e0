//! Sealed literals in the store: finding them (a subject's, for an audited decryption; those
//! sealed with a retired key, for rotation) and replacing them in place.
//!
//! A sealed value is a literal of datatype `st:sealed` (see `vault`); the catalog never opens
//! one — it only finds and swaps them, so the store module needs no key.

use oxigraph::model::{GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term};

use super::vocab::ST;
use super::{Catalog, CatalogError};

/// One sealed literal and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedValue {
    /// The graph IRI (`None`: the default graph).
    pub graph: Option<String>,
    pub subject: String,
    pub predicate: String,
    /// The sealed text (`stv1:<key id>:…`).
    pub value: String,
}

impl Catalog {
    /// Sealed literals of `subject` (every graph; callers check who may see them).
    pub fn sealed_of(&self, subject: &str) -> Result<Vec<SealedValue>, CatalogError> {
        let node = NamedNode::new(subject)
            .map_err(|e| CatalogError::InvalidIri(format!("'{subject}': {e}")))?;
        let mut out = Vec::new();
        for quad in self
            .store
            .quads_for_pattern(Some(node.as_ref().into()), None, None, None)
        {
            if let Some(v) = sealed(&quad?) {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// Up to `limit` sealed literals whose key id is not `current` (what a rotation still has
    /// to re-encrypt), and how many sealed literals there are in all. One scan of the store.
    pub fn sealed_with_other_keys(
        &self,
        current: &str,
        limit: usize,
    ) -> Result<(Vec<SealedValue>, u64), CatalogError> {
        let mine = format!("{}{current}:", crate::vault::PREFIX);
        let (mut out, mut total) = (Vec::new(), 0u64);
        for quad in self.store.iter() {
            let Some(v) = sealed(&quad?) else { continue };
            total += 1;
            if out.len() < limit && !v.value.starts_with(&mine) {
                out.push(v);
            }
        }
        Ok((out, total))
    }

    /// Removes the literals of `predicate` in `graph` that are not sealed (copies written in
    /// the clear by an earlier release); returns how many.
    pub fn remove_unsealed(&self, graph: &str, predicate: &str) -> Result<usize, CatalogError> {
        let iri = |s: &str| {
            NamedNode::new(s).map_err(|e| CatalogError::InvalidIri(format!("'{s}': {e}")))
        };
        let (g, p) = (iri(graph)?, iri(predicate)?);
        let mut plain = Vec::new();
        for quad in
            self.store
                .quads_for_pattern(None, Some(p.as_ref()), None, Some(g.as_ref().into()))
        {
            let quad = quad?;
            if !matches!(&quad.object, Term::Literal(l) if is_sealed(l)) {
                plain.push(quad);
            }
        }
        if plain.is_empty() {
            return Ok(0);
        }
        let mut tx = self.store.start_transaction()?;
        for q in &plain {
            tx.remove(q);
        }
        tx.commit()?;
        self.touched();
        Ok(plain.len())
    }

    /// Calls `f` with every sealed literal in the store (one scan, nothing kept).
    pub fn each_sealed(&self, mut f: impl FnMut(&SealedValue)) -> Result<(), CatalogError> {
        for quad in self.store.iter() {
            if let Some(v) = sealed(&quad?) {
                f(&v);
            }
        }
        Ok(())
    }

    /// Replaces sealed literals by new ones in one transaction (a value changed since it was
    /// read is skipped, not duplicated). Returns how many were replaced.
    pub fn replace_sealed(&self, changes: &[(SealedValue, String)]) -> Result<usize, CatalogError> {
        let mut tx = self.store.start_transaction()?;
        let mut done = 0;
        for (old, new) in changes {
            let quad = |value: &str| -> Result<Quad, CatalogError> {
                let iri = |s: &str| {
                    NamedNode::new(s).map_err(|e| CatalogError::InvalidIri(format!("'{s}': {e}")))
                };
                let graph = match &old.graph {
                    Some(g) => GraphName::NamedNode(iri(g)?),
                    None => GraphName::DefaultGraph,
                };
                Ok(Quad::new(
                    iri(&old.subject)?,
                    iri(&old.predicate)?,
                    Literal::new_typed_literal(
                        value,
                        NamedNode::new_unchecked(format!("{ST}sealed")),
                    ),
                    graph,
                ))
            };
            let before = quad(&old.value)?;
            if tx.contains(&before)? {
                tx.remove(&before);
                tx.insert(&quad(new)?);
                done += 1;
            }
        }
        tx.commit()?;
        self.touched();
        Ok(done)
    }
}

/// Whether a literal is a sealed value (never a label, a name to search or a text to show).
pub(super) fn is_sealed(l: &Literal) -> bool {
    l.datatype().as_str().strip_prefix(ST) == Some("sealed")
}

fn sealed(quad: &Quad) -> Option<SealedValue> {
    let Term::Literal(l) = &quad.object else {
        return None;
    };
    if !is_sealed(l) {
        return None;
    }
    let NamedOrBlankNode::NamedNode(s) = &quad.subject else {
        return None;
    };
    let graph = match &quad.graph_name {
        GraphName::NamedNode(g) => Some(g.as_str().to_string()),
        GraphName::DefaultGraph => None,
        // Never written by Stocktake; such a value could not be addressed to replace it.
        GraphName::BlankNode(_) => return None,
    };
    Some(SealedValue {
        graph,
        subject: s.as_str().to_string(),
        predicate: quad.predicate.as_str().to_string(),
        value: l.value().to_string(),
    })
}
