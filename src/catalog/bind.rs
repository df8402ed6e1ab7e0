//! Walks the query algebra: binds named-query parameters by rewriting it, and tells whether a
//! query can read named graphs at all.
//!
//! A parameter `?p` is replaced by its RDF term wherever it occurs in triple patterns, paths,
//! `GRAPH` names and expressions (`BOUND(?p)` becomes `true`). This works at any depth — inside
//! nested groups, `FILTER`s, `EXISTS`, subqueries — which initial bindings at the top of the
//! evaluation do not. The value never passes through query text, so it cannot change the query's
//! shape. Where the variable is also projected, the caller additionally binds it at the top so
//! the column still shows the value.

use oxigraph::model::{Term, Variable};
use spargebra::algebra::{AggregateExpression, Expression, GraphPattern, OrderExpression};
use spargebra::term::{NamedNodePattern, TermPattern, TriplePattern};
use spargebra::Query;

/// Replaces `var` by `term` throughout the query.
pub(super) fn substitute(query: &mut Query, var: &Variable, term: &Term) {
    let mut v = Substitute { var, term };
    let pattern = match query {
        Query::Select { pattern, .. }
        | Query::Ask { pattern, .. }
        | Query::Describe { pattern, .. } => pattern,
        Query::Construct {
            template, pattern, ..
        } => {
            for t in template.iter_mut() {
                triple(t, &mut v);
            }
            pattern
        }
    };
    graph_pattern(pattern, &mut v);
}

/// Keeps at most `n` solutions of a query (its top-level `LIMIT`, added or lowered).
pub(super) fn limit(query: &mut Query, n: usize) {
    let pattern = match query {
        Query::Select { pattern, .. }
        | Query::Ask { pattern, .. }
        | Query::Describe { pattern, .. }
        | Query::Construct { pattern, .. } => pattern,
    };
    match pattern {
        GraphPattern::Slice { length, .. } => *length = Some(length.map_or(n, |l| l.min(n))),
        other => {
            let inner = std::mem::replace(
                other,
                GraphPattern::Bgp {
                    patterns: Vec::new(),
                },
            );
            *other = GraphPattern::Slice {
                inner: Box::new(inner),
                start: 0,
                length: Some(n),
            };
        }
    }
}

/// Joins a `VALUES ?var { … }` block with the query's pattern, below its projection, order,
/// distinctness and slice (so `LIMIT` still counts solutions, not inputs).
pub(super) fn values(query: &mut Query, var: &Variable, terms: &[oxigraph::model::NamedNode]) {
    let mut pattern = match query {
        Query::Select { pattern, .. }
        | Query::Ask { pattern, .. }
        | Query::Describe { pattern, .. }
        | Query::Construct { pattern, .. } => pattern,
    };
    while let GraphPattern::Slice { inner, .. }
    | GraphPattern::Distinct { inner }
    | GraphPattern::Reduced { inner }
    | GraphPattern::Project { inner, .. }
    | GraphPattern::OrderBy { inner, .. } = pattern
    {
        pattern = inner;
    }
    // Down to the basic graph pattern that binds `var`, through `GRAPH` blocks, the left
    // (mandatory) side of OPTIONALs and joins, and FILTER/BIND: the same solutions, since that
    // pattern binds `var` in every solution anyway, but the evaluator then starts from the
    // listed terms. Joined on top instead, it evaluated every optional part for every subject
    // first (0.8 s instead of 20 ms for a page of the demo's labels).
    while descends(pattern, var) {
        pattern = match pattern {
            GraphPattern::Graph { inner, .. }
            | GraphPattern::Filter { inner, .. }
            | GraphPattern::Extend { inner, .. } => inner,
            GraphPattern::LeftJoin { left, .. } | GraphPattern::Join { left, .. } => left,
            _ => break,
        };
    }
    let rows = terms
        .iter()
        .map(|t| vec![Some(spargebra::term::GroundTerm::NamedNode(t.clone()))])
        .collect();
    let inner = std::mem::replace(
        pattern,
        GraphPattern::Bgp {
            patterns: Vec::new(),
        },
    );
    *pattern = GraphPattern::Join {
        left: Box::new(GraphPattern::Values {
            variables: vec![var.clone()],
            bindings: rows,
        }),
        right: Box::new(inner),
    };
}

