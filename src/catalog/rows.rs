//! Trusted reads for the modules that own a part of the graph: a SELECT (text, or a `.rq` file
//! with a named-query header and parameters bound as RDF terms) evaluated through the caller's
//! visibility, its solutions handed back as typed rows.
//!
//! A row is deserialised from the solution with each literal typed by its datatype (integers and
//! decimals as numbers, booleans as booleans, the rest — IRIs included — as strings), so a reader
//! declares a struct with the columns it expects and a query that stops fitting it fails loudly
//! at the read, not as a silent zero further on. Unbound variables are absent (`Option` fields).

use std::collections::{BTreeMap, HashMap};

use oxigraph::model::{Literal, NamedNode, Term, Variable};
use oxigraph::sparql::{QueryResults, QuerySolution, SparqlEvaluator};
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};
use spargebra::SparqlParser;

use super::sparql::{CancelToken, PreparedQuery};
use super::{Catalog, CatalogError, NamedQuery, Visibility};

impl Catalog {
    /// Runs a trusted SELECT over every graph (admin view; for reports and internal readers, never
    /// for user input) and returns each solution as variable → lexical value.
    pub fn select(&self, query: &str) -> Result<Vec<HashMap<String, String>>, CatalogError> {
        self.select_as(query, &Visibility::ADMIN)
    }

    /// Like [`Catalog::select`], seen by a caller who is an admin or not: for non-admins the
    /// restricted graphs do not exist (the views the server builds for a caller — report,
    /// sources, labels — read through this).
    pub fn select_as(
        &self,
        query: &str,
        vis: &Visibility,
    ) -> Result<Vec<HashMap<String, String>>, CatalogError> {
        let mut out = Vec::new();
        self.each_solution(self.trusted(query, vis)?, |s| {
            out.push(
                s.iter()
                    .map(|(v, t)| (v.as_str().to_owned(), lexical(t)))
                    .collect(),
            );
            Ok(())
        })?;
        Ok(out)
    }

    /// A trusted SELECT's solutions as rows of type `T`, seen as an admin or not.
    pub fn select_rows<T: DeserializeOwned>(
        &self,
        query: &str,
        vis: &Visibility,
    ) -> Result<Vec<T>, CatalogError> {
        self.rows(self.trusted(query, vis)?)
    }

    /// A module's own query (a `.rq` file with a named-query header) with `args` bound to its
    /// parameters, as rows of type `T`, seen as an admin or not.
    pub fn query_rows<T: DeserializeOwned>(
        &self,
        query: &NamedQuery,
        args: &[(&str, &str)],
        vis: &Visibility,
    ) -> Result<Vec<T>, CatalogError> {
        let args: BTreeMap<String, String> = args
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let prepared = self.prepare_named(query, &args, vis, false, &CancelToken::new())?;
        self.rows(prepared)
    }

    /// A module's own query with `args` bound, each solution handed to `each` as the lexical
    /// values of its projected variables in order (`None` where unbound): for readers of
    /// millions of rows, without a row object per solution. Blocking.
    pub fn query_each(
        &self,
        query: &NamedQuery,
        args: &[(&str, &str)],
        vis: &Visibility,
        mut each: impl FnMut(&[Option<&str>]),
    ) -> Result<(), CatalogError> {
        let args: BTreeMap<String, String> = args
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let prepared = self.prepare_named(query, &args, vis, false, &CancelToken::new())?;
        self.each_solution(prepared, |s| {
            let cells: Vec<Option<&str>> = s
                .values()
                .iter()
                .map(|t| match t {
                    Some(Term::NamedNode(n)) => Some(n.as_str()),
                    Some(Term::Literal(l)) => Some(l.value()),
                    _ => None,
                })
                .collect();
            each(&cells);
            Ok(())
        })
    }

    /// [`Catalog::query_rows`] with at most `limit` rows (SPARQL cannot take `LIMIT` as a
    /// parameter; it is set on the parsed query, never spliced into its text).
    pub fn query_rows_limited<T: DeserializeOwned>(
        &self,
        query: &NamedQuery,
        args: &[(&str, &str)],
        vis: &Visibility,
        limit: Option<usize>,
    ) -> Result<Vec<T>, CatalogError> {
        self.query_rows_edited(query, args, vis, |q| {
            if let Some(n) = limit {
                super::bind::limit(q, n);
            }
            Ok(())
        })
    }

