//! SHACL validation of a graph against the shapes in `ontology/`: the SHACL Core subset our
//! shapes (and an ontology maintainer's next ones) need, evaluated as SPARQL over the store.
//!
//! Shapes are read from the ontology graph into memory (it is small); every constraint becomes
//! one SELECT over the data graph merged with the ontology graph (categories and brands are
//! typed there, so `sh:class skos:Concept` can hold), which finds the violating focus nodes
//! directly instead of walking every node in Rust. Supported: targets (`targetClass` with
//! subclasses, `targetNode`, `targetSubjectsOf`, `targetObjectsOf`), predicate, inverse,
//! sequence, alternative and `*`/`+`/`?` paths, and the components `minCount`, `maxCount`,
//! `datatype`, `class`, `nodeKind`, `min/maxInclusive`, `min/maxExclusive`, `min/maxLength`,
//! `pattern` (+ `flags`), `in`, `hasValue` and `node` (the nested shape is checked on the value
//! nodes, whose results it reports). Any other `sh:` constraint in a shape is listed in the
//! report as not checked rather than silently passing. (The Rust SHACL engine on crates.io,
//! rudof's `shacl_validation`, brings some 350 crates and its own RDF stack and cannot read our
//! store in place; this module is the part of it we need.)

mod plan;

use std::collections::HashMap;

use oxigraph::model::{
    Graph, GraphNameRef, Literal, NamedNodeRef, NamedOrBlankNode, Quad, QuadRef, Term, TermRef,
    Triple,
};
use oxigraph::sparql::{QueryResults, SparqlEvaluator};
use serde::Serialize;

use super::vocab::{st, RDF, SH};
use super::{Catalog, CatalogError};
use oxigraph::model::NamedNode;

use plan::{plan, Shapes};

/// Where a validation reads: the store as committed, or an open transaction (what an ontology
/// plan evaluates the new shapes and the migrated data on, before anything is committed).
#[derive(Clone, Copy)]
pub(crate) enum Reader<'a, 'b> {
    Store(&'a oxigraph::store::Store),
    Tx(&'a oxigraph::store::Transaction<'b>),
}

impl Reader<'_, '_> {
    /// Calls `f` on each solution of a SELECT as it streams (nothing for another form).
    pub(crate) fn each(
        &self,
        query: &str,
        mut f: impl FnMut(oxigraph::sparql::QuerySolution),
    ) -> Result<(), CatalogError> {
        let prepared = SparqlEvaluator::new()
            .parse_query(query)
            .map_err(|e| CatalogError::Syntax(e.to_string()))?;
        let results = match self {
            Reader::Store(s) => prepared.on_store(s).execute(),
            Reader::Tx(t) => prepared.on_transaction(t).execute(),
        }
        .map_err(|e| CatalogError::Evaluation(e.to_string()))?;
        if let QueryResults::Solutions(rows) = results {
            for row in rows {
                f(row.map_err(|e| CatalogError::Evaluation(e.to_string()))?);
            }
        }
        Ok(())
    }

    /// The triples of a named graph.
    pub(crate) fn graph(&self, name: &NamedNode) -> Result<Graph, CatalogError> {
        let mut g = Graph::new();
        let gn = Some(GraphNameRef::NamedNode(name.as_ref()));
        match self {
            Reader::Store(s) => {
                for q in s.quads_for_pattern(None, None, None, gn) {
                    g.insert(&q?.into());
                }
            }
            Reader::Tx(t) => {
                for q in t.quads_for_pattern(None, None, None, gn) {
                    g.insert(&q?.into());
                }
            }
        }
        Ok(g)
    }
}

/// Results kept per constraint (all are counted).
const SAMPLES_PER_CONSTRAINT: usize = 50;
/// Results written to the catalog per report (all are counted).
const MAX_STORED_RESULTS: usize = 200;
/// How deep `sh:node` references are followed (shapes may refer to each other in cycles).
const MAX_NESTING: usize = 4;

/// One violated constraint on one focus node.
#[derive(Debug, Clone, Serialize)]
pub struct ValidationResult {
    /// The focus node (an IRI, or a blank node / literal in N-Triples form).
    pub focus: String,
    /// The SPARQL form of the property path, when the constraint is on a property.
    pub path: Option<String>,
    /// The offending value, when there is one.
    pub value: Option<String>,
    /// The shape the constraint belongs to.
    pub shape: String,
    /// The SHACL constraint component, e.g. `sh:MinCountConstraintComponent`.
    pub component: String,
    /// `Violation`, `Warning` or `Info` (`sh:severity`, default Violation).
    pub severity: String,
    pub message: String,
    #[serde(skip)]
    focus_term: Option<Term>,
    #[serde(skip)]
    value_term: Option<Term>,
    /// Identity across two validations (shape, component, path, focus, value).
    #[serde(skip)]
    key: u64,
}

impl ValidationResult {
    /// The result's identity across two validations of the same data.
    pub fn key(&self) -> u64 {
        self.key
    }
}

/// The outcome of validating one graph.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ValidationReport {
    /// True when no result of any severity was found.
    pub conforms: bool,
    /// Results with severity Violation.
    pub violations: usize,
    /// Results of every severity.
    pub total: usize,
    /// Node shapes that were checked.
    pub shapes: usize,
    /// A sample of the results (at most 50 per constraint).
    pub results: Vec<ValidationResult>,
    /// Constraints present in the shapes that this validator does not check.
    pub unsupported: Vec<String>,
    /// When asked for ([`Catalog::validate_on`] with `keys`): one key per result, all of them
    /// (not only the samples), so two validations can be compared result by result.
    #[serde(skip)]
    pub keys: Option<Vec<u64>>,
}

