//! The access matrix: each role × {public graph, restricted graph} × each way of reading or
//! writing a graph gives the exact expected status, and no restricted triple ever appears in a
//! non-admin's response body.

use crate::util::{admin_update, client, TestServer, ADMIN, READ, WRITE};

pub(crate) const PUBLIC: &str = "http://example.org/public";
pub(crate) const SECRET_MARK: &str = "SECRET-MARK";
const PUBLIC_MARK: &str = "PUBLIC-MARK";

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Who {
    Anonymous,
    Reader,
    Writer,
    Admin,
}

impl Who {
    pub(crate) fn token(self) -> Option<&'static str> {
        match self {
            Who::Anonymous => None,
            Who::Reader => Some(READ),
            Who::Writer => Some(WRITE),
            Who::Admin => Some(ADMIN),
        }
    }
}

pub(crate) fn seed(server: &TestServer) -> String {
    let quarantine = server.catalog.layout().quarantine.as_str().to_owned();
    admin_update(
        server,
        &format!(
            "INSERT DATA {{ GRAPH <{PUBLIC}> {{ <http://example.org/p> <http://example.org/v> \"{PUBLIC_MARK}\" }}
                            GRAPH <{quarantine}> {{ <http://example.org/q> <http://example.org/v> \"{SECRET_MARK}\" }} }}"
        ),
    );
    quarantine
}

pub(crate) fn send(
    server: &TestServer,
    who: Who,
    method: reqwest::Method,
    path: &str,
    content_type: Option<&str>,
    body: Option<String>,
) -> (u16, String) {
    let mut req = client().request(method, server.url(path));
    if let Some(t) = who.token() {
        req = req.bearer_auth(t);
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let r = req.send().unwrap();
    let status = r.status().as_u16();
    (status, r.text().unwrap_or_default())
}

fn query(server: &TestServer, who: Who, q: &str) -> (u16, String) {
    send(
        server,
        who,
        reqwest::Method::POST,
        "/sparql",
        Some("application/sparql-query"),
        Some(q.to_owned()),
    )
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Runs every read form against `graph` and returns (status, body) per form.
fn read_forms(server: &TestServer, who: Who, graph: &str) -> Vec<(&'static str, u16, String)> {
    let mut out = Vec::new();
    let (s, b) = query(server, who, "SELECT * WHERE { ?s ?p ?o }");
    out.push(("select-default-graph", s, b));
    let (s, b) = query(server, who, "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }");
    out.push(("graph-var", s, b));
    let (s, b) = query(
        server,
        who,
        &format!("SELECT * FROM NAMED <{graph}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"),
    );
    out.push(("from-named", s, b));
    let (s, b) = query(
        server,
        who,
        &format!("SELECT * FROM <{graph}> WHERE {{ ?s ?p ?o }}"),
    );
    out.push(("from", s, b));
    let (s, b) = query(
        server,
        who,
        &format!("CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"),
    );
    out.push(("construct", s, b));
    let (s, b) = send(
        server,
        who,
        reqwest::Method::GET,
        &format!(
            "/sparql?query={}&default-graph-uri={}",
            enc("SELECT * { ?s ?p ?o }"),
            enc(graph)
        ),
        None,
        None,
    );
    out.push(("protocol-dataset", s, b));
    let (s, b) = send(
        server,
        who,
        reqwest::Method::GET,
        &format!("/store?graph={}", enc(graph)),
        None,
        None,
    );
    out.push(("gsp-get", s, b));
    let (s, b) = send(server, who, reqwest::Method::GET, "/store", None, None);
    out.push(("dump", s, b));
    out
}

fn update(server: &TestServer, who: Who, graph: &str) -> u16 {
    send(
        server,
        who,
        reqwest::Method::POST,
        "/sparql",
        Some("application/sparql-update"),
        Some(format!(
            "INSERT DATA {{ GRAPH <{graph}> {{ <http://example.org/n> <http://example.org/v> \"new\" }} }}"
        )),
    )
    .0
}

fn check_matrix(union_default_graph: bool) {
    let server = TestServer::start_with(|c| c.catalog.union_default_graph = union_default_graph);
    let quarantine = seed(&server);
    for who in [Who::Anonymous, Who::Reader, Who::Writer, Who::Admin] {
        for (graph, restricted) in [(PUBLIC, false), (quarantine.as_str(), true)] {
            for (form, status, body) in read_forms(&server, who, graph) {
                let ctx = format!("{who:?} {form} on {graph} (union={union_default_graph})");
                match who {
                    Who::Anonymous => assert_eq!(status, 401, "{ctx}: {body}"),
                    _ if form == "gsp-get" && restricted && who != Who::Admin => {
                        assert_eq!(status, 404, "{ctx}: restricted graph must look absent")
                    }
                    _ if form == "dump" && who != Who::Admin => {
                        assert_eq!(status, 403, "{ctx}: a whole-dataset dump is admin-only")
                    }
                    _ => assert_eq!(status, 200, "{ctx}: {body}"),
                }
                if who != Who::Admin {
                    assert!(
                        !body.contains(SECRET_MARK),
                        "{ctx} leaked a restricted triple: {body}"
                    );
                }
                if status == 200 {
                    let admin = who == Who::Admin;
                    let (public, secret) = match form {
                        // The default graph holds nothing; with union it is all visible graphs.
                        "select-default-graph" => {
                            (union_default_graph, union_default_graph && admin)
                        }
                        // Forms that read every visible named graph.
                        "graph-var" | "dump" => (true, admin),
                        // Forms that address `graph` only.
                        _ if restricted => (false, admin),
                        _ => (true, false),
                    };
                    assert_eq!(body.contains(PUBLIC_MARK), public, "{ctx}: {body}");
                    assert_eq!(body.contains(SECRET_MARK), secret, "{ctx}: {body}");
                }
            }
            let status = update(&server, who, graph);
            let expected = match (who, restricted) {
                (Who::Anonymous, _) => 401,
                (Who::Reader, _) => 403,
                (Who::Writer, true) => 403,
                _ => 204,
            };
            assert_eq!(status, expected, "{who:?} update {graph}");
        }
    }
    // Writes are audited with who and what.
    let audit = server.audit_log();
    assert!(
        audit.contains("\"who\":\"writer\"") && audit.contains("sparql-update"),
        "{audit}"
    );
    assert!(
        audit.contains("403"),
        "refused writes are audited too: {audit}"
    );
}

#[test]
fn access_matrix_with_store_default_graph() {
    check_matrix(false);
}

#[test]
fn access_matrix_with_union_default_graph() {
    check_matrix(true);
}

#[test]
fn restricted_graph_writes_and_tricks_are_refused_for_writers() {
    let server = TestServer::start();
    let quarantine = seed(&server);
    for update in [
        format!("CLEAR GRAPH <{quarantine}>"),
        "DROP ALL".to_owned(),
        "CLEAR NAMED".to_owned(),
        format!("WITH <{quarantine}> DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}"),
        "DELETE { GRAPH ?g { ?s ?p ?o } } WHERE { GRAPH ?g { ?s ?p ?o } }".to_owned(),
        format!(
            "INSERT {{ GRAPH ?g {{ <a:b> <a:b> <a:b> }} }} WHERE {{ BIND(<{quarantine}> AS ?g) }}"
        ),
    ] {
        let (status, body) = send(
            &server,
            Who::Writer,
            reqwest::Method::POST,
            "/sparql",
            Some("application/sparql-update"),
            Some(update.clone()),
        );
        assert_eq!(status, 403, "{update}: {body}");
    }
    // A writer's WHERE clause cannot read restricted data into a public graph.
    let (status, _) = send(
        &server,
        Who::Writer,
        reqwest::Method::POST,
        "/sparql",
        Some("application/sparql-update"),
        Some(format!(
            "INSERT {{ GRAPH <{PUBLIC}> {{ ?s <http://example.org/copied> ?o }} }} \
             WHERE {{ GRAPH <{quarantine}> {{ ?s ?p ?o }} }}"
        )),
    );
    assert_eq!(status, 204);
    let (_, body) = query(
        &server,
        Who::Admin,
        "SELECT * { GRAPH ?g { ?s <http://example.org/copied> ?o } }",
    );
    assert!(
        !body.contains(SECRET_MARK),
        "restricted data copied out: {body}"
    );
    // The data is still there for the admin.
    let (_, body) = query(
        &server,
        Who::Admin,
        &format!("SELECT * {{ GRAPH <{quarantine}> {{ ?s ?p ?o }} }}"),
    );
    assert!(body.contains(SECRET_MARK));
    // GSP writes on restricted graphs.
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::POST,
        reqwest::Method::DELETE,
    ] {
        let (status, _) = send(
            &server,
            Who::Writer,
            method.clone(),
            &format!("/store?graph={}", enc(&quarantine)),
            Some("application/n-triples"),
            Some("<a:b> <a:b> <a:b> .\n".into()),
        );
        assert_eq!(status, 403, "{method} on restricted graph");
    }
}

#[test]
fn bad_and_missing_tokens() {
    let server = TestServer::start();
    let r = client()
        .get(server.url("/sparql?query=ASK%7B%7D"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let r = client()
        .get(server.url("/sparql?query=ASK%7B%7D"))
        .bearer_auth("st_wrong")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = client()
        .get(server.url("/sparql?query=ASK%7B%7D"))
        .header("authorization", "Basic abc")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[test]
fn anonymous_read_sees_public_graphs_only() {
    let server = TestServer::start_with(|c| c.server.anonymous_read = true);
    let quarantine = seed(&server);
    let (status, body) = query(
        &server,
        Who::Anonymous,
        "SELECT * { GRAPH ?g { ?s ?p ?o } }",
    );
    assert_eq!(status, 200);
    assert!(body.contains(PUBLIC_MARK) && !body.contains(SECRET_MARK));
    let (status, _) = send(
        &server,
        Who::Anonymous,
        reqwest::Method::GET,
        &format!("/store?graph={}", enc(&quarantine)),
        None,
        None,
    );
    assert_eq!(status, 404);
    assert_eq!(update(&server, Who::Anonymous, PUBLIC), 401);
}

#[test]
fn catalog_marked_graphs_become_restricted() {
    let server = TestServer::start();
    seed(&server);
    let pii = "http://example.org/pii";
    admin_update(
        &server,
        &format!("INSERT DATA {{ GRAPH <{pii}> {{ <http://example.org/u> <http://example.org/phone> \"{SECRET_MARK}\" }} }}"),
    );
    let (_, body) = query(&server, Who::Reader, "SELECT * { GRAPH ?g { ?s ?p ?o } }");
    assert!(body.contains(SECRET_MARK), "not yet marked, so visible");
    let catalog = server.catalog.layout().catalog.as_str().to_owned();
    admin_update(
        &server,
        &format!(
            "INSERT DATA {{ GRAPH <{catalog}> {{ <{pii}> <https://w3id.org/stocktake/ns#restricted> true }} }}"
        ),
    );
    let (_, body) = query(&server, Who::Reader, "SELECT * { GRAPH ?g { ?s ?p ?o } }");
    assert!(
        !body.contains(SECRET_MARK),
        "marked graph must disappear: {body}"
    );
}

/// Every view the server builds for a caller (report, sources, labels, metrics, ingest jobs,
/// health) reads through the caller's visibility: role × path, with a restricted graph holding
/// a source, a label and triples that only admins may see.
#[test]
fn views_read_through_the_callers_visibility() {
    let input = tempfile::tempdir().unwrap();
    let roots = vec![input.path().to_path_buf()];
    let server = TestServer::start_with(|c| {
        c.server.anonymous_read = true;
        c.server.file_roots = roots;
    });
    let quarantine = seed(&server);
    let products = server.catalog.layout().products.as_str().to_owned();
    let catalog_graph = server.catalog.layout().catalog.as_str().to_owned();
    admin_update(
        &server,
        &format!(
            "PREFIX st: <https://w3id.org/stocktake/ns#> PREFIX dcterms: <http://purl.org/dc/terms/> \
             PREFIX prov: <http://www.w3.org/ns/prov#> \
             INSERT DATA {{ GRAPH <{quarantine}> {{ \
               <http://example.org/src> a st:DataSource ; dcterms:title \"{SECRET_MARK} source\" ; \
                 st:sourceKind \"files\" ; st:lastScan <http://example.org/scan> . \
               <http://example.org/scan> prov:endedAtTime \"2026-01-01T00:00:00Z\" ; st:assetCount 1 ; st:failedCount 0 }} \
             GRAPH <{products}> {{ <http://example.org/l1> a st:Label ; st:labelOf <http://example.org/p1> ; \
               st:entityType \"brand\" ; st:value \"LABEL-MARK\" ; st:confidence 0.5 ; \
               st:model <http://example.org/m> ; st:status \"review\" }} }}"
        ),
    );
    // An ingest job started by the writer, whose path and name anonymous callers must not see.
    let file = input.path().join("secret-folder-name.csv");
    std::fs::write(&file, "sku,title\nA1,x\n").unwrap();
    let (s, b) = send(
        &server,
        Who::Writer,
        reqwest::Method::POST,
        "/api/v1/ingest",
        Some("application/json"),
        Some(
            serde_json::json!({"asset": file, "label": false,
                "mapping": "entity = \"product\"\n[columns]\nid = \"sku\"\ntitle = \"title\"\n"})
            .to_string(),
        ),
    );
    assert_eq!(s, 202, "{b}");
    let get = |who: Who, path: &str| send(&server, who, reqwest::Method::GET, path, None, None);
    let post = |who: Who, path: &str| send(&server, who, reqwest::Method::POST, path, None, None);
    let views = [
        "/report?format=json",
        "/report",
        "/ui/catalog",
        "/api/v1/report",
        "/api/v1/sources",
        "/metrics",
    ];
    for who in [Who::Anonymous, Who::Reader, Who::Writer, Who::Admin] {
        for path in views {
            let (status, body) = get(who, path);
            assert_eq!(status, 200, "{who:?} {path}: {body}");
            let admin = who == Who::Admin;
            let secret = if path == "/metrics" {
                body.contains("graph=\"quarantine\"")
            } else {
                body.contains(SECRET_MARK)
            };
            // Admins see what is there (the report's HTML and metrics included).
            assert_eq!(secret, admin, "{who:?} {path}: {body}");
        }
        let (status, body) = get(who, "/healthz");
        assert_eq!(status, 200);
        assert_eq!(
            body.contains("quads"),
            who != Who::Anonymous,
            "{who:?}: {body}"
        );
        let (status, body) = get(who, "/api/v1/ingest");
        assert_eq!(status, 200, "{body}");
        let dir = input.path().display().to_string();
        if who == Who::Anonymous {
            assert!(!body.contains(&dir) && !body.contains("writer"), "{body}");
            assert!(body.contains("secret-folder-name.csv"), "{body}");
        } else {
            assert!(body.contains(&dir), "{who:?}: {body}");
        }
    }
    // Labels of a visible graph are in every reader's queue; once the catalog marks the product
    // graph restricted, they leave it.
    let (_, body) = get(Who::Anonymous, "/api/v1/labels");
    assert!(body.contains("LABEL-MARK"), "{body}");
    admin_update(
        &server,
        &format!("INSERT DATA {{ GRAPH <{catalog_graph}> {{ <{products}> <https://w3id.org/stocktake/ns#restricted> true }} }}"),
    );
    for who in [Who::Anonymous, Who::Reader, Who::Writer] {
        let (_, body) = get(who, "/api/v1/labels");
        assert!(!body.contains("LABEL-MARK"), "{who:?}: {body}");
    }
    let (_, body) = get(Who::Admin, "/api/v1/labels");
    assert!(body.contains("LABEL-MARK"), "{body}");
    // The stock watch reads the product graph (restricted above) and the changes graph: its
    // proposals are refused to non-admins while either is restricted from them.
    for who in [Who::Anonymous, Who::Reader, Who::Writer] {
        let (status, body) = get(who, "/api/v1/stock/proposals");
        assert_eq!(status, 403, "{who:?}: {body}");
    }
    let (status, body) = get(Who::Admin, "/api/v1/stock/proposals");
    assert_eq!(status, 200, "{body}");
    // Nor may a writer run a check, whose report names the products and their stock.
    let (status, body) = post(Who::Writer, "/api/v1/stock/check");
    assert_eq!(status, 403, "{body}");
    let (status, body) = post(Who::Admin, "/api/v1/stock/check");
    assert_eq!(status, 200, "{body}");
    // The change history is one graph: every role reads it while it is open; once the catalog
    // restricts it, only admins do (403 for the others, never a partial list).
    let changes = server.catalog.layout().changes.as_str().to_owned();
    for who in [Who::Anonymous, Who::Reader, Who::Writer, Who::Admin] {
        let (status, body) = get(who, "/api/v1/changes");
        assert_eq!(status, 200, "{who:?}: {body}");
    }
    admin_update(
        &server,
        &format!("INSERT DATA {{ GRAPH <{catalog_graph}> {{ <{changes}> <https://w3id.org/stocktake/ns#restricted> true }} }}"),
    );
    for who in [Who::Anonymous, Who::Reader, Who::Writer] {
        let (status, body) = get(who, "/api/v1/changes");
        assert_eq!(status, 403, "{who:?}: {body}");
    }
    let (status, body) = get(Who::Admin, "/api/v1/changes");
    assert_eq!(status, 200, "{body}");
    // Admins' reads are audited (they see restricted graphs).
    let (_, _) = query(&server, Who::Admin, "SELECT * { ?s ?p ?o } LIMIT 1");
    assert!(
        server.audit_log().contains("admin-read"),
        "{}",
        server.audit_log()
    );
}
