//! The catalog side of link prediction: which triples to learn from, which entities a caller may
//! see, what class a relation's answers must have, and what to call them.
//!
//! Embeddings know ids, the catalog knows meaning. Training reads entity–entity triples of a graph
//! (literals are attributes, not links); serving hides entities that occur in restricted graphs
//! from non-admins, restricts candidates to the instances of a property's `rdfs:range` (with
//! subclasses) when asked, and labels answers — labels from restricted graphs only for admins,
//! since a label can itself be personal data.

use std::collections::{HashMap, HashSet};

use oxigraph::model::{GraphNameRef, NamedNode, NamedNodeRef, NamedOrBlankNode, Term};

use super::vocab::{RDF, RDFS, SCHEMA, SKOS};
use super::{Catalog, CatalogError, Visibility};

fn iri(s: &str) -> Result<NamedNode, CatalogError> {
    NamedNode::new(s).map_err(|e| CatalogError::InvalidIri(format!("{s}: {e}")))
}

impl Catalog {
    /// Triples of `graph` whose subject and object are both IRIs, leaving out the predicates in
    /// `exclude` (e.g. `rdf:type`, whose class nodes would become hubs).
    pub fn entity_triples(
        &self,
        graph: &NamedNode,
        exclude: &[String],
    ) -> Result<Vec<(String, String, String)>, CatalogError> {
        let mut out = Vec::new();
        for quad in self.store.quads_for_pattern(
            None,
            None,
            None,
            Some(GraphNameRef::NamedNode(graph.as_ref())),
        ) {
            let quad = quad?;
            let (NamedOrBlankNode::NamedNode(s), Term::NamedNode(o)) =
                (&quad.subject, &quad.object)
            else {
                continue;
            };
            if exclude.iter().any(|p| p == quad.predicate.as_str()) {
                continue;
            }
            out.push((
                s.as_str().to_owned(),
                quad.predicate.as_str().to_owned(),
                o.as_str().to_owned(),
            ));
        }
        Ok(out)
    }

    /// IRIs that occur (as subject or object) in a restricted graph `vis` does not read:
    /// invisible to its holder.
    pub fn restricted_entities(&self, vis: &Visibility) -> Result<HashSet<String>, CatalogError> {
        let mut out = HashSet::new();
        for g in self.hidden_entity_graphs(vis)?.iter() {
            for quad in self.store.quads_for_pattern(
                None,
                None,
                None,
                Some(GraphNameRef::NamedNode(g.as_ref())),
            ) {
                let quad = quad?;
                if let NamedOrBlankNode::NamedNode(s) = &quad.subject {
                    out.insert(s.as_str().to_owned());
                }
                if let Term::NamedNode(o) = &quad.object {
                    out.insert(o.as_str().to_owned());
                }
            }
        }
        Ok(out)
    }

    /// The declared `rdfs:range` of `property` and every instance of it or of its subclasses
    /// (`rdf:type` in any graph). `None` when the catalog declares no range.
    pub fn range_members(
        &self,
        property: &str,
    ) -> Result<Option<(String, HashSet<String>)>, CatalogError> {
        let Ok(p) = NamedNode::new(property) else {
            return Ok(None);
        };
        let range = iri(&format!("{RDFS}range"))?;
        let Some(class) = self
            .store
            .quads_for_pattern(Some(p.as_ref().into()), Some(range.as_ref()), None, None)
            .filter_map(|q| q.ok())
            .find_map(|q| match q.object {
                Term::NamedNode(c) => Some(c),
                _ => None,
            })
        else {
            return Ok(None);
        };
        // The class and its subclasses, transitively.
        let sub = iri(&format!("{RDFS}subClassOf"))?;
        let mut classes = vec![class.clone()];
        let mut seen: HashSet<NamedNode> = classes.iter().cloned().collect();
        let mut i = 0;
        while i < classes.len() {
            let c = classes[i].clone();
            for q in self.store.quads_for_pattern(
                None,
                Some(sub.as_ref()),
                Some(c.as_ref().into()),
                None,
            ) {
                if let NamedOrBlankNode::NamedNode(s) = q?.subject {
                    if seen.insert(s.clone()) {
                        classes.push(s);
                    }
                }
            }
            i += 1;
        }
        let rdf_type = iri(&format!("{RDF}type"))?;
        let mut members = HashSet::new();
        for c in &classes {
            for q in self.store.quads_for_pattern(
                None,
                Some(rdf_type.as_ref()),
                Some(c.as_ref().into()),
                None,
            ) {
                if let NamedOrBlankNode::NamedNode(s) = q?.subject {
                    members.insert(s.as_str().to_owned());
                }
            }
        }
        Ok(Some((class.as_str().to_owned(), members)))
    }

