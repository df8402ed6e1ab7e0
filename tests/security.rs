//! Regression tests of the adversarial review (issue 29): each one failed on the code before
//! its fix. Writers cannot change the access policy or the system graphs in any write form;
//! one query cannot exhaust the server's memory with string functions, nor hold an evaluation
//! slot past its deadline with a cross product of in-memory solutions; nothing derived from a
//! raw user id can be recomputed by someone who guesses ids; profiles and quarantined records
//! do not publish raw personal values.

use std::io::BufRead;

use crate::util::{admin_update, client, ontology_catalog, select, TestServer, ADMIN, WRITE};
use stocktake::ingest::{self, mapping::Mapping};

fn post(server: &TestServer, token: &str, path: &str, ct: &str, body: String) -> (u16, String) {
    let r = client()
        .post(server.url(path))
        .bearer_auth(token)
        .header("content-type", ct)
        .body(body)
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap_or_default())
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[test]
fn writers_cannot_change_the_access_policy_or_system_graphs() {
    let server = TestServer::start();
    let l = server.catalog.layout().clone();
    let secret = "http://example.org/secret-graph";
    admin_update(
        &server,
        &format!(
            "INSERT DATA {{ GRAPH <{secret}> {{ <http://e/s> <http://e/p> \"HIDDEN\" }} \
             GRAPH <{c}> {{ <{secret}> <https://w3id.org/stocktake/ns#restricted> true }} }}",
            c = l.catalog.as_str()
        ),
    );
    let mark = format!("<{secret}> <https://w3id.org/stocktake/ns#restricted> true");
    let products = l.products.as_str();
    for g in [
        &l.catalog,
        &l.ontology,
        &l.models,
        &l.changes,
        &l.quarantine,
    ] {
        let g = g.as_str();
        for update in [
            format!("DELETE DATA {{ GRAPH <{g}> {{ {mark} }} }}"),
            format!("INSERT DATA {{ GRAPH <{g}> {{ <{products}> <https://w3id.org/stocktake/ns#restricted> true }} }}"),
            format!("DROP GRAPH <{g}>"),
            format!("CLEAR GRAPH <{g}>"),
            format!("CREATE GRAPH <{g}>"),
            format!("WITH <{g}> DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}"),
            format!("DELETE WHERE {{ GRAPH <{g}> {{ ?s ?p ?o }} }}"),
            format!("COPY <{products}> TO <{g}>"),
            format!("MOVE <{g}> TO <http://example.org/mine>"),
            format!("ADD <{products}> TO <{g}>"),
            format!("LOAD <http://example.org/x.ttl> INTO GRAPH <{g}>"),
        ] {
            let (status, body) = post(
                &server,
                WRITE,
                "/sparql",
                "application/sparql-update",
                update.clone(),
            );
            assert_eq!(status, 403, "{update}: {body}");
            assert!(body.contains("only admins may change it"), "{body}");
            // The same through the form encoding.
            let (status, _) = post(
                &server,
                WRITE,
                "/sparql",
                "application/x-www-form-urlencoded",
                format!("update={}", enc(&update)),
            );
            assert_eq!(status, 403, "form: {update}");
        }
        // Graph store: PUT, POST, DELETE on the graph, a dataset POST naming it, multipart.
        for method in [
            reqwest::Method::PUT,
            reqwest::Method::POST,
            reqwest::Method::DELETE,
        ] {
            let r = client()
                .request(
                    method.clone(),
                    server.url(&format!("/store?graph={}", enc(g))),
                )
                .bearer_auth(WRITE)
                .header("content-type", "application/n-triples")
                .body(format!("{mark} .\n"))
                .send()
                .unwrap();
            assert_eq!(r.status().as_u16(), 403, "GSP {method} <{g}>");
        }
        let (status, body) = post(
            &server,
            WRITE,
            "/store",
            "application/trig",
            format!("<{g}> {{ <{products}> <https://w3id.org/stocktake/ns#restricted> true }}"),
        );
        assert_eq!(status, 403, "dataset POST into <{g}>: {body}");
        let boundary = "XyZ";
        let multipart = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a.nt\"\r\n\
             Content-Type: application/n-triples\r\n\r\n<http://e/a> <http://e/b> <http://e/c> .\n\r\n--{boundary}--\r\n"
        );
        let r = client()
            .put(server.url(&format!("/store?graph={}", enc(g))))
            .bearer_auth(WRITE)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(multipart)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "multipart PUT <{g}>");
    }
    // The policy held: the mark is there, the secret graph still hidden from the writer, the
    // product graph still visible.
    let (_, body) = post(
        &server,
        WRITE,
        "/sparql",
        "application/sparql-query",
        "SELECT * { GRAPH ?g { ?s ?p \"HIDDEN\" } }".into(),
    );
    assert!(!body.contains("HIDDEN"), "{body}");
    let (_, body) = post(
        &server,
        ADMIN,
        "/sparql",
        "application/sparql-query",
        format!("ASK {{ GRAPH <{}> {{ {mark} }} }}", l.catalog.as_str()),
    );
    assert!(body.contains("true"), "mark removed: {body}");
    // Writers keep the product graph and their own graphs; admins keep everything.
    let (status, body) = post(
        &server,
        WRITE,
        "/sparql",
        "application/sparql-update",
        format!("INSERT DATA {{ GRAPH <{products}> {{ <http://e/x> <http://e/y> 1 }} GRAPH <http://example.org/mine> {{ <http://e/x> <http://e/y> 2 }} }}"),
    );
    assert_eq!(status, 204, "{body}");
    let (status, body) = post(
        &server,
        ADMIN,
        "/sparql",
        "application/sparql-update",
        format!(
            "DELETE DATA {{ GRAPH <{}> {{ {mark} }} }}",
            l.catalog.as_str()
        ),
    );
    assert_eq!(status, 204, "{body}");
}

