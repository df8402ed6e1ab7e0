//! The syntax, evaluation and result-format suites: queries and updates sent to `/sparql`,
//! results compared with the expected files.

use super::results::{expected_result, rdf_format_of, rows_from_parser, Expected};
use super::*;

fn included(root: &Path, rel: &str) -> Vec<String> {
    let m = Manifest::load(root, rel);
    let heads = m.select("SELECT ?l WHERE { ?m mf:include ?l }");
    let mut out: Vec<String> = Vec::new();
    for rel in heads
        .iter()
        .flat_map(|h| m.list(&h["l"]))
        .filter_map(|t| iri(&t).strip_prefix(W3C_BASE).map(str::to_owned))
    {
        if !out.contains(&rel) {
            out.push(rel);
        }
    }
    assert!(!out.is_empty(), "{rel} includes no manifest");
    out
}

fn post_text(
    server: &TestServer,
    ct: &str,
    accept: &str,
    text: impl Into<reqwest::blocking::Body>,
) -> (u16, String, Vec<u8>) {
    let r = client()
        .post(server.url("/sparql"))
        .bearer_auth(ADMIN)
        .header("content-type", ct)
        .header("accept", accept)
        .body(text)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, ctype, r.bytes().unwrap().to_vec())
}

/// Reads a test file, prefixed with a BASE of its canonical IRI so relative IRIs resolve as the
/// suite intends.
fn with_base(m: &Manifest, file: &Term) -> Result<String, String> {
    let text = std::fs::read(m.local(file)).map_err(|e| e.to_string())?;
    let text = String::from_utf8(text).map_err(|_| "test file is not UTF-8".to_owned())?;
    Ok(format!("BASE <{}>\n{text}", iri(file)))
}

fn load_into(
    server: &TestServer,
    m: &Manifest,
    file: &Term,
    graph: Option<String>,
) -> Result<(), String> {
    use stocktake::catalog::{GraphFormat, GraphTarget, Visibility};
    let path = m.local(file);
    let data = std::fs::read(&path).map_err(|e| e.to_string())?;
    let format = GraphFormat::from_path(&path).unwrap_or(GraphFormat::Turtle);
    let target = graph
        .map(GraphTarget::Named)
        .unwrap_or(GraphTarget::Default);
    server
        .catalog
        .add_to_graph(&target, &data, format, Some(&iri(file)), &Visibility::ADMIN)
        .map(|_| ())
        .map_err(|e| format!("loading {}: {e}", path.display()))
}

fn reset(server: &TestServer) {
    let (s, _, body) = post_text(
        server,
        "application/sparql-update",
        "*/*",
        "DROP SILENT ALL",
    );
    assert!(s < 300, "{}", String::from_utf8_lossy(&body));
}

