//! Vocabulary IRIs and the named-graph layout.
//!
//! Standard vocabularies come first (DCAT, DCTERMS, CSVW, DQV, PROV-O, SKOS, schema.org, SHACL);
//! the `st:` namespace only names what they lack. The namespace is fixed (the ontology files use it),
//! while the graphs and catalog resources are minted under a configurable base IRI so two
//! deployments can share one downstream store without clashing.

use oxigraph::model::NamedNode;

use super::CatalogError;

/// Our own vocabulary namespace (`st:`), matching `ontology/stocktake.ttl`.
pub const ST: &str = "https://w3id.org/stocktake/ns#";
pub const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
pub const RDFS: &str = "http://www.w3.org/2000/01/rdf-schema#";
pub const XSD: &str = "http://www.w3.org/2001/XMLSchema#";
pub const DCAT: &str = "http://www.w3.org/ns/dcat#";
pub const DCTERMS: &str = "http://purl.org/dc/terms/";
pub const CSVW: &str = "http://www.w3.org/ns/csvw#";
pub const DQV: &str = "http://www.w3.org/ns/dqv#";
pub const PROV: &str = "http://www.w3.org/ns/prov#";
pub const SKOS: &str = "http://www.w3.org/2004/02/skos/core#";
pub const SCHEMA: &str = "http://schema.org/";
pub const SH: &str = "http://www.w3.org/ns/shacl#";
pub const SD: &str = "http://www.w3.org/ns/sparql-service-description#";

/// Prefixes used when serializing Turtle and offered to named queries' authors.
pub const PREFIXES: &[(&str, &str)] = &[
    ("st", ST),
    ("rdf", RDF),
    ("rdfs", RDFS),
    ("xsd", XSD),
    ("dcat", DCAT),
    ("dcterms", DCTERMS),
    ("csvw", CSVW),
    ("dqv", DQV),
    ("prov", PROV),
    ("skos", SKOS),
    ("schema", SCHEMA),
    ("sh", SH),
];

/// A term of our vocabulary, e.g. `st("restricted")`.
pub fn st(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{ST}{local}"))
}

/// The named graphs that separate the catalog's concerns.
#[derive(Debug, Clone)]
pub struct GraphLayout {
    base: String,
    /// Vocabulary, SKOS taxonomy and SHACL shapes from `ontology/`.
    pub ontology: NamedNode,
    /// Data-asset catalog: sources, assets, columns, measurements, scans.
    pub catalog: NamedNode,
    /// The e-commerce knowledge graph: products, brands, categories, users, reviews.
    pub products: NamedNode,
    /// Rejected records with their reasons (restricted).
    pub quarantine: NamedNode,
    /// Change events between scans.
    pub changes: NamedNode,
    /// Model cards of classifiers and embeddings.
    pub models: NamedNode,
}

impl GraphLayout {
    /// Builds the layout under `base` (which must be an absolute IRI ending in `/` or `#`).
    pub fn new(base: &str) -> Result<Self, CatalogError> {
        let graph = |name: &str| {
            NamedNode::new(format!("{base}graph/{name}"))
                .map_err(|e| CatalogError::InvalidIri(format!("{base}graph/{name}: {e}")))
        };
        Ok(Self {
            base: base.to_owned(),
            ontology: graph("ontology")?,
            catalog: graph("catalog")?,
            products: graph("products")?,
            quarantine: graph("quarantine")?,
            changes: graph("changes")?,
            models: graph("models")?,
        })
    }

    /// The base IRI everything is minted under.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// All layout graphs with their short names, for listings and the service description.
    pub fn all(&self) -> [(&'static str, &NamedNode); 6] {
        [
            ("ontology", &self.ontology),
            ("catalog", &self.catalog),
            ("products", &self.products),
            ("quarantine", &self.quarantine),
            ("changes", &self.changes),
            ("models", &self.models),
        ]
    }

    /// Resolves a short graph name (`catalog`) or a full IRI to a graph IRI.
    pub fn resolve(&self, name_or_iri: &str) -> Result<NamedNode, CatalogError> {
        if let Some((_, g)) = self.all().into_iter().find(|(n, _)| *n == name_or_iri) {
            return Ok(g.clone());
        }
        NamedNode::new(name_or_iri)
            .map_err(|e| CatalogError::InvalidIri(format!("'{name_or_iri}': {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names_graphs_under_base() {
        let l = GraphLayout::new("http://example.org/st/").unwrap();
        assert_eq!(l.catalog.as_str(), "http://example.org/st/graph/catalog");
        assert_eq!(l.resolve("quarantine").unwrap(), l.quarantine);
        assert_eq!(
            l.resolve("http://x.org/g").unwrap().as_str(),
            "http://x.org/g"
        );
        assert!(l.resolve("not an iri").is_err());
    }
}
