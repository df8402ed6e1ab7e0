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
    let pattern = match query {
        Query::Select { pattern, .. }
        | Query::Ask { pattern, .. }
        | Query::Describe { pattern, .. } => pattern,
        Query::Construct {
            template, pattern, ..
        } => {
            for t in template.iter_mut() {
                triple(t, var, term);
            }
            pattern
        }
    };
    graph_pattern(pattern, var, term);
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
pub(super) fn reads_named_graphs(query: &Query) -> bool {
    let pattern = match query {
        Query::Select { pattern, .. }
        | Query::Ask { pattern, .. }
        | Query::Describe { pattern, .. }
        | Query::Construct { pattern, .. } => pattern,
    };
    pattern_reads_graphs(pattern)
}

fn pattern_reads_graphs(p: &GraphPattern) -> bool {
    match p {
        GraphPattern::Graph { .. } | GraphPattern::Service { .. } => true,
        GraphPattern::Bgp { .. } | GraphPattern::Path { .. } | GraphPattern::Values { .. } => false,
        GraphPattern::Join { left, right }
        | GraphPattern::Lateral { left, right }
        | GraphPattern::Union { left, right }
        | GraphPattern::Minus { left, right } => {
            pattern_reads_graphs(left) || pattern_reads_graphs(right)
        }
        GraphPattern::LeftJoin {
            left,
            right,
            expression,
        } => {
            pattern_reads_graphs(left)
                || pattern_reads_graphs(right)
                || expression.as_ref().is_some_and(expr_reads_graphs)
        }
        GraphPattern::Filter { expr, inner } => {
            expr_reads_graphs(expr) || pattern_reads_graphs(inner)
        }
        GraphPattern::Extend {
            inner, expression, ..
        } => pattern_reads_graphs(inner) || expr_reads_graphs(expression),
        GraphPattern::OrderBy { inner, expression } => {
            pattern_reads_graphs(inner)
                || expression.iter().any(|o| match o {
                    OrderExpression::Asc(e) | OrderExpression::Desc(e) => expr_reads_graphs(e),
                })
        }
        GraphPattern::Project { inner, .. }
        | GraphPattern::Distinct { inner }
        | GraphPattern::Reduced { inner }
        | GraphPattern::Slice { inner, .. } => pattern_reads_graphs(inner),
        GraphPattern::Group {
            inner, aggregates, ..
        } => {
            pattern_reads_graphs(inner)
                || aggregates.iter().any(|(_, a)| match a {
                    AggregateExpression::FunctionCall { expr, .. } => expr_reads_graphs(expr),
                    AggregateExpression::CountSolutions { .. } => false,
                })
        }
    }
}

fn expr_reads_graphs(e: &Expression) -> bool {
    match e {
        Expression::Exists(p) => pattern_reads_graphs(p),
        Expression::NamedNode(_)
        | Expression::Literal(_)
        | Expression::Variable(_)
        | Expression::Bound(_) => false,
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
        | Expression::Divide(a, b) => expr_reads_graphs(a) || expr_reads_graphs(b),
        Expression::In(a, list) => expr_reads_graphs(a) || list.iter().any(expr_reads_graphs),
        Expression::UnaryPlus(a) | Expression::UnaryMinus(a) | Expression::Not(a) => {
            expr_reads_graphs(a)
        }
        Expression::If(a, b, c) => {
            expr_reads_graphs(a) || expr_reads_graphs(b) || expr_reads_graphs(c)
        }
        Expression::Coalesce(list) | Expression::FunctionCall(_, list) => {
            list.iter().any(expr_reads_graphs)
        }
    }
}

fn term_pattern(t: &mut TermPattern, var: &Variable, term: &Term) {
    if matches!(t, TermPattern::Variable(v) if v == var) {
        *t = match term {
            Term::NamedNode(n) => TermPattern::NamedNode(n.clone()),
            Term::BlankNode(b) => TermPattern::BlankNode(b.clone()),
            Term::Literal(l) => TermPattern::Literal(l.clone()),
        };
    }
}