/// A query whose strings double per nesting level: 16 bytes × 2^40 without a bound.
fn doubling(levels: usize) -> String {
    let mut q =
        String::from("SELECT (STRLEN(?v40) AS ?n) WHERE { BIND(\"0123456789abcdef\" AS ?v0) ");
    for i in 1..=levels {
        q.push_str(&format!("BIND(CONCAT(?v{p}, ?v{p}) AS ?v{i}) ", p = i - 1));
    }
    q.push('}');
    q
}

#[test]
fn string_bombs_are_refused_and_the_server_survives_under_a_memory_limit() {
    // The real binary, under a 4 GiB address-space limit: before the bounds, the first query
    // below aborted the process on its first allocation past the limit.
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -v 4194304; exec {} serve --bind 127.0.0.1:0 --anonymous-read true",
            env!("CARGO_BIN_EXE_stocktake")
        ))
        .current_dir(crate::util::repo())
        .env("STOCKTAKE_DATA", dir.path().join("store"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let mut child = Kill(child);
    let mut base = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("stocktake listening on ") {
            base = Some(rest.split_whitespace().next().unwrap().to_owned());
            break;
        }
    }
    let base = base.expect("server did not start");
    let ask = |q: &str| {
        let r = client()
            .post(format!("{base}/sparql"))
            .header("content-type", "application/sparql-query")
            .body(q.to_owned())
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap_or_default())
    };
    let replace = "SELECT (STRLEN(?v) AS ?n) WHERE { BIND(\"aaaaaaaaaa\" AS ?a) \
        BIND(REPLACE(?a, \"a\", ?a) AS ?b) BIND(REPLACE(?b, \"a\", ?b) AS ?c) \
        BIND(REPLACE(?c, \"a\", ?c) AS ?d) BIND(REPLACE(?d, \"a\", ?d) AS ?v) }";
    let group = "SELECT (STRLEN(GROUP_CONCAT(?s)) AS ?n) WHERE { \
        VALUES ?i { 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 } \
        BIND(\"0123456789abcdef\" AS ?a) BIND(CONCAT(?a,?a,?a,?a,?a,?a,?a,?a) AS ?b) \
        BIND(CONCAT(?b,?b,?b,?b,?b,?b,?b,?b) AS ?c) BIND(CONCAT(?c,?c,?c,?c,?c,?c,?c,?c) AS ?d) \
        BIND(CONCAT(?d,?d,?d,?d,?d,?d,?d,?d) AS ?e) BIND(CONCAT(?e,?e,?e,?e,?e,?e,?e,?e) AS ?f) \
        BIND(CONCAT(?f,?f,?f,?f,?f,?f,?f,?f) AS ?s) }";
    // 8 MiB of '/' (within the bounds), then ENCODE_FOR_URI triples it.
    let encode = doubling(19)
        .replace("0123456789abcdef", "////////////////")
        .replace("STRLEN(?v40)", "STRLEN(ENCODE_FOR_URI(?v19))");
    // Many modest strings kept at once: 64 rows × 8 MiB of SUBSTR copies, each under the
    // per-string bound, together past the budget of kept terms.
    let mut kept = doubling(19).replace("STRLEN(?v40)", "STRLEN(?x)");
    kept.pop();
    kept.push_str("VALUES ?i { ");
    for i in 1..=64 {
        kept.push_str(&format!("{i} "));
    }
    kept.push_str("} BIND(SUBSTR(?v19, ?i) AS ?x) }");
    for q in [
        doubling(40),
        replace.to_owned(),
        group.to_owned(),
        encode,
        kept,
    ] {
        let (status, body) = ask(&q);
        assert_eq!(status, 422, "{q}\n{body}");
        assert!(body.contains("max_string_bytes"), "{body}");
        assert!(child.0.try_wait().unwrap().is_none(), "the server died");
    }
    // A query within the bounds still builds its strings (16 bytes × 2^16 = 1 MiB).
    let (status, body) = ask(&doubling(16).replace("?v40", "?v16"));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("1048576"), "{body}");
    let (status, body) = ask("ASK {}");
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_cross_product_of_values_stops_at_the_deadline_and_frees_its_slot() {
    let server = TestServer::start_with(|c| {
        c.server.query_timeout_secs = 1;
        c.server.max_concurrent_queries = 1;
    });
    let values: String = (1..=100).map(|i| format!("{i} ")).collect();
    // 10^10 solutions, none read from the store: upstream only checked the deadline on store
    // reads, so this ran to the end (minutes) holding the only slot.
    let q = format!(
        "SELECT (COUNT(*) AS ?n) WHERE {{ VALUES ?a {{ {values} }} VALUES ?b {{ {values} }} \
         VALUES ?c {{ {values} }} VALUES ?d {{ {values} }} VALUES ?e {{ {values} }} }}"
    );
    let started = std::time::Instant::now();
    let (status, body) = post(&server, ADMIN, "/sparql", "application/sparql-query", q);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("time limit"), "{body}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "stopped after {:?}",
        started.elapsed()
    );
    let (status, _) = post(
        &server,
        ADMIN,
        "/sparql",
        "application/sparql-query",
        "ASK {}".into(),
    );
    assert_eq!(status, 200, "the slot is free again");
}