/// Whether a `VALUES ?var` belongs inside `p`'s first child rather than on top of `p`: that
/// child certainly binds `var` (see [`values`]).
fn descends(p: &GraphPattern, var: &Variable) -> bool {
    match p {
        GraphPattern::Graph { name, inner } => {
            let names_it =
                matches!(name, spargebra::term::NamedNodePattern::Variable(v) if v == var);
            !names_it && binds(inner, var)
        }
        GraphPattern::LeftJoin { left, .. } | GraphPattern::Join { left, .. } => binds(left, var),
        GraphPattern::Filter { inner, .. } => binds(inner, var),
        GraphPattern::Extend {
            inner, variable, ..
        } => variable != var && binds(inner, var),
        _ => false,
    }
}

/// Whether `p` binds `var` in every solution through a triple pattern on its mandatory path.
fn binds(p: &GraphPattern, var: &Variable) -> bool {
    use spargebra::term::{NamedNodePattern, TermPattern};
    match p {
        GraphPattern::Bgp { patterns } => patterns.iter().any(|t| {
            matches!(&t.subject, TermPattern::Variable(v) if v == var)
                || matches!(&t.predicate, NamedNodePattern::Variable(v) if v == var)
                || matches!(&t.object, TermPattern::Variable(v) if v == var)
        }),
        GraphPattern::Graph { inner, .. }
        | GraphPattern::Filter { inner, .. }
        | GraphPattern::Extend { inner, .. } => binds(inner, var),
        GraphPattern::LeftJoin { left, .. } => binds(left, var),
        GraphPattern::Join { left, right } => binds(left, var) || binds(right, var),
        _ => false,
    }
}

/// Whether the top-level projection of a SELECT lists `var`.
pub(super) fn is_projected(query: &Query, var: &Variable) -> bool {
    fn find(p: &GraphPattern, var: &Variable) -> bool {
        match p {
            GraphPattern::Project { variables, .. } => variables.contains(var),
            GraphPattern::Distinct { inner }
            | GraphPattern::Reduced { inner }
            | GraphPattern::Slice { inner, .. } => find(inner, var),
            _ => false,
        }
    }
    match query {
        Query::Select { pattern, .. } => find(pattern, var),
        _ => false,
    }
}

/// Whether evaluating the query can read a named graph: it has a `GRAPH` pattern anywhere
/// (including inside `EXISTS` and subqueries). Without one, and with the default dataset, only the
/// store's default graph is read — which is never restricted.
///
/// The walk is the one substitution uses (on a copy: the query is a few hundred bytes), so the
/// two can never disagree about where patterns hide.
pub(super) fn reads_named_graphs(query: &Query) -> bool {
    let pattern = match query {
        Query::Select { pattern, .. }
        | Query::Ask { pattern, .. }
        | Query::Describe { pattern, .. }
        | Query::Construct { pattern, .. } => pattern,
    };
    let mut finder = FindGraphs(false);
    graph_pattern(&mut pattern.clone(), &mut finder);
    finder.0
}

/// What a walk over the algebra does at its leaves.
trait Visit {
    /// A subject or object position (triple patterns, paths).
    fn term(&mut self, _t: &mut TermPattern) {}
    /// A predicate, or the name of a `GRAPH` or `SERVICE` pattern (`graph` true).
    fn name(&mut self, _n: &mut NamedNodePattern, _graph: bool) {}
    /// An expression, before its operands are walked; `true` when it was replaced (its
    /// operands are then not walked).
    fn expr(&mut self, _e: &mut Expression) -> bool {
        false
    }
}

/// Binds one variable to one term.
struct Substitute<'a> {
    var: &'a Variable,
    term: &'a Term,
}

impl Visit for Substitute<'_> {
    fn term(&mut self, t: &mut TermPattern) {
        if matches!(t, TermPattern::Variable(v) if v == self.var) {
            *t = match self.term {
                Term::NamedNode(n) => TermPattern::NamedNode(n.clone()),
                Term::BlankNode(b) => TermPattern::BlankNode(b.clone()),
                Term::Literal(l) => TermPattern::Literal(l.clone()),
            };
        }
    }

    fn name(&mut self, n: &mut NamedNodePattern, _graph: bool) {
        if let (NamedNodePattern::Variable(v), Term::NamedNode(iri)) = (&*n, self.term) {
            if v == self.var {
                *n = NamedNodePattern::NamedNode(iri.clone());
            }
        }
    }

    fn expr(&mut self, e: &mut Expression) -> bool {
        match e {
            Expression::Variable(v) if v == self.var => {
                match self.term {
                    Term::NamedNode(n) => *e = Expression::NamedNode(n.clone()),
                    Term::Literal(l) => *e = Expression::Literal(l.clone()),
                    // A blank node cannot appear in an expression; leave the variable unbound.
                    Term::BlankNode(_) => {}
                }
                true
            }
            Expression::Bound(v) if v == self.var => {
                *e = Expression::Literal(oxigraph::model::Literal::from(true));
                true
            }
            _ => false,
        }
    }
}

