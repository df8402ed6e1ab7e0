//! Named queries: `queries/*.rq` files with a small header, served at `/queries/{name}`.
//!
//! A header is a block of `#` comment lines at the top of the file:
//!
//! ```text
//! # title: Columns with many nulls
//! # description: Columns whose latest null rate is above a threshold.
//! # param: threshold | decimal | 0.5 | Null-rate threshold between 0 and 1
//! ```
//!
//! A `param` line is `name | type | default | description`; an empty default makes the parameter
//! required. Values are turned into RDF terms of the declared type and bound to `?name` as initial
//! bindings of the evaluation — never spliced into the query text, so a value cannot change the
//! query's shape.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use oxigraph::model::vocab::xsd;
use oxigraph::model::{Literal, NamedNode, Term, Variable};
use serde::Serialize;
use spargebra::SparqlParser;

use super::sparql::{CancelToken, DatasetRequest, PreparedQuery};
use super::{bind, Catalog, CatalogError, Visibility};

/// One parameter of a named query.
#[derive(Debug, Clone, Serialize)]
pub struct NamedQueryParam {
    pub name: String,
    /// `iri`, `string`, `integer`, `decimal`, `boolean`, `date`, `datetime` or `term`.
    #[serde(rename = "type")]
    pub kind: String,
    pub default: Option<String>,
    pub description: String,
}

/// A query file with its header.
#[derive(Debug, Clone, Serialize)]
pub struct NamedQuery {
    pub name: String,
    pub title: String,
    pub description: String,
    pub params: Vec<NamedQueryParam>,
    #[serde(skip)]
    pub text: String,
}

const KINDS: &[&str] = &[
    "iri", "string", "integer", "decimal", "boolean", "date", "datetime", "term",
];

impl NamedQuery {
    /// Parses a query file's header and checks the query parses.
    pub fn parse(name: &str, text: &str) -> Result<Self, CatalogError> {
        let bad = |msg: String| CatalogError::Invalid(format!("queries/{name}.rq: {msg}"));
        let mut title = None;
        let mut description = String::new();
        let mut params = Vec::new();
        for line in text.lines() {
            let Some(comment) = line.trim_start().strip_prefix('#') else {
                if line.trim().is_empty() {
                    continue;
                }
                break;
            };
            let comment = comment.trim();
            if let Some(v) = comment.strip_prefix("title:") {
                title = Some(v.trim().to_owned());
            } else if let Some(v) = comment.strip_prefix("description:") {
                if !description.is_empty() {
                    description.push(' ');
                }
                description.push_str(v.trim());
            } else if let Some(v) = comment.strip_prefix("param:") {
                let parts: Vec<&str> = v.split('|').map(str::trim).collect();
                if parts.len() != 4 {
                    return Err(bad(format!(
                        "param line '{v}' must be 'name | type | default | description'"
                    )));
                }
                if !KINDS.contains(&parts[1]) {
                    return Err(bad(format!(
                        "param '{}' has unknown type '{}' (one of {})",
                        parts[0],
                        parts[1],
                        KINDS.join(", ")
                    )));
                }
                let param = NamedQueryParam {
                    name: parts[0].trim_start_matches('?').to_owned(),
                    kind: parts[1].to_owned(),
                    default: (!parts[2].is_empty()).then(|| parts[2].to_owned()),
                    description: parts[3].to_owned(),
                };
                if let Some(d) = &param.default {
                    to_term(&param, d).map_err(|e| bad(e.to_string()))?;
                }
                params.push(param);
            }
        }
        SparqlParser::new()
            .parse_query(text)
            .map_err(|e| bad(format!("does not parse: {e}")))?;
        Ok(Self {
            name: name.to_owned(),
            title: title.ok_or_else(|| bad("missing '# title:' header".into()))?,
            description,
            params,
            text: text.to_owned(),
        })
    }

