//! Loads `ontology/*.ttl` into the ontology graph at start.
//!
//! Ontology maintainers edit the Turtle files; the server notices by content hash. An unchanged
//! ontology costs one lookup; a changed one replaces the graph's content in a single transaction,
//! so the graph is never duplicated and never half-loaded.

use std::path::{Path, PathBuf};

use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::{GraphNameRef, Literal, QuadRef, Term};
use sha2::{Digest, Sha256};

use super::vocab::{st, DCTERMS};
use super::{Catalog, CatalogError, Visibility};

/// What [`Catalog::load_ontology`] did.
#[derive(Debug, Clone)]
pub struct OntologyReport {
    /// Files read, in load order.
    pub files: Vec<PathBuf>,
    /// Combined SHA-256 of file names and contents.
    pub hash: String,
    /// Whether the graph was (re)loaded; false when the stored hash matched.
    pub reloaded: bool,
    /// Triples in the ontology graph afterwards.
    pub triples: usize,
}

/// Lists `*.ttl` files in a directory, sorted for a stable hash.
pub fn ontology_files(dir: &Path) -> Result<Vec<PathBuf>, CatalogError> {
    let entries = std::fs::read_dir(dir).map_err(|e| CatalogError::io(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| CatalogError::io(dir, e))?.path();
        if path.extension().is_some_and(|e| e == "ttl") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

impl Catalog {
    /// Loads the ontology directory when its content changed since the last load.
    pub fn load_ontology(&self, dir: &Path) -> Result<OntologyReport, CatalogError> {
        let files = ontology_files(dir)?;
        let mut hasher = Sha256::new();
        let mut contents = Vec::with_capacity(files.len());
        for f in &files {
            let bytes = std::fs::read(f).map_err(|e| CatalogError::io(f, e))?;
            hasher.update(f.file_name().unwrap_or_default().as_encoded_bytes());
            hasher.update([0]);
            hasher.update(&bytes);
            contents.push(bytes);
        }
        let hash = hex::encode(hasher.finalize());
        let graph = self.layout.ontology.clone();
        let hash_prop = st("contentHash");
        let catalog = GraphNameRef::NamedNode(self.layout.catalog.as_ref());
        let stored: Option<String> = self
            .store
            .quads_for_pattern(
                Some(graph.as_ref().into()),
                Some(hash_prop.as_ref()),
                None,
                Some(catalog),
            )
            .next()
            .transpose()?
            .and_then(|q| match q.object {
                Term::Literal(l) => Some(l.value().to_owned()),
                _ => None,
            });
        let reloaded = stored.as_deref() != Some(hash.as_str());
        if reloaded {
            let mut tx = self.store.start_transaction()?;
            tx.clear_graph(GraphNameRef::NamedNode(graph.as_ref()))?;
            tx.insert_named_graph(graph.as_ref());
            for (f, bytes) in files.iter().zip(&contents) {
                let base = format!("file://{}", f.canonicalize().unwrap_or(f.clone()).display());
                let parser = RdfParser::from_format(RdfFormat::Turtle)
                    .with_base_iri(base)
                    .map_err(|e| CatalogError::InvalidIri(e.to_string()))?
                    .with_default_graph(graph.clone())
                    .without_named_graphs();
                tx.load_from_slice(parser, bytes)
                    .map_err(|e| CatalogError::RdfSyntax(format!("{}: {e}", f.display())))?;
            }
            // Replace the bookkeeping triples about the ontology graph.
            let modified = oxigraph::model::NamedNode::new_unchecked(format!("{DCTERMS}modified"));
            for p in [&hash_prop, &modified] {
                let old: Vec<_> = tx
                    .quads_for_pattern(
                        Some(graph.as_ref().into()),
                        Some(p.as_ref()),
                        None,
                        Some(catalog),
                    )
                    .collect::<Result<_, _>>()?;
                for q in old {
                    tx.remove(q.as_ref());
                }
            }
            tx.insert(QuadRef::new(
                &graph,
                &hash_prop,
                &Literal::from(hash.as_str()),
                catalog,
            ));
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            tx.insert(QuadRef::new(
                &graph,
                &modified,
                &Literal::new_typed_literal(now, oxigraph::model::vocab::xsd::DATE_TIME),
                catalog,
            ));
            tx.commit()?;
            self.touched();
        }
        let triples = self
            .store
            .quads_for_pattern(
                None,
                None,
                None,
                Some(GraphNameRef::NamedNode(graph.as_ref())),
            )
            .count();
        Ok(OntologyReport {
            files,
            hash,
            reloaded,
            triples,
        })
    }

    /// The classes and properties the ontology graph declares or aligns to (the targets of
    /// `rdfs:subClassOf`, `rdfs:subPropertyOf`, `rdfs:domain`/`range`), sorted, for the query
    /// editor's completion. Empty for a non-admin when the ontology graph is marked restricted.
    pub fn vocabulary_terms(
        &self,
        vis: &Visibility,
    ) -> Result<(Vec<String>, Vec<String>), CatalogError> {
        use oxigraph::model::vocab::{rdf, rdfs};
        use oxigraph::model::NamedOrBlankNode;
        use std::collections::BTreeSet;
        let graph = self.layout.ontology.as_ref();
        if !self.sees(vis, &self.layout.ontology)? {
            return Ok((Vec::new(), Vec::new()));
        }
        let owl = |l: &str| format!("http://www.w3.org/2002/07/owl#{l}");
        let class_types: Vec<String> = vec![owl("Class"), rdfs::CLASS.as_str().to_owned()];
        let property_types: Vec<String> = vec![
            owl("ObjectProperty"),
            owl("DatatypeProperty"),
            owl("AnnotationProperty"),
            rdf::PROPERTY.as_str().to_owned(),
        ];
        let (mut classes, mut properties) = (BTreeSet::new(), BTreeSet::new());
        let g = Some(GraphNameRef::NamedNode(graph));
        for q in self.store.quads_for_pattern(None, None, None, g) {
            let q = q?;
            let subject = match &q.subject {
                NamedOrBlankNode::NamedNode(n) => Some(n.as_str()),
                NamedOrBlankNode::BlankNode(_) => None,
            };
            let object = match &q.object {
                Term::NamedNode(n) => Some(n.as_str()),
                _ => None,
            };
            let p = q.predicate.as_ref();
            if p == rdf::TYPE {
                if let (Some(s), Some(o)) = (subject, object) {
                    if class_types.iter().any(|c| c == o) {
                        classes.insert(s.to_owned());
                    } else if property_types.iter().any(|c| c == o) {
                        properties.insert(s.to_owned());
                    }
                }
            } else if p == rdfs::SUB_CLASS_OF || p == rdfs::DOMAIN || p == rdfs::RANGE {
                if p == rdfs::SUB_CLASS_OF {
                    classes.extend(subject.map(str::to_owned));
                } else {
                    properties.extend(subject.map(str::to_owned));
                }
                classes.extend(object.map(str::to_owned));
            } else if p == rdfs::SUB_PROPERTY_OF {
                properties.extend(subject.map(str::to_owned));
                properties.extend(object.map(str::to_owned));
            }
            // Every predicate the ontology itself uses is a property a query may name.
            properties.insert(p.as_str().to_owned());
        }
        // Datatypes are ranges, not classes a query asks for with `a`.
        classes.retain(|c| !c.starts_with("http://www.w3.org/2001/XMLSchema#"));
        Ok((
            classes.into_iter().collect(),
            properties.into_iter().collect(),
        ))
    }
}
