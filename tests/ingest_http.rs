//! Ingest over HTTP on a real server: the server keeps answering SPARQL while a run writes,
//! the job reports the run, roles and bad requests get the right status, a second run while
//! one is going is a 409, and the same input posted again is recognised as done.

use std::time::{Duration, Instant};

use crate::util::{client, TestServer, ADMIN, READ, WRITE};

const MAPPING: &str = "entity = \"product\"\nnamespace = \"big\"\n[columns]\nid = \"sku\"\ntitle = \"title\"\nprice = \"price\"\ncategory = \"cat\"\n[defaults]\ncurrency = \"CNY\"\n";

/// `POST /api/v1/ingest` with `token`.
fn start(
    server: &TestServer,
    token: &str,
    body: &serde_json::Value,
) -> reqwest::blocking::Response {
    client()
        .post(server.url("/api/v1/ingest"))
        .bearer_auth(token)
        .json(body)
        .send()
        .unwrap()
}

fn job(server: &TestServer, href: &str) -> serde_json::Value {
    client()
        .get(server.url(href))
        .bearer_auth(READ)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

#[test]
fn the_server_keeps_serving_while_an_ingest_runs() {
    let server = TestServer::start_with(|c| {
        c.ingest.title_model = String::new();
        c.server.file_roots = vec![c.data.parent().unwrap().join("inbox")];
    });
    let inbox = server.dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let file = inbox.join("big.csv");
    let mut text = String::from("sku,title,price,cat\n");
    for i in 0..60_000 {
        // Titles unlike each other (so the near-duplicate pass has little to link).
        let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        text.push_str(&format!("S{i:06},商品 {h:016x},{}.50,手机\n", 10 + i % 500));
    }
    text.push_str("BAD,坏价格,abc,手机\n");
    std::fs::write(&file, text).unwrap();
    let body = serde_json::json!({ "asset": file, "mapping": MAPPING });

    // Roles and bad requests first.
    let r = client()
        .post(server.url("/api/v1/ingest"))
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = start(&server, READ, &body);
    assert_eq!(r.status(), 403);
    let bad = serde_json::json!({ "asset": file, "mapping": MAPPING.replace("\"cat\"", "\"kategorie\"") });
    let r = start(&server, WRITE, &bad);
    assert_eq!(r.status(), 400);
    let e: serde_json::Value = r.json().unwrap();
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("column \"kategorie\" for category"),
        "{e}"
    );
    // Writers may only have the server read files under [server] file_roots, also through
    // `..`; an admin may name any path.
    for outside in [
        crate::util::repo().join("Cargo.toml"),
        inbox.join("../store/pseudonym.key"),
    ] {
        std::fs::create_dir_all(server.dir.path().join("store")).unwrap();
        std::fs::write(server.dir.path().join("store/pseudonym.key"), "00").unwrap();
        let body = serde_json::json!({ "asset": outside, "mapping": MAPPING });
        let r = start(&server, WRITE, &body);
        assert_eq!(r.status(), 403, "{}", outside.display());
        let e: serde_json::Value = r.json().unwrap();
        assert!(
            e["error"]
                .as_str()
                .unwrap()
                .contains("outside the folders writers may"),
            "{e}"
        );
    }
    let body_admin =
        serde_json::json!({ "asset": crate::util::repo().join("Cargo.toml"), "mapping": MAPPING });
    let r = start(&server, ADMIN, &body_admin);
    assert_eq!(
        r.status(),
        400,
        "an admin passes the path check; the mapping does not fit"
    );
    let missing =
        serde_json::json!({ "asset": inbox.join("no-such-file.csv"), "mapping": MAPPING });
    let r = start(&server, WRITE, &missing);
    assert_eq!(r.status(), 404);
    let r = start(
        &server,
        WRITE,
        &serde_json::json!({ "asset": file, "mapping": "entity = \"planet\"" }),
    );
    assert_eq!(r.status(), 400);

    let r = start(&server, WRITE, &body);
    assert_eq!(r.status(), 202);
    let started: serde_json::Value = r.json().unwrap();
    let href = started["href"].as_str().unwrap().to_string();
    let r = start(&server, ADMIN, &body);
    assert_eq!(r.status(), 409, "one run at a time");

    // While it runs, queries are answered.
    let mut answered_while_running = 0;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let before = job(&server, &href);
        let q = client()
            .get(server.url("/sparql"))
            .query(&[(
                "query",
                "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }",
            )])
            .bearer_auth(READ)
            .header("Accept", "application/sparql-results+json")
            .timeout(Duration::from_secs(30))
            .send()
            .unwrap();
        assert_eq!(q.status(), 200);
        let after = job(&server, &href);
        if before["status"] == "running" && after["status"] == "running" {
            answered_while_running += 1;
        }
        if after["status"] != "running" {
            break;
        }
        assert!(Instant::now() < deadline, "ingest did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    let done = job(&server, &href);
    assert_eq!(done["status"], "done", "{done}");
    assert!(
        answered_while_running >= 1,
        "no query was answered during the run"
    );
    let report = &done["report"];
    assert_eq!(report["records_in"], 60_001);
    assert_eq!(report["accepted"], 60_000);
    assert_eq!(report["quarantined"], 1);
    assert!(server.audit_log().contains("ingest-finished"));

    // The same input again: recognised as done, nothing rewritten.
    let r = start(&server, WRITE, &body);
    assert_eq!(r.status(), 202);
    let again: serde_json::Value = r.json().unwrap();
    let href2 = again["href"].as_str().unwrap().to_string();
    let mut j = job(&server, &href2);
    while j["status"] == "running" {
        std::thread::sleep(Duration::from_millis(50));
        j = job(&server, &href2);
    }
    assert_eq!(j["report"]["skipped"], true, "{j}");
    assert_eq!(j["report"]["records_in"], 60_001);
    let list: serde_json::Value = client()
        .get(server.url("/api/v1/ingest"))
        .bearer_auth(READ)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(list["jobs"].as_array().unwrap().len(), 2);
    let r = client()
        .get(server.url("/api/v1/ingest/nope"))
        .bearer_auth(READ)
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
}
