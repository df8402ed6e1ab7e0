//! The shapes' checks: SHACL Core read strictly (what the ingest's validator will evaluate —
//! see `catalog::shacl` — must mean what its author thinks), and the classes and properties
//! the shapes name must be the ontology's.

use std::collections::{BTreeMap, HashMap, HashSet};

use oxigraph::model::{NamedNodeRef, NamedOrBlankNodeRef, TermRef};

use super::index::{iri_of, Index, RDF_TYPE, SH};
use super::{short, Findings};

const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";

/// The SHACL Core terms a shape may carry (SHACL §2–§4), less the path and list vocabulary.
const CORE: &[&str] = &[
    "targetClass",
    "targetNode",
    "targetObjectsOf",
    "targetSubjectsOf",
    "property",
    "path",
    "class",
    "datatype",
    "nodeKind",
    "minCount",
    "maxCount",
    "minExclusive",
    "minInclusive",
    "maxExclusive",
    "maxInclusive",
    "minLength",
    "maxLength",
    "pattern",
    "flags",
    "languageIn",
    "uniqueLang",
    "equals",
    "disjoint",
    "lessThan",
    "lessThanOrEquals",
    "not",
    "and",
    "or",
    "xone",
    "node",
    "qualifiedValueShape",
    "qualifiedMinCount",
    "qualifiedMaxCount",
    "qualifiedValueShapesDisjoint",
    "closed",
    "ignoredProperties",
    "hasValue",
    "in",
    "severity",
    "message",
    "deactivated",
    "name",
    "description",
    "order",
    "group",
    "defaultValue",
];
/// SHACL-SPARQL and SHACL-AF terms: valid SHACL, but not Core, which is what is evaluated.
const NOT_CORE: &[&str] = &[
    "sparql", "select", "ask", "prefixes", "declare", "rule", "target",
];
const NODE_KINDS: &[&str] = &[
    "IRI",
    "BlankNode",
    "Literal",
    "BlankNodeOrIRI",
    "BlankNodeOrLiteral",
    "IRIOrLiteral",
];

fn sh(local: &str) -> String {
    format!("{SH}{local}")
}

/// A shape's node as text: its IRI, or `_:b` for a blank node.
fn label(s: NamedOrBlankNodeRef<'_>) -> String {
    match s {
        NamedOrBlankNodeRef::NamedNode(n) => n.as_str().to_owned(),
        other => other.to_string(),
    }
}