/// Every IRI in the product graph.
fn iris(c: &stocktake::catalog::Catalog) -> std::collections::BTreeSet<String> {
    select(
        c,
        "SELECT DISTINCT ?s WHERE { GRAPH ?g { ?s ?p ?o } FILTER(isIRI(?s)) }",
    )
    .into_iter()
    .map(|r| r["s"].clone())
    .collect()
}

#[test]
fn nothing_derived_from_a_user_id_can_be_recomputed_without_the_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = tmp.path().join("shop.csv");
    std::fs::write(&shop, "sku,title\nA1,iPhone 15\nA2,Mate 60\n").unwrap();
    let events = tmp.path().join("events.csv");
    std::fs::write(
        &events,
        "user,item,action,ts,phone\nU00001,A1,buy,1700000000,13812345678\nU00002,A2,pv,1700000100,13912345678\nU00003,A9,pv,1700000200,13712345678\n",
    )
    .unwrap();
    let reviews = tmp.path().join("reviews.csv");
    std::fs::write(
        &reviews,
        "item,uid,body\nA1,U00001,好用，有问题打我电话13812345678\n",
    )
    .unwrap();
    let pm =
        "entity = \"product\"\nnamespace = \"shop\"\n[columns]\nid = \"sku\"\ntitle = \"title\"\n";
    let em = "entity = \"interaction\"\nproduct_namespace = \"shop\"\n[columns]\nuser = \"user\"\nproduct = \"item\"\nkind = \"action\"\ntime = \"ts\"\n";
    let rm = "entity = \"review\"\nproduct_namespace = \"shop\"\n[columns]\nproduct = \"item\"\nuser = \"uid\"\ntext = \"body\"\n";
    let vault = stocktake::vault::Keyring::generate("t1");
    let run = |secret: &[u8], dir: &str| {
        let c = ontology_catalog(&tmp.path().join(dir));
        let options = ingest::RunOptions {
            labeler: None,
            commit_every: ingest::COMMIT_EVERY,
            confine: None,
            names: None,
            vault: Some(&vault),
        };
        for (file, m) in [(&shop, pm), (&events, em), (&reviews, rm)] {
            ingest::ingest_with(&c, file, &Mapping::parse(m).unwrap(), m, secret, &options)
                .unwrap();
        }
        c
    };
    let a = run(b"secret-one", "a");
    let b = run(b"secret-two", "b");
    let (ia, ib) = (iris(&a), iris(&b));
    // With another secret, every user, interaction, review (keyed by content: no id column)
    // and quarantined user record gets another IRI; products do not.
    let only_a: Vec<&String> = ia.difference(&ib).collect();
    for kind in [
        "/id/user/",
        "/id/interaction/",
        "/id/review/",
        "/quarantine/interaction/",
    ] {
        let n = ia.iter().filter(|i| i.contains(kind)).count();
        let moved = only_a.iter().filter(|i| i.contains(kind)).count();
        assert!(n > 0, "no {kind} IRI in {ia:#?}");
        if kind.starts_with("/id/") {
            assert_eq!(
                moved, n,
                "{kind} IRIs that do not depend on the secret: {ia:#?}"
            );
        }
    }
    assert!(
        ia.contains("https://example.org/st/id/product/shop/A1")
            && ib.contains("https://example.org/st/id/product/shop/A1")
    );
    // The unkeyed hash of the raw id that the old scheme published is nowhere.
    let old = ingest::graph::content_key(&["U00001", "A1", "purchased", "2023-11-14T22:13:20Z"]);
    let everything: Vec<String> = select(&a, "SELECT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }")
        .into_iter()
        .map(|r| format!("{} {} {}", r["s"], r["p"], r["o"]))
        .collect();
    for t in &everything {
        assert!(!t.contains(&old), "old unkeyed key: {t}");
        assert!(!t.contains("U0000"), "a raw user id reached the store: {t}");
        assert!(
            !t.contains("13812345678") && !t.contains("13712345678"),
            "a raw phone reached the store: {t}"
        );
    }
    // The quarantined interaction (unknown product A9) keeps only mapped columns, the user as
    // its pseudonym.
    let raw = select(&a, "SELECT ?q ?r WHERE { GRAPH ?g { ?q st:rawRecord ?r } }");
    assert_eq!(raw.len(), 1, "{raw:?}");
    assert!(
        raw[0]["r"].starts_with("stv1:t1:"),
        "stored sealed: {raw:?}"
    );
    let opened = vault
        .open_str(
            &raw[0]["r"],
            &stocktake::vault::field_context(
                &raw[0]["q"],
                &format!("{}rawRecord", stocktake::catalog::vocab::ST),
            ),
        )
        .unwrap();
    let raw: serde_json::Value = serde_json::from_str(&opened).unwrap();
    assert!(raw.get("phone").is_none(), "unmapped column kept: {raw}");
    assert!(
        raw["user"].as_str().unwrap().starts_with("pseudonym:"),
        "{raw}"
    );
    assert_eq!(raw["item"], "A9");
    // The review body is published with the phone masked.
    let body = select(
        &a,
        "SELECT ?b WHERE { GRAPH ?g { ?r schema:reviewBody ?b } }",
    );
    // (Stored NFKC-normalised, as every cleaned text: the full-width comma becomes ASCII.)
    assert_eq!(body[0]["b"], "好用,有问题打我电话1*********8");
}

