//! Fine-grained grants (issue 24, part 4): one table of role × grant × path. Tokens are granted a
//! restricted graph, an asset, one column or a DP budget (`stocktake token grant`, followed by
//! the running server), and every way of reading — SPARQL SELECT/ASK/CONSTRUCT/DESCRIBE, the
//! protocol's dataset, the graph store, named queries, the report (shareable too), search,
//! the asset page, predictions, exports and DP — shows each secret exactly to those granted it.
//!
//! The secrets: a mark in the quarantine graph (a restricted graph), the PII evidence of the
//! demo users' phone and e-mail columns and the top values of their city column, which the real
//! scanner writes into each column's restricted detail graph (the users table is about people).

use reqwest::Method;
use serde_json::Value;

use crate::auth::{seed, SECRET_MARK};
use crate::util::{admin_update, client, repo, TestServer, ADMIN, READ, WRITE};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Reader,
    Writer,
    Admin,
    /// read + the quarantine graph
    GraphGrant,
    /// read + the users asset (every personal column's detail)
    AssetGrant,
    /// read + the phone column only
    ColumnGrant,
    /// write + the users asset (may export it)
    WriterAsset,
    /// read + a DP budget of 0.05 per dataset
    Budget,
}

const ALL: [Who; 8] = [
    Who::Reader,
    Who::Writer,
    Who::Admin,
    Who::GraphGrant,
    Who::AssetGrant,
    Who::ColumnGrant,
    Who::WriterAsset,
    Who::Budget,
];