/// A result's identity across two validations: shape, component, path, focus and value.
fn result_key(
    shape: &str,
    component: &str,
    path: &Option<String>,
    row: &oxigraph::sparql::QuerySolution,
) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (shape, component, path).hash(&mut h);
    row.get("focus").map(|t| t.to_string()).hash(&mut h);
    row.get("v").map(|t| t.to_string()).hash(&mut h);
    h.finish()
}

impl ValidationReport {
    /// The report node's own statements (`sh:ValidationReport`, counts, unchecked constraints).
    fn describe(&self, iri: &NamedNode, out: &mut Vec<Triple>) {
        let mut add = |p: NamedNode, o: Term| out.push(Triple::new(iri.clone(), p, o));
        add(rdf_type(), sh("ValidationReport").into());
        add(sh("conforms"), Literal::from(self.conforms).into());
        add(st("resultCount"), Literal::from(self.total as u64).into());
        add(
            st("violationCount"),
            Literal::from(self.violations as u64).into(),
        );
        for u in &self.unsupported {
            add(st("uncheckedConstraint"), Literal::from(u.as_str()).into());
        }
    }
}

impl ValidationResult {
    /// One `sh:ValidationResult` node's statements.
    fn describe(&self, res: &NamedNode, out: &mut Vec<Triple>) {
        let mut add = |p: NamedNode, o: Term| out.push(Triple::new(res.clone(), p, o));
        add(rdf_type(), sh("ValidationResult").into());
        if let Some(f) = &self.focus_term {
            add(sh("focusNode"), f.clone());
        }
        if let Some(v) = &self.value_term {
            add(sh("value"), v.clone());
        }
        if let Some(p) = &self.path {
            add(st("pathText"), Literal::from(p.as_str()).into());
        }
        let component = self.component.trim_start_matches("sh:");
        add(sh("sourceConstraintComponent"), sh(component).into());
        add(sh("resultSeverity"), sh(&self.severity).into());
        add(
            sh("resultMessage"),
            Literal::from(self.message.as_str()).into(),
        );
        if let Ok(shape) = NamedNode::new(self.shape.as_str()) {
            add(sh("sourceShape"), shape.into());
        }
    }
}

fn rdf_type() -> NamedNode {
    NamedNode::new_unchecked(format!("{RDF}type"))
}

fn sh(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{SH}{local}"))
}

fn show(t: TermRef<'_>) -> String {
    match t {
        TermRef::NamedNode(n) => n.as_str().to_owned(),
        other => other.to_string(),
    }
}

/// One constraint turned into a query.
struct Check {
    shape: String,
    path: Option<String>,
    component: &'static str,
    severity: String,
    message: String,
    query: String,
}

impl Catalog {
    /// Every IRI class `sh:class` names, with its subclasses over `from` (itself included).
    fn subclasses(
        on: Reader<'_, '_>,
        shapes: &Graph,
        from: &str,
    ) -> Result<HashMap<Term, Vec<Term>>, CatalogError> {
        let mut out = HashMap::new();
        for t in shapes.triples_for_predicate(sh("class").as_ref()) {
            let TermRef::NamedNode(c) = t.object else {
                continue;
            };
            let class = Term::from(c.into_owned());
            if out.contains_key(&class) {
                continue;
            }
            let query = format!(
                "SELECT DISTINCT ?t {from} WHERE {{ ?t <http://www.w3.org/2000/01/rdf-schema#subClassOf>* {class} }}"
            );
            let mut members = vec![class.clone()];
            on.each(&query, |row| {
                if let Some(t) = row.get("t") {
                    if !members.contains(t) {
                        members.push(t.clone());
                    }
                }
            })?;
            out.insert(class, members);
        }
        Ok(out)
    }

