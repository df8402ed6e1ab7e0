//! Plain-data descriptions written into a graph in one transaction, and read back as rows.
//!
//! Layers above the catalog (inventory, ingest, monitor) describe what they found as
//! [`Statement`]s over plain strings; they never see an Oxigraph type. [`Catalog::describe`]
//! checks every IRI, then — in a single transaction — removes the previous description of the
//! subjects it is told to replace (a subject IRI and everything under `IRI/`) and inserts the new
//! one. Readers see the old description or the new one, never a mix, and describing the same
//! thing twice leaves one copy.

use std::collections::{HashMap, HashSet};

use oxigraph::model::{
    GraphNameRef, Literal, NamedNode, NamedOrBlankNode, Quad, QuadRef, Term as OxTerm,
};

use super::vocab::XSD;
use super::{Catalog, CatalogError};

/// The object of a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Iri(String),
    /// A literal with its datatype IRI (`None`: `xsd:string`) or language tag.
    Literal {
        value: String,
        datatype: Option<String>,
        lang: Option<String>,
    },
}

impl Object {
    pub fn iri(s: impl Into<String>) -> Object {
        Object::Iri(s.into())
    }
    pub fn string(s: impl Into<String>) -> Object {
        Object::Literal {
            value: s.into(),
            datatype: None,
            lang: None,
        }
    }
    fn typed(value: String, local: &str) -> Object {
        Object::Literal {
            value,
            datatype: Some(format!("{XSD}{local}")),
            lang: None,
        }
    }
    /// A sealed value (`vault`): a literal of datatype `st:sealed`, opaque without the key.
    pub fn sealed(s: impl Into<String>) -> Object {
        Object::Literal {
            value: s.into(),
            datatype: Some(format!("{}sealed", super::vocab::ST)),
            lang: None,
        }
    }
    pub fn integer(x: u64) -> Object {
        Object::typed(x.to_string(), "integer")
    }
    /// An `xsd:double` (non-finite values are written as `NaN`/`INF`, which XSD allows).
    pub fn double(x: f64) -> Object {
        let v = if x.is_nan() {
            "NaN".to_string()
        } else if x.is_infinite() {
            if x > 0.0 { "INF" } else { "-INF" }.to_string()
        } else {
            format!("{x:e}")
        };
        Object::typed(v, "double")
    }
    pub fn decimal(x: f64) -> Object {
        let v = format!("{:.6}", x);
        let v = v.trim_end_matches('0').trim_end_matches('.').to_string();
        Object::typed(
            if v.is_empty() || v == "-" {
                "0".into()
            } else {
                v
            },
            "decimal",
        )
    }
    /// An `xsd:decimal` from its lexical form, kept exactly (prices are not floats).
    pub fn decimal_lexical(s: impl Into<String>) -> Object {
        Object::typed(s.into(), "decimal")
    }
    pub fn boolean(b: bool) -> Object {
        Object::typed(b.to_string(), "boolean")
    }
    /// An `xsd:date` from `YYYY-MM-DD`.
    pub fn date(s: impl Into<String>) -> Object {
        Object::typed(s.into(), "date")
    }
    /// An `xsd:dateTime` from an RFC 3339 string.
    pub fn datetime(s: impl Into<String>) -> Object {
        Object::typed(s.into(), "dateTime")
    }
}

/// One triple with an IRI subject and predicate.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub subject: String,
    pub predicate: String,
    pub object: Object,
}

impl Statement {
    pub fn new(subject: impl Into<String>, predicate: impl Into<String>, object: Object) -> Self {
        Statement {
            subject: subject.into(),
            predicate: predicate.into(),
            object,
        }
    }
}

pub(super) fn node(s: &str) -> Result<NamedNode, CatalogError> {
    NamedNode::new(s).map_err(|e| CatalogError::InvalidIri(format!("{s}: {e}")))
}

/// Checked IRIs of one write, by text: a batch names the same predicates, classes, runs and
/// subjects over and over, and checking an IRI costs a parse while a repeat costs a hash lookup.
#[derive(Default)]
struct Iris<'a>(HashMap<&'a str, NamedNode>);

impl<'a> Iris<'a> {
    fn get(&mut self, s: &'a str) -> Result<NamedNode, CatalogError> {
        if let Some(n) = self.0.get(s) {
            return Ok(n.clone());
        }
        let n = node(s)?;
        self.0.insert(s, n.clone());
        Ok(n)
    }

