//! The SPARQL 1.1 Service Description served at `GET /sparql` without a query.
//!
//! Clients (YASGUI, federated engines) read it to learn the endpoint's features, result formats
//! and the named graphs it offers; restricted graphs are listed only for admins.

use oxigraph::io::RdfSerializer;
use oxigraph::model::{BlankNode, Literal, NamedNode, Triple};

use super::vocab::{DCTERMS, RDF, SD};
use super::{Catalog, CatalogError, GraphFormat, ResultsFormat, Serialized, Visibility};

fn sd(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{SD}{local}"))
}

impl Catalog {
    /// Builds the service description of the endpoint at `endpoint`.
    pub fn service_description(
        &self,
        endpoint: &str,
        format: GraphFormat,
        vis: &Visibility,
    ) -> Result<Serialized, CatalogError> {
        let service = BlankNode::default();
        let endpoint = NamedNode::new(endpoint)
            .map_err(|e| CatalogError::InvalidIri(format!("endpoint '{endpoint}': {e}")))?;
        let rdf_type = NamedNode::new_unchecked(format!("{RDF}type"));
        let mut triples = vec![
            Triple::new(service.clone(), rdf_type.clone(), sd("Service")),
            Triple::new(service.clone(), sd("endpoint"), endpoint),
            Triple::new(
                service.clone(),
                sd("supportedLanguage"),
                sd("SPARQL11Query"),
            ),
            Triple::new(
                service.clone(),
                sd("supportedLanguage"),
                sd("SPARQL11Update"),
            ),
            // No sd:BasicFederatedQuery: SERVICE is off, it would bypass graph access control.
        ];
        for f in ResultsFormat::CANDIDATES {
            triples.push(Triple::new(
                service.clone(),
                sd("resultFormat"),
                NamedNode::new_unchecked(f.inner().iri()),
            ));
        }
        for f in GraphFormat::GRAPH_CANDIDATES {
            triples.push(Triple::new(
                service.clone(),
                sd("resultFormat"),
                NamedNode::new_unchecked(f.inner().iri()),
            ));
        }
        let dataset = BlankNode::default();
        triples.push(Triple::new(
            service.clone(),
            sd("defaultDataset"),
            dataset.clone(),
        ));
        triples.push(Triple::new(
            dataset.clone(),
            rdf_type.clone(),
            sd("Dataset"),
        ));
        let default_graph = BlankNode::default();
        triples.push(Triple::new(
            dataset.clone(),
            sd("defaultGraph"),
            default_graph.clone(),
        ));
        triples.push(Triple::new(default_graph, rdf_type.clone(), sd("Graph")));
        for (iri, size) in self.list_graphs(vis)? {
            let named = BlankNode::default();
            let graph = BlankNode::default();
            triples.push(Triple::new(
                dataset.clone(),
                sd("namedGraph"),
                named.clone(),
            ));
            triples.push(Triple::new(
                named.clone(),
                rdf_type.clone(),
                sd("NamedGraph"),
            ));
            triples.push(Triple::new(
                named.clone(),
                sd("name"),
                NamedNode::new_unchecked(iri),
            ));
            triples.push(Triple::new(named, sd("graph"), graph.clone()));
            triples.push(Triple::new(
                graph,
                NamedNode::new_unchecked("http://rdfs.org/ns/void#triples"),
                Literal::from(size as i64),
            ));
        }
        triples.push(Triple::new(
            service,
            NamedNode::new_unchecked(format!("{DCTERMS}title")),
            Literal::new_simple_literal("Stocktake SPARQL endpoint"),
        ));
        let mut s = RdfSerializer::from_format(format.inner());
        if format == GraphFormat::Turtle {
            s = s
                .with_prefix("sd", SD)
                .map_err(|e| CatalogError::InvalidIri(e.to_string()))?;
        }
        let mut w = s.for_writer(Vec::new());
        for t in &triples {
            w.serialize_triple(t)
                .map_err(|e| CatalogError::Evaluation(e.to_string()))?;
        }
        Ok(Serialized {
            body: w
                .finish()
                .map_err(|e| CatalogError::Evaluation(e.to_string()))?,
            media_type: format.media_type(),
            rows: triples.len(),
            truncated: false,
        })
    }
}
