//! The protocol and graph store protocol manifests: HTTP requests and expected responses
//! described with the `ht:` vocabulary, replayed against our server.

use super::*;

fn status_ok(expected: &[String], got: u16) -> bool {
    expected.iter().any(|e| {
        let name = e.rsplit('#').next().unwrap_or(e);
        match name {
            "StatusCode2xx" => (200..300).contains(&got),
            "StatusCode3xx" => (300..400).contains(&got),
            "StatusCode4xx" => (400..500).contains(&got),
            "OK" => got == 200,
            "Created" => got == 201,
            "NoContent" => got == 204,
            "NotFound" => got == 404,
            other => panic!("unknown expected status {other}"),
        }
    })
}

/// The status each `bad_*` protocol test must get. The manifest says only "4xx"; HTTP says
/// which: 405 for a method the endpoint does not serve, 415 for a body whose media type (or
/// charset) it does not take, 400 for a request it understands and refuses.
const SPECIFIC_STATUS: &[(&str, u16)] = &[
    ("bad_query_method", 405),
    ("bad_multiple_queries", 400),
    ("bad_query_wrong_media_type", 415),
    ("bad_query_missing_form_type", 415),
    ("bad_query_missing_direct_type", 415),
    ("bad_query_non_utf8", 415),
    ("bad_query_syntax", 400),
    ("bad_update_get", 400),
    ("bad_multiple_updates", 400),
    ("bad_update_wrong_media_type", 415),
    ("bad_update_missing_form_type", 415),
    ("bad_update_non_utf8", 415),
    ("bad_update_syntax", 400),
    ("bad_update_dataset_conflict", 400),
];

fn encode_body(chars: &str, encoding: &str) -> Vec<u8> {
    if encoding.eq_ignore_ascii_case("UTF-16") {
        let mut out = vec![0xFF, 0xFE];
        for u in chars.encode_utf16() {
            out.extend_from_slice(&u.to_le_bytes());
        }
        out
    } else {
        chars.as_bytes().to_vec()
    }
}