#[test]
fn profiles_publish_no_rare_or_personal_top_values_and_no_id_formats() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("src");
    std::fs::create_dir_all(&folder).unwrap();
    let mut csv = String::from("user_id,note,status\n");
    for i in 0..200 {
        let note = match i {
            0 => "请联系13812345678".to_owned(),
            1 => "once only".to_owned(),
            _ => "ok".to_owned(),
        };
        let status = if i % 2 == 0 { "paid" } else { "13912345678" };
        csv.push_str(&format!("U{i:05},{note},{status}\n"));
    }
    std::fs::write(folder.join("orders.csv"), csv).unwrap();
    let report = stocktake::inventory::scan(
        &stocktake::inventory::Source::Files(folder),
        &Default::default(),
    )
    .unwrap();
    let asset = &report.assets[0];
    let col = |name: &str| {
        asset
            .scanned_columns
            .iter()
            .find(|c| c.profile.name == name)
            .unwrap()
    };
    let top = |name: &str| -> Vec<String> {
        col(name)
            .profile
            .top
            .iter()
            .map(|(v, _)| v.clone())
            .collect()
    };
    assert_eq!(
        top("note"),
        ["ok"],
        "rare values and phones are not published"
    );
    assert!(
        !top("status").iter().any(|v| v.contains("139")),
        "{:?}",
        top("status")
    );
    assert!(top("status").contains(&"paid".to_owned()));
    let id = col("user_id");
    assert!(id.profile.top.is_empty(), "{:?}", id.profile.top);
    // Min/max of text are raw records: never published (here a phone and the id format).
    for name in ["user_id", "note", "status"] {
        let p = &col(name).profile;
        assert_eq!((p.min.as_deref(), p.max.as_deref()), (None, None), "{name}");
    }
    let json = serde_json::to_string(&report).unwrap();
    for raw in [
        "13812345678",
        "13912345678",
        "U00000",
        "U00199",
        "once only",
    ] {
        assert!(!json.contains(raw), "{raw} published in the scan report");
    }
}