/// Checks the shapes; returns how many there are.
pub(super) fn check(ix: &Index<'_>, f: &mut Findings<'_>) -> usize {
    let g = ix.graph;
    let node = |s: &str| NamedNodeRef::new_unchecked(s).into_owned();
    // The shapes: typed, the values of sh:property / sh:node, subjects with a target.
    let mut shapes: HashMap<NamedOrBlankNodeRef<'_>, Option<NamedOrBlankNodeRef<'_>>> =
        HashMap::new();
    for t in [sh("NodeShape"), sh("PropertyShape")] {
        let t = node(&t);
        for s in g.subjects_for_predicate_object(NamedNodeRef::new_unchecked(RDF_TYPE), &t) {
            shapes.entry(s).or_insert(None);
        }
    }
    for p in [
        "targetClass",
        "targetNode",
        "targetObjectsOf",
        "targetSubjectsOf",
    ] {
        for t in g.triples_for_predicate(&node(&sh(p))) {
            shapes.entry(t.subject).or_insert(None);
        }
    }
    let mut property_shapes = HashSet::new();
    for p in ["property", "node"] {
        for t in g.triples_for_predicate(&node(&sh(p))) {
            let value = match t.object {
                TermRef::NamedNode(n) => NamedOrBlankNodeRef::NamedNode(n),
                TermRef::BlankNode(b) => NamedOrBlankNodeRef::BlankNode(b),
                _ => {
                    f.add(
                        "shacl_invalid",
                        vec![label(t.subject)],
                        format!("sh:{p} of {} is a literal, not a shape", label(t.subject)),
                    );
                    continue;
                }
            };
            if p == "property" {
                property_shapes.insert(value);
                shapes.insert(value, Some(t.subject));
            } else if !shapes.contains_key(&value) && g.triples_for_subject(value).next().is_none()
            {
                f.add(
                    "shacl_invalid",
                    vec![label(t.subject), label(value)],
                    format!(
                        "sh:node of {} names {}, which is no shape",
                        short(&label(t.subject)),
                        label(value)
                    ),
                );
            }
        }
    }
    let typed_property = node(&sh("PropertyShape"));
    for (&shape, &parent) in &shapes {
        // Where the finding is located: a blank property shape at its node shape.
        let at = label(parent.unwrap_or(shape));
        let name = match parent {
            Some(p) => format!("a property shape of {}", short(&label(p))),
            None => format!("shape {}", short(&label(shape))),
        };
        let is_property = property_shapes.contains(&shape)
            || g.contains(oxigraph::model::TripleRef::new(
                shape,
                NamedNodeRef::new_unchecked(RDF_TYPE),
                &typed_property,
            ));
        let paths: Vec<TermRef<'_>> = g
            .objects_for_subject_predicate(shape, &node(&sh("path")))
            .collect();
        if is_property && paths.len() != 1 {
            f.add(
                "shacl_invalid",
                vec![at.clone()],
                format!(
                    "{name} has {} sh:path values (a property shape has exactly one)",
                    paths.len()
                ),
            );
        }
        if !is_property && !paths.is_empty() {
            f.add(
                "shacl_invalid",
                vec![at.clone()],
                format!("{name} is a node shape but has sh:path (make it a value of sh:property)"),
            );
        }
        let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
        for t in g.triples_for_subject(shape) {
            let p = t.predicate.as_str();
            let Some(local) = p.strip_prefix(SH) else {
                continue;
            };
            if NOT_CORE.contains(&local) {
                f.add(
                    "shacl_invalid",
                    vec![at.clone()],
                    format!(
                        "{name} uses sh:{local}, which is SHACL-SPARQL/Advanced, not SHACL Core"
                    ),
                );
                continue;
            }
            if !CORE.contains(&local) {
                f.add(
                    "shacl_invalid",
                    vec![at.clone()],
                    format!("{name} uses sh:{local}, which is not a SHACL term"),
                );
                continue;
            }
            let o = t.object;
            match local {
                "minCount" | "maxCount" | "minLength" | "maxLength" | "qualifiedMinCount"
                | "qualifiedMaxCount" => match o {
                    TermRef::Literal(l) if l.value().parse::<i64>().is_ok_and(|n| n >= 0) => {
                        counts.insert(local, l.value().parse().unwrap_or(0));
                    }
                    _ => f.add(
                        "shacl_invalid",
                        vec![at.clone()],
                        format!("{name}: sh:{local} {o} is not a non-negative integer"),
                    ),
                },
                "datatype" | "class" | "targetClass" | "targetSubjectsOf" | "targetObjectsOf" => {
                    match iri_of(o) {
                        None => f.add(
                            "shacl_invalid",
                            vec![at.clone()],
                            format!("{name}: sh:{local} {o} is not an IRI"),
                        ),
                        Some(c) if local != "datatype" && ix.undeclared(c) => f.add(
                            "shacl_unknown_term",
                            vec![at.clone(), c.to_owned()],
                            format!(
                                "{name}: sh:{local} {} is not declared in the ontology",
                                short(c)
                            ),
                        ),
                        _ => {}
                    }
                }
                "nodeKind" => {
                    let ok = iri_of(o)
                        .and_then(|i| i.strip_prefix(SH))
                        .is_some_and(|k| NODE_KINDS.contains(&k));
                    if !ok {
                        f.add(
                            "shacl_invalid",
                            vec![at.clone()],
                            format!("{name}: sh:nodeKind {o} is not one of sh:IRI, sh:Literal, sh:BlankNode, …"),
                        );
                    }
                }
                "severity" => {
                    let ok = iri_of(o)
                        .and_then(|i| i.strip_prefix(SH))
                        .is_some_and(|k| ["Violation", "Warning", "Info"].contains(&k));
                    if !ok {
                        f.add(
                            "shacl_invalid",
                            vec![at.clone()],
                            format!("{name}: sh:severity {o} is not sh:Violation, sh:Warning or sh:Info"),
                        );
                    }
                }
                "pattern" => {
                    let flags = g
                        .object_for_subject_predicate(shape, &node(&sh("flags")))
                        .and_then(|f| match f {
                            TermRef::Literal(l) => Some(l.value().to_owned()),
                            _ => None,
                        })
                        .unwrap_or_default();
                    let ok = match o {
                        TermRef::Literal(l) => {
                            // XPath flags; `q` (quote everything) has no Rust form.
                            let flags = flags.replace('q', "");
                            let re = if flags.is_empty() {
                                l.value().to_owned()
                            } else {
                                format!("(?{flags}){}", l.value())
                            };
                            regex::Regex::new(&re).map_err(|e| e.to_string())
                        }
                        _ => Err("not a string".into()),
                    };
                    if let Err(e) = ok {
                        f.add(
                            "shacl_invalid",
                            vec![at.clone()],
                            format!(
                                "{name}: sh:pattern {o} is not a regular expression: {}",
                                e.lines().last().unwrap_or(&e)
                            ),
                        );
                    }
                }
                "in" | "languageIn" | "and" | "or" | "xone" | "ignoredProperties" => {
                    if let Err(why) = list_ok(ix, o) {
                        f.add(
                            "shacl_invalid",
                            vec![at.clone()],
                            format!("{name}: sh:{local} is not a well-formed RDF list ({why})"),
                        );
                    }
                }
                _ => {}
            }
        }
        for (lo, hi) in [("minCount", "maxCount"), ("minLength", "maxLength")] {
            if let (Some(a), Some(b)) = (counts.get(lo), counts.get(hi)) {
                if a > b {
                    f.add(
                        "shacl_invalid",
                        vec![at.clone()],
                        format!("{name}: sh:{lo} {a} is above sh:{hi} {b}; nothing can conform"),
                    );
                }
            }
        }
        for p in paths {
            for prop in path_predicates(ix, p) {
                if ix.undeclared(&prop) {
                    f.add(
                        "shacl_unknown_term",
                        vec![at.clone(), prop.clone()],
                        format!(
                            "{name}: sh:path {} is not declared in the ontology",
                            short(&prop)
                        ),
                    );
                }
            }
        }
    }
    shapes.len()
}

