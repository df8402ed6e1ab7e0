//! The workbench is a face of the same API: every page and the search endpoint join the
//! role × path access test (a restricted graph's content shows on no page for anyone but an
//! admin, an IRI known only there is a 404, no page carries a token), and browser sessions
//! need the CSRF token and our own origin.

use crate::auth::{seed, send, Who, PUBLIC, SECRET_MARK};
use crate::util::{admin_update, client, TestServer, ADMIN, READ, WRITE};

fn page(server: &TestServer, who: Who, path: &str) -> (u16, String) {
    let mut req = client().get(server.url(path)).header(
        "accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    );
    if let Some(t) = who.token() {
        req = req.bearer_auth(t);
    }
    let r = req.send().unwrap();
    (r.status().as_u16(), r.text().unwrap_or_default())
}

/// Waits until the search index has caught up with the store (the server's follower syncs it
/// within about a second of the last write).
pub(crate) fn wait_indexed(server: &TestServer) {
    let started = std::time::Instant::now();
    loop {
        let (status, body) = send(
            server,
            Who::Admin,
            reqwest::Method::GET,
            "/api/v1/search?q=x",
            None,
            None,
        );
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v["stale"] == false {
            return;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "the search index did not catch up: {body}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The workbench is a face of the same API: role × page, each page shows a restricted graph's
/// content only to admins, an IRI known only in a restricted graph is a 404 for everyone else,
/// and without anonymous read a page sends the browser to sign in.
#[test]
fn workbench_pages_read_through_the_callers_visibility() {
    let server = TestServer::start_with(|c| c.server.anonymous_read = true);
    let quarantine = seed(&server);
    let products = server.catalog.layout().products.as_str().to_owned();
    let public_product = "http://example.org/shop/p1";
    let secret_product = "http://example.org/shop/q1";
    let secret_asset = "http://example.org/src/asset/secret";
    admin_update(
        &server,
        &format!(
            "PREFIX st: <https://w3id.org/stocktake/ns#> PREFIX schema: <http://schema.org/> \
             PREFIX skos: <http://www.w3.org/2004/02/skos/core#> PREFIX csvw: <http://www.w3.org/ns/csvw#> \
             PREFIX dcterms: <http://purl.org/dc/terms/> PREFIX prov: <http://www.w3.org/ns/prov#> \
             INSERT DATA {{ \
             GRAPH <{products}> {{ <{public_product}> a schema:Product ; schema:name \"公开 手机 PUBLIC-MARK\" ; \
                 schema:category <http://example.org/shop/cat> . \
               <http://example.org/shop/cat> a skos:Concept ; skos:prefLabel \"手机\"@zh, \"Phones\"@en . \
               <http://example.org/l1> a st:Label ; st:labelOf <{public_product}> ; st:entityType \"brand\" ; \
                 st:value \"公开\" ; st:confidence 0.5 ; st:model <http://example.org/m> ; st:status \"review\" }} \
             GRAPH <{quarantine}> {{ <{secret_product}> a schema:Product ; schema:name \"秘密 手机 {SECRET_MARK}\" ; \
                 schema:category <http://example.org/shop/cat> . \
               <http://example.org/shop/q1/record> a st:QuarantinedRecord ; st:sourceAsset \"in.csv\" ; st:sourceLine 3 ; \
                 st:entityType \"product\" ; st:reason \"{SECRET_MARK} reason\" ; prov:wasGeneratedBy <http://example.org/run> . \
               <{secret_asset}> a st:Asset ; dcterms:title \"{SECRET_MARK} asset\" ; st:location \"/x.csv\" ; \
                 st:rowCount 3 ; st:source <http://example.org/src> ; csvw:column <{secret_asset}/column/0> . \
               <{secret_asset}/column/0> a st:Column ; csvw:name \"{SECRET_MARK}_col\" ; st:columnIndex 0 ; \
                 st:physicalType \"text\" ; st:semanticTypeName \"text\" ; st:nullRate 0.0 ; st:distinctCount 3 }} }}"
        ),
    );
    wait_indexed(&server);
    let pages = [
        "/".to_owned(),
        "/sparql".to_owned(),
        "/ui/catalog".to_owned(),
        format!("/ui/search?q={}", enc("手机")),
        // Lower case: the page shows the query itself, and search folds case.
        format!("/ui/search?q={}", enc(&SECRET_MARK.to_lowercase())),
        format!("/ui/entity?iri={}", enc(public_product)),
        format!("/ui/entity?iri={}", enc("http://example.org/shop/cat")),
        "/ui/taxonomy".to_owned(),
        "/ui/review".to_owned(),
        "/ui/changes".to_owned(),
        "/ui/models".to_owned(),
        "/ui/ontology".to_owned(),
    ];
    // Pages an admin sees the restricted content on (the others must not show it at all).
    let admin_sees = [
        "/ui/search?q=",
        "/ui/entity?iri=http%3A%2F%2Fexample.org%2Fshop%2Fcat",
        "/ui/review",
    ];
    for who in [Who::Anonymous, Who::Reader, Who::Writer, Who::Admin] {
        for path in &pages {
            let (status, body) = page(&server, who, path);
            assert_eq!(status, 200, "{who:?} {path}: {body}");
            assert!(body.starts_with("<!DOCTYPE html>"), "{who:?} {path}");
            assert!(!body.contains(READ) && !body.contains(ADMIN) && !body.contains(WRITE));
            let secret = body.contains(SECRET_MARK) || body.contains("秘密");
            if who != Who::Admin {
                assert!(!secret, "{who:?} {path}: {body}");
            } else if admin_sees.iter().any(|p| path.starts_with(p)) {
                assert!(secret, "{who:?} {path}: {body}");
            }
        }
        // Known only in a restricted graph: unknown to everyone but admins.
        for path in [
            format!("/ui/entity?iri={}", enc(secret_product)),
            format!("/ui/asset?iri={}", enc(secret_asset)),
        ] {
            let (status, body) = page(&server, who, &path);
            if who == Who::Admin {
                assert_eq!(status, 200, "{path}: {body}");
                assert!(body.contains(SECRET_MARK), "{path}: {body}");
            } else {
                assert_eq!(status, 404, "{who:?} {path}: {body}");
                assert!(!body.contains(SECRET_MARK), "{who:?} {path}");
            }
        }
        // The search API: the quarantined product is found by admins only.
        let (status, body) = send(
            &server,
            who,
            reqwest::Method::GET,
            &format!("/api/v1/search?q={}&kind=product", enc("手机")),
            None,
            None,
        );
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let want = if who == Who::Admin { 2 } else { 1 };
        assert_eq!(v["total"], want, "{who:?}: {body}");
        assert_eq!(body.contains(secret_product), who == Who::Admin, "{body}");
        let (_, home) = page(&server, who, "/");
        assert_eq!(
            home.contains(&quarantine),
            who == Who::Admin,
            "{who:?}: {home}"
        );
        assert!(home.contains(PUBLIC), "{who:?}");
        let (status, body) = send(
            &server,
            who,
            reqwest::Method::GET,
            "/api/v1/vocabulary",
            None,
            None,
        );
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(v["classes"].as_array().unwrap().len() > 5, "{body}");
    }
    // Review decisions, stock checks and proposal decisions need the write role, whatever the
    // face.
    for (who, want) in [(Who::Reader, 403), (Who::Anonymous, 401)] {
        for path in [
            "/api/v1/labels/0123/accept",
            "/api/v1/stock/check",
            "/api/v1/stock/proposals/0123/accept",
        ] {
            let (status, body) = send(&server, who, reqwest::Method::POST, path, None, None);
            assert_eq!(status, want, "{who:?} {path}: {body}");
        }
    }
    // With the role they go through: a writer's and an admin's check runs (nothing is stocked
    // here, so it raises nothing), a decision on a proposal that does not exist is 404, an
    // action other than accept/reject too, and a malformed body is 400.
    for who in [Who::Writer, Who::Admin] {
        let (status, body) = send(
            &server,
            who,
            reqwest::Method::POST,
            "/api/v1/stock/check",
            Some("application/json"),
            Some(r#"{"force":true}"#.into()),
        );
        assert_eq!(status, 200, "{who:?} check: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["events"].as_array().map(Vec::len), Some(0), "{body}");
        for (path, want) in [
            ("/api/v1/stock/proposals/0123/accept", 404),
            ("/api/v1/stock/proposals/0123/reject", 404),
            ("/api/v1/stock/proposals/0123/approve", 404),
            ("/api/v1/stock/proposals/not-hex/accept", 404),
        ] {
            let (status, body) = send(&server, who, reqwest::Method::POST, path, None, None);
            assert_eq!(status, want, "{who:?} {path}: {body}");
        }
        let (status, body) = send(
            &server,
            who,
            reqwest::Method::POST,
            "/api/v1/stock/check",
            Some("application/json"),
            Some(r#"{"as_of":"yesterday"}"#.into()),
        );
        assert_eq!(status, 400, "{who:?}: {body}");
    }
    // Proposals are read through the caller's visibility of the graphs they come from.
    for who in [Who::Anonymous, Who::Reader, Who::Writer, Who::Admin] {
        let (status, body) = send(
            &server,
            who,
            reqwest::Method::GET,
            "/api/v1/stock/proposals",
            None,
            None,
        );
        assert_eq!(status, 200, "{who:?}: {body}");
    }
    // Sealed values open for admins only (with a reason, audited); the keyring's status too.
    for (who, want) in [
        (Who::Anonymous, 401),
        (Who::Reader, 403),
        (Who::Writer, 403),
        (Who::Admin, 200),
    ] {
        let (status, body) = send(
            &server,
            who,
            reqwest::Method::POST,
            "/api/v1/decrypt",
            Some("application/json"),
            Some(r#"{"subject":"http://example.org/q","reason":"access test"}"#.into()),
        );
        assert_eq!(status, want, "{who:?} decrypt: {body}");
        let (status, body) = send(
            &server,
            who,
            reqwest::Method::GET,
            "/api/v1/keys",
            None,
            None,
        );
        // An admin passes the check; this store has no key yet (nothing sealed): 503 says so.
        let want = if who == Who::Admin { 503 } else { want };
        assert_eq!(status, want, "{who:?} keys: {body}");
        if who == Who::Admin {
            assert!(body.contains("no encryption key"), "{body}");
        }
    }
    // Ontology plans read every graph; plans and applies are admins' (an apply here has the
    // shipped ontology, already loaded: it changes nothing).
    for path in ["/api/v1/ontology/plan", "/api/v1/ontology/apply"] {
        for (who, want) in [
            (Who::Anonymous, 401),
            (Who::Reader, 403),
            (Who::Writer, 403),
            (Who::Admin, 200),
        ] {
            let (status, body) = send(&server, who, reqwest::Method::POST, path, None, None);
            assert_eq!(status, want, "{who:?} {path}: {body}");
            if who == Who::Admin {
                assert!(body.contains("\"unchanged\":true"), "{body}");
            }
        }
    }
    // The ontology's documentation is read like the ontology graph: every role here.
    for who in [Who::Anonymous, Who::Reader, Who::Writer, Who::Admin] {
        let (status, body) = send(&server, who, reqwest::Method::GET, "/ontology", None, None);
        assert_eq!(status, 200, "{who:?} /ontology: {body}");
        assert!(body.contains("Concept schemes"), "{who:?}");
    }
    // Anonymised exports read a file on the server: writers only under `[server] file_roots`
    // (none here), admins anywhere but the store; what comes back is the anonymised copy.
    let users = crate::util::repo().join("demo/data/users.csv");
    let body = serde_json::json!({ "source": users }).to_string();
    for (who, want) in [
        (Who::Anonymous, 401),
        (Who::Reader, 403),
        (Who::Writer, 403),
        (Who::Admin, 200),
    ] {
        let (status, answer) = send(
            &server,
            who,
            reqwest::Method::POST,
            "/api/v1/exports/anonymised",
            Some("application/json"),
            Some(body.clone()),
        );
        assert_eq!(status, want, "{who:?} export: {answer}");
        if who == Who::Admin {
            let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
            assert!(v["smallest_class"].as_u64().unwrap() >= 5, "{answer}");
            assert!(
                !v["csv"].as_str().unwrap().contains("@example.com"),
                "{answer}"
            );
        }
    }
    // Differentially private aggregates: any reader, each spending their own budget (this
    // server allows anonymous reads: anonymous callers share one budget).
    for (who, want) in [
        (Who::Anonymous, 200),
        (Who::Reader, 200),
        (Who::Writer, 200),
        (Who::Admin, 200),
    ] {
        let (status, answer) = send(
            &server,
            who,
            reqwest::Method::GET,
            "/api/v1/dp/interactions?epsilon=0.1&group_by=category",
            None,
            None,
        );
        assert_eq!(status, want, "{who:?} dp: {answer}");
        assert!(!answer.contains(SECRET_MARK), "{who:?} dp: {answer}");
    }
    assert!(server.audit_log().contains("access test"));
    // Bad input gets a clear message, never a crash.
    for (path, needle) in [
        ("/api/v1/search?q=", "empty"),
        ("/api/v1/search?q=a&limit=1000", "limit"),
        ("/api/v1/search?q=a&bogus=1", "bogus"),
        ("/ui/entity?iri=not%20an%20iri", "IRI"),
        ("/ui/changes?since=yesterday", "RFC 3339"),
    ] {
        let (status, body) = send(&server, Who::Reader, reqwest::Method::GET, path, None, None);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(needle), "{path}: {body}");
    }
    // The index stays JSON for API clients.
    let (status, body) = send(&server, Who::Reader, reqwest::Method::GET, "/", None, None);
    assert_eq!(status, 200);
    assert!(body.contains("\"endpoints\""), "{body}");

    let closed = TestServer::start();
    let no_redirect = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in [
        "/",
        "/sparql",
        "/ui/search?q=x",
        "/ui/review",
        "/ui/taxonomy",
    ] {
        let r = no_redirect
            .get(closed.url(path))
            .header("accept", "text/html")
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 303, "{path}");
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.starts_with("/ui/login?needed=1&next="), "{to}");
    }
    let (status, _) = send(
        &closed,
        Who::Anonymous,
        reqwest::Method::GET,
        "/api/v1/vocabulary",
        None,
        None,
    );
    assert_eq!(status, 401);
}

/// Browser sessions: the token is exchanged for an HttpOnly cookie; the cookie reads with the
/// token's role, writes only with the session's CSRF token, never from another site, and ends
/// on sign-out or when the token leaves the configuration.
#[test]
fn workbench_sessions_need_csrf_and_our_origin() {
    let server = TestServer::start();
    seed(&server);
    let c = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let host = server.base.trim_start_matches("http://").to_owned();
    // A wrong token: 401 and the form again, no cookie.
    let r = c
        .post(server.url("/ui/login"))
        .form(&[("token", "nope"), ("next", "/sparql")])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    // Sign in from another site: refused before the token is even looked at.
    let r = c
        .post(server.url("/ui/login"))
        .header("origin", "https://evil.example")
        .form(&[("token", WRITE), ("next", "/")])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = c
        .post(server.url("/ui/login"))
        .header("origin", format!("http://{host}"))
        .form(&[("token", WRITE), ("next", "//evil.example/")])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/", "an off-site next is dropped");
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_owned();
    assert!(!cookie.contains(WRITE));
    // The session reads as the writer; its page carries the CSRF token.
    let home = c
        .get(server.url("/"))
        .header("accept", "text/html")
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(home.contains("<b>writer</b>"), "{home}");
    let csrf = home
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    assert_eq!(csrf.len(), 64);
    let update = format!("INSERT DATA {{ GRAPH <{PUBLIC}> {{ <http://example.org/w> <http://example.org/v> \"by-session\" }} }}");
    let post = |headers: &[(&str, &str)]| {
        let mut r = c
            .post(server.url("/sparql"))
            .header("cookie", &cookie)
            .header("content-type", "application/sparql-update");
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let r = r.body(update.clone()).send().unwrap();
        (r.status().as_u16(), r.text().unwrap_or_default())
    };
    let (s, b) = post(&[]);
    assert_eq!(s, 403, "no CSRF token: {b}");
    assert!(b.contains("X-CSRF-Token"), "{b}");
    let (s, _) = post(&[("x-csrf-token", "0".repeat(64).as_str())]);
    assert_eq!(s, 403, "a wrong CSRF token");
    let origin = "https://evil.example".to_owned();
    let (s, _) = post(&[("x-csrf-token", &csrf), ("origin", &origin)]);
    assert_eq!(s, 403, "right token, another site");
    let (s, b) = post(&[("x-csrf-token", &csrf)]);
    assert_eq!(s, 204, "{b}");
    // Sign out ends the session: the cookie is anonymous again (and anonymous read is off).
    let r = c
        .post(server.url("/ui/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let r = c
        .get(server.url("/sparql?query=ASK%7B%7D"))
        .header("cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}