fn run_http_test(
    m: &Manifest,
    server: &TestServer,
    test: &Term,
    path_map: &dyn Fn(&str) -> String,
) -> Result<(), String> {
    // Data to load first (protocol tests): ut:graphData [ ut:graph <file> ; rdfs:label "iri" ].
    for row in m.about(
        test,
        "SELECT ?file ?name WHERE { ?this ut:graphData ?d . ?d ut:graph ?file ; rdfs:label ?name }",
    ) {
        let data = std::fs::read(m.local(&row["file"])).unwrap();
        let r = client()
            .put(server.url(&format!("/store?graph={}", enc(&lit(&row["name"])))))
            .bearer_auth(ADMIN)
            .header("content-type", "application/n-triples")
            .body(data)
            .send()
            .unwrap();
        assert!(r.status().is_success());
    }
    let requests = m.about(
        test,
        "SELECT ?list WHERE { ?this mf:action ?a . ?a ht:requests ?list }",
    );
    let mut location = String::new();
    for req in m.list(&requests[0]["list"]) {
        let info = &m.about(&req, "SELECT ?method ?path ?chars ?enc WHERE { ?this ht:methodName ?method ; ht:absolutePath ?path .
               OPTIONAL { ?this ht:body ?b . ?b cnt:chars ?chars OPTIONAL { ?b cnt:characterEncoding ?enc } } }")[0];
        let method = lit(&info["method"]);
        let path = path_map(&lit(&info["path"]).replace("$LOCATION$", &enc(&location)));
        let mut builder = client()
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                server.url(&path),
            )
            .bearer_auth(ADMIN);
        if let Some(h) = m
            .about(&req, "SELECT ?list WHERE { ?this ht:headers ?list }")
            .first()
        {
            for header in m.list(&h["list"]) {
                let row = &m.about(
                    &header,
                    "SELECT ?n ?v WHERE { ?this ht:fieldName ?n ; ht:fieldValue ?v }",
                )[0];
                builder = builder.header(lit(&row["n"]), lit(&row["v"]));
            }
        }
        if let Some(chars) = info.get("chars") {
            let enc = info.get("enc").map(lit).unwrap_or_else(|| "UTF-8".into());
            builder = builder.body(encode_body(&lit(chars), &enc));
        }
        let response = builder.send().map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().unwrap();
        let expect = m.about(&req, "SELECT ?status ?bool ?format ?loc WHERE { ?this ht:resp ?resp . ?resp mf:expectedStatus ?status .
               OPTIONAL { ?resp mf:expectedBoolean ?bool } OPTIONAL { ?resp mf:expectedFormat ?format }
               OPTIONAL { ?resp mf:expectedLocation ?loc } }");
        let statuses: Vec<String> = expect.iter().map(|e| iri(&e["status"])).collect();
        if !status_ok(&statuses, status) {
            return Err(format!(
                "{method} {path}: status {status}, expected {statuses:?}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        let name = iri(test);
        let name = name.rsplit('#').next().unwrap_or_default();
        if let Some((_, want)) = SPECIFIC_STATUS.iter().find(|(t, _)| *t == name) {
            if status != *want {
                return Err(format!(
                    "{method} {path}: status {status}, HTTP says {want}: {}",
                    String::from_utf8_lossy(&body)
                ));
            }
        }
        let ct = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if let Some(b) = expect[0].get("bool") {
            let want = lit(b) == "true";
            let got = parse_boolean(&body, &ct)?;
            if got != want {
                return Err(format!("boolean {got}, expected {want}"));
            }
        }
        if let Some(f) = expect[0].get("format") {
            let ok = match lit(f).as_str() {
                "boolean" | "tabular" => {
                    ct.contains("sparql-results")
                        || ct.starts_with("text/csv")
                        || ct.starts_with("text/tab-separated-values")
                }
                "RDF" => RdfFormat::from_media_type(&ct).is_some(),
                other => return Err(format!("unknown expected format {other}")),
            };
            if !ok {
                return Err(format!("content type {ct} does not fit format {}", lit(f)));
            }
        }
        if expect[0].contains_key("loc") {
            location = headers
                .get("location")
                .and_then(|v| v.to_str().ok())
                .ok_or("no Location header")?
                .to_owned();
        }
        // Expected response body, compared as graphs.
        if let Some(b) = m.about(&req, "SELECT ?chars ?hlist WHERE { ?this ht:resp ?resp . ?resp ht:body ?b . ?b cnt:chars ?chars . ?resp ht:headers ?hlist }").first() {
            let mut expected_ct = String::new();
            for header in m.list(&b["hlist"]) {
                let row = &m.about(&header, "SELECT ?n ?v WHERE { ?this ht:fieldName ?n ; ht:fieldValue ?v }")[0];
                if lit(&row["n"]).eq_ignore_ascii_case("content-type") {
                    expected_ct = lit(&row["v"]);
                }
            }
            let base = "http://www.example/";
            let want = parse_graph(lit(&b["chars"]).as_bytes(), &expected_ct, base)?;
            let got = parse_graph(&body, &ct, base)?;
            if want != got {
                return Err(format!("graph differs: got {got}, expected {want}"));
            }
        }
    }
    Ok(())
}

#[test]
fn w3c_protocol() {
    let data = need_shared_data!();
    let root = suite_dir(&data);
    let m = Manifest::load(&root, "protocol/manifest.ttl");
    let mut tally = Tally::new("protocol");
    for test in m.entries() {
        let server = empty_server();
        let map = |p: &str| p.replacen("/sparql/", "/sparql", 1);
        match run_http_test(&m, &server, &test, &map) {
            Ok(()) => tally.passed += 1,
            Err(e) => tally.failed.push((test.to_string(), e)),
        }
    }
    let bad = m
        .entries()
        .iter()
        .filter(|t| iri(t).contains("#bad_"))
        .count();
    assert_eq!(
        bad,
        SPECIFIC_STATUS.len(),
        "every bad_* test has its status"
    );
    tally.finish(34, 0);
}

#[test]
fn w3c_graph_store_protocol() {
    let data = need_shared_data!();
    let root = suite_dir(&data);
    let mut tally = Tally::new("graph store protocol");
    for rel in [
        "graph-store-protocol/manifest-indirect.ttl",
        "graph-store-protocol/manifest-direct.ttl",
    ] {
        let m = Manifest::load(&root, rel);
        for test in m.entries() {
            // Each test is one connection that starts from an empty store.
            let server = empty_server();
            let t = test.to_string();
            // Direct identification (mf:requires DirectGraphIdentification) is served too: the
            // tests' /gsp/person/1.ttl becomes /store/person/1.ttl, the graph with that URL.
            let map = |p: &str| p.replacen("/gsp", "/store", 1);
            match run_http_test(&m, &server, &test, &map) {
                Ok(()) => tally.passed += 1,
                Err(e) => tally.failed.push((t, e)),
            }
        }
    }
    tally.finish(13, 0);
}

/// `http-rdf-update/`: the first draft of the graph store protocol tests. Its requests live in
/// Markdown comments, not in `ht:` terms, and every entry is deprecated in favour of
/// `graph-store-protocol/` (run above, direct identification and multipart included). Counted
/// here as skipped with that reason, and asserted so: an entry that is not deprecated would
/// have to be run, and fails this test until it is.
#[test]
fn w3c_http_rdf_update() {
    let data = need_shared_data!();
    let root = suite_dir(&data);
    let m = Manifest::load(&root, "http-rdf-update/manifest.ttl");
    let mut tally = Tally::new("http-rdf-update (deprecated draft of graph store protocol)");
    for test in m.entries() {
        let approval = m.about(&test, "SELECT ?a WHERE { ?this dawgt:approval ?a }");
        match approval.first().map(|a| iri(&a["a"])) {
            Some(a) if a.ends_with("#Deprecated") => tally.skipped.push((
                iri(&test),
                "deprecated by the working group in favour of graph-store-protocol/",
            )),
            other => tally
                .failed
                .push((iri(&test), format!("not deprecated ({other:?}): run it"))),
        }
    }
    tally.finish(0, 18);
}

/// `service-description/`: its three tests are described in prose only (mf:name); each is
/// checked here as its name says, on `GET /sparql` without a query.
#[test]
fn w3c_service_description() {
    let data = need_shared_data!();
    let root = suite_dir(&data);
    let m = Manifest::load(&root, "service-description/manifest.ttl");
    let server = empty_server();
    let endpoint = server.url("/sparql");
    let response = client()
        .get(&endpoint)
        .bearer_auth(READ)
        .header("accept", "text/turtle")
        .send()
        .unwrap();
    let status = response.status().as_u16();
    let ct = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.bytes().unwrap();
    let graph = parse_graph(&body, &ct, &endpoint);
    let store = Store::new().unwrap();
    if let Ok(g) = &graph {
        for t in g.iter() {
            store
                .insert(t.in_graph(oxigraph::model::GraphNameRef::DefaultGraph))
                .unwrap();
        }
    }
    let ask = |q: &str| {
        let q = format!("PREFIX sd: <http://www.w3.org/ns/sparql-service-description#> {q}");
        matches!(
            SparqlEvaluator::new()
                .parse_query(&q)
                .unwrap()
                .on_store(&store)
                .execute()
                .unwrap(),
            QueryResults::Boolean(true)
        )
    };
    let mut tally = Tally::new("service description");
    for test in m.entries() {
        let name = iri(&test);
        let outcome = match name.rsplit('#').next().unwrap_or_default() {
            "returns-rdf" => match (&graph, status) {
                (Ok(g), 200) if !g.is_empty() => Ok(()),
                (g, s) => Err(format!(
                    "status {s}, {ct}: {:?}",
                    g.as_ref().map(|g| g.len())
                )),
            },
            "has-endpoint-triple" => {
                if ask(&format!("ASK {{ ?s sd:endpoint <{endpoint}> }}")) {
                    Ok(())
                } else {
                    Err(format!("no sd:endpoint <{endpoint}>"))
                }
            }
            // The SD vocabulary's schema: one sd:Service with an endpoint IRI and supported
            // languages from the vocabulary; result formats, features and input formats are
            // IRIs; a default dataset is an sd:Dataset whose default graph is an sd:Graph.
            "conforms-to-schema" => {
                let checks = [
                    ("one sd:Service", "ASK { { SELECT (COUNT(?s) AS ?n) WHERE { ?s a sd:Service } } FILTER(?n = 1) }"),
                    ("its endpoint is an IRI", "ASK { ?s a sd:Service ; sd:endpoint ?e FILTER(isIRI(?e)) }"),
                    ("it names a supported language", "ASK { ?s a sd:Service ; sd:supportedLanguage ?l }"),
                    ("languages are the vocabulary's", "ASK { FILTER NOT EXISTS { ?s sd:supportedLanguage ?l FILTER(?l NOT IN (sd:SPARQL10Query, sd:SPARQL11Query, sd:SPARQL11Update)) } }"),
                    ("formats and features are IRIs", "ASK { FILTER NOT EXISTS { ?s sd:resultFormat|sd:inputFormat|sd:feature|sd:extensionFunction ?x FILTER(!isIRI(?x)) } }"),
                    ("a default dataset is an sd:Dataset", "ASK { FILTER NOT EXISTS { ?s sd:defaultDataset ?d FILTER NOT EXISTS { ?d a sd:Dataset } } }"),
                    ("its default graph is an sd:Graph", "ASK { FILTER NOT EXISTS { ?d sd:defaultGraph ?g FILTER NOT EXISTS { ?g a sd:Graph } } }"),
                ];
                let failed: Vec<&str> = checks
                    .iter()
                    .filter(|(_, q)| !ask(q))
                    .map(|(what, _)| *what)
                    .collect();
                if failed.is_empty() {
                    Ok(())
                } else {
                    Err(format!("does not hold: {failed:?}"))
                }
            }
            other => Err(format!("unknown service description test {other}")),
        };
        match outcome {
            Ok(()) => tally.passed += 1,
            Err(e) => tally.failed.push((name, e)),
        }
    }
    tally.finish(3, 0);
}
