//! Bad input and limits: every error status the endpoint documents, and no input crashes it.

use proptest::prelude::*;

use crate::util::{admin_update, client, TestServer, ADMIN, READ, WRITE};

fn post(
    server: &TestServer,
    token: &str,
    path: &str,
    ct: Option<&str>,
    body: impl Into<reqwest::blocking::Body>,
) -> (u16, String) {
    let mut r = client().post(server.url(path)).bearer_auth(token);
    if let Some(ct) = ct {
        r = r.header("content-type", ct);
    }
    let r = r.body(body).send().unwrap();
    (r.status().as_u16(), r.text().unwrap_or_default())
}

#[test]
fn malformed_sparql_is_400_with_position() {
    let server = TestServer::start();
    let (s, body) = post(
        &server,
        READ,
        "/sparql",
        Some("application/sparql-query"),
        "SELECT * WHERE { ?s ?p }",
    );
    assert_eq!(s, 400);
    assert!(
        body.contains("syntax error") && body.contains("1:"),
        "message with line:column: {body}"
    );
    let (s, body) = post(
        &server,
        WRITE,
        "/sparql",
        Some("application/sparql-update"),
        "INSERT DATA { <a:b> }",
    );
    assert_eq!(s, 400, "{body}");
}

#[test]
fn media_type_and_accept_errors() {
    let server = TestServer::start();
    let (s, _) = post(&server, READ, "/sparql", Some("text/plain"), "ASK {}");
    assert_eq!(s, 415);
    let (s, _) = post(&server, READ, "/sparql", None, "ASK {}");
    assert_eq!(s, 415);
    let (s, _) = post(
        &server,
        READ,
        "/sparql",
        Some("application/sparql-query; charset=iso-8859-1"),
        "ASK {}",
    );
    assert_eq!(s, 415);
    let r = client()
        .get(server.url("/sparql?query=ASK%7B%7D"))
        .bearer_auth(READ)
        .header("accept", "image/png")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 406);
    // CONSTRUCT cannot be answered as SPARQL results.
    let r =
        client()
            .get(server.url(
                "/sparql?query=CONSTRUCT%7B%3Fs%20%3Fp%20%3Fo%7DWHERE%7B%3Fs%20%3Fp%20%3Fo%7D",
            ))
            .bearer_auth(READ)
            .header("accept", "application/sparql-results+json")
            .send()
            .unwrap();
    assert_eq!(r.status().as_u16(), 406);
    let (s, _) = post(
        &server,
        WRITE,
        "/store?default",
        Some("application/pdf"),
        "x",
    );
    assert_eq!(s, 415);
}

#[test]
fn content_negotiation_picks_by_q_value() {
    let server = TestServer::start();
    for (accept, expected) in [
        ("text/csv", "text/csv"),
        ("text/tab-separated-values", "text/tab-separated-values"),
        (
            "application/sparql-results+xml",
            "application/sparql-results+xml",
        ),
        (
            "application/sparql-results+json;q=0.4, text/csv;q=0.9",
            "text/csv",
        ),
        ("*/*", "application/sparql-results+json"),
    ] {
        let r = client()
            .get(server.url("/sparql?query=SELECT%20%3Fx%20%7B%20BIND(1%20AS%20%3Fx)%20%7D"))
            .bearer_auth(READ)
            .header("accept", accept)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with(expected), "{accept} -> {ct}");
    }
    for (accept, expected) in [
        ("text/turtle", "text/turtle"),
        ("application/n-triples", "application/n-triples"),
        ("application/rdf+xml", "application/rdf+xml"),
        ("application/ld+json", "application/ld+json"),
        (
            "application/n-quads;q=0.5, text/turtle;q=0.1",
            "application/n-quads",
        ),
    ] {
        let r = client()
            .get(server.url("/sparql?query=CONSTRUCT%7B%3Chttp%3A%2F%2Fa%3E%20%3Chttp%3A%2F%2Fb%3E%201%7D%7B%7D"))
            .bearer_auth(READ)
            .header("accept", accept)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with(expected), "{accept} -> {ct}");
    }
}

#[test]
fn body_cap_is_413() {
    let server = TestServer::start_with(|c| c.server.max_body_bytes = 1024);
    let big = format!("ASK {{ FILTER(\"{}\" != \"\") }}", "x".repeat(4096));
    let (s, body) = post(
        &server,
        READ,
        "/sparql",
        Some("application/sparql-query"),
        big,
    );
    assert_eq!(s, 413, "{body}");
    let (s, _) = post(
        &server,
        WRITE,
        "/store?default",
        Some("application/n-triples"),
        "x".repeat(4096),
    );
    assert_eq!(s, 413);
}