    fn term(&mut self, t: &'a Object) -> Result<OxTerm, CatalogError> {
        Ok(match t {
            Object::Iri(i) => self.get(i)?.into(),
            Object::Literal {
                value,
                lang: Some(l),
                ..
            } => Literal::new_language_tagged_literal(value.clone(), l.clone())
                .map_err(|e| CatalogError::Invalid(format!("language tag {l:?}: {e}")))?
                .into(),
            Object::Literal {
                value,
                datatype: Some(d),
                ..
            } => Literal::new_typed_literal(value.clone(), self.get(d)?).into(),
            Object::Literal { value, .. } => Literal::new_simple_literal(value.clone()).into(),
        })
    }
}

/// Pure insertions of at least this many quads go through Oxigraph's bulk loader: one atomic
/// ingestion of sorted files (RocksDB `IngestExternalFiles` across the indexes), several times
/// faster than a transaction, whose every key goes through an indexed write batch and then the
/// memtable. Anything that also removes quads stays a transaction.
const BULK_INSERT: usize = 2000;

/// The quads of `statements` in `graph` (built, and so validated, before the store is touched).
pub(super) fn quads(
    graph: &NamedNode,
    statements: &[Statement],
) -> Result<Vec<Quad>, CatalogError> {
    let mut iris = Iris::default();
    statements
        .iter()
        .map(|s| {
            Ok(Quad::new(
                iris.get(&s.subject)?,
                iris.get(&s.predicate)?,
                iris.term(&s.object)?,
                graph.clone(),
            ))
        })
        .collect()
}

impl Catalog {
    /// Replaces `old` by `new` atomically, writing only the difference: re-writing what is
    /// already there changes nothing and costs only the reads.
    pub(super) fn rewrite(&self, old: Vec<Quad>, new: Vec<Quad>) -> Result<(), CatalogError> {
        let new_set: HashSet<&Quad> = new.iter().collect();
        let old_set: HashSet<&Quad> = old.iter().collect();
        let remove: Vec<&Quad> = old_set
            .iter()
            .filter(|q| !new_set.contains(*q))
            .copied()
            .collect();
        let add: Vec<&Quad> = new_set
            .iter()
            .filter(|q| !old_set.contains(*q))
            .copied()
            .collect();
        if remove.is_empty() && add.is_empty() {
            return Ok(());
        }
        if remove.is_empty() && add.len() >= BULK_INSERT {
            let mut loader = self.store.bulk_loader();
            loader.load_quads(add.into_iter().cloned())?;
            loader.commit()?;
        } else {
            let mut tx = self.store.start_transaction()?;
            for q in remove {
                tx.remove(q.as_ref());
            }
            for q in add {
                tx.insert(q.as_ref());
            }
            tx.commit()?;
        }
        self.touched();
        Ok(())
    }

    /// Writes `statements` into `graph`, first removing what was said about the subjects in
    /// `replace` (each IRI and every IRI under `IRI/`). Returns the number of triples written.
    /// Blocking.
    pub fn describe(
        &self,
        graph: &NamedNode,
        replace: &[String],
        statements: &[Statement],
    ) -> Result<usize, CatalogError> {
        let new = quads(graph, statements)?;
        let written = new.len();
        let g = GraphNameRef::NamedNode(graph.as_ref());
        let prefixes: Vec<(String, String)> = replace
            .iter()
            .map(|p| (p.clone(), format!("{p}/")))
            .collect();

        let mut old = Vec::new();
        if !prefixes.is_empty() {
            for q in self.store.quads_for_pattern(None, None, None, Some(g)) {
                let q = q?;
                if matches!(&q.subject, NamedOrBlankNode::NamedNode(n)
                    if prefixes.iter().any(|(p, under)| n.as_str() == p || n.as_str().starts_with(under)))
                {
                    old.push(q);
                }
            }
        }
        self.rewrite(old, new)?;
        Ok(written)
    }

    /// Whether `graph` holds any triple about `subject` (one index seek). A malformed IRI is
    /// never a subject.
    pub fn has_subject(&self, graph: &NamedNode, subject: &str) -> Result<bool, CatalogError> {
        let Ok(s) = NamedNode::new(subject) else {
            return Ok(false);
        };
        match self
            .store
            .quads_for_pattern(
                Some(s.as_ref().into()),
                None,
                None,
                Some(GraphNameRef::NamedNode(graph.as_ref())),
            )
            .next()
        {
            Some(q) => q.map(|_| true).map_err(Into::into),
            None => Ok(false),
        }
    }