    /// Validates `data` (merged with the ontology graph) against the shapes in the ontology
    /// graph. Blocking; read-only.
    pub fn validate(&self, data: &NamedNode) -> Result<ValidationReport, CatalogError> {
        self.validate_on(Reader::Store(&self.store), data, false)
    }

    /// [`Catalog::validate`] on a reader: the store, or an uncommitted transaction.
    pub(crate) fn validate_on(
        &self,
        on: Reader<'_, '_>,
        data: &NamedNode,
        keys: bool,
    ) -> Result<ValidationReport, CatalogError> {
        let ontology = self.layout.ontology.clone();
        let g = on.graph(&ontology)?;
        let from = format!(
            "FROM <{d}> FROM <{o}> FROM NAMED <{d}>",
            d = data.as_str(),
            o = ontology.as_str()
        );
        let subclasses = Self::subclasses(on, &g, &from)?;
        let shapes = Shapes { g, subclasses };
        let mut report = ValidationReport {
            keys: keys.then(Vec::new),
            ..ValidationReport::default()
        };
        let mut checks = Vec::new();
        let node_shapes: Vec<NamedOrBlankNode> = {
            let mut v: Vec<NamedOrBlankNode> = shapes
                .g
                .subjects_for_predicate_object(
                    NamedNodeRef::new_unchecked(&format!("{RDF}type")),
                    sh("NodeShape").as_ref(),
                )
                .map(|s| s.into_owned())
                .collect();
            v.sort_by_key(|s| s.to_string());
            v
        };
        for shape in &node_shapes {
            if shapes.deactivated(shape) {
                continue;
            }
            if let Some(focus) = shapes.targets(shape, data.as_str()) {
                report.shapes += 1;
                plan(
                    &shapes,
                    shape,
                    &focus,
                    0,
                    &mut checks,
                    &mut report.unsupported,
                );
            }
        }
        report.unsupported.sort();
        report.unsupported.dedup();
        for check in checks {
            let query = format!(
                "SELECT DISTINCT ?focus ?v {from} WHERE {{ {} }}",
                check.query
            );
            let mut n = 0usize;
            on.each(&query, |row| {
                n += 1;
                let key = result_key(&check.shape, check.component, &check.path, &row);
                if let Some(keys) = report.keys.as_mut() {
                    keys.push(key);
                }
                if n > SAMPLES_PER_CONSTRAINT {
                    return;
                }
                let focus_term = row.get("focus").cloned();
                let value_term = row.get("v").cloned();
                let focus = focus_term
                    .as_ref()
                    .map(|t| show(t.as_ref()))
                    .unwrap_or_default();
                let value = value_term.as_ref().map(|t| show(t.as_ref()));
                let message = match &value {
                    Some(v) => check.message.replace("{value}", v),
                    None => check.message.replace("{value}", "(none)"),
                };
                report.results.push(ValidationResult {
                    focus,
                    path: check.path.clone(),
                    value,
                    shape: check.shape.clone(),
                    component: format!("sh:{}", check.component),
                    severity: check.severity.clone(),
                    message,
                    focus_term,
                    value_term,
                    key,
                });
            })
            .map_err(|e| match e {
                CatalogError::Syntax(m) => {
                    CatalogError::Syntax(format!("shape {}: {m}", check.shape))
                }
                other => other,
            })?;
            report.total += n;
            if check.severity == "Violation" {
                report.violations += n;
            }
        }
        report.conforms = report.total == 0;
        Ok(report)
    }
}

impl Catalog {
    /// Writes `report` into the catalog graph as a W3C `sh:ValidationReport` at `iri` (at most
    /// `MAX_STORED_RESULTS` `sh:result` nodes, `st:resultCount` says how many there were),
    /// linked from `about` by `st:validation`. An earlier report at `iri` is replaced whole, in
    /// one transaction.
    pub fn record_validation(
        &self,
        about: &str,
        iri: &str,
        report: &ValidationReport,
    ) -> Result<(), CatalogError> {
        let node =
            |s: &str| NamedNode::new(s).map_err(|e| CatalogError::InvalidIri(format!("{s}: {e}")));
        let (about, iri) = (node(about)?, node(iri)?);
        let mut triples = vec![Triple::new(about.clone(), st("validation"), iri.clone())];
        report.describe(&iri, &mut triples);
        for (i, r) in report.results.iter().take(MAX_STORED_RESULTS).enumerate() {
            let res = node(&format!("{}/result/{i}", iri.as_str()))?;
            triples.push(Triple::new(iri.clone(), sh("result"), res.clone()));
            r.describe(&res, &mut triples);
        }
        self.replace_report(&about, &iri, &triples)
    }