#[test]
fn timeout_cancels_and_answers_503() {
    let server = TestServer::start_with(|c| {
        c.server.query_timeout_secs = 1;
        c.server.max_concurrent_queries = 1;
    });
    // Paths of length 7 in a complete graph of 20 nodes: 20^8 rows, each step an index lookup
    // (storage access is where the evaluation checks for cancellation).
    let q = "SELECT (COUNT(*) AS ?n) WHERE { ?a <http://e/p> ?b . ?b <http://e/p> ?c . \
             ?c <http://e/p> ?d . ?d <http://e/p> ?e . ?e <http://e/p> ?f . ?f <http://e/p> ?g . \
             ?g <http://e/p> ?h }";
    admin_update(&server, "INSERT { ?s <http://e/p> ?o } WHERE { VALUES ?i { 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 } VALUES ?j { 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 } BIND(IRI(CONCAT(\"http://e/n\", STR(?i))) AS ?s) BIND(IRI(CONCAT(\"http://e/n\", STR(?j))) AS ?o) }");
    let started = std::time::Instant::now();
    let r = client()
        .post(server.url("/sparql"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/sparql-query")
        .body(q)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    // The same query would run out of time again: no promise of when to retry.
    assert!(r.headers().get("retry-after").is_none());
    let body = r.text().unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("time limit"), "{body}");
    assert!(started.elapsed().as_secs() < 10);
    // The evaluation really stopped: with one evaluation slot, the next query gets it at once.
    let r = client()
        .get(server.url("/sparql?query=ASK%7B%7D"))
        .bearer_auth(ADMIN)
        .send()
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "slot still held by the cancelled query"
    );
    let r = client().get(server.url("/healthz")).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[test]
fn result_rows_are_capped_and_flagged() {
    let server = TestServer::start_with(|c| c.server.max_result_rows = 5);
    let r = client()
        .get(server.url("/sparql?query=SELECT%20%3Fx%20%7B%20VALUES%20%3Fx%20%7B1%202%203%204%205%206%207%208%7D%20%7D"))
        .bearer_auth(READ)
        .header("accept", "text/csv")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["x-stocktake-truncated"], "true");
    let body = r.text().unwrap();
    assert_eq!(body.lines().count(), 6, "header + 5 rows: {body}");
}

#[test]
fn protocol_misuse_is_400() {
    let server = TestServer::start();
    for path in [
        "/sparql?query=ASK%7B%7D&query=ASK%7B%7D",
        "/sparql?update=CLEAR%20DEFAULT",
        "/sparql?default-graph-uri=http%3A%2F%2Fa",
        "/sparql?query=ASK%7B%7D&default-graph-uri=not%20an%20iri",
        "/store?graph=a&default",
        "/store?bogus=1",
    ] {
        let r = client()
            .get(server.url(path))
            .bearer_auth(ADMIN)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{path}");
    }
    let (s, _) = post(
        &server,
        ADMIN,
        "/sparql",
        Some("application/x-www-form-urlencoded"),
        "query=ASK%7B%7D&update=CLEAR%20ALL",
    );
    assert_eq!(s, 400);
    let (s, _) = post(
        &server,
        WRITE,
        "/store?default",
        Some("text/turtle"),
        "<a:b> <a:b> .",
    );
    assert_eq!(s, 400, "invalid Turtle");
    let r = client()
        .delete(server.url("/store?graph=http%3A%2F%2Fnope"))
        .bearer_auth(WRITE)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = client()
        .get(server.url("/queries/nope"))
        .bearer_auth(READ)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = client()
        .get(server.url("/queries/categories?bogus=1"))
        .bearer_auth(READ)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
}