#[test]
fn links_inside_file_roots_and_the_store_directory_are_not_read() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.csv"), "k,v\nOUTSIDE-VALUE,1\n").unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("fine.csv"), "a,b\n1,2\n").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.csv"),
        root.path().join("evil.csv"),
    )
    .unwrap();
    let roots = vec![root.path().to_path_buf()];
    let server = TestServer::start_with(|c| c.server.file_roots = roots);
    let store = server.dir.path().join("store");
    std::os::unix::fs::symlink(store.join("audit.log"), root.path().join("key.csv")).unwrap();
    let scan = |token: &str, source: &std::path::Path| {
        post(
            &server,
            token,
            "/api/v1/sources",
            "application/json",
            serde_json::json!({ "source": source }).to_string(),
        )
    };
    let (status, body) = scan(WRITE, root.path());
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("evil.csv") && body.contains("outside"),
        "{body}"
    );
    let (status, body) = post(
        &server,
        WRITE,
        "/api/v1/ingest",
        "application/json",
        serde_json::json!({"asset": root.path().join("evil.csv"), "label": false,
            "mapping": "entity = \"product\"\n[columns]\nid = \"k\"\n"})
        .to_string(),
    );
    assert_eq!(status, 403, "{body}");
    // The ingest itself judges the file it opens, not the path it was given: a path that
    // passed the request's check and became a link before the run reads nothing.
    let confine = stocktake::inventory::Confinement::new(Some(&[root.path().to_path_buf()]), &[]);
    let m = "entity = \"product\"\nnamespace = \"x\"\n[columns]\nid = \"k\"\n";
    let err = ingest::ingest_with(
        &server.catalog,
        &root.path().join("evil.csv"),
        &Mapping::parse(m).unwrap(),
        m,
        b"s",
        &ingest::RunOptions {
            labeler: None,
            commit_every: ingest::COMMIT_EVERY,
            confine: Some(&confine),
            names: None,
            vault: None,
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("not ingested"), "{err}");
    // Nobody scans the store directory, not even an admin, directly or through a link.
    let (status, body) = scan(ADMIN, &store);
    assert_eq!(status, 403, "{body}");
    std::fs::remove_file(root.path().join("evil.csv")).unwrap();
    let (status, body) = scan(ADMIN, root.path());
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("store directory"), "{body}");
    std::fs::remove_file(root.path().join("key.csv")).unwrap();
    let (status, body) = scan(WRITE, root.path());
    assert_eq!(status, 201, "{body}");
    let (_, body) = post(
        &server,
        ADMIN,
        "/sparql",
        "application/sparql-query",
        "SELECT * { GRAPH ?g { ?s ?p ?o FILTER(CONTAINS(STR(?o), \"OUTSIDE\")) } }".into(),
    );
    assert!(!body.contains("OUTSIDE-VALUE"), "{body}");
    // A writer learns nothing about paths outside the roots: missing and present read the same.
    let (s1, b1) = scan(WRITE, std::path::Path::new("/etc/passwd"));
    let (s2, b2) = scan(WRITE, std::path::Path::new("/etc/no-such-file-here"));
    assert_eq!((s1, s2), (403, 403), "{b1} / {b2}");
}