    /// Replaces the report at `iri` (its results included) and `about`'s link to it by
    /// `triples`, in one transaction.
    fn replace_report(
        &self,
        about: &NamedNode,
        iri: &NamedNode,
        triples: &[Triple],
    ) -> Result<(), CatalogError> {
        let g = self.layout.catalog.clone();
        let gn = GraphNameRef::NamedNode(g.as_ref());
        let mut tx = self.store.start_transaction()?;
        let mut old: Vec<NamedNode> = vec![iri.clone()];
        for q in tx.quads_for_pattern(
            Some(iri.as_ref().into()),
            Some(sh("result").as_ref()),
            None,
            Some(gn),
        ) {
            if let Term::NamedNode(n) = q?.object {
                old.push(n);
            }
        }
        for s in &old {
            let stale: Vec<Quad> = tx
                .quads_for_pattern(Some(s.as_ref().into()), None, None, Some(gn))
                .collect::<Result<_, _>>()?;
            for q in &stale {
                tx.remove(q.as_ref());
            }
        }
        tx.remove(QuadRef::new(about, &st("validation"), iri, gn));
        for t in triples {
            tx.insert(t.as_ref().in_graph(gn));
        }
        tx.commit()?;
        self.touched();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::GraphLayout;
    use oxigraph::io::{RdfFormat, RdfParser};

    const SHAPES: &str = r#"
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix ex: <https://example.org/> .
ex:S a sh:NodeShape ; sh:targetClass ex:Product ;
  sh:property [ sh:path ex:name ; sh:minCount 1 ; sh:maxCount 1 ; sh:minLength 2 ; sh:datatype xsd:string ] ;
  sh:property [ sh:path ex:price ; sh:datatype xsd:decimal ; sh:minInclusive 0 ] ;
  sh:property [ sh:path ex:brand ; sh:class ex:Brand ; sh:nodeKind sh:IRI ] ;
  sh:property [ sh:path ex:code ; sh:pattern "^[A-Z]{3}$" ; sh:in ( "ABC" "XYZ" ) ] ;
  sh:property [ sh:path [ sh:inversePath ex:owns ] ; sh:maxCount 1 ] ;
  sh:property [ sh:path ex:offer ; sh:node ex:OfferShape ] ;
  sh:property [ sh:path ex:note ; sh:severity sh:Warning ; sh:maxLength 3 ] ;
  sh:property [ sh:path ex:secret ; sh:maxCount 0 ] ;
  sh:property [ sh:path ex:x ; sh:qualifiedValueShape ex:OfferShape ; sh:qualifiedMinCount 1 ] .
ex:OfferShape a sh:NodeShape ;
  sh:property [ sh:path ( ex:amount ex:value ) ; sh:minCount 1 ; sh:message "an offer needs an amount" ] .
ex:Off a sh:NodeShape ; sh:deactivated true ; sh:targetClass ex:Product ;
  sh:property [ sh:path ex:name ; sh:maxCount 0 ] .
ex:Sub rdfs:subClassOf ex:Product .
ex:SubBrand rdfs:subClassOf ex:Brand .
ex:Apple a ex:Brand .
ex:InTheOntology a ex:Product .
"#;

    const DATA: &str = r#"
@prefix ex: <https://example.org/> .
ex:good a ex:Product ; ex:name "Phone" ; ex:price 3.5 ; ex:brand ex:Apple ; ex:code "ABC" ;
  ex:offer ex:o1 ; ex:note "ok" ; ex:brand ex:Beats .
ex:Beats a ex:SubBrand .
ex:o1 ex:amount [ ex:value 1 ] .
ex:bad a ex:Sub ; ex:name "P", "Q" ; ex:price "cheap" ; ex:brand ex:Nobody, "Apple" ;
  ex:code "abc" ; ex:offer ex:o2 ; ex:note "too long" ; ex:secret "s" .
ex:o2 ex:amount 3 .
ex:p1 ex:owns ex:bad . ex:p2 ex:owns ex:bad .
ex:nameless a ex:Product .
"#;

    fn load(c: &Catalog, g: &NamedNode, ttl: &str) {
        let parser = RdfParser::from_format(RdfFormat::Turtle).with_default_graph(g.clone());
        c.store.load_from_slice(parser, ttl.as_bytes()).unwrap();
    }

    #[test]
    fn each_component_finds_exactly_its_violations() {
        let c = Catalog::in_memory(GraphLayout::new("https://example.org/st/").unwrap()).unwrap();
        let (ont, data) = (c.layout.ontology.clone(), c.layout.products.clone());
        load(&c, &ont, SHAPES);
        load(&c, &data, DATA);
        let r = c.validate(&data).unwrap();
        let found = |focus: &str, component: &str| {
            r.results
                .iter()
                .filter(|x| x.focus == format!("https://example.org/{focus}"))
                .filter(|x| x.component == format!("sh:{component}ConstraintComponent"))
                .count()
        };
        assert!(!r.conforms);
        assert_eq!(
            r.shapes, 1,
            "ex:S only: the offer shape has no target, ex:Off is deactivated"
        );
        assert!(
            r.results
                .iter()
                .all(|x| !x.focus.ends_with("/good") && !x.focus.ends_with("/o1")),
            "{:#?}",
            r.results
        );
        assert_eq!(
            found("bad", "MaxCount"),
            3,
            "two names, two owners (inverse path), a secret (sh:maxCount 0)"
        );
        assert_eq!(found("bad", "MinLength"), 2, "\"P\" and \"Q\"");
        assert_eq!(found("bad", "Datatype"), 1);
        assert_eq!(found("bad", "MinInclusive"), 1, "a string is not >= 0");
        assert_eq!(
            found("bad", "Class"),
            2,
            "ex:Nobody is untyped, a literal is no brand"
        );
        assert_eq!(found("bad", "NodeKind"), 1);
        assert_eq!(found("bad", "Pattern"), 1);
        assert_eq!(found("bad", "In"), 1);
        assert_eq!(found("nameless", "MinCount"), 1);
        assert_eq!(
            found("o2", "MinCount"),
            1,
            "nested shape through sh:node, sequence path"
        );
        let offer = r.results.iter().find(|x| x.focus.ends_with("/o2")).unwrap();
        assert_eq!(offer.message, "an offer needs an amount");
        let warning = r
            .results
            .iter()
            .find(|x| x.component == "sh:MaxLengthConstraintComponent")
            .unwrap();
        assert_eq!(
            (warning.severity.as_str(), warning.value.as_deref()),
            ("Warning", Some("\"too long\""))
        );
        assert_eq!(r.total, 15);
        assert_eq!(r.violations, 14);
        assert!(
            r.unsupported
                .iter()
                .any(|u| u.contains("sh:qualifiedValueShape")),
            "{:?}",
            r.unsupported
        );

        // Recorded in the catalog; a later, smaller report replaces it whole.
        let run = "https://example.org/st/run/1";
        let at = format!("{run}/shacl");
        c.record_validation(run, &at, &r).unwrap();
        let count = |q: &str| c.select(q).unwrap().len();
        let results = format!("SELECT ?r WHERE {{ GRAPH ?g {{ <{at}> <{SH}result> ?r }} }}");
        assert_eq!(count(&results), 15);
        c.store
            .remove(QuadRef::new(
                NamedNodeRef::new_unchecked("https://example.org/bad"),
                NamedNodeRef::new_unchecked("https://example.org/note"),
                &Literal::from("too long"),
                GraphNameRef::NamedNode(data.as_ref()),
            ))
            .unwrap();
        let r2 = c.validate(&data).unwrap();
        assert_eq!(r2.total, 14);
        c.record_validation(run, &at, &r2).unwrap();
        assert_eq!(count(&results), 14);
        assert_eq!(
            count(&format!(
                "SELECT ?p WHERE {{ GRAPH ?g {{ <{at}/result/14> ?p ?o }} }}"
            )),
            0
        );
        assert_eq!(
            count(&format!(
                "SELECT ?v WHERE {{ GRAPH ?g {{ <{run}> ?p ?v }} }}"
            )),
            1
        );
    }

    #[test]
    fn a_conforming_graph_conforms() {
        let c = Catalog::in_memory(GraphLayout::new("https://example.org/st/").unwrap()).unwrap();
        let (ont, data) = (c.layout.ontology.clone(), c.layout.products.clone());
        load(&c, &ont, SHAPES);
        load(&c, &data, "<https://example.org/p> a <https://example.org/Product> ; <https://example.org/name> \"Tea\" .");
        let r = c.validate(&data).unwrap();
        assert!(r.conforms, "{:#?}", r.results);
        assert_eq!((r.total, r.violations), (0, 0));
    }
}