    /// [`Catalog::query_rows`] for each of `iris` as `?var` at once (a `VALUES` block added to
    /// the parsed query: a parameter binds one term, this binds a list).
    pub fn query_rows_for<T: DeserializeOwned>(
        &self,
        query: &NamedQuery,
        args: &[(&str, &str)],
        vis: &Visibility,
        var: &str,
        iris: &[String],
    ) -> Result<Vec<T>, CatalogError> {
        let var = Variable::new(var).map_err(|e| CatalogError::Invalid(e.to_string()))?;
        let terms = iris
            .iter()
            .map(|i| NamedNode::new(i).map_err(|_| CatalogError::InvalidIri(i.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        self.query_rows_edited(query, args, vis, |q| {
            super::bind::values(q, &var, &terms);
            Ok(())
        })
    }

    /// A named query's solutions as a table for people: its projected variables in order, and
    /// at most `limit` rows of cells (IRIs marked so a page can link them), through the
    /// caller's visibility. `more` says whether rows were left off. Blocking.
    pub fn named_table(
        &self,
        query: &NamedQuery,
        args: &[(&str, &str)],
        vis: &Visibility,
        limit: usize,
    ) -> Result<Table, CatalogError> {
        let args: BTreeMap<String, String> = args
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let prepared = self.prepare_named(query, &args, vis, false, &CancelToken::new())?;
        let results = prepared
            .into_inner()
            .on_store(&self.store)
            .execute()
            .map_err(|e| CatalogError::Evaluation(e.to_string()))?;
        let QueryResults::Solutions(solutions) = results else {
            return Err(CatalogError::Invalid(format!(
                "query '{}' is not a SELECT: it cannot be shown as a table",
                query.name
            )));
        };
        let columns: Vec<Variable> = solutions.variables().to_vec();
        let mut table = Table {
            columns: columns.iter().map(|v| v.as_str().to_owned()).collect(),
            ..Table::default()
        };
        for s in solutions {
            let s = s.map_err(|e| CatalogError::Evaluation(e.to_string()))?;
            if table.rows.len() == limit {
                table.more = true;
                break;
            }
            table.rows.push(
                columns
                    .iter()
                    .map(|v| match s.get(v) {
                        Some(Term::NamedNode(n)) => Cell {
                            text: n.as_str().to_owned(),
                            iri: true,
                        },
                        Some(t) => Cell {
                            text: lexical(t),
                            iri: false,
                        },
                        None => Cell::default(),
                    })
                    .collect(),
            );
        }
        Ok(table)
    }

    /// Prepares `query` with `edit` applied to its algebra, then reads its rows.
    fn query_rows_edited<T: DeserializeOwned>(
        &self,
        query: &NamedQuery,
        args: &[(&str, &str)],
        vis: &Visibility,
        edit: impl FnOnce(&mut spargebra::Query) -> Result<(), CatalogError>,
    ) -> Result<Vec<T>, CatalogError> {
        let args: BTreeMap<String, String> = args
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut query = query.clone();
        let mut parsed = SparqlParser::new()
            .parse_query(&query.text)
            .map_err(|e| CatalogError::Syntax(format!("{}: {e}", query.name)))?;
        edit(&mut parsed)?;
        query.text = parsed.to_string();
        let prepared = self.prepare_named(&query, &args, vis, false, &CancelToken::new())?;
        self.rows(prepared)
    }

    fn rows<T: DeserializeOwned>(&self, query: PreparedQuery) -> Result<Vec<T>, CatalogError> {
        let mut out = Vec::new();
        self.each_solution(query, |s| {
            // Read from a borrow: the solution is only kept (in the message) when it misfits.
            let row = Value::Object(typed(s));
            let parsed = T::deserialize(&row).map_err(|e| {
                CatalogError::Evaluation(format!("a solution does not fit its reader ({e}): {row}"))
            })?;
            out.push(parsed);
            Ok(())
        })?;
        Ok(out)
    }

    /// A trusted query prepared through the caller's visibility.
    fn trusted(&self, query: &str, vis: &Visibility) -> Result<PreparedQuery, CatalogError> {
        let q = SparqlParser::new()
            .parse_query(query)
            .map_err(|e| CatalogError::Syntax(e.to_string()))?;
        let mut prepared = SparqlEvaluator::new().for_query(q);
        self.restrict_dataset(prepared.dataset_mut(), vis)?;
        Ok(PreparedQuery::trusted(prepared))
    }

    fn each_solution(
        &self,
        query: PreparedQuery,
        mut each: impl FnMut(QuerySolution) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        let results = query
            .into_inner()
            .on_store(&self.store)
            .execute()
            .map_err(|e| CatalogError::Evaluation(e.to_string()))?;
        let QueryResults::Solutions(solutions) = results else {
            return Err(CatalogError::Invalid(
                "a row reader needs a SELECT query".into(),
            ));
        };
        for s in solutions {
            each(s.map_err(|e| CatalogError::Evaluation(e.to_string()))?)?;
        }
        Ok(())
    }
}

/// A query's answer as people read it ([`Catalog::named_table`]).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// Rows were left off at the limit.
    pub more: bool,
}

/// One value of a [`Table`]: empty when unbound.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Cell {
    pub text: String,
    pub iri: bool,
}

/// An IRI's text, a literal's lexical form, a blank node as `_:id`.
fn lexical(t: &Term) -> String {
    match t {
        Term::NamedNode(n) => n.as_str().to_owned(),
        Term::Literal(l) => l.value().to_owned(),
        other => other.to_string(),
    }
}

/// A solution as a JSON object, literals typed by their datatype.
fn typed(s: QuerySolution) -> Map<String, Value> {
    s.iter()
        .map(|(v, t)| {
            let value = match t {
                Term::Literal(l) => literal(l),
                other => Value::String(lexical(other)),
            };
            (v.as_str().to_owned(), value)
        })
        .collect()
}

fn literal(l: &Literal) -> Value {
    const INTEGERS: &[&str] = &[
        "integer",
        "long",
        "int",
        "short",
        "byte",
        "nonNegativeInteger",
        "positiveInteger",
        "nonPositiveInteger",
        "negativeInteger",
        "unsignedLong",
        "unsignedInt",
        "unsignedShort",
        "unsignedByte",
    ];
    let text = l.value();
    let Some(kind) = l
        .datatype()
        .as_str()
        .strip_prefix("http://www.w3.org/2001/XMLSchema#")
    else {
        return Value::String(text.to_owned());
    };
    let number = if INTEGERS.contains(&kind) {
        text.parse::<u64>()
            .map(Number::from)
            .ok()
            .or_else(|| text.parse::<i64>().ok().map(Number::from))
    } else if matches!(kind, "decimal" | "double" | "float") {
        text.parse::<f64>().ok().and_then(Number::from_f64)
    } else if kind == "boolean" {
        return match text {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => Value::String(text.to_owned()),
        };
    } else {
        None
    };
    number.map_or_else(|| Value::String(text.to_owned()), Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::GraphLayout;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Row {
        s: String,
        n: u64,
        x: f64,
        b: bool,
        label: Option<String>,
    }

    #[test]
    fn rows_are_typed_by_datatype_and_misfits_fail_loudly() {
        let c = Catalog::in_memory(GraphLayout::new("http://t/").unwrap()).unwrap();
        let rows: Vec<Row> = c
            .select_rows(
                "SELECT ?s ?n ?x ?b ?label WHERE { VALUES (?s ?n ?x ?b) { \
                 (<http://e/1> 3 2.5 true) } OPTIONAL { ?s <http://e/l> ?label } }",
                &Visibility::ADMIN,
            )
            .unwrap();
        assert_eq!(
            rows,
            vec![Row {
                s: "http://e/1".into(),
                n: 3,
                x: 2.5,
                b: true,
                label: None
            }]
        );
        // A count where the reader expects text is an error that names the solution.
        let err = c
            .select_rows::<Row>(
                "SELECT ?s ?n ?x ?b WHERE { VALUES (?s ?n ?x ?b) { (<http://e/1> \"three\" 1.0 false) } }",
                &Visibility::ADMIN,
            )
            .unwrap_err();
        assert!(err.to_string().contains("three"), "{err}");
    }
}
