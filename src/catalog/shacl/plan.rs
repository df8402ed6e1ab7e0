//! Shapes into queries: the shapes graph read into memory, and each constraint of a shape
//! turned into one SPARQL pattern that matches exactly the focus nodes (and values) violating
//! it. Paths become SPARQL property paths; `sh:node` nests the referenced shape's checks on the
//! value nodes; anything not understood is listed, never skipped silently.

use std::collections::HashMap;

use oxigraph::model::{Graph, NamedNode, NamedOrBlankNode, Term, TermRef};

use super::{sh, show, Check, MAX_NESTING};
use crate::catalog::vocab::{RDF, SH};

/// Predicates of a shape that are not constraints (or are parameters of one we handle).
const NON_CONSTRAINTS: &[&str] = &[
    "path",
    "name",
    "description",
    "message",
    "severity",
    "order",
    "group",
    "deactivated",
    "flags",
    "property",
    "targetClass",
    "targetNode",
    "targetSubjectsOf",
    "targetObjectsOf",
    "defaultValue",
];

/// The shapes graph in memory, with the helpers that read it.
pub(super) struct Shapes {
    pub(super) g: Graph,
    /// Each class `sh:class` names with its subclasses, itself included, over the data and
    /// ontology graphs: worked out once per validation, so a check matches `rdf:type` against
    /// a short list instead of walking `rdfs:subClassOf*` for every value.
    pub(super) subclasses: HashMap<Term, Vec<Term>>,
}

impl Shapes {
    pub(super) fn objects(&self, s: &NamedOrBlankNode, p: &str) -> Vec<Term> {
        self.g
            .objects_for_subject_predicate(s, sh(p).as_ref())
            .map(|t| t.into_owned())
            .collect()
    }

    pub(super) fn object(&self, s: &NamedOrBlankNode, p: &str) -> Option<Term> {
        self.objects(s, p).into_iter().next()
    }

    pub(super) fn deactivated(&self, s: &NamedOrBlankNode) -> bool {
        self.object(s, "deactivated")
            .is_some_and(|t| matches!(t, Term::Literal(l) if l.value() == "true"))
    }

    pub(super) fn node(t: &Term) -> Option<NamedOrBlankNode> {
        match t {
            Term::NamedNode(n) => Some(n.clone().into()),
            Term::BlankNode(b) => Some(b.clone().into()),
            _ => None,
        }
    }

    /// The members of an RDF list.
    pub(super) fn list(&self, head: &Term) -> Option<Vec<Term>> {
        let first = NamedNode::new_unchecked(format!("{RDF}first"));
        let rest = NamedNode::new_unchecked(format!("{RDF}rest"));
        let nil = format!("{RDF}nil");
        let mut out = Vec::new();
        let mut cur = head.clone();
        while !matches!(&cur, Term::NamedNode(n) if n.as_str() == nil) {
            let node = Self::node(&cur)?;
            out.push(
                self.g
                    .object_for_subject_predicate(&node, &first)?
                    .into_owned(),
            );
            cur = self
                .g
                .object_for_subject_predicate(&node, &rest)?
                .into_owned();
            if out.len() > 10_000 {
                return None;
            }
        }
        Some(out)
    }

    /// A filter condition true when `?v` is not an instance of `class` or a subclass, when
    /// they were worked out. Constants, not `VALUES`: Oxigraph then looks each type up in its
    /// index instead of scanning every typed node and joining.
    fn not_instance(&self, class: &Term) -> Option<String> {
        let parts: Vec<String> = self
            .subclasses
            .get(class)?
            .iter()
            .map(|c| format!("NOT EXISTS {{ ?v <{RDF}type> {c} }}"))
            .collect();
        Some(parts.join(" && "))
    }

    /// A SHACL property path as a SPARQL property path.
    pub(super) fn path(&self, t: &Term) -> Option<String> {
        if let Term::NamedNode(n) = t {
            return Some(format!("<{}>", n.as_str()));
        }
        let node = Self::node(t)?;
        let one = |p: &str| self.object(&node, p).and_then(|x| self.path(&x));
        if let Some(p) = one("inversePath") {
            return Some(format!("^({p})"));
        }
        if let Some(l) = self.object(&node, "alternativePath") {
            let parts: Option<Vec<String>> = self.list(&l)?.iter().map(|x| self.path(x)).collect();
            return Some(format!("({})", parts?.join("|")));
        }
        for (p, op) in [
            ("zeroOrMorePath", "*"),
            ("oneOrMorePath", "+"),
            ("zeroOrOnePath", "?"),
        ] {
            if let Some(x) = one(p) {
                return Some(format!("({x}){op}"));
            }
        }
        let parts: Option<Vec<String>> = self.list(t)?.iter().map(|x| self.path(x)).collect();
        Some(format!("({})", parts?.join("/")))
    }

