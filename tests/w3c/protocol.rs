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
    tally.finish();
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
    tally.finish();
}
