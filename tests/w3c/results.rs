//! Expected results of the evaluation suites, read as the W3C files give them (SPARQL results
//! in XML, JSON or TSV, result sets in the `rs:` vocabulary, graphs in any RDF syntax) and
//! normalised so our server's answers compare by value: numbers and booleans by value, language
//! tags case-folded, blank nodes kept by label for the isomorphism check.

use super::*;

pub(super) fn rdf_format_of(path: &Path) -> RdfFormat {
    match path.extension().and_then(|e| e.to_str()) {
        Some("rdf") => RdfFormat::RdfXml,
        Some("nt") => RdfFormat::NTriples,
        Some("nq") => RdfFormat::NQuads,
        Some("trig") => RdfFormat::TriG,
        _ => RdfFormat::Turtle,
    }
}

/// Literals compare by value for the numeric and boolean datatypes (the store keeps values,
/// not lexical forms: `"1.0"^^xsd:decimal` comes back as `"1"^^xsd:decimal`).
fn norm_literal(l: &oxigraph::model::Literal) -> Option<String> {
    let xsd = "http://www.w3.org/2001/XMLSchema#";
    let dt = l.datatype().as_str().strip_prefix(xsd)?;
    let v = l.value().trim();
    let value = match dt {
        "integer" | "int" | "long" | "short" | "byte" | "nonNegativeInteger"
        | "positiveInteger" | "negativeInteger" | "nonPositiveInteger" | "unsignedLong"
        | "unsignedInt" | "unsignedShort" | "unsignedByte" => {
            // The store keeps the integer value, not the derived type.
            let n = v.trim_start_matches('+').parse::<i128>().ok()?;
            return Some(format!("{n}^^integer"));
        }
        "decimal" => {
            let f: f64 = v.parse().ok()?;
            format!("{f:?}")
        }
        "double" | "float" => {
            let f: f64 = match v {
                "INF" => f64::INFINITY,
                "-INF" => f64::NEG_INFINITY,
                _ => v.parse().ok()?,
            };
            format!("{f:?}")
        }
        "boolean" => match v {
            "1" | "true" => "true".into(),
            "0" | "false" => "false".into(),
            _ => return None,
        },
        _ => return None,
    };
    Some(format!("{value}^^{dt}"))
}

fn norm_term(t: &Term) -> String {
    match t {
        Term::BlankNode(b) => format!("_:{}", b.as_str()),
        Term::Literal(l) if norm_literal(l).is_some() => norm_literal(l).unwrap_or_default(),
        Term::Literal(l) if l.language().is_some() => {
            format!(
                "\"{}\"@{}",
                l.value(),
                l.language().unwrap_or("").to_ascii_lowercase()
            )
        }
        other => other.to_string(),
    }
}

pub(super) enum Expected {
    Boolean(bool),
    Rows(Rows),
    Graph(Box<Graph>),
}

pub(super) fn rows_from_parser(
    body: &[u8],
    format: QueryResultsFormat,
) -> Result<Expected, String> {
    match QueryResultsParser::from_format(format)
        .for_reader(body)
        .map_err(|e| e.to_string())?
    {
        ReaderQueryResultsParserOutput::Boolean(b) => Ok(Expected::Boolean(b)),
        ReaderQueryResultsParserOutput::Solutions(s) => {
            let mut rows = Vec::new();
            for sol in s {
                let sol = sol.map_err(|e| e.to_string())?;
                let mut row: Vec<(String, String)> = sol
                    .iter()
                    .map(|(v, t)| (v.as_str().to_owned(), norm_term(t)))
                    .collect();
                row.sort();
                rows.push(row);
            }
            Ok(Expected::Rows(rows))
        }
    }
}

/// Reads an expected result file; result sets written in RDF (rs: vocabulary) become rows.
/// `base` is the file's canonical IRI, against which its relative IRIs resolve.
pub(super) fn expected_result(path: &Path, base: &str) -> Result<Expected, String> {
    let body = std::fs::read(path).map_err(|e| e.to_string())?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("srx") => rows_from_parser(&body, QueryResultsFormat::Xml),
        Some("srj") => rows_from_parser(&body, QueryResultsFormat::Json),
        Some("tsv") => rows_from_parser(&body, QueryResultsFormat::Tsv),
        _ => {
            let store = Store::new().unwrap();
            store
                .load_from_reader(
                    RdfParser::from_format(rdf_format_of(path))
                        .with_base_iri(base)
                        .unwrap(),
                    body.as_slice(),
                )
                .map_err(|e| e.to_string())?;
            let rs = "PREFIX rs: <http://www.w3.org/2001/sw/DataAccess/tests/result-set#>";
            let is_rs = matches!(
                SparqlEvaluator::new()
                    .parse_query(&format!("{rs} ASK {{ ?x a rs:ResultSet }}"))
                    .unwrap()
                    .on_store(&store)
                    .execute()
                    .unwrap(),
                QueryResults::Boolean(true)
            );
            if !is_rs {
                let mut g = Graph::new();
                for q in store.iter() {
                    g.insert(q.unwrap().as_ref());
                }
                g.canonicalize(oxigraph::model::dataset::CanonicalizationAlgorithm::Unstable);
                return Ok(Expected::Graph(Box::new(g)));
            }
            if let QueryResults::Solutions(s) = SparqlEvaluator::new()
                .parse_query(&format!("{rs} SELECT ?b WHERE {{ ?x rs:boolean ?b }}"))
                .unwrap()
                .on_store(&store)
                .execute()
                .unwrap()
            {
                if let Some(sol) = s.into_iter().next() {
                    return Ok(Expected::Boolean(
                        sol.unwrap()
                            .get("b")
                            .map(|t| lit(t) == "true")
                            .unwrap_or(false),
                    ));
                }
            }
            let QueryResults::Solutions(s) = SparqlEvaluator::new()
                .parse_query(&format!(
                    "{rs} SELECT ?sol ?var ?val WHERE {{ ?x rs:solution ?sol . OPTIONAL {{ ?sol rs:binding ?b . ?b rs:variable ?var ; rs:value ?val }} }}"
                ))
                .unwrap()
                .on_store(&store)
                .execute()
                .unwrap()
            else {
                unreachable!()
            };
            let mut by_solution: HashMap<String, Vec<(String, String)>> = HashMap::new();
            for sol in s {
                let sol = sol.unwrap();
                let key = sol.get("sol").unwrap().to_string();
                let entry = by_solution.entry(key).or_default();
                if let (Some(var), Some(val)) = (sol.get("var"), sol.get("val")) {
                    entry.push((lit(var), norm_term(val)));
                }
            }
            Ok(Expected::Rows(
                by_solution
                    .into_values()
                    .map(|mut r| {
                        r.sort();
                        r
                    })
                    .collect(),
            ))
        }
    }
}