    /// The SPARQL group pattern binding `?focus` to the shape's targets, if it has any.
    /// Targets are looked for in the data graph only (the ontology's own nodes are context,
    /// not data); subclass links may come from either.
    pub(super) fn targets(&self, shape: &NamedOrBlankNode, data: &str) -> Option<String> {
        let mut parts = Vec::new();
        for c in self.objects(shape, "targetClass") {
            // The subclass path, not the worked-out list: with the path Oxigraph starts a
            // nested shape's check from the (often empty) values instead of the targets.
            parts.push(format!(
                "{{ GRAPH <{data}> {{ ?focus <{RDF}type> ?t0 }} \
                 ?t0 <http://www.w3.org/2000/01/rdf-schema#subClassOf>* {c} }}"
            ));
        }
        for n in self.objects(shape, "targetNode") {
            parts.push(format!("{{ VALUES ?focus {{ {n} }} }}"));
        }
        for p in self.objects(shape, "targetSubjectsOf") {
            parts.push(format!("{{ GRAPH <{data}> {{ ?focus {p} ?any }} }}"));
        }
        for p in self.objects(shape, "targetObjectsOf") {
            parts.push(format!("{{ GRAPH <{data}> {{ ?any {p} ?focus }} }}"));
        }
        (!parts.is_empty()).then(|| {
            format!(
                "{{ SELECT DISTINCT ?focus WHERE {{ {} }} }}",
                parts.join(" UNION ")
            )
        })
    }
}

/// Adds the checks of `shape` (and its property shapes) for the focus nodes `focus` binds.
pub(super) fn plan(
    shapes: &Shapes,
    shape: &NamedOrBlankNode,
    focus: &str,
    depth: usize,
    checks: &mut Vec<Check>,
    unsupported: &mut Vec<String>,
) {
    if shapes.deactivated(shape) {
        return;
    }
    let shape_name = show(TermRef::from(shape.as_ref()));
    constraints(
        shapes,
        shape,
        &shape_name,
        None,
        focus,
        depth,
        checks,
        unsupported,
    );
    for p in shapes.objects(shape, "property") {
        let Some(ps) = Shapes::node(&p) else { continue };
        if shapes.deactivated(&ps) {
            continue;
        }
        let Some(path) = shapes.object(&ps, "path").and_then(|t| shapes.path(&t)) else {
            unsupported.push(format!(
                "{shape_name}: a property shape without a usable sh:path"
            ));
            continue;
        };
        constraints(
            shapes,
            &ps,
            &shape_name,
            Some(path),
            focus,
            depth,
            checks,
            unsupported,
        );
    }
}

/// Every value of `path` in the dataset, whatever its subject (`None` for a node shape).
fn self_values(path: Option<&str>) -> Option<String> {
    path.map(|p| format!("?any {p} ?v ."))
}

/// What one constraint parameter of a shape turns into.
enum Planned {
    /// A check: its component, its default message, the pattern matching its violations.
    Check(&'static str, String, String),
    /// Nothing to check (`sh:minCount 0`).
    Nothing,
    /// The shape `sh:node` names, to be checked on the value nodes `focus` selects.
    Nested(NamedOrBlankNode, String),
    /// A parameter this validator does not understand, named for the report.
    Unsupported(String),
}

/// One shape's context while its parameters are planned: where values come from and how the
/// messages name them.
struct Shape<'a> {
    shapes: &'a Shapes,
    s: &'a NamedOrBlankNode,
    path: Option<&'a str>,
    focus: &'a str,
    /// The pattern binding `?v` to each value node of each focus node.
    values: String,
    /// How messages name the values: the path, or "the node".
    on: String,
}

