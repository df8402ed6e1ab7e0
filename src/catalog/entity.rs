//! One entity as the graph explorer shows it: what it says (out-links and values) and what
//! points at it (in-links), from the graphs the caller may see.
//!
//! A page for an IRI must not tell a reader anything a SPARQL query could not: statements in
//! restricted graphs are skipped for non-admins, and an IRI that only occurs there reads as
//! unknown (not "forbidden", which would confirm it exists). Both directions are bounded —
//! a category has a hundred thousand products pointing at it — with the full counts reported.

use oxigraph::model::{GraphName, NamedNodeRef, NamedOrBlankNode, Term};

use super::{Catalog, CatalogError, Visibility};

/// One statement about (or towards) the entity.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Fact {
    pub predicate: String,
    /// The other end: an IRI, a blank node (`_:id`) or a literal's value.
    pub value: String,
    /// Whether `value` is an IRI the explorer can go to.
    pub iri: bool,
    /// A literal's language tag, else its datatype IRI (`""` for IRIs and blank nodes).
    pub lang: String,
    pub datatype: String,
    /// The named graph (`""`: the default graph).
    pub graph: String,
}

/// What the explorer shows of one IRI.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EntityFacts {
    pub iri: String,
    /// Statements with the entity as subject (at most the limit asked for).
    pub out: Vec<Fact>,
    pub out_total: usize,
    /// Statements with the entity as object; `value` is the subject.
    pub incoming: Vec<Fact>,
    pub in_total: usize,
}

fn graph_str(g: &GraphName) -> String {
    match g {
        GraphName::NamedNode(n) => n.as_str().to_owned(),
        GraphName::BlankNode(b) => format!("_:{}", b.as_str()),
        GraphName::DefaultGraph => String::new(),
    }
}

fn fact(predicate: &str, value: &Term, graph: &GraphName) -> Fact {
    let (value, iri, lang, datatype) = match value {
        Term::NamedNode(n) => (n.as_str().to_owned(), true, String::new(), String::new()),
        Term::BlankNode(b) => (
            format!("_:{}", b.as_str()),
            false,
            String::new(),
            String::new(),
        ),
        Term::Literal(l) => (
            l.value().to_owned(),
            false,
            l.language().unwrap_or("").to_owned(),
            if l.language().is_some() {
                String::new()
            } else {
                l.datatype().as_str().to_owned()
            },
        ),
        #[allow(unreachable_patterns)]
        other => (other.to_string(), false, String::new(), String::new()),
    };
    Fact {
        predicate: predicate.to_owned(),
        value,
        iri,
        lang,
        datatype,
        graph: graph_str(graph),
    }
}

impl Catalog {
    /// The statements from and to `iri` in the graphs the caller sees, at most `limit` each
    /// way; `None` when the IRI occurs in none of them. Blocking.
    pub fn entity_facts(
        &self,
        iri: &str,
        vis: &Visibility,
        limit: usize,
    ) -> Result<Option<EntityFacts>, CatalogError> {
        let node =
            NamedNodeRef::new(iri).map_err(|e| CatalogError::InvalidIri(format!("{iri}: {e}")))?;
        let hidden = self.hidden_graphs(vis)?;
        let visible = |g: &GraphName| match g {
            GraphName::NamedNode(n) => !hidden.contains(n),
            _ => true,
        };
        let mut facts = EntityFacts {
            iri: iri.to_owned(),
            ..EntityFacts::default()
        };
        for quad in self
            .store
            .quads_for_pattern(Some(node.into()), None, None, None)
        {
            let quad = quad?;
            if !visible(&quad.graph_name) {
                continue;
            }
            facts.out_total += 1;
            if facts.out.len() < limit {
                facts.out.push(fact(
                    quad.predicate.as_str(),
                    &quad.object,
                    &quad.graph_name,
                ));
            }
        }
        for quad in self
            .store
            .quads_for_pattern(None, None, Some(node.into()), None)
        {
            let quad = quad?;
            if !visible(&quad.graph_name) {
                continue;
            }
            facts.in_total += 1;
            if facts.incoming.len() < limit {
                let subject = match &quad.subject {
                    NamedOrBlankNode::NamedNode(n) => Term::NamedNode(n.clone()),
                    NamedOrBlankNode::BlankNode(b) => Term::BlankNode(b.clone()),
                };
                facts
                    .incoming
                    .push(fact(quad.predicate.as_str(), &subject, &quad.graph_name));
            }
        }
        // Also an IRI used only as a predicate or a graph name exists for the caller.
        let used_as_predicate = facts.out_total + facts.in_total == 0
            && self
                .store
                .quads_for_pattern(None, Some(node), None, None)
                .filter_map(Result::ok)
                .any(|q| visible(&q.graph_name));
        if facts.out_total + facts.in_total == 0 && !used_as_predicate {
            return Ok(None);
        }
        Ok(Some(facts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::vocab::SCHEMA;
    use crate::catalog::{GraphLayout, Object, Statement};

    #[test]
    fn facts_both_ways_without_restricted_graphs() {
        let c = Catalog::in_memory(GraphLayout::new("https://example.org/").unwrap()).unwrap();
        let (g, q) = (c.layout().products.clone(), c.layout().quarantine.clone());
        let p = "https://example.org/p/1";
        let b = "https://example.org/b/1";
        c.replace_subjects(
            &g,
            &[p.to_string()],
            &[
                Statement::new(p, format!("{SCHEMA}name"), Object::string("手机")),
                Statement::new(p, format!("{SCHEMA}brand"), Object::iri(b)),
            ],
        )
        .unwrap();
        let secret = "https://example.org/q/1";
        c.replace_subjects(
            &q,
            &[secret.to_string()],
            &[
                Statement::new(secret, format!("{SCHEMA}brand"), Object::iri(b)),
                Statement::new(secret, format!("{SCHEMA}name"), Object::string("秘密")),
            ],
        )
        .unwrap();
        let f = c.entity_facts(p, &Visibility::PUBLIC, 10).unwrap().unwrap();
        assert_eq!(f.out_total, 2);
        assert!(f.out.iter().any(|x| x.value == b && x.iri));
        let brand = c.entity_facts(b, &Visibility::PUBLIC, 10).unwrap().unwrap();
        assert_eq!(brand.in_total, 1, "the quarantined record stays hidden");
        assert_eq!(
            c.entity_facts(b, &Visibility::ADMIN, 10)
                .unwrap()
                .unwrap()
                .in_total,
            2
        );
        assert!(c
            .entity_facts(secret, &Visibility::PUBLIC, 10)
            .unwrap()
            .is_none());
        assert!(c
            .entity_facts(secret, &Visibility::ADMIN, 10)
            .unwrap()
            .is_some());
        let capped = c.entity_facts(b, &Visibility::ADMIN, 1).unwrap().unwrap();
        assert_eq!((capped.incoming.len(), capped.in_total), (1, 2));
        assert!(c
            .entity_facts("not an iri", &Visibility::PUBLIC, 10)
            .is_err());
    }
}