/// Notes whether any `GRAPH` or `SERVICE` pattern is met.
struct FindGraphs(bool);

impl Visit for FindGraphs {
    fn name(&mut self, _n: &mut NamedNodePattern, graph: bool) {
        self.0 |= graph;
    }
}

fn triple(t: &mut TriplePattern, v: &mut impl Visit) {
    v.term(&mut t.subject);
    v.name(&mut t.predicate, false);
    v.term(&mut t.object);
}

fn graph_pattern(p: &mut GraphPattern, v: &mut impl Visit) {
    match p {
        GraphPattern::Bgp { patterns } => {
            for t in patterns {
                triple(t, v);
            }
        }
        GraphPattern::Path {
            subject, object, ..
        } => {
            v.term(subject);
            v.term(object);
        }
        GraphPattern::Join { left, right }
        | GraphPattern::Lateral { left, right }
        | GraphPattern::Union { left, right }
        | GraphPattern::Minus { left, right } => {
            graph_pattern(left, v);
            graph_pattern(right, v);
        }
        GraphPattern::LeftJoin {
            left,
            right,
            expression,
        } => {
            graph_pattern(left, v);
            graph_pattern(right, v);
            if let Some(e) = expression {
                expr(e, v);
            }
        }
        GraphPattern::Filter { expr: e, inner } => {
            expr(e, v);
            graph_pattern(inner, v);
        }
        GraphPattern::Graph { name, inner } | GraphPattern::Service { name, inner, .. } => {
            v.name(name, true);
            graph_pattern(inner, v);
        }
        GraphPattern::Extend {
            inner, expression, ..
        } => {
            graph_pattern(inner, v);
            expr(expression, v);
        }
        GraphPattern::Values { .. } => {}
        GraphPattern::OrderBy { inner, expression } => {
            graph_pattern(inner, v);
            for o in expression {
                match o {
                    OrderExpression::Asc(e) | OrderExpression::Desc(e) => expr(e, v),
                }
            }
        }
        GraphPattern::Project { inner, .. }
        | GraphPattern::Distinct { inner }
        | GraphPattern::Reduced { inner }
        | GraphPattern::Slice { inner, .. } => graph_pattern(inner, v),
        GraphPattern::Group {
            inner, aggregates, ..
        } => {
            graph_pattern(inner, v);
            for (_, a) in aggregates {
                if let AggregateExpression::FunctionCall { expr: e, .. } = a {
                    expr(e, v);
                }
            }
        }
    }
}