    /// The values of `predicate` on `subject` in `graph` — IRIs, and literals by their lexical
    /// form (one index lookup).
    pub fn objects(
        &self,
        graph: &NamedNode,
        subject: &str,
        predicate: &str,
    ) -> Result<Vec<String>, CatalogError> {
        let (s, p) = (node(subject)?, node(predicate)?);
        let mut out = Vec::new();
        for q in self.store.quads_for_pattern(
            Some(s.as_ref().into()),
            Some(p.as_ref()),
            None,
            Some(GraphNameRef::NamedNode(graph.as_ref())),
        ) {
            match q?.object {
                OxTerm::NamedNode(o) => out.push(o.into_string()),
                OxTerm::Literal(l) => out.push(l.value().to_owned()),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Every (IRI subject, value) of `predicate` in `graph`, values by their lexical form (one
    /// scan of the predicate's index: far cheaper than a lookup per subject when most subjects
    /// are wanted).
    pub fn predicate_values(
        &self,
        graph: &NamedNode,
        predicate: &str,
    ) -> Result<Vec<(String, String)>, CatalogError> {
        let p = node(predicate)?;
        let mut out = Vec::new();
        for q in self.store.quads_for_pattern(
            None,
            Some(p.as_ref()),
            None,
            Some(GraphNameRef::NamedNode(graph.as_ref())),
        ) {
            let q = q?;
            let oxigraph::model::NamedOrBlankNode::NamedNode(s) = q.subject else {
                continue;
            };
            let v = match q.object {
                OxTerm::NamedNode(o) => o.into_string(),
                OxTerm::Literal(l) => l.value().to_owned(),
                _ => continue,
            };
            out.push((s.into_string(), v));
        }
        Ok(out)
    }

    /// The IRI subjects that have `predicate` with value `object` in `graph` (one scan of the
    /// predicate–object index).
    pub fn subjects(
        &self,
        graph: &NamedNode,
        predicate: &str,
        object: &Object,
    ) -> Result<Vec<String>, CatalogError> {
        let p = node(predicate)?;
        let o = Iris::default().term(object)?;
        let mut out = Vec::new();
        for q in self.store.quads_for_pattern(
            None,
            Some(p.as_ref()),
            Some(o.as_ref()),
            Some(GraphNameRef::NamedNode(graph.as_ref())),
        ) {
            if let oxigraph::model::NamedOrBlankNode::NamedNode(s) = q?.subject {
                out.push(s.into_string());
            }
        }
        Ok(out)
    }

    /// Writes `statements` into `graph` atomically, replacing every triple whose subject is one
    /// of `subjects` (their earlier descriptions). Unlike [`Catalog::describe`] this touches only
    /// those subjects' triples (an index lookup each), so it suits batches of records in a large
    /// graph. Returns the number of triples in `statements`. Blocking.
    pub fn replace_subjects(
        &self,
        graph: &NamedNode,
        subjects: &[String],
        statements: &[Statement],
    ) -> Result<usize, CatalogError> {
        self.replace_matching(graph, subjects, None, statements)
    }

    /// Like [`Catalog::replace_subjects`], but replaces only the `predicates` of `subjects`
    /// (findings that a later analysis rewrites while the rest of the description stays).
    pub fn replace_properties(
        &self,
        graph: &NamedNode,
        subjects: &[String],
        predicates: &[String],
        statements: &[Statement],
    ) -> Result<usize, CatalogError> {
        self.replace_matching(graph, subjects, Some(predicates), statements)
    }

    /// Like [`Catalog::replace_properties`] for every subject whose IRI starts with `prefix`:
    /// one scan of the predicate index per predicate instead of a lookup per subject and
    /// predicate (findings over a whole namespace, where few subjects have any).
    pub fn replace_properties_under(
        &self,
        graph: &NamedNode,
        prefix: &str,
        predicates: &[String],
        statements: &[Statement],
    ) -> Result<usize, CatalogError> {
        let new = quads(graph, statements)?;
        let written = new.len();
        let g = GraphNameRef::NamedNode(graph.as_ref());
        let mut old = Vec::new();
        for p in predicates {
            let p = node(p)?;
            for q in self
                .store
                .quads_for_pattern(None, Some(p.as_ref()), None, Some(g))
            {
                let q = q?;
                if matches!(&q.subject, NamedOrBlankNode::NamedNode(n) if n.as_str().starts_with(prefix))
                {
                    old.push(q);
                }
            }
        }
        self.rewrite(old, new)?;
        Ok(written)
    }

    fn replace_matching(
        &self,
        graph: &NamedNode,
        subjects: &[String],
        predicates: Option<&[String]>,
        statements: &[Statement],
    ) -> Result<usize, CatalogError> {
        let new = quads(graph, statements)?;
        let written = new.len();
        let subjects: Vec<NamedNode> =
            subjects.iter().map(|s| node(s)).collect::<Result<_, _>>()?;
        let predicates: Option<Vec<NamedNode>> = predicates
            .map(|ps| ps.iter().map(|p| node(p)).collect::<Result<_, _>>())
            .transpose()?;
        let mut old = Vec::new();
        for s in &subjects {
            match &predicates {
                None => old.extend(self.quads_about(graph, s)?),
                Some(ps) => {
                    for p in ps {
                        old.extend(self.quads_with(graph, s, p)?);
                    }
                }
            }
        }
        self.rewrite(old, new)?;
        Ok(written)
    }
}

impl Catalog {
    /// Every quad of `graph` with `subject` as its subject.
    pub(super) fn quads_about(
        &self,
        graph: &NamedNode,
        subject: &NamedNode,
    ) -> Result<Vec<Quad>, CatalogError> {
        let g = GraphNameRef::NamedNode(graph.as_ref());
        self.store
            .quads_for_pattern(Some(subject.as_ref().into()), None, None, Some(g))
            .map(|q| q.map_err(Into::into))
            .collect()
    }

    /// The triples of `graph` with `subject` and `predicate`.
    pub(super) fn quads_with(
        &self,
        graph: &NamedNode,
        subject: &NamedNode,
        predicate: &NamedNode,
    ) -> Result<Vec<Quad>, CatalogError> {
        let g = GraphNameRef::NamedNode(graph.as_ref());
        self.store
            .quads_for_pattern(
                Some(subject.as_ref().into()),
                Some(predicate.as_ref()),
                None,
                Some(g),
            )
            .map(|q| q.map_err(Into::into))
            .collect()
    }

    /// Whether `graph` says `iri` is a `class` (one point lookup; for reference checks while
    /// ingesting). A malformed IRI is simply not an instance.
    pub fn is_instance(
        &self,
        graph: &NamedNode,
        iri: &str,
        class: &str,
    ) -> Result<bool, CatalogError> {
        let (Ok(s), Ok(c)) = (NamedNode::new(iri), NamedNode::new(class)) else {
            return Ok(false);
        };
        let rdf_type = NamedNode::new_unchecked("http://www.w3.org/1999/02/22-rdf-syntax-ns#type");
        Ok(self
            .store
            .contains(QuadRef::new(&s, &rdf_type, &c, graph))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::GraphLayout;

    #[test]
    fn describing_twice_replaces_and_bad_iris_write_nothing() {
        let c = Catalog::in_memory(GraphLayout::new("https://example.org/st/").unwrap()).unwrap();
        let g = c.layout().catalog.clone();
        let s = |v: &str| {
            vec![
                Statement::new(
                    "https://example.org/a",
                    "https://example.org/p",
                    Object::string(v),
                ),
                Statement::new(
                    "https://example.org/a/col",
                    "https://example.org/p",
                    Object::integer(3),
                ),
            ]
        };
        let replace = vec!["https://example.org/a".to_string()];
        assert_eq!(c.describe(&g, &replace, &s("one")).unwrap(), 2);
        assert_eq!(c.describe(&g, &replace, &s("two")).unwrap(), 2);
        assert_eq!(c.len().unwrap(), 2, "replaced, not duplicated");
        let bad = vec![Statement::new(
            "not an iri",
            "https://example.org/p",
            Object::boolean(true),
        )];
        assert!(matches!(
            c.describe(&g, &replace, &bad),
            Err(CatalogError::InvalidIri(_))
        ));
        assert_eq!(c.len().unwrap(), 2, "nothing removed when validation fails");
        let rows = c
            .select("SELECT ?o WHERE { GRAPH ?g { <https://example.org/a> ?p ?o } }")
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["o"], "two");
        assert_eq!(
            Object::decimal(2.50),
            Object::typed("2.5".into(), "decimal")
        );
        assert_eq!(Object::decimal(0.0), Object::typed("0".into(), "decimal"));
    }
}