fn run_query_eval(m: &Manifest, server: &TestServer, test: &Term) -> Result<(), String> {
    let rows = m.about(
        test,
        "SELECT ?query ?data ?result WHERE { ?this mf:action ?a . ?a qt:query ?query .
           OPTIONAL { ?a qt:data ?data } OPTIONAL { ?this mf:result ?result } }",
    );
    let row = rows.first().ok_or("no qt:query")?;
    reset(server);
    for d in &rows {
        if let Some(data) = d.get("data") {
            load_into(server, m, data, None)?;
        }
    }
    for g in m.about(test, "SELECT ?g WHERE { ?this mf:action/qt:graphData ?g }") {
        load_into(server, m, &g["g"], Some(iri(&g["g"])))?;
    }
    let query = with_base(m, &row["query"])?;
    let result_iri = row.get("result").ok_or("no mf:result")?;
    let result = m.local(result_iri);
    if result.extension().is_some_and(|e| e == "csv") {
        // CSV loses datatypes, so the expected document is compared as text, row by row.
        let (status, _, body) = post_text(server, "application/sparql-query", "text/csv", query);
        if status != 200 {
            return Err(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        // Rows as sorted (column, value) lists: column order is free for SELECT *, blank node
        // labels are matched by isomorphism, and numbers compare by value (the store keeps
        // values).
        let norm = |t: &str| -> Result<Rows, String> {
            let mut reader = csv::ReaderBuilder::new().from_reader(t.as_bytes());
            let header: Vec<String> = reader
                .headers()
                .map_err(|e| e.to_string())?
                .iter()
                .map(str::to_owned)
                .collect();
            let mut rows = Vec::new();
            for record in reader.records() {
                let record = record.map_err(|e| e.to_string())?;
                let mut row: Vec<(String, String)> = header
                    .iter()
                    .zip(record.iter())
                    .map(|(h, v)| {
                        let v = if v.starts_with("_:") {
                            v.to_owned()
                        } else if let Ok(f) = v.parse::<f64>() {
                            format!("{f:?}")
                        } else {
                            v.to_owned()
                        };
                        (h.clone(), v)
                    })
                    .collect();
                row.sort();
                rows.push(row);
            }
            Ok(rows)
        };
        let want = norm(&std::fs::read_to_string(&result).map_err(|e| e.to_string())?)?;
        let got = norm(&String::from_utf8_lossy(&body))?;
        return if isomorphic(&got, &want, false) {
            Ok(())
        } else {
            Err(format!("CSV differs:\n got {got:?}\nwant {want:?}"))
        };
    }
    let expected = expected_result(&result, &iri(result_iri))?;
    let accept = match expected {
        Expected::Graph(_) => "application/n-triples",
        _ => "application/sparql-results+json",
    };
    let (status, ct, body) = post_text(server, "application/sparql-query", accept, query.clone());
    if status != 200 {
        return Err(format!(
            "status {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    match expected {
        Expected::Graph(want) => {
            let got = parse_graph(&body, &ct, "http://example.org/")?;
            if got != *want {
                return Err(format!("graph differs:\n got {got}\nwant {want}"));
            }
        }
        Expected::Boolean(want) => {
            let got = parse_boolean(&body, &ct)?;
            if got != want {
                return Err(format!("got {got}, want {want}"));
            }
        }
        Expected::Rows(want) => {
            let Expected::Rows(got) = rows_from_parser(&body, QueryResultsFormat::Json)? else {
                return Err("boolean where solutions were expected".into());
            };
            let ordered = query.to_ascii_uppercase().contains("ORDER BY");
            if !isomorphic(&got, &want, ordered) {
                return Err(format!("results differ:\n got {got:?}\nwant {want:?}"));
            }
        }
    }
    Ok(())
}

fn dataset_of_store(server: &TestServer) -> Result<Dataset, String> {
    let r = client()
        .get(server.url("/store"))
        .bearer_auth(ADMIN)
        .header("accept", "application/n-quads")
        .send()
        .map_err(|e| e.to_string())?;
    let body = r.bytes().map_err(|e| e.to_string())?;
    let mut d = Dataset::new();
    for q in RdfParser::from_format(RdfFormat::NQuads).for_reader(body.as_ref()) {
        d.insert(q.map_err(|e| e.to_string())?.as_ref());
    }
    d.canonicalize(oxigraph::model::dataset::CanonicalizationAlgorithm::Unstable);
    Ok(d)
}

fn run_update_eval(m: &Manifest, server: &TestServer, test: &Term) -> Result<(), String> {
    let request = m.about(test, "SELECT ?r WHERE { ?this mf:action/ut:request ?r }");
    let request = &request.first().ok_or("no ut:request")?["r"];
    reset(server);
    for d in m.about(test, "SELECT ?d WHERE { ?this mf:action/ut:data ?d }") {
        load_into(server, m, &d["d"], None)?;
    }
    for g in m.about(
        test,
        "SELECT ?f ?l WHERE { ?this mf:action/ut:graphData ?g . ?g ut:graph ?f ; rdfs:label ?l }",
    ) {
        load_into(server, m, &g["f"], Some(lit(&g["l"])))?;
    }
    let update = with_base(m, request)?;
    let (status, _, body) = post_text(server, "application/sparql-update", "*/*", update);
    if status >= 300 {
        return Err(format!(
            "status {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    let got = dataset_of_store(server)?;
    // Build the expected dataset in a scratch server-free store.
    let store = Store::new().unwrap();
    let load = |file: &Term, graph: Option<NamedNode>| -> Result<(), String> {
        let path = m.local(file);
        let mut parser = RdfParser::from_format(rdf_format_of(&path))
            .with_base_iri(iri(file))
            .unwrap();
        if let Some(g) = graph {
            parser = parser.with_default_graph(g);
        }
        store
            .load_from_reader(
                parser,
                std::fs::read(&path).map_err(|e| e.to_string())?.as_slice(),
            )
            .map_err(|e| e.to_string())
    };
    for d in m.about(test, "SELECT ?d WHERE { ?this mf:result/ut:data ?d }") {
        load(&d["d"], None)?;
    }
    for g in m.about(
        test,
        "SELECT ?f ?l WHERE { ?this mf:result/ut:graphData ?g . ?g ut:graph ?f ; rdfs:label ?l }",
    ) {
        load(&g["f"], Some(NamedNode::new(lit(&g["l"])).unwrap()))?;
    }
    let mut want = Dataset::new();
    for q in store.iter() {
        want.insert(q.unwrap().as_ref());
    }
    want.canonicalize(oxigraph::model::dataset::CanonicalizationAlgorithm::Unstable);
    if got != want {
        return Err(format!("dataset differs:\n got {got}\nwant {want}"));
    }
    Ok(())
}

/// Tests we do not run, with the reason. Anything else that fails fails the suite.
/// The first seven are on Oxigraph's own known-failures list (`testsuite/tests/sparql.rs` in
/// oxigraph/oxigraph: "Our scoping of variables introduced by GRAPH is wrong", "Our property
/// path handling is wrong"); the GROUP_CONCAT tests were changed in w3c/rdf-tests after the
/// suite Oxigraph 0.5 pins.
const SKIPPED: &[(&str, &str)] = &[
    ("negation/manifest#graph-minus", "Oxigraph 0.5: scoping of variables introduced by GRAPH (known upstream failure)"),
    ("aggregates/manifest#agg-empty-group-count-graph", "Oxigraph 0.5: scoping of variables introduced by GRAPH (known upstream failure)"),
    ("bindings/manifest#graph", "Oxigraph 0.5: scoping of variables introduced by GRAPH (known upstream failure)"),
    ("property-path/manifest#zero_or_more_set_start", "Oxigraph 0.5: zero-length path with a constant absent from the data yields nothing (known upstream failure)"),
    ("property-path/manifest#zero_or_more_set_end", "Oxigraph 0.5: zero-length path with a constant absent from the data yields nothing (known upstream failure)"),
    ("property-path/manifest#zero_or_one_set_start", "Oxigraph 0.5: zero-length path with a constant absent from the data yields nothing (known upstream failure)"),
    ("property-path/manifest#zero_or_one_set_end", "Oxigraph 0.5: zero-length path with a constant absent from the data yields nothing (known upstream failure)"),
    ("aggregates/manifest#agg-groupconcat-04", "Oxigraph 0.5 keeps a language tag shared by all GROUP_CONCAT inputs; the revised test expects a simple literal"),
    ("aggregates/manifest#agg-groupconcat-06", "Oxigraph 0.5 keeps a language tag shared by all GROUP_CONCAT inputs; the revised test expects a simple literal"),
    ("functions/manifest#bnode01", "Oxigraph 0.5: BNODE(str) names the blank node after the string, so equal strings in different solutions share one blank node (seen since blank nodes are compared by isomorphism)"),
    ("syntax-query/manifest#test_4", "parses; the evaluator then refuses the unknown extension function <http://example/function> (400), and the protocol cannot parse without evaluating"),
    ("syntax-update-1/manifest#test_1", "parses; LOAD of a remote document is refused (400): the server does no network I/O"),
    ("syntax-update-1/manifest#test_2", "parses; LOAD of a remote document is refused (400): the server does no network I/O"),
    ("syntax-update-1/manifest#test_3", "parses; LOAD of a remote document is refused (400): the server does no network I/O"),
    ("syntax-update-1/manifest#test_4", "parses; LOAD of a remote document is refused (400): the server does no network I/O"),
    ("syntax-update-1/manifest#test_37", "parses; LOAD of a remote document is refused (400): the server does no network I/O"),
    ("syntax-update-1/manifest#test_8", "parses; DROP GRAPH without SILENT on a graph the empty store lacks is an error, as SPARQL Update 3.2.2 says"),
    ("syntax-update-1/manifest#test_18", "parses; CLEAR GRAPH without SILENT on a graph the empty store lacks is an error, as SPARQL Update 3.2.3 says"),
];

/// Runs every test of the manifests `top` includes; `passed` and `skipped` are the counts this
/// harness is known to reach (see [`Tally::finish`]).
fn run_suite(suite: &'static str, top: &str, passed: usize, skipped: usize) {
    let data = need_shared_data!();
    let root = suite_dir(&data);
    let server = empty_server();
    let mut tally = Tally::new(suite);
    for rel in included(&root, top) {
        let m = Manifest::load(&root, &rel);
        for test in m.entries() {
            let name = iri(&test);
            if let Some((_, why)) = SKIPPED.iter().find(|(id, _)| name.ends_with(id)) {
                // A syntax test skipped at the endpoint for what happens after parsing must
                // still parse.
                if why.starts_with("parses;") {
                    if let Err(e) = parses(&m, &test) {
                        tally.failed.push((name, e));
                        continue;
                    }
                }
                tally.skipped.push((name, why));
                continue;
            }
            let info = m.about(&test, "SELECT ?type ?action ?approval WHERE { ?this rdf:type ?type . OPTIONAL { ?this mf:action ?action } OPTIONAL { ?this dawgt:approval ?approval } }");
            let Some(info) = info.first() else {
                tally
                    .failed
                    .push((name, "the manifest gives the test no rdf:type".into()));
                continue;
            };
            if info
                .get("approval")
                .is_some_and(|a| iri(a).ends_with("Withdrawn"))
            {
                tally.skipped.push((name, "withdrawn by the working group"));
                continue;
            }
            let kind = iri(&info["type"]);
            let kind = kind.rsplit('#').next().unwrap_or("");
            let outcome = match kind {
                "PositiveSyntaxTest11"
                | "PositiveUpdateSyntaxTest11"
                | "NegativeSyntaxTest11"
                | "NegativeUpdateSyntaxTest11" => {
                    let update = kind.contains("Update");
                    let positive = kind.starts_with("Positive");
                    // The file as bytes: a negative test may hold text that is not UTF-8, which
                    // the server must refuse like any other syntax error. A file that cannot be
                    // read is the harness's failure, never a pass.
                    let text = match std::fs::read(m.local(&info["action"])) {
                        Ok(bytes) => {
                            let mut body =
                                format!("BASE <{}>\n", iri(&info["action"])).into_bytes();
                            body.extend(bytes);
                            body
                        }
                        Err(e) => {
                            tally
                                .failed
                                .push((name, format!("cannot read the test file: {e}")));
                            continue;
                        }
                    };
                    if update {
                        reset(&server);
                    }
                    let ct = if update {
                        "application/sparql-update"
                    } else {
                        "application/sparql-query"
                    };
                    let (status, _, body) = post_text(&server, ct, "*/*", text);
                    let msg = String::from_utf8_lossy(&body).to_string();
                    // A positive test passes only when the operation ran (200, or 204 for an
                    // update): a 500 or a refusal for another reason is a failure. A negative
                    // test passes only on the 400 that names a syntax error.
                    let ran = status == 200 || (update && status == 204);
                    let syntax_error = status == 400 && msg.contains("syntax error");
                    match (positive, ran, syntax_error) {
                        (true, true, _) | (false, _, true) => Ok(()),
                        (true, false, _) => Err(format!("status {status}: {msg}")),
                        (false, _, false) => {
                            Err(format!("status {status}, not a syntax error: {msg}"))
                        }
                    }
                }
                "QueryEvaluationTest" => run_query_eval(&m, &server, &test),
                "UpdateEvaluationTest" => run_update_eval(&m, &server, &test),
                "CSVResultFormatTest" => run_query_eval(&m, &server, &test),
                other => {
                    tally.skipped.push((
                        name,
                        leak(format!("test type {other} is not run by this harness")),
                    ));
                    continue;
                }
            };
            match outcome {
                Ok(()) => tally.passed += 1,
                Err(e) => tally.failed.push((name, e)),
            }
        }
    }
    tally.finish(passed, skipped);
}

/// Whether a syntax test's file parses (spargebra, the server's parser), as a query or an
/// update by its extension.
fn parses(m: &Manifest, test: &Term) -> Result<(), String> {
    let action = m.about(test, "SELECT ?a WHERE { ?this mf:action ?a }");
    let file = &action.first().ok_or("no mf:action")?["a"];
    let path = m.local(file);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let parser = spargebra::SparqlParser::new()
        .with_base_iri(iri(file))
        .map_err(|e| e.to_string())?;
    if path.extension().is_some_and(|e| e == "ru") {
        parser.parse_update(&text).map(|_| ())
    } else {
        parser.parse_query(&text).map(|_| ())
    }
    .map_err(|e| format!("skipped as parsing, but does not parse: {e}"))
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[test]
fn w3c_query_suites() {
    run_suite(
        "query (syntax + evaluation)",
        "manifest-sparql11-query.ttl",
        317,
        11,
    );
}

#[test]
fn w3c_result_format_suites() {
    run_suite(
        "result formats (JSON, CSV, TSV)",
        "manifest-sparql11-results.ttl",
        10,
        0,
    );
}

#[test]
fn w3c_update_suites() {
    run_suite(
        "update (syntax + evaluation)",
        "manifest-sparql11-update.ttl",
        150,
        7,
    );
}
