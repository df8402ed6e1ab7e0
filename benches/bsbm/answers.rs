//! The same-work check of the BSBM bench: every query is asked of both servers and the answers
//! must be equal — solutions as multisets of rows, booleans, graphs as sets of triples — so a
//! throughput ratio never compares different work.

use super::Server;

/// One query's answer, normalised for comparison: solutions as sorted (variable, term) rows,
/// a boolean, or a graph as sorted N-Triples lines. Rows are compared as multisets (the mixes'
/// ORDER BY keys are unique enough that both servers cut the same rows at a LIMIT).
#[derive(Debug, PartialEq)]
enum Answer {
    Rows(Vec<Vec<(String, String)>>),
    Boolean(bool),
    Graph(Vec<String>),
}

fn answer(
    server: &Server,
    client: &reqwest::blocking::Client,
    query: &str,
) -> Result<Answer, String> {
    use oxigraph::io::{RdfFormat, RdfParser};
    use oxigraph::sparql::results::{
        QueryResultsFormat, QueryResultsParser, ReaderQueryResultsParserOutput,
    };
    let mut req = client
        .post(&server.endpoint)
        .header("content-type", "application/sparql-query")
        .header(
            "accept",
            "application/sparql-results+json, application/n-triples;q=0.9",
        )
        .body(query.to_owned());
    if let Some(t) = &server.token {
        req = req.bearer_auth(t);
    }
    let r = req
        .send()
        .and_then(|r| r.error_for_status())
        .map_err(|e| e.to_string())?;
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = r.bytes().map_err(|e| e.to_string())?;
    if ct.starts_with("application/sparql-results+json") {
        match QueryResultsParser::from_format(QueryResultsFormat::Json)
            .for_reader(body.as_ref())
            .map_err(|e| e.to_string())?
        {
            ReaderQueryResultsParserOutput::Boolean(b) => Ok(Answer::Boolean(b)),
            ReaderQueryResultsParserOutput::Solutions(solutions) => {
                let mut rows = Vec::new();
                for s in solutions {
                    let s = s.map_err(|e| e.to_string())?;
                    let mut row: Vec<(String, String)> = s
                        .iter()
                        .map(|(v, t)| (v.as_str().to_owned(), t.to_string()))
                        .collect();
                    row.sort();
                    rows.push(row);
                }
                rows.sort();
                Ok(Answer::Rows(rows))
            }
        }
    } else {
        let mut lines = Vec::new();
        for t in RdfParser::from_format(RdfFormat::NTriples).for_reader(body.as_ref()) {
            lines.push(t.map_err(|e| e.to_string())?.to_string());
        }
        lines.sort();
        Ok(Answer::Graph(lines))
    }
}

/// Asks both servers every query of `mixes` and counts the queries whose answers differ (an
/// error on either side counts too); prints the first few.
pub(super) fn compare_answers(
    ours: &Server,
    peer: &Server,
    mixes: &[Vec<String>],
) -> (usize, usize) {
    let client = reqwest::blocking::Client::new();
    let (mut asked, mut differ) = (0, 0);
    for q in mixes.iter().flatten() {
        asked += 1;
        let (a, b) = (answer(ours, &client, q), answer(peer, &client, q));
        if a != b || a.is_err() {
            differ += 1;
            if differ <= 3 {
                eprintln!("answers differ for\n{q}\nours: {a:?}\npeer: {b:?}");
            }
        }
    }
    (asked, differ)
}