/// The checks of one shape's own constraint parameters. `path` is None for a node shape (the
/// value node is the focus node itself).
#[allow(clippy::too_many_arguments)]
fn constraints(
    shapes: &Shapes,
    s: &NamedOrBlankNode,
    shape_name: &str,
    path: Option<String>,
    focus: &str,
    depth: usize,
    checks: &mut Vec<Check>,
    unsupported: &mut Vec<String>,
) {
    let severity = shapes
        .object(s, "severity")
        .and_then(|t| match t {
            Term::NamedNode(n) => n.as_str().strip_prefix(SH).map(str::to_owned),
            _ => None,
        })
        .unwrap_or_else(|| "Violation".into());
    let custom = shapes.object(s, "message").and_then(|t| match t {
        Term::Literal(l) => Some(l.value().to_owned()),
        _ => None,
    });
    let shape = Shape {
        shapes,
        s,
        path: path.as_deref(),
        focus,
        values: match &path {
            Some(p) => format!("{focus} ?focus {p} ?v ."),
            None => format!("{focus} BIND(?focus AS ?v)"),
        },
        on: path.as_deref().unwrap_or("the node").to_owned(),
    };
    let mut nested = Vec::new();
    for (pred, obj) in shapes
        .g
        .triples_for_subject(s)
        .map(|t| (t.predicate.as_str().to_owned(), t.object.into_owned()))
        .collect::<Vec<_>>()
    {
        let Some(local) = pred.strip_prefix(SH) else {
            continue;
        };
        if NON_CONSTRAINTS.contains(&local) {
            continue;
        }
        match shape.plan(local, &obj, depth) {
            Planned::Check(component, message, query) => checks.push(Check {
                shape: shape_name.to_owned(),
                path: path.clone(),
                component,
                severity: severity.clone(),
                message: custom.clone().unwrap_or(message),
                query,
            }),
            Planned::Nothing => {}
            Planned::Nested(inner_shape, inner_focus) => nested.push((inner_shape, inner_focus)),
            Planned::Unsupported(what) => unsupported.push(format!("{shape_name}: {what}")),
        }
    }
    for (shape, inner) in nested {
        plan(shapes, &shape, &inner, depth + 1, checks, unsupported);
    }
}

/// A literal's value as a count (`sh:minCount 2`), None when it is not one.
fn count(t: &Term) -> Option<u64> {
    match t {
        Term::Literal(l) => l.value().parse::<u64>().ok(),
        _ => None,
    }
}

