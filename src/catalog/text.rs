//! The catalog side of search: every subject's names and descriptions, per graph, with what it
//! is.
//!
//! The search index is derived from the store; this is the one read it derives from. Names are
//! the properties people title things with across our vocabularies (schema.org products and
//! brands, SKOS categories, DCAT/Dublin Core assets, CSVW columns, RDFS ontology terms);
//! descriptions and alternative labels count as text. Only IRI subjects are read (blank nodes
//! have no page to go to), and each (graph, subject) is its own entry, so visibility stays a
//! per-graph question.

use std::collections::HashMap;

use oxigraph::model::{GraphName, NamedNode, NamedOrBlankNode, Term};

use super::vocab::{CSVW, DCTERMS, RDF, RDFS, SCHEMA, SKOS, ST};
use super::{Catalog, CatalogError};

/// Properties whose values name a thing.
const NAMES: [(&str, &str); 6] = [
    (SCHEMA, "name"),
    (SKOS, "prefLabel"),
    (RDFS, "label"),
    (DCTERMS, "title"),
    (CSVW, "name"),
    (CSVW, "title"),
];

/// Properties whose values describe a thing.
const TEXTS: [(&str, &str); 5] = [
    (SCHEMA, "description"),
    (DCTERMS, "description"),
    (SKOS, "altLabel"),
    (SKOS, "definition"),
    (RDFS, "comment"),
];

/// Classes people search for by kind; anything else is `other`.
const KINDS: [(&str, &str, &str); 10] = [
    (SCHEMA, "Product", "product"),
    (SCHEMA, "Brand", "brand"),
    (SKOS, "Concept", "category"),
    (ST, "Asset", "asset"),
    (ST, "Column", "column"),
    (ST, "DataSource", "source"),
    (RDFS, "Class", "class"),
    ("http://www.w3.org/2002/07/owl#", "Class", "class"),
    (RDF, "Property", "property"),
    (
        "http://www.w3.org/2002/07/owl#",
        "ObjectProperty",
        "property",
    ),
];

/// The text of one subject in one graph.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextEntry {
    pub iri: String,
    /// `""` for the default graph.
    pub graph: String,
    pub kind: String,
    /// (value, language tag or `""`), sorted so that the same content reads the same.
    pub names: Vec<(String, String)>,
    pub texts: Vec<String>,
}

fn node(ns: &str, local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{ns}{local}"))
}

impl Catalog {
    /// Every (graph, IRI subject) with at least one name or description, in no particular
    /// order (each entry's own names and texts are sorted, so the same content reads the same).
    /// Reads the whole store's text properties: callers run it off the async runtime and only
    /// after the store changed ([`Catalog::generation`]). Blocking.
    pub fn text_entries(&self) -> Result<Vec<TextEntry>, CatalogError> {
        let mut by_key: HashMap<(GraphName, NamedNode), TextEntry> = HashMap::new();
        for (list, is_name) in [(&NAMES[..], true), (&TEXTS[..], false)] {
            for (ns, local) in list {
                let p = node(ns, local);
                for quad in self
                    .store
                    .quads_for_pattern(None, Some(p.as_ref()), None, None)
                {
                    let quad = quad?;
                    let (NamedOrBlankNode::NamedNode(s), Term::Literal(lit)) =
                        (quad.subject, quad.object)
                    else {
                        continue;
                    };
                    if super::sealed::is_sealed(&lit) {
                        continue;
                    }
                    let graph = quad.graph_name;
                    let e = by_key
                        .entry((graph.clone(), s.clone()))
                        .or_insert_with(|| TextEntry {
                            iri: s.as_str().to_owned(),
                            graph: match &graph {
                                GraphName::NamedNode(n) => n.as_str().to_owned(),
                                _ => String::new(),
                            },
                            ..TextEntry::default()
                        });
                    if is_name {
                        e.names.push((
                            lit.value().to_owned(),
                            lit.language().unwrap_or("").to_owned(),
                        ));
                    } else {
                        e.texts.push(lit.value().to_owned());
                    }
                }
            }
        }
        // Kinds by scanning the instances of each known class (a handful of index scans, not a
        // lookup per subject); the first class in KINDS wins.
        let type_p = node(RDF, "type");
        for (ns, local, kind) in KINDS {
            let class = node(ns, local);
            for quad in self.store.quads_for_pattern(
                None,
                Some(type_p.as_ref()),
                Some(class.as_ref().into()),
                None,
            ) {
                let quad = quad?;
                let NamedOrBlankNode::NamedNode(s) = quad.subject else {
                    continue;
                };
                if let Some(e) = by_key.get_mut(&(quad.graph_name, s)) {
                    if e.kind.is_empty() {
                        e.kind = kind.to_owned();
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(by_key.len());
        for (_, mut e) in by_key {
            if e.kind.is_empty() {
                e.kind = "other".to_owned();
            }
            e.names.sort();
            e.texts.sort();
            out.push(e);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{GraphLayout, Object, Statement};

    #[test]
    fn names_texts_and_kinds_per_graph() {
        let layout = GraphLayout::new("https://example.org/").unwrap();
        let c = Catalog::in_memory(layout).unwrap();
        let g = c.layout().products.clone();
        let p = "https://example.org/product/1";
        c.replace_subjects(
            &g,
            &[p.to_string()],
            &[
                Statement::new(
                    p,
                    format!("{RDF}type"),
                    Object::iri(format!("{SCHEMA}Product")),
                ),
                Statement::new(p, format!("{SCHEMA}name"), Object::string("华为 手机")),
                Statement::new(p, format!("{SCHEMA}description"), Object::string("好")),
                Statement::new(p, format!("{SCHEMA}price"), Object::string("12")),
            ],
        )
        .unwrap();
        let entries = c.text_entries().unwrap();
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(
            (e.iri.as_str(), e.graph.as_str(), e.kind.as_str()),
            (p, g.as_str(), "product")
        );
        assert_eq!(e.names, vec![("华为 手机".to_string(), String::new())]);
        assert_eq!(e.texts, vec!["好".to_string()]);
    }
}