/// The predicates a SHACL path names (a predicate, or those inside inverse, sequence,
/// alternative and repetition paths).
fn path_predicates(ix: &Index<'_>, path: TermRef<'_>) -> Vec<String> {
    let g = ix.graph;
    let mut out = Vec::new();
    let mut todo = vec![path.into_owned()];
    let mut steps = 0;
    while let Some(t) = todo.pop() {
        steps += 1;
        if steps > 1000 {
            break;
        }
        let s = match &t {
            oxigraph::model::Term::NamedNode(n) => {
                if n.as_str() != format!("{RDF}nil") {
                    out.push(n.as_str().to_owned());
                }
                continue;
            }
            oxigraph::model::Term::BlankNode(b) => NamedOrBlankNodeRef::BlankNode(b.as_ref()),
            _ => continue,
        };
        for tr in g.triples_for_subject(s) {
            let p = tr.predicate.as_str();
            if p == format!("{RDF}first")
                || p == format!("{RDF}rest")
                || p.strip_prefix(SH).is_some_and(|l| l.ends_with("Path"))
            {
                todo.push(tr.object.into_owned());
            }
        }
    }
    out
}

/// Whether a term heads a well-formed RDF list: each cell one `rdf:first`, one `rdf:rest`,
/// ending in `rdf:nil`, without a loop.
fn list_ok(ix: &Index<'_>, head: TermRef<'_>) -> Result<(), String> {
    let g = ix.graph;
    let first = NamedNodeRef::new_unchecked("http://www.w3.org/1999/02/22-rdf-syntax-ns#first");
    let rest = NamedNodeRef::new_unchecked("http://www.w3.org/1999/02/22-rdf-syntax-ns#rest");
    let mut cell = head;
    let mut seen = HashSet::new();
    loop {
        let s = match cell {
            TermRef::NamedNode(n) if n.as_str() == format!("{RDF}nil") => return Ok(()),
            TermRef::NamedNode(n) => NamedOrBlankNodeRef::NamedNode(n),
            TermRef::BlankNode(b) => NamedOrBlankNodeRef::BlankNode(b),
            _ => return Err(format!("{cell} is a literal")),
        };
        if !seen.insert(s) {
            return Err("it loops".into());
        }
        let firsts = g.objects_for_subject_predicate(s, first).count();
        let rests: Vec<TermRef<'_>> = g.objects_for_subject_predicate(s, rest).collect();
        if firsts != 1 || rests.len() != 1 {
            return Err(format!(
                "a cell has {firsts} rdf:first and {} rdf:rest",
                rests.len()
            ));
        }
        cell = rests[0];
    }
}