impl Shape<'_> {
    /// The values that violate `cond`.
    fn filter(&self, cond: &str) -> String {
        format!("{} FILTER({cond})", self.values)
    }

    /// One constraint parameter `sh:{local} obj` of this shape.
    fn plan(&self, local: &str, obj: &Term, depth: usize) -> Planned {
        let (on, focus) = (&self.on, self.focus);
        match (local, self.path) {
            ("minCount", Some(p)) if count(obj).is_some() => Self::min_count(on, focus, p, obj),
            ("maxCount", Some(p)) if count(obj).is_some() => Self::max_count(on, focus, p, obj),
            ("datatype", _) => Planned::Check(
                "DatatypeConstraintComponent",
                format!("value {{value}} of {on} is not of datatype {obj}"),
                self.filter(&format!("!isLiteral(?v) || datatype(?v) != {obj}")),
            ),
            ("class", _) => self.class(obj),
            ("nodeKind", _) => self.node_kind(obj),
            ("minInclusive" | "maxInclusive" | "minExclusive" | "maxExclusive", _) => {
                let (op, component, says) = match local {
                    "minInclusive" => (">=", "MinInclusiveConstraintComponent", "at least"),
                    "maxInclusive" => ("<=", "MaxInclusiveConstraintComponent", "at most"),
                    "minExclusive" => (">", "MinExclusiveConstraintComponent", "more than"),
                    _ => ("<", "MaxExclusiveConstraintComponent", "less than"),
                };
                Planned::Check(
                    component,
                    format!("value {{value}} of {on} must be {says} {obj}"),
                    self.filter(&format!("!COALESCE(?v {op} {obj}, false)")),
                )
            }
            ("minLength" | "maxLength", _) if count(obj).is_some() => {
                let n = count(obj).unwrap_or(0);
                let (op, component, says) = if local == "minLength" {
                    ("<", "MinLengthConstraintComponent", "at least")
                } else {
                    (">", "MaxLengthConstraintComponent", "at most")
                };
                Planned::Check(
                    component,
                    format!("value {{value}} of {on} must be {says} {n} characters long"),
                    self.filter(&format!("isBlank(?v) || STRLEN(STR(?v)) {op} {n}")),
                )
            }
            ("pattern", _) => {
                let flags = self
                    .shapes
                    .object(self.s, "flags")
                    .map(|f| f.to_string())
                    .unwrap_or_else(|| "\"\"".into());
                Planned::Check(
                    "PatternConstraintComponent",
                    format!("value {{value}} of {on} does not match {obj}"),
                    self.filter(&format!("isBlank(?v) || !REGEX(STR(?v), {obj}, {flags})")),
                )
            }
            ("in", _) => {
                let Some(members) = self.shapes.list(obj) else {
                    return Planned::Unsupported("sh:in that is not a list".into());
                };
                let list: Vec<String> = members.iter().map(|m| m.to_string()).collect();
                Planned::Check(
                    "InConstraintComponent",
                    format!("value {{value}} of {on} is not one of {}", list.join(", ")),
                    self.filter(&format!("?v NOT IN ({})", list.join(", "))),
                )
            }
            ("hasValue", Some(p)) => Planned::Check(
                "HasValueConstraintComponent",
                format!("{on} must have the value {obj}"),
                format!("{focus} FILTER NOT EXISTS {{ ?focus {p} {obj} }}"),
            ),
            ("node", _) if depth < MAX_NESTING => {
                let Some(shape) = Shapes::node(obj) else {
                    return Planned::Nothing;
                };
                let inner = match self.path {
                    Some(p) => format!(
                        "{{ SELECT DISTINCT ?focus WHERE {{ {{ SELECT (?focus AS ?outer) WHERE {focus} }} \
                         ?outer {p} ?focus }} }}"
                    ),
                    None => focus.to_owned(),
                };
                Planned::Nested(shape, inner)
            }
            (other, _) => Planned::Unsupported(format!("sh:{other}")),
        }
    }

    // `sh:minCount 1` and `sh:maxCount 0` without grouping: one lookup per focus node instead
    // of a group per focus node (same results: one per violating focus node).
    fn min_count(on: &str, focus: &str, p: &str, obj: &Term) -> Planned {
        let n = count(obj).unwrap_or(0);
        let query = match n {
            0 => return Planned::Nothing,
            1 => format!("{focus} OPTIONAL {{ ?focus {p} ?x }} FILTER(!BOUND(?x))"),
            _ => format!(
                "{{ SELECT ?focus WHERE {{ {focus} OPTIONAL {{ ?focus {p} ?x }} }} \
                 GROUP BY ?focus HAVING (COUNT(DISTINCT ?x) < {n}) }}"
            ),
        };
        Planned::Check(
            "MinCountConstraintComponent",
            format!("{on} needs at least {n} value(s)"),
            query,
        )
    }

    fn max_count(on: &str, focus: &str, p: &str, obj: &Term) -> Planned {
        let n = count(obj).unwrap_or(0);
        let query = match n {
            0 => format!("{focus} FILTER EXISTS {{ ?focus {p} ?x }}"),
            _ => format!(
                "{{ SELECT ?focus WHERE {{ {focus} ?focus {p} ?x }} \
                 GROUP BY ?focus HAVING (COUNT(DISTINCT ?x) > {n}) }}"
            ),
        };
        Planned::Check(
            "MaxCountConstraintComponent",
            format!("{on} allows at most {n} value(s)"),
            query,
        )
    }

    fn class(&self, obj: &Term) -> Planned {
        let values = &self.values;
        let query = match (self_values(self.path), self.shapes.not_instance(obj)) {
            // Values repeat (thousands of products, a few hundred brands): find the distinct
            // values of the path that are not instances first, then the focus nodes that have
            // them (usually none).
            (Some(all_values), Some(cond)) => format!(
                "{{ SELECT DISTINCT ?v WHERE {{ {all_values} FILTER({cond}) }} }} {values}"
            ),
            (None, Some(cond)) => format!("{values} FILTER({cond})"),
            _ => format!(
                "{values} FILTER NOT EXISTS {{ ?v <{RDF}type>/<http://www.w3.org/2000/01/rdf-schema#subClassOf>* {obj} }}"
            ),
        };
        Planned::Check(
            "ClassConstraintComponent",
            format!("value {{value}} of {} is not an instance of {obj}", self.on),
            query,
        )
    }

    fn node_kind(&self, obj: &Term) -> Planned {
        let kind = match obj {
            Term::NamedNode(n) => n.as_str().strip_prefix(SH).unwrap_or(""),
            _ => "",
        };
        let cond = match kind {
            "IRI" => "!isIRI(?v)",
            "Literal" => "!isLiteral(?v)",
            "BlankNode" => "!isBlank(?v)",
            "BlankNodeOrIRI" => "isLiteral(?v)",
            "BlankNodeOrLiteral" => "isIRI(?v)",
            "IRIOrLiteral" => "isBlank(?v)",
            _ => return Planned::Unsupported(format!("sh:nodeKind {obj}")),
        };
        Planned::Check(
            "NodeKindConstraintComponent",
            format!("value {{value}} of {} is not a sh:{kind}", self.on),
            self.filter(cond),
        )
    }
}
