//! Loads `ontology/*.ttl` into the ontology graph at start, and the maintainers' tools over
//! the files: `check` (ROBOT/qSKOS-style checks), `diff` (a semantic diff), `source` (the
//! files read with their lines).
//!
//! Ontology maintainers edit the Turtle files; the server notices by content hash. An unchanged
//! ontology costs one lookup; a changed one is checked first (errors refuse it, and the store
//! keeps what it has), then replaces the graph's content in a single transaction, so the graph
//! is never duplicated and never half-loaded.

pub mod change;
pub mod check;
pub mod diff;
pub mod docs;
pub mod source;

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

/// An ontology folder's files as loaded: their paths, bytes and combined content hash.
#[derive(Debug, Clone)]
pub struct OntologyFiles {
    pub files: Vec<PathBuf>,
    pub contents: Vec<Vec<u8>>,
    /// SHA-256 over file names and contents.
    pub hash: String,
}

impl OntologyFiles {
    /// Reads the `*.ttl` files of a folder.
    pub fn read(dir: &Path) -> Result<OntologyFiles, CatalogError> {
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
        Ok(OntologyFiles {
            files,
            contents,
            hash: hex::encode(hasher.finalize()),
        })
    }
}

/// The check's errors as a refusal: what a start or an apply says when the files have errors.
pub fn refusal(dir: &Path, report: &check::CheckReport) -> CatalogError {
    let lines: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.level == check::Level::Error)
        .take(10)
        .map(|f| {
            format!(
                "  {}: [{}] {}",
                f.location.as_deref().unwrap_or("-"),
                f.check,
                f.message
            )
        })
        .collect();
    CatalogError::Invalid(format!(
        "the ontology in {} has {} errors, so it is not loaded (the store keeps the version it \
         has; `stocktake ontology check {}` lists everything):\n{}",
        dir.display(),
        report.errors,
        dir.display(),
        lines.join("\n")
    ))
}

impl Catalog {
    /// The ontology graph's triples as loaded (the ontology is small). Blocking.
    pub fn ontology_graph(&self) -> Result<oxigraph::model::Graph, CatalogError> {
        let mut g = oxigraph::model::Graph::new();
        let name = GraphNameRef::NamedNode(self.layout.ontology.as_ref());
        for q in self.store.quads_for_pattern(None, None, None, Some(name)) {
            g.insert(&q?.into());
        }
        Ok(g)
    }

    /// The content hash of the ontology as loaded, if one is.
    pub fn ontology_hash(&self) -> Result<Option<String>, CatalogError> {
        let graph = self.layout.ontology.clone();
        let hash_prop = st("contentHash");
        let catalog = GraphNameRef::NamedNode(self.layout.catalog.as_ref());
        Ok(self
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
            }))
    }

    /// Replaces the ontology graph's content by the files' and its bookkeeping (content hash,
    /// modified), inside `tx`.
    pub(crate) fn replace_ontology_in(
        &self,
        tx: &mut oxigraph::store::Transaction<'_>,
        files: &OntologyFiles,
    ) -> Result<(), CatalogError> {
        let graph = self.layout.ontology.clone();
        let hash_prop = st("contentHash");
        let catalog = GraphNameRef::NamedNode(self.layout.catalog.as_ref());
        tx.clear_graph(GraphNameRef::NamedNode(graph.as_ref()))?;
        tx.insert_named_graph(graph.as_ref());
        for (f, bytes) in files.files.iter().zip(&files.contents) {
            let base = format!("file://{}", f.canonicalize().unwrap_or(f.clone()).display());
            let parser = RdfParser::from_format(RdfFormat::Turtle)
                .with_base_iri(base)
                .map_err(|e| CatalogError::InvalidIri(e.to_string()))?
                .with_default_graph(graph.clone())
                .without_named_graphs();
            tx.load_from_slice(parser, bytes)
                .map_err(|e| CatalogError::RdfSyntax(format!("{}: {e}", f.display())))?;
        }
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
            &Literal::from(files.hash.as_str()),
            catalog,
        ));
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        tx.insert(QuadRef::new(
            &graph,
            &modified,
            &Literal::new_typed_literal(now, oxigraph::model::vocab::xsd::DATE_TIME),
            catalog,
        ));
        Ok(())
    }

    /// Loads the ontology directory when its content changed since the last load; a changed
    /// one with check errors is refused and the loaded one kept.
    pub fn load_ontology(&self, dir: &Path) -> Result<OntologyReport, CatalogError> {
        let loaded = OntologyFiles::read(dir)?;
        let reloaded = self.ontology_hash()?.as_deref() != Some(loaded.hash.as_str());
        if reloaded {
            // A changed ontology is checked before it replaces the loaded one.
            let source = source::OntologySource::read(&[dir.to_path_buf()])?;
            let report = check::check(&source, &check::CheckOptions::default());
            if report.fails(check::Level::Error) {
                return Err(refusal(dir, &report));
            }
            let mut tx = self.store.start_transaction()?;
            self.replace_ontology_in(&mut tx, &loaded)?;
            tx.commit()?;
            self.touched();
        }
        let graph = self.layout.ontology.clone();
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
            files: loaded.files,
            hash: loaded.hash,
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