#[test]
fn database_urls_are_admin_only_unless_allowlisted() {
    let server = TestServer::start_with(|c| {
        c.server.database_hosts = vec!["127.0.0.1:5432".into()];
    });
    let scan = |token: &str, url: &str| {
        post(
            &server,
            token,
            "/api/v1/sources",
            "application/json",
            serde_json::json!({ "source": url }).to_string(),
        )
    };
    // Open (SSH, MariaDB) and closed ports look the same to a writer: nothing is connected to.
    let refused: Vec<(u16, String)> = [
        "postgres://x@127.0.0.1:22/db",
        "mysql://root@127.0.0.1:3306/test",
        "postgres://x@127.0.0.1:1/db",
        "postgres://x:pw@169.254.169.254/latest",
    ]
    .iter()
    .map(|u| scan(WRITE, u))
    .collect();
    for (status, body) in &refused {
        assert_eq!(*status, 403, "{body}");
        assert_eq!(
            body, &refused[0].1,
            "the answer must not depend on the target"
        );
        assert!(!body.contains("pw"), "{body}");
    }
    // Allowlisted: the writer may scan it (the machine's PostgreSQL).
    let (status, body) = scan(WRITE, "postgres://postgres@127.0.0.1:5432/test");
    assert!(matches!(status, 201 | 502), "{status} {body}");
    assert_ne!(status, 403, "{body}");
    // Admins may name any database; a closed port is a 502 for them.
    let (status, body) = scan(ADMIN, "postgres://x:hunter2@127.0.0.1:1/db");
    assert_eq!(status, 502, "{body}");
    assert!(!body.contains("hunter2"), "{body}");
}