    /// Loads every `*.rq` in a directory, sorted by name.
    pub fn load_dir(dir: &Path) -> Result<Vec<Self>, CatalogError> {
        let entries = std::fs::read_dir(dir).map_err(|e| CatalogError::io(dir, e))?;
        let mut out = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| CatalogError::io(dir, e))?.path();
            if path.extension().is_some_and(|e| e == "rq") {
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let text =
                    std::fs::read_to_string(&path).map_err(|e| CatalogError::io(&path, e))?;
                out.push(Self::parse(&name, &text)?);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

fn to_term(p: &NamedQueryParam, value: &str) -> Result<Term, CatalogError> {
    let bad = |why: &str| {
        CatalogError::Invalid(format!(
            "parameter '{}' expects {}: '{value}' {why}",
            p.name, p.kind
        ))
    };
    let typed = |dt| Literal::new_typed_literal(value, dt).into();
    Ok(match p.kind.as_str() {
        "iri" => NamedNode::new(value)
            .map_err(|_| bad("is not an absolute IRI"))?
            .into(),
        "string" => Literal::new_simple_literal(value).into(),
        "integer" => {
            value.parse::<i64>().map_err(|_| bad("is not an integer"))?;
            typed(xsd::INTEGER)
        }
        "decimal" => {
            value.parse::<f64>().map_err(|_| bad("is not a number"))?;
            if value.contains(['e', 'E']) {
                return Err(bad("must be written without an exponent"));
            }
            typed(xsd::DECIMAL)
        }
        "boolean" => match value {
            "true" | "false" => typed(xsd::BOOLEAN),
            _ => return Err(bad("is not true or false")),
        },
        "date" => {
            chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .map_err(|_| bad("is not a YYYY-MM-DD date"))?;
            typed(xsd::DATE)
        }
        "datetime" => {
            chrono::DateTime::parse_from_rfc3339(value)
                .map_err(|_| bad("is not an RFC 3339 date-time"))?;
            typed(xsd::DATE_TIME)
        }
        _ => Term::from_str(value).map_err(|_| bad("is not an RDF term in N-Triples syntax"))?,
    })
}

impl Catalog {
    /// Prepares a named query with parameters bound as RDF terms.
    pub fn prepare_named(
        &self,
        query: &NamedQuery,
        args: &BTreeMap<String, String>,
        vis: &Visibility,
        union_default_graph: bool,
        cancel: &CancelToken,
    ) -> Result<PreparedQuery, CatalogError> {
        for key in args.keys() {
            if !query.params.iter().any(|p| &p.name == key) {
                let known: Vec<&str> = query.params.iter().map(|p| p.name.as_str()).collect();
                return Err(CatalogError::Invalid(format!(
                    "query '{}' has no parameter '{key}' (parameters: {})",
                    query.name,
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        }
        let mut parsed = SparqlParser::new()
            .parse_query(&query.text)
            .map_err(|e| CatalogError::Syntax(format!("queries/{}.rq: {e}", query.name)))?;
        let mut bindings = Vec::with_capacity(query.params.len());
        for p in &query.params {
            let value = match (args.get(&p.name), &p.default) {
                (Some(v), _) => v,
                (None, Some(d)) => d,
                (None, None) => {
                    return Err(CatalogError::Invalid(format!(
                        "query '{}' needs parameter '{}' ({}: {})",
                        query.name, p.name, p.kind, p.description
                    )))
                }
            };
            let var = Variable::new(&p.name).map_err(|e| {
                CatalogError::Invalid(format!("invalid parameter name '{}': {e}", p.name))
            })?;
            let term = to_term(p, value)?;
            // An integer parameter named `limit` caps the rows: SPARQL's LIMIT takes no
            // variable, so it lowers the query's own LIMIT (never raises it).
            if p.name == "limit" && p.kind == "integer" {
                let n = value
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        CatalogError::Invalid(format!(
                            "parameter 'limit' of query '{}' must be a number of rows, 1 or more, not {value:?}",
                            query.name
                        ))
                    })?;
                bind::limit(&mut parsed, n);
            }
            bind::substitute(&mut parsed, &var, &term);
            if bind::is_projected(&parsed, &var) {
                bindings.push((p.name.as_str(), term));
            }
        }
        let mut prepared = self.prepare_parsed(
            parsed,
            &DatasetRequest::default(),
            vis,
            union_default_graph,
            cancel,
        )?;
        for (name, term) in bindings {
            prepared = prepared.bind(name, term)?;
        }
        Ok(prepared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: &str = "# title: T\n# description: D\n# param: min | integer | 3 | lower bound\n\
                     # param: g | iri |  | a graph\nSELECT * WHERE { GRAPH ?g { ?s ?p ?o } }\n";

    #[test]
    fn header_is_parsed() {
        let q = NamedQuery::parse("t", Q).unwrap();
        assert_eq!(q.title, "T");
        assert_eq!(q.params.len(), 2);
        assert_eq!(q.params[0].default.as_deref(), Some("3"));
        assert!(q.params[1].default.is_none());
    }

    #[test]
    fn bad_headers_and_values_are_reported() {
        assert!(NamedQuery::parse("t", "SELECT * {}").is_err());
        assert!(
            NamedQuery::parse("t", "# title: x\n# param: a | float | | x\nSELECT * {}").is_err()
        );
        let q = NamedQuery::parse("t", Q).unwrap();
        let err = to_term(&q.params[0], "3; DROP ALL")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an integer"), "{err}");
        assert!(to_term(&q.params[1], "<http://x> } ").is_err());
    }

    #[test]
    fn a_limit_parameter_lowers_the_limit_and_refuses_nonsense() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(
            dir.path(),
            crate::catalog::GraphLayout::new("http://stocktake.local/").unwrap(),
        )
        .unwrap();
        let q = NamedQuery::parse(
            "t",
            "# title: T\n# description: D\n# param: limit | integer | 2 | rows\n\
             SELECT ?n WHERE { VALUES ?n { 1 2 3 4 5 } } ORDER BY ?n LIMIT 4\n",
        )
        .unwrap();
        let rows = |limit: Option<&str>| {
            let args: BTreeMap<String, String> = limit
                .map(|l| [("limit".to_owned(), l.to_owned())].into())
                .unwrap_or_default();
            catalog
                .prepare_named(&q, &args, &Visibility::ADMIN, false, &CancelToken::new())
                .map(|p| {
                    catalog
                        .execute_query(
                            p,
                            crate::catalog::OutputFormat::Results(
                                crate::catalog::ResultsFormat::Csv,
                            ),
                            crate::catalog::Limits::unbounded(),
                        )
                        .unwrap()
                        .rows
                })
        };
        assert_eq!(rows(None).unwrap(), 2, "the default applies");
        assert_eq!(rows(Some("3")).unwrap(), 3);
        assert_eq!(
            rows(Some("10")).unwrap(),
            4,
            "never above the query's own LIMIT"
        );
        for bad in ["0", "-1", "x"] {
            assert!(rows(Some(bad)).is_err(), "{bad}");
        }
    }
}