fn named_node_pattern(n: &mut NamedNodePattern, var: &Variable, term: &Term) {
    if let (NamedNodePattern::Variable(v), Term::NamedNode(iri)) = (&*n, term) {
        if v == var {
            *n = NamedNodePattern::NamedNode(iri.clone());
        }
    }
}

fn triple(t: &mut TriplePattern, var: &Variable, term: &Term) {
    term_pattern(&mut t.subject, var, term);
    named_node_pattern(&mut t.predicate, var, term);
    term_pattern(&mut t.object, var, term);
}

fn graph_pattern(p: &mut GraphPattern, var: &Variable, term: &Term) {
    match p {
        GraphPattern::Bgp { patterns } => {
            for t in patterns {
                triple(t, var, term);
            }
        }
        GraphPattern::Path {
            subject, object, ..
        } => {
            term_pattern(subject, var, term);
            term_pattern(object, var, term);
        }
        GraphPattern::Join { left, right }
        | GraphPattern::Lateral { left, right }
        | GraphPattern::Union { left, right }
        | GraphPattern::Minus { left, right } => {
            graph_pattern(left, var, term);
            graph_pattern(right, var, term);
        }
        GraphPattern::LeftJoin {
            left,
            right,
            expression,
        } => {
            graph_pattern(left, var, term);
            graph_pattern(right, var, term);
            if let Some(e) = expression {
                expr(e, var, term);
            }
        }
        GraphPattern::Filter { expr: e, inner } => {
            expr(e, var, term);
            graph_pattern(inner, var, term);
        }
        GraphPattern::Graph { name, inner } | GraphPattern::Service { name, inner, .. } => {
            named_node_pattern(name, var, term);
            graph_pattern(inner, var, term);
        }
        GraphPattern::Extend {
            inner, expression, ..
        } => {
            graph_pattern(inner, var, term);
            expr(expression, var, term);
        }
        GraphPattern::Values { .. } => {}
        GraphPattern::OrderBy { inner, expression } => {
            graph_pattern(inner, var, term);
            for o in expression {
                match o {
                    OrderExpression::Asc(e) | OrderExpression::Desc(e) => expr(e, var, term),
                }
            }
        }
        GraphPattern::Project { inner, .. }
        | GraphPattern::Distinct { inner }
        | GraphPattern::Reduced { inner }
        | GraphPattern::Slice { inner, .. } => graph_pattern(inner, var, term),
        GraphPattern::Group {
            inner, aggregates, ..
        } => {
            graph_pattern(inner, var, term);
            for (_, a) in aggregates {
                if let AggregateExpression::FunctionCall { expr: e, .. } = a {
                    expr(e, var, term);
                }
            }
        }
    }
}

fn expr(e: &mut Expression, var: &Variable, term: &Term) {
    match e {
        Expression::Variable(v) if v == var => {
            *e = match term {
                Term::NamedNode(n) => Expression::NamedNode(n.clone()),
                Term::Literal(l) => Expression::Literal(l.clone()),
                // A blank node cannot appear in an expression; leave the variable unbound.
                Term::BlankNode(_) => return,
            };
        }
        Expression::Bound(v) if v == var => {
            *e = Expression::Literal(oxigraph::model::Literal::from(true));
        }
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
            expr(a, var, term);
            expr(b, var, term);
        }
        Expression::In(a, list) => {
            expr(a, var, term);
            for x in list {
                expr(x, var, term);
            }
        }
        Expression::UnaryPlus(a) | Expression::UnaryMinus(a) | Expression::Not(a) => {
            expr(a, var, term)
        }
        Expression::Exists(p) => graph_pattern(p, var, term),
        Expression::If(a, b, c) => {
            expr(a, var, term);
            expr(b, var, term);
            expr(c, var, term);
        }
        Expression::Coalesce(list) | Expression::FunctionCall(_, list) => {
            for x in list {
                expr(x, var, term);
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
}