#[test]
fn named_queries_bind_parameters_as_terms() {
    let server = TestServer::start();
    let r = client()
        .get(server.url("/queries"))
        .bearer_auth(READ)
        .send()
        .unwrap();
    let list: serde_json::Value = r.json().unwrap();
    assert!(list["queries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|q| q["name"] == "categories"));
    let r = client()
        .get(server.url("/queries/categories?lang=en"))
        .bearer_auth(READ)
        .header("accept", "text/csv")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body = r.text().unwrap();
    assert!(
        body.contains("Mobile phones") && !body.contains("手机,"),
        "{body}"
    );
    let r = client()
        .get(server.url("/queries/categories?lang=zh"))
        .bearer_auth(READ)
        .header("accept", "text/csv")
        .send()
        .unwrap();
    assert!(r.text().unwrap().contains("电子产品"));
    // An injection attempt stays a literal: no rows, no error, no change of query shape.
    let r = client()
        .get(server.url("/queries/categories?lang=en%22)%20%7D%20%23"))
        .bearer_auth(READ)
        .header("accept", "text/csv")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().unwrap().lines().count(), 1, "header only");
}

#[test]
fn graph_store_round_trip() {
    let server = TestServer::start();
    let g = "/store?graph=http%3A%2F%2Fexample.org%2Fg";
    let (s, _) = post(
        &server,
        WRITE,
        g,
        Some("text/turtle"),
        "<http://a> <http://b> \"1\" .",
    );
    assert_eq!(s, 201, "new graph");
    let (s, _) = post(
        &server,
        WRITE,
        g,
        Some("application/n-triples"),
        "<http://a> <http://b> \"2\" .\n",
    );
    assert_eq!(s, 204, "existing graph");
    let r = client()
        .get(server.url(g))
        .bearer_auth(READ)
        .header("accept", "application/n-triples")
        .send()
        .unwrap();
    assert_eq!(r.text().unwrap().lines().count(), 2);
    let r = client()
        .put(server.url(g))
        .bearer_auth(WRITE)
        .header("content-type", "text/turtle")
        .body("<http://a> <http://b> \"3\" .")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let r = client()
        .head(server.url(g))
        .bearer_auth(READ)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = client()
        .get(server.url(g))
        .bearer_auth(READ)
        .header("accept", "application/n-triples")
        .send()
        .unwrap();
    assert_eq!(r.text().unwrap().trim(), "<http://a> <http://b> \"3\" .");
    let r = client()
        .delete(server.url(g))
        .bearer_auth(WRITE)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let r = client()
        .head(server.url(g))
        .bearer_auth(READ)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // A failed PUT leaves the graph untouched (transactional).
    post(
        &server,
        WRITE,
        g,
        Some("text/turtle"),
        "<http://a> <http://b> \"keep\" .",
    );
    let r = client()
        .put(server.url(g))
        .bearer_auth(WRITE)
        .header("content-type", "text/turtle")
        .body("<http://a> <http://b> \"x\" . <broken")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = client()
        .get(server.url(g))
        .bearer_auth(READ)
        .header("accept", "application/n-triples")
        .send()
        .unwrap();
    assert!(r.text().unwrap().contains("keep"));
}

/// Direct graph identification: `/store/some/path` is the graph whose IRI is that URL, and a
/// multipart POST merges its parts into the graph in one transaction.
#[test]
fn graph_store_direct_urls_and_multipart_posts() {
    let server = TestServer::start();
    let nt = |path: &str| {
        let r = client()
            .get(server.url(path))
            .bearer_auth(READ)
            .header("accept", "application/n-triples")
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    let direct = "/store/people/1";
    let r = client()
        .put(server.url(direct))
        .bearer_auth(WRITE)
        .header("content-type", "text/turtle")
        .body("<http://a> <http://b> \"1\" .")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    // The graph's IRI is the request URL: the indirect form reaches the same graph.
    let iri = server.url(direct);
    let indirect = format!(
        "/store?graph={}",
        form_urlencoded::byte_serialize(iri.as_bytes()).collect::<String>()
    );
    assert_eq!(nt(&indirect), nt(direct));
    assert_eq!(nt(direct).1.trim(), "<http://a> <http://b> \"1\" .");
    let q = format!("ASK {{ GRAPH <{iri}> {{ <http://a> <http://b> \"1\" }} }}");
    let r = client()
        .post(server.url("/sparql"))
        .bearer_auth(READ)
        .header("content-type", "application/sparql-query")
        .header("accept", "application/sparql-results+json")
        .body(q)
        .send()
        .unwrap();
    assert!(r.text().unwrap().contains("true"));
    // Direct URLs take no parameters; an absent graph is 404 to HEAD and GET.
    let (s, body) = nt("/store/people/1?graph=http%3A%2F%2Fx");
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("takes no query parameters"), "{body}");
    assert_eq!(nt("/store/people/2").0, 404);

    // Multipart POST: both parts land, in one graph.
    let boundary = "b0undary";
    let part = |name: &str, ct: &str, body: &str| {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; \
             filename=\"{name}\"\r\nContent-Type: {ct}\r\n\r\n{body}\r\n"
        )
    };
    let multipart = |parts: &[String]| format!("{}--{boundary}--\r\n", parts.concat());
    let ct = format!("multipart/form-data; boundary={boundary}");
    let body = multipart(&[
        part(
            "a.ttl",
            "text/turtle; charset=utf-8",
            "<http://a> <http://b> \"2\" .",
        ),
        part(
            "b.nt",
            "application/n-triples",
            "<http://a> <http://b> \"3\" .\n",
        ),
    ]);
    let (s, text) = post(&server, WRITE, direct, Some(&ct), body);
    assert_eq!(s, 204, "{text}");
    assert_eq!(nt(direct).1.lines().count(), 3);
    // A part that does not parse writes nothing from any part.
    let body = multipart(&[
        part("ok.ttl", "text/turtle", "<http://a> <http://b> \"4\" ."),
        part("bad.ttl", "text/turtle", "<http://a> <broken"),
    ]);
    let (s, _) = post(&server, WRITE, direct, Some(&ct), body);
    assert_eq!(s, 400);
    assert!(!nt(direct).1.contains("\"4\""), "first part written");
    // A part that is not RDF is refused by media type, naming the part.
    let body = multipart(&[part("notes.pdf", "application/pdf", "%PDF-1.4")]);
    let (s, text) = post(&server, WRITE, direct, Some(&ct), body);
    assert_eq!(s, 415, "{text}");
    assert!(text.contains("notes.pdf"), "{text}");
    // A broken multipart body is a 400, not a crash.
    let (s, _) = post(&server, WRITE, direct, Some(&ct), "--b0undary\r\nno end");
    assert_eq!(s, 400);
    // Readers cannot write through direct URLs either.
    let (s, _) = post(
        &server,
        READ,
        direct,
        Some("text/turtle"),
        "<http://a> <http://b> 5 .",
    );
    assert_eq!(s, 403);
    let r = client()
        .delete(server.url(direct))
        .bearer_auth(WRITE)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(nt(direct).0, 404);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Random bytes as query, update or graph-store body never crash the server: every answer
    /// is a 2xx or 4xx, and the server still answers health checks.
    #[test]
    fn random_bodies_never_crash(body in proptest::collection::vec(any::<u8>(), 0..300), kind in 0usize..4) {
        let server = shared_server();
        let (path, ct, token) = match kind {
            0 => ("/sparql", "application/sparql-query", READ),
            1 => ("/sparql", "application/sparql-update", WRITE),
            2 => ("/sparql", "application/x-www-form-urlencoded", WRITE),
            _ => ("/store?default", "text/turtle", WRITE),
        };
        let (status, _) = post(server, token, path, Some(ct), body);
        prop_assert!((200..500).contains(&status), "status {status}");
        let health = client().get(server.url("/healthz")).send().unwrap();
        prop_assert_eq!(health.status().as_u16(), 200);
    }
}