#[test]
fn revoked_tokens_stop_working_without_a_restart() {
    use stocktake::config::{revoke_token, store_token};
    use stocktake::privacy::{hash_token, Role, TokenEntry};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stocktake.toml");
    for (name, role, secret) in [("writer", Role::Write, WRITE), ("root", Role::Admin, ADMIN)] {
        store_token(&file, &TokenEntry::new(name, role, hash_token(secret))).unwrap();
    }
    let path = file.clone();
    let server = TestServer::start_with(move |c| c.loaded_from = Some(path));
    let ask = |token: &str| {
        post(
            &server,
            token,
            "/sparql",
            "application/sparql-query",
            "ASK {}".into(),
        )
        .0
    };
    assert_eq!(ask(WRITE), 200);
    revoke_token(&file, "writer").unwrap();
    let t = std::time::Instant::now();
    while ask(WRITE) != 401 {
        assert!(t.elapsed().as_secs() < 10, "revoked token still accepted");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(ask(ADMIN), 200, "the other tokens stay");
    // A new token works as soon as it is added.
    store_token(
        &file,
        &TokenEntry::new("late", Role::Read, hash_token("st_late")),
    )
    .unwrap();
    let t = std::time::Instant::now();
    while ask("st_late") != 200 {
        assert!(t.elapsed().as_secs() < 10, "new token not picked up");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // A broken file keeps the tokens in force.
    std::fs::write(&file, "this is not toml [").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(ask(ADMIN), 200);
}

#[test]
fn a_write_whose_client_hung_up_is_audited() {
    use std::io::Write;
    let server = TestServer::start();
    let mut body = String::new();
    for i in 0..150_000 {
        body.push_str(&format!("<http://e/s{i}> <http://e/p> \"value {i}\" .\n"));
    }
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut tcp = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        tcp,
        "PUT /store?graph=http%3A%2F%2Fexample.org%2Fhung HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {WRITE}\r\nContent-Type: application/n-triples\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    tcp.write_all(body.as_bytes()).unwrap();
    tcp.flush().unwrap();
    // Hang up without reading the answer, once the server has the body and is writing it (a
    // transaction of 150,000 triples takes several seconds in a test build).
    std::thread::sleep(std::time::Duration::from_millis(1000));
    tcp.shutdown(std::net::Shutdown::Both).unwrap();
    drop(tcp);
    let t = std::time::Instant::now();
    loop {
        let log = server.audit_log();
        if log.contains("gsp-put") && log.contains("example.org/hung") {
            assert!(log.contains("\"outcome\":\"ok\""), "{log}");
            break;
        }
        if t.elapsed().as_secs() >= 120 {
            let rows = select(
                &server.catalog,
                "SELECT (COUNT(*) AS ?n) { GRAPH <http://example.org/hung> { ?s ?p ?o } }",
            );
            panic!("write not audited: {log}; graph holds {:?}", rows);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let rows = select(
        &server.catalog,
        "SELECT (COUNT(*) AS ?n) { GRAPH <http://example.org/hung> { ?s ?p ?o } }",
    );
    assert_eq!(rows[0]["n"], "150000", "the write was done");
}

#[test]
fn names_and_street_addresses_in_review_texts_are_masked_by_the_model() {
    let models = crate::util::repo().join("models");
    if !models.join("lac/model.onnx").is_file() {
        crate::util::missing("models/lac is not installed (run scripts/install-lac)");
        return;
    }
    let tagger = stocktake::inventory::ner::NameTagger::load(
        &models,
        "lac",
        &stocktake::infer::Options::default(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let c = ontology_catalog(&tmp.path().join("store"));
    let shop = tmp.path().join("shop.csv");
    std::fs::write(&shop, "sku,title\nA1,iPhone 15\n").unwrap();
    let pm =
        "entity = \"product\"\nnamespace = \"shop\"\n[columns]\nid = \"sku\"\ntitle = \"title\"\n";
    ingest::ingest(&c, &shop, &Mapping::parse(pm).unwrap(), pm, b"s", None).unwrap();
    let long = format!(
        "{}张伟说很好用，寄到上海市浦东新区张江路88号。",
        "物流很快，包装完好。".repeat(20)
    );
    let reviews = tmp.path().join("reviews.csv");
    std::fs::write(
        &reviews,
        format!(
            "rid,item,body\nr1,A1,张三在北京市工作，收到货很满意\nr2,A1,送到上海市浦东新区张江路88号，李小明签收\nr3,A1,{long}\nr4,A1,Great phone\n"
        ),
    )
    .unwrap();
    let rm = "entity = \"review\"\nproduct_namespace = \"shop\"\n[columns]\nid = \"rid\"\nproduct = \"item\"\ntext = \"body\"\n";
    let options = ingest::RunOptions {
        labeler: None,
        commit_every: ingest::COMMIT_EVERY,
        confine: None,
        names: Some(&tagger),
        vault: None,
    };
    ingest::ingest_with(
        &c,
        &reviews,
        &Mapping::parse(rm).unwrap(),
        rm,
        b"s",
        &options,
    )
    .unwrap();
    let bodies: Vec<String> = select(
        &c,
        "SELECT ?b WHERE { GRAPH ?g { ?r schema:reviewBody ?b } } ORDER BY ?b",
    )
    .into_iter()
    .map(|r| r["b"].clone())
    .collect();
    let all = bodies.join("\n");
    for person in ["张三", "李小明", "张伟", "张江路88号"] {
        assert!(!all.contains(person), "{person} published: {all}");
    }
    // Places that are not where someone lives stay, and so does the rest of the text.
    for kept in [
        "北京市工作",
        "上海市",
        "收到货很满意",
        "Great phone",
        "物流很快,包装完好。",
    ] {
        assert!(all.contains(kept), "{kept} lost: {all}");
    }
    assert_eq!(bodies.len(), 4);
}