fn expr(e: &mut Expression, v: &mut impl Visit) {
    if v.expr(e) {
        return;
    }
    match e {
        Expression::NamedNode(_)
        | Expression::Literal(_)
        | Expression::Variable(_)
        | Expression::Bound(_) => {}
        Expression::Or(a, b)
        | Expression::And(a, b)
        | Expression::Equal(a, b)
        | Expression::SameTerm(a, b)
        | Expression::Greater(a, b)
        | Expression::GreaterOrEqual(a, b)
        | Expression::Less(a, b)
        | Expression::LessOrEqual(a, b)
        | Expression::Add(a, b)
        | Expression::Subtract(a, b)
        | Expression::Multiply(a, b)
        | Expression::Divide(a, b) => {
            expr(a, v);
            expr(b, v);
        }
        Expression::In(a, list) => {
            expr(a, v);
            for x in list {
                expr(x, v);
            }
        }
        Expression::UnaryPlus(a) | Expression::UnaryMinus(a) | Expression::Not(a) => expr(a, v),
        Expression::Exists(p) => graph_pattern(p, v),
        Expression::If(a, b, c) => {
            expr(a, v);
            expr(b, v);
            expr(c, v);
        }
        Expression::Coalesce(list) | Expression::FunctionCall(_, list) => {
            for x in list {
                expr(x, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxigraph::model::Literal;
    use spargebra::SparqlParser;

    #[test]
    fn finds_graph_patterns_at_any_depth() {
        let q = |t: &str| reads_named_graphs(&SparqlParser::new().parse_query(t).unwrap());
        assert!(!q("SELECT * { ?s ?p ?o OPTIONAL { ?s ?q ?r } }"));
        assert!(q(
            "SELECT * { ?s ?p ?o FILTER EXISTS { GRAPH ?g { ?s ?p ?o } } }"
        ));
        assert!(q(
            "SELECT * { { SELECT ?s { GRAPH <http://g> { ?s ?p ?o } } } }"
        ));
        assert!(q("ASK { ?s ?p ?o BIND(EXISTS { GRAPH ?g {} } AS ?x) }"));
    }

    #[test]
    fn substitutes_at_every_depth() {
        let mut q = SparqlParser::new()
            .parse_query(
                "SELECT ?s WHERE { GRAPH ?g { ?s ?p ?o FILTER(LANG(?o) = ?lang) } \
                 FILTER EXISTS { ?s ?q ?lang } BIND(BOUND(?lang) AS ?b) }",
            )
            .unwrap();
        let lang = Variable::new_unchecked("lang");
        assert!(!is_projected(&q, &lang));
        substitute(
            &mut q,
            &lang,
            &Literal::new_simple_literal("en\" } DROP ALL").into(),
        );
        let text = q.to_string();
        assert!(!text.contains("?lang"), "{text}");
        assert!(
            text.contains(r#""en\" } DROP ALL""#),
            "value stays one escaped literal: {text}"
        );
        assert!(text.contains("true"), "{text}");
    }

    #[test]
    fn limit_is_added_or_lowered_never_raised() {
        let limited = |text: &str, n: usize| {
            let mut q = SparqlParser::new().parse_query(text).unwrap();
            limit(&mut q, n);
            q.to_string()
        };
        assert!(limited("SELECT * { ?s ?p ?o } ORDER BY ?s", 10).contains("LIMIT 10"));
        assert!(limited("SELECT * { ?s ?p ?o } LIMIT 50", 10).contains("LIMIT 10"));
        let kept = limited("SELECT * { ?s ?p ?o } OFFSET 2 LIMIT 5", 10);
        assert!(
            kept.contains("LIMIT 5") && kept.contains("OFFSET 2"),
            "{kept}"
        );
    }

    #[test]
    fn values_join_below_the_slice() {
        let mut q = SparqlParser::new()
            .parse_query("SELECT ?s WHERE { ?s ?p ?o } ORDER BY ?s LIMIT 3")
            .unwrap();
        let s = Variable::new_unchecked("s");
        values(
            &mut q,
            &s,
            &[oxigraph::model::NamedNode::new_unchecked("http://e/a")],
        );
        let text = q.to_string();
        assert!(text.contains("VALUES ( ?s ) { ( <http://e/a> )"), "{text}");
        assert!(text.contains("LIMIT 3"), "{text}");
    }

    #[test]
    fn values_go_to_the_pattern_that_binds_them() {
        let q =
            "SELECT ?s ?t WHERE { GRAPH ?g { ?s a ?c OPTIONAL { ?s ?p ?t } FILTER(?c != ?s) } }";
        let a = oxigraph::model::NamedNode::new_unchecked("http://e/a");
        let mut q = SparqlParser::new().parse_query(q).unwrap();
        values(&mut q, &Variable::new_unchecked("s"), &[a]);
        let text = q.to_string();
        // Before the OPTIONAL, next to the triple that binds ?s.
        assert!(
            text.find("VALUES").unwrap() < text.find("OPTIONAL").unwrap(),
            "{text}"
        );
        // Not into an optional part, which might not bind it.
        let mut q = SparqlParser::new()
            .parse_query("SELECT ?s ?t WHERE { ?s a ?c OPTIONAL { ?s ?p ?t } }")
            .unwrap();
        values(
            &mut q,
            &Variable::new_unchecked("t"),
            &[oxigraph::model::NamedNode::new_unchecked("http://e/b")],
        );
        let text = q.to_string();
        assert!(
            text.find("VALUES").unwrap() < text.find("?c").unwrap(),
            "{text}"
        );
    }

    #[test]
    fn values_go_into_the_graph_block_unless_they_bind_its_name() {
        let q = "SELECT ?s WHERE { GRAPH ?g { ?s ?p ?o } }";
        let a = oxigraph::model::NamedNode::new_unchecked("http://e/a");
        let mut inside = SparqlParser::new().parse_query(q).unwrap();
        values(
            &mut inside,
            &Variable::new_unchecked("s"),
            std::slice::from_ref(&a),
        );
        let text = inside.to_string();
        assert!(
            text.find("GRAPH").unwrap() < text.find("VALUES").unwrap(),
            "{text}"
        );
        let mut outside = SparqlParser::new().parse_query(q).unwrap();
        values(&mut outside, &Variable::new_unchecked("g"), &[a]);
        let text = outside.to_string();
        assert!(
            text.find("VALUES").unwrap() < text.find("GRAPH").unwrap(),
            "{text}"
        );
    }
}