fn shared_server() -> &'static TestServer {
    static SERVER: std::sync::OnceLock<TestServer> = std::sync::OnceLock::new();
    SERVER.get_or_init(TestServer::start)
}

/// Bodies and query strings the extractors refuse answer in the same JSON error shape as every
/// other error, with the status their cause deserves.
#[test]
fn rejected_bodies_are_json_errors() {
    let server = TestServer::start();
    let post = |path: &str, ctype: &str, body: &str| {
        let r = client()
            .post(server.url(path))
            .bearer_auth(WRITE)
            .header("content-type", ctype)
            .body(body.to_owned())
            .send()
            .unwrap();
        let status = r.status().as_u16();
        let v: serde_json::Value = r.json().expect("a JSON error body");
        (status, v)
    };
    for path in ["/api/v1/sources", "/api/v1/ingest", "/api/v1/recommend"] {
        let (s, v) = post(path, "application/json", "{not json");
        assert_eq!(s, 400, "{path}: {v}");
        assert_eq!(v["status"], 400, "{v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
        let (s, v) = post(path, "text/plain", "{}");
        assert_eq!(s, 415, "{path}: {v}");
        assert_eq!(v["status"], 415, "{v}");
        let (s, v) = post(path, "application/json", r#"{"unknown_field": 1}"#);
        assert_eq!(s, 400, "{path}: {v}");
    }
    let r = client()
        .get(server.url("/api/v1/changes?limit=many"))
        .bearer_auth(READ)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v: serde_json::Value = r.json().unwrap();
    assert_eq!(v["status"], 400, "{v}");
    let r = client()
        .get(server.url("/api/v1/labels?limit=-1"))
        .bearer_auth(READ)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v: serde_json::Value = r.json().unwrap();
    assert_eq!(v["status"], 400, "{v}");
}