    /// A display label per IRI (`rdfs:label`, `schema:name` or `skos:prefLabel`, Chinese or
    /// English first); labels from restricted graphs only where `vis` reads them.
    pub fn labels(
        &self,
        iris: &[&str],
        vis: &Visibility,
    ) -> Result<HashMap<String, String>, CatalogError> {
        let hidden = self.hidden_graphs(vis)?;
        let preds = [
            iri(&format!("{RDFS}label"))?,
            iri(&format!("{SCHEMA}name"))?,
            iri(&format!("{SKOS}prefLabel"))?,
        ];
        let mut out = HashMap::new();
        for s in iris {
            let Ok(subject) = NamedNodeRef::new(s) else {
                continue;
            };
            let mut best: Option<(u8, String)> = None;
            for p in &preds {
                for q in
                    self.store
                        .quads_for_pattern(Some(subject.into()), Some(p.as_ref()), None, None)
                {
                    let q = q?;
                    if let oxigraph::model::GraphName::NamedNode(g) = &q.graph_name {
                        if hidden.contains(g) {
                            continue;
                        }
                    }
                    if let Term::Literal(l) = &q.object {
                        if super::sealed::is_sealed(l) {
                            continue;
                        }
                        let rank = match l.language() {
                            Some(lang) if lang.starts_with("zh") => 0,
                            None => 1,
                            Some(lang) if lang.starts_with("en") => 2,
                            Some(_) => 3,
                        };
                        if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                            best = Some((rank, l.value().to_owned()));
                        }
                    }
                }
            }
            if let Some((_, label)) = best {
                out.insert((*s).to_owned(), label);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::GraphLayout;
    use oxigraph::model::{Literal, QuadRef};

    #[test]
    fn range_members_follow_subclasses_and_restricted_entities_are_found() {
        let c = Catalog::in_memory(GraphLayout::new("http://ex.org/").unwrap()).unwrap();
        let g = c.layout().products.clone();
        let n = |s: &str| NamedNode::new(format!("http://ex.org/{s}")).unwrap();
        let t = |s: &str| NamedNode::new(s).unwrap();
        let rdf_type = t(&format!("{RDF}type"));
        for (s, p, o) in [
            (n("bought"), t(&format!("{RDFS}range")), n("Product")),
            (n("Phone"), t(&format!("{RDFS}subClassOf")), n("Product")),
            (n("p1"), rdf_type.clone(), n("Phone")),
            (n("p2"), rdf_type.clone(), n("Product")),
            (n("u1"), n("bought"), n("p1")),
        ] {
            c.store.insert(QuadRef::new(&s, &p, &o, &g)).unwrap();
        }
        let label = t(&format!("{RDFS}label"));
        c.store
            .insert(QuadRef::new(&n("p1"), &label, &Literal::from("手机一"), &g))
            .unwrap();
        c.store
            .insert(QuadRef::new(
                &n("u1"),
                &label,
                &Literal::from("Zhang San"),
                &c.layout().quarantine,
            ))
            .unwrap();
        let (class, members) = c.range_members("http://ex.org/bought").unwrap().unwrap();
        assert_eq!(class, "http://ex.org/Product");
        assert_eq!(members.len(), 2);
        assert!(c.range_members("http://ex.org/nothing").unwrap().is_none());
        let triples = c.entity_triples(&g, &[format!("{RDF}type")]).unwrap();
        assert!(triples.contains(&(
            "http://ex.org/u1".into(),
            "http://ex.org/bought".into(),
            "http://ex.org/p1".into()
        )));
        assert!(triples.iter().all(|t| !t.1.ends_with("#type")));
        let hidden = c.restricted_entities(&Visibility::PUBLIC).unwrap();
        assert!(hidden.contains("http://ex.org/u1"));
        let labels = c
            .labels(
                &["http://ex.org/p1", "http://ex.org/u1"],
                &Visibility::PUBLIC,
            )
            .unwrap();
        assert_eq!(
            labels.get("http://ex.org/p1").map(String::as_str),
            Some("手机一")
        );
        assert!(
            !labels.contains_key("http://ex.org/u1"),
            "restricted label leaked"
        );
        assert!(c
            .labels(&["http://ex.org/u1"], &Visibility::ADMIN)
            .unwrap()
            .contains_key("http://ex.org/u1"));
    }
}