impl Who {
    fn token(self) -> &'static str {
        match self {
            Who::Reader => READ,
            Who::Writer => WRITE,
            Who::Admin => ADMIN,
            Who::GraphGrant => "st_grant_graph",
            Who::AssetGrant => "st_grant_asset",
            Who::ColumnGrant => "st_grant_column",
            Who::WriterAsset => "st_grant_writer_asset",
            Who::Budget => "st_grant_budget",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Who::Reader => "reader",
            Who::Writer => "writer",
            Who::Admin => "root",
            Who::GraphGrant => "g-graph",
            Who::AssetGrant => "g-asset",
            Who::ColumnGrant => "g-column",
            Who::WriterAsset => "g-writer-asset",
            Who::Budget => "g-budget",
        }
    }

    fn role(self) -> stocktake::privacy::Role {
        use stocktake::privacy::Role;
        match self {
            Who::Admin => Role::Admin,
            Who::Writer | Who::WriterAsset => Role::Write,
            _ => Role::Read,
        }
    }

    /// Whether this caller may see `secret`.
    fn sees(self, secret: Secret) -> bool {
        matches!(
            (self, secret),
            (Who::Admin, _)
                | (Who::GraphGrant, Secret::Quarantine)
                | (
                    Who::AssetGrant | Who::WriterAsset,
                    Secret::Phone | Secret::Email | Secret::City
                )
                | (Who::ColumnGrant, Secret::Phone)
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Secret {
    Quarantine,
    Phone,
    Email,
    /// The top values of the users' city column: not personal data itself, but the profile of
    /// a table about people, so it lives in the column's detail graph too.
    City,
}

/// One way of reading: what it can reveal, and the request.
struct Path {
    name: &'static str,
    reveals: &'static [Secret],
    method: Method,
    url: String,
    content_type: Option<&'static str>,
    body: Option<String>,
    accept: Option<&'static str>,
}

/// A body cut for an assertion message (a full catalog dump would drown the failure).
fn short(body: &str) -> String {
    body.chars().take(600).collect()
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn sparql(name: &'static str, reveals: &'static [Secret], q: String) -> Path {
    Path {
        name,
        reveals,
        method: Method::POST,
        url: "/sparql".into(),
        content_type: Some("application/sparql-query"),
        body: Some(q),
        accept: None,
    }
}

fn get(name: &'static str, reveals: &'static [Secret], url: String) -> Path {
    Path {
        name,
        reveals,
        method: Method::GET,
        url,
        content_type: None,
        body: None,
        accept: None,
    }
}

fn send(server: &TestServer, who: Who, p: &Path) -> (u16, String) {
    let mut req = client()
        .request(p.method.clone(), server.url(&p.url))
        .bearer_auth(who.token());
    if let Some(ct) = p.content_type {
        req = req.header("content-type", ct);
    }
    if let Some(a) = p.accept {
        req = req.header("accept", a);
    }
    if let Some(b) = &p.body {
        req = req.body(b.clone());
    }
    let r = req.send().unwrap();
    (r.status().as_u16(), r.text().unwrap_or_default())
}

/// The first evidence item of `column` (read as admin), without quotes so that it reads the
/// same in JSON, HTML and N-Triples.
fn evidence_of(server: &TestServer, column: &str) -> String {
    let rows = server
        .catalog
        .select(&format!(
            "SELECT ?e WHERE {{ GRAPH ?g {{ <{column}> <https://w3id.org/stocktake/ns#evidence> ?e }} }}"
        ))
        .unwrap();
    rows.iter()
        .map(|r| r["e"].clone())
        .find(|e| !e.contains('"'))
        .unwrap_or_else(|| panic!("no evidence of {column}: {rows:?}"))
}

#[test]
fn grants_apply_to_every_path() {
    use stocktake::config::{grant_token, store_token, GrantChange};
    use stocktake::privacy::{hash_token, TokenEntry};

    // Tokens live in a configuration file the server follows; grants are added below, after
    // the scan has named the asset and columns.
    let cfg = tempfile::tempdir().unwrap();
    let file = cfg.path().join("stocktake.toml");
    let mut tokens = Vec::new();
    for who in ALL {
        let mut t = TokenEntry::new(who.name(), who.role(), hash_token(who.token()));
        if who == Who::Budget {
            t.dp_epsilon = Some("0.05".into());
        }
        store_token(&file, &t).unwrap();
        tokens.push(t);
    }
    let demo = repo().join("demo/data");
    let path = file.clone();
    let server = TestServer::start_with(move |c| {
        c.tokens = tokens;
        c.loaded_from = Some(path);
        c.server.file_roots = vec![demo];
        c.embed.recommend_relation = format!("{}purchased", crate::kge::SHOP);
    });

    // The secrets: a quarantined mark, and the real scanner's PII evidence of the demo users.
    let quarantine = seed(&server);
    // In the quarantine graph too: a source (the report lists it) and a named product (search
    // finds it).
    admin_update(
        &server,
        &format!(
            "PREFIX st: <https://w3id.org/stocktake/ns#> PREFIX dcterms: <http://purl.org/dc/terms/> \
             PREFIX prov: <http://www.w3.org/ns/prov#> PREFIX schema: <http://schema.org/> \
             INSERT DATA {{ GRAPH <{quarantine}> {{ \
               <http://example.org/src> a st:DataSource ; dcterms:title \"{SECRET_MARK} source\" ; \
                 st:sourceKind \"files\" ; st:lastScan <http://example.org/scan> . \
               <http://example.org/scan> prov:endedAtTime \"2026-01-01T00:00:00Z\" ; st:assetCount 1 ; \
                 st:failedCount 0 . \
               <http://example.org/shop/q1> a schema:Product ; schema:name \"秘密 {SECRET_MARK}\" }} }}"
        ),
    );
    let users = repo().join("demo/data/users.csv");
    let report = stocktake::inventory::scan(
        &stocktake::inventory::Source::Files(users.clone()),
        &Default::default(),
    )
    .unwrap();
    stocktake::inventory::record::record(&server.catalog, &report).unwrap();
    let col = |name: &str| -> String {
        let rows = server
            .catalog
            .select(&format!(
                "SELECT ?a ?c WHERE {{ GRAPH ?g {{ ?a <http://www.w3.org/ns/csvw#column> ?c . \
                 ?c <http://www.w3.org/ns/csvw#name> \"{name}\" }} }}"
            ))
            .unwrap();
        assert_eq!(rows.len(), 1, "{name}: {rows:?}");
        rows[0]["c"].clone()
    };
    let (phone, email) = (col("phone"), col("email"));
    let asset = phone.split("/column/").next().unwrap().to_owned();
    let evidence = |s: Secret| match s {
        Secret::Quarantine => SECRET_MARK.to_owned(),
        Secret::Phone => evidence_of(&server, &phone),
        Secret::Email => evidence_of(&server, &email),
        Secret::City => "北京".to_owned(),
    };
    let marks: Vec<(Secret, String)> = [
        Secret::Quarantine,
        Secret::Phone,
        Secret::Email,
        Secret::City,
    ]
    .into_iter()
    .map(|s| (s, evidence(s)))
    .collect();
    assert_ne!(
        marks[1].1, marks[2].1,
        "the two columns' evidence must differ"
    );
    // Detail graphs hold the evidence; the catalog graph does not.
    let in_catalog = server
        .catalog
        .select(&format!(
            "ASK {{ GRAPH <{}> {{ <{phone}> <https://w3id.org/stocktake/ns#evidence> ?e }} }}",
            server.catalog.layout().catalog.as_str()
        ))
        .unwrap_or_default();
    assert!(in_catalog.is_empty() || !format!("{in_catalog:?}").contains("true"));

    // Predictions: a model over the shop fixture; one product occurs in the quarantine graph.
    let shop = crate::kge::SHOP;
    admin_update(
        &server,
        &format!("INSERT DATA {{ GRAPH <{quarantine}> {{ <{shop}product/p1> <{shop}reason> \"duplicate\" }} }}"),
    );
    let tsv = server.dir.path().join("shop-iris");
    crate::kge_http::shop_as_iris(&tsv);
    crate::kge_http::train_into(
        &tsv,
        &server.dir.path().join("store/embeddings/transe.stk"),
        "1",
    );

    // Grants, as `stocktake token grant` writes them; the server follows without a restart.
    let grant = |who: Who, change: GrantChange| {
        grant_token(&file, who.name(), change).unwrap();
    };
    grant(
        Who::GraphGrant,
        GrantChange {
            graphs: vec![quarantine.clone()],
            ..Default::default()
        },
    );
    for who in [Who::AssetGrant, Who::WriterAsset] {
        grant(
            who,
            GrantChange {
                assets: vec![asset.clone()],
                ..Default::default()
            },
        );
    }
    // The column grant through the CLI, as an admin would give it (audited).
    let cli = |args: &[&str]| {
        let o = crate::util::bin()
            .args(["--config", file.to_str().unwrap(), "--data"])
            .arg(cfg.path().join("cli-data"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    cli(&["token", "grant", "g-column", "--asset", &phone]);
    let listed = cli(&["token", "list"]);
    assert!(
        listed.contains(&format!(
            "g-column\tread\tno expiry\tdp ε 3 (default)\tasset <{phone}>"
        )),
        "{listed}"
    );
    let audit = std::fs::read_to_string(cfg.path().join("cli-data/audit.log")).unwrap();
    assert!(
        audit.contains("token-grant") && audit.contains(&phone),
        "{audit}"
    );
    // Bad grants are refused with a reason, and a withdrawn grant can be given again.
    let err = grant_token(
        &file,
        "g-column",
        GrantChange {
            assets: vec!["not an iri".into()],
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("absolute IRI"), "{err}");
    let err = grant_token(
        &file,
        "g-column",
        GrantChange {
            remove: vec![email.clone()],
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("no grant"), "{err}");

    let detail = format!("{phone}/detail");
    let ev = "<https://w3id.org/stocktake/ns#evidence>";
    let paths = vec![
        sparql(
            "select GRAPH ?g",
            &[
                Secret::Quarantine,
                Secret::Phone,
                Secret::Email,
                Secret::City,
            ],
            "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }".into(),
        ),
        sparql(
            "ask",
            &[Secret::Phone],
            format!("ASK {{ GRAPH ?g {{ <{phone}> {ev} ?e }} }}"),
        ),
        sparql(
            "construct",
            &[
                Secret::Quarantine,
                Secret::Phone,
                Secret::Email,
                Secret::City,
            ],
            "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }".into(),
        ),
        sparql(
            "describe FROM",
            &[Secret::Phone],
            format!("DESCRIBE <{phone}> FROM <{detail}>"),
        ),
        sparql(
            "select FROM NAMED",
            &[Secret::Email],
            format!("SELECT * FROM NAMED <{email}/detail> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"),
        ),
        get(
            "protocol dataset",
            &[Secret::Quarantine],
            format!(
                "/sparql?query={}&default-graph-uri={}",
                enc("SELECT * { ?s ?p ?o }"),
                enc(&quarantine)
            ),
        ),
        get(
            "graph store: detail graph",
            &[Secret::Phone],
            format!("/store?graph={}", enc(&detail)),
        ),
        get(
            "graph store: quarantine",
            &[Secret::Quarantine],
            format!("/store?graph={}", enc(&quarantine)),
        ),
        get(
            "named query pii-columns",
            &[Secret::Phone, Secret::Email],
            "/queries/pii-columns".into(),
        ),
        get(
            "asset page",
            &[Secret::Phone, Secret::Email, Secret::City],
            format!("/ui/asset?iri={}", enc(&asset)),
        ),
        get("report", &[Secret::Quarantine], "/api/v1/report".into()),
        // The shareable report spends ε (three figures at 0.01 each: under every budget here).
        get(
            "shareable report",
            &[Secret::Quarantine],
            "/report?shareable=true&epsilon=0.03&format=json".into(),
        ),
        get(
            "search",
            &[Secret::Quarantine],
            format!("/api/v1/search?q={}", enc(&SECRET_MARK.to_lowercase())),
        ),
        get(
            "predictions",
            &[Secret::Quarantine],
            format!(
                "/api/v1/predict/tails?head={}&relation={}&k=200",
                enc(&format!("{shop}user/u0")),
                enc(&format!("{shop}purchased"))
            ),
        ),
    ];
    // A secret as it shows in a path's answer.
    let shown = |path: &Path, s: Secret, body: &str| -> bool {
        match (path.name, s) {
            ("ask", s) => path.reveals.contains(&s) && body.contains("true"),
            ("predictions", Secret::Quarantine) => body.contains(&format!("{shop}product/p1\"")),
            _ => body.contains(&marks.iter().find(|(m, _)| *m == s).unwrap().1),
        }
    };

    // Wait until the server follows the granted configuration.
    let started = std::time::Instant::now();
    loop {
        let (_, body) = send(&server, Who::ColumnGrant, &paths[1]);
        if body.contains("true") {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "grants not followed: {body}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    crate::workbench_access::wait_indexed(&server);
    let model = get("model", &[], "/api/v1/predict/model".into());
    while send(&server, Who::Admin, &model).0 != 200 {
        assert!(started.elapsed().as_secs() < 60, "the model was not loaded");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    for who in ALL {
        for path in &paths {
            let (status, body) = send(&server, who, path);
            let ctx = format!("{who:?} × {}", path.name);
            let hidden_graph =
                path.name.starts_with("graph store") && !path.reveals.iter().any(|s| who.sees(*s));
            if hidden_graph {
                assert_eq!(
                    status, 404,
                    "{ctx}: a graph not granted must look absent: {body}"
                );
            } else {
                assert_eq!(status, 200, "{ctx}: {}", short(&body));
            }
            for s in [
                Secret::Quarantine,
                Secret::Phone,
                Secret::Email,
                Secret::City,
            ] {
                let expected = path.reveals.contains(&s) && who.sees(s);
                assert_eq!(
                    shown(path, s, &body),
                    expected,
                    "{ctx}, {s:?}: {}",
                    short(&body)
                );
            }
        }
    }

    // Exports need the write role and, for anyone but an admin, a grant on the asset.
    let export = Path {
        name: "export",
        reveals: &[],
        method: Method::POST,
        url: "/api/v1/exports/anonymised".into(),
        content_type: Some("application/json"),
        body: Some(serde_json::json!({ "source": users }).to_string()),
        accept: None,
    };
    // The DP budget: 0.1 is over the 0.05 granted to g-budget, under everyone else's default.
    let dp = get(
        "dp",
        &[],
        "/api/v1/dp/interactions?epsilon=0.1&group_by=category".into(),
    );
    for who in ALL {
        let (status, body) = send(&server, who, &export);
        let expected = match who {
            Who::Admin | Who::WriterAsset => 200,
            _ => 403,
        };
        assert_eq!(status, expected, "{who:?} × export: {body}");
        if who == Who::Writer {
            assert!(
                body.contains("not granted asset") && body.contains("--asset"),
                "the refusal says what grant is missing: {body}"
            );
        }
        let (status, body) = send(&server, who, &dp);
        let expected = if who == Who::Budget { 403 } else { 200 };
        assert_eq!(status, expected, "{who:?} × dp: {body}");
        if status == 200 {
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["epsilon"], 0.1, "{body}");
        }
    }

    // A grantee who may write cannot copy what it is granted into a graph others read: an
    // update's WHERE reads as the public view.
    let copy = sparql(
        "copy",
        &[],
        format!(
            "INSERT {{ GRAPH <http://example.org/copied> {{ ?c <http://example.org/was> ?e }} }} \
             WHERE {{ GRAPH ?g {{ ?c {ev} ?e }} }}"
        ),
    );
    let copy = Path {
        content_type: Some("application/sparql-update"),
        ..copy
    };
    let (status, body) = send(&server, Who::WriterAsset, &copy);
    assert_eq!(status, 204, "{body}");
    let copied = server
        .catalog
        .select("SELECT ?e WHERE { GRAPH <http://example.org/copied> { ?c ?p ?e } }")
        .unwrap();
    let leaked: Vec<_> = copied
        .iter()
        .filter(|r| marks.iter().any(|(_, m)| r["e"] == *m))
        .collect();
    assert!(leaked.is_empty(), "granted detail copied out: {leaked:?}");

    // Withdrawing a grant takes effect without a restart; grantees' reads are audited.
    cli(&["token", "grant", "g-column", "--withdraw", &phone]);
    let started = std::time::Instant::now();
    loop {
        let (status, body) = send(&server, Who::ColumnGrant, &paths[6]);
        if status == 404 {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "withdrawal not followed: {body}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let audit = server.audit_log();
    assert!(
        audit.contains("granted-read") && audit.contains("\"who\":\"g-asset\""),
        "{audit}"
    );
}
