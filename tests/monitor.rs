//! Monitoring end to end, over real HTTP: the same e-commerce tables in SQLite, this machine's
//! PostgreSQL and its MariaDB, and a folder of files, are scanned; then a column is added, rows
//! deleted, rows with a new personal-data column inserted, a price distribution shifted, a table
//! dropped, a file touched without changing it; the rescan must record exactly the expected
//! events, skip what did not change, and deliver the alerts to a webhook receiver (one that
//! fails first, one that is down). Schedules, watching, metrics and NATS: `monitor_ops`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use stocktake::monitor::{AlertRule, DeliveryConfig, MonitorConfig, Severity};

use crate::util::{client, TestServer, ADMIN, READ};

/// A webhook receiver on loopback: answers each POST with the next status of `statuses` (200
/// once they run out) and keeps the JSON bodies.
pub struct Receiver {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    pub hits: Arc<Mutex<u32>>,
}

impl Receiver {
    pub fn start(statuses: Vec<u16>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/hook/SECRET-TOKEN",
            listener.local_addr().unwrap()
        );
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let hits = Arc::new(Mutex::new(0));
        let (b, h) = (Arc::clone(&bodies), Arc::clone(&hits));
        std::thread::spawn(move || {
            let mut statuses = statuses.into_iter();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                *h.lock().unwrap() += 1;
                let status = statuses.next().unwrap_or(200);
                if status == 200 {
                    b.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap_or_default());
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Receiver { url, bodies, hits }
    }
}

/// A receiver that is down: it takes each connection and closes it without answering. (A port
/// freed for "nobody listens" can be taken at once by another test's server running in
/// parallel, which then answers 404 — not retried — instead of failing to connect.)
fn dead_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            drop(conn);
        }
    });
    format!("http://127.0.0.1:{port}/hook")
}

/// The schema every database starts with: `legacy` is dropped later, `customers` never touched.
fn setup_sql() -> Vec<String> {
    let mut v = vec![
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, amount INTEGER, status VARCHAR(20))"
            .to_string(),
        "CREATE TABLE users (id INTEGER PRIMARY KEY, city VARCHAR(40))".into(),
        "CREATE TABLE items (id INTEGER PRIMARY KEY, price DECIMAL(10,2))".into(),
        "CREATE TABLE legacy (id INTEGER PRIMARY KEY, note VARCHAR(40))".into(),
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, tier VARCHAR(10))".into(),
    ];
    let cities = ["北京", "上海", "广州", "深圳"];
    let statuses = ["paid", "shipped", "cancelled"];
    let rows = |f: &dyn Fn(usize) -> String| (1..=200).map(f).collect::<Vec<_>>().join(", ");
    v.push(format!(
        "INSERT INTO orders (id, amount, status) VALUES {}",
        rows(&|i| format!("({i}, {}, '{}')", i % 50 + 10, statuses[i % 3]))
    ));
    v.push(format!(
        "INSERT INTO users (id, city) VALUES {}",
        rows(&|i| format!("({i}, '{}')", cities[i % 4]))
    ));
    v.push(format!(
        "INSERT INTO items (id, price) VALUES {}",
        rows(&|i| format!("({i}, {}.50)", 20 + (i * 37) % 80))
    ));
    v.push(format!(
        "INSERT INTO legacy (id, note) VALUES {}",
        rows(&|i| format!("({i}, 'n{}')", i % 7))
    ));
    v.push(format!(
        "INSERT INTO customers (id, tier) VALUES {}",
        rows(&|i| format!("({i}, '{}')", ["gold", "silver"][i % 2]))
    ));
    v
}

/// The changes between the scans.
fn change_sql() -> Vec<String> {
    let cities = ["北京", "上海", "广州", "深圳"];
    vec![
        "ALTER TABLE orders ADD COLUMN coupon VARCHAR(20)".to_string(),
        "DELETE FROM orders WHERE id > 150".into(),
        "ALTER TABLE users ADD COLUMN phone VARCHAR(20)".into(),
        format!(
            "INSERT INTO users (id, city, phone) VALUES {}",
            (201..=300)
                .map(|i| format!(
                    "({i}, '{}', '13{:09}')",
                    cities[i % 4],
                    812_345_000 + i * 7919
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "UPDATE items SET price = price * 3".into(),
        "DROP TABLE legacy".into(),
    ]
}

/// (location suffix, event type, column) the rescan must record — nothing else.
fn expected(prefix: &str) -> BTreeSet<(String, String, String)> {
    [
        ("orders", "column-added", "coupon"),
        ("orders", "row-count-changed", ""),
        ("users", "column-added", "phone"),
        ("users", "pii-appeared", "phone"),
        ("users", "row-count-changed", ""),
        ("items", "distribution-drift", "price"),
        ("legacy", "asset-removed", ""),
    ]
    .into_iter()
    .map(|(t, k, c)| (format!("{prefix}{t}"), k.to_string(), c.to_string()))
    .collect()
}

fn got(changes: &serde_json::Value) -> BTreeSet<(String, String, String)> {
    changes
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["location"].as_str().unwrap().to_string(),
                e["type"].as_str().unwrap().to_string(),
                e["column"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

pub fn post_scan(server: &TestServer, source: &str) -> serde_json::Value {
    let r = client()
        .post(server.url("/api/v1/sources"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({ "source": source, "sample_rows": 0 }))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

fn monitor_config(hook: &str, pii_hook: &str, down: &str) -> MonitorConfig {
    let rule = |name: &str, events: &[&str], webhook: &str| AlertRule {
        name: name.into(),
        events: events.iter().map(|s| s.to_string()).collect(),
        assets: Vec::new(),
        min_severity: Some(Severity::Info),
        severity: None,
        webhook: Some(webhook.into()),
        log: true,
    };
    MonitorConfig {
        alerts: vec![
            rule("everything", &[], hook),
            rule("privacy", &["pii-appeared"], pii_hook),
            rule("pager", &["asset-removed"], down),
        ],
        delivery: DeliveryConfig {
            retries: 2,
            backoff_ms: 20,
            timeout_ms: 2000,
        },
        ..MonitorConfig::default()
    }
}

/// Runs the scenario on one source: scan, `change()`, rescan; checks events and deliveries.
fn scenario(
    server: &TestServer,
    source: &str,
    prefix: &str,
    change: impl FnOnce(),
    everything: &Receiver,
    privacy: &Receiver,
) {
    let first = post_scan(server, source);
    assert_eq!(
        first["changes"].as_array().unwrap().len(),
        0,
        "a first scan is the baseline: {first}"
    );
    // Nothing changed: the rescan reads no table again and finds nothing.
    let same = post_scan(server, source);
    assert_eq!(same["changes"].as_array().unwrap().len(), 0, "{same}");
    assert_eq!(same["unchanged"], same["assets"], "{same}");
    let hits_before = *everything.hits.lock().unwrap();
    change();
    let second = post_scan(server, source);
    assert_eq!(
        got(&second["changes"]),
        expected(prefix),
        "{:#}",
        second["changes"]
    );
    assert_eq!(
        second["unchanged"], 1,
        "only customers is untouched: {second}"
    );
    // Deliveries: everything to the first hook, PII to the second, the pager hook is down.
    let alerts = second["alerts"].as_array().unwrap();
    let find = |rule: &str, channel: &str| {
        alerts
            .iter()
            .find(|a| a["rule"] == rule && a["channel"] == channel)
            .unwrap_or_else(|| panic!("no {channel} delivery for {rule}: {alerts:#?}"))
    };
    let all = find("everything", "webhook");
    assert_eq!(all["outcome"], "delivered");
    assert_eq!(all["events"].as_array().unwrap().len(), 7);
    assert_eq!(
        *everything.hits.lock().unwrap(),
        hits_before + all["attempts"].as_u64().unwrap() as u32
    );
    let pii = find("privacy", "webhook");
    assert_eq!(pii["outcome"], "delivered");
    let down = find("pager", "webhook");
    assert_eq!(down["outcome"], "failed");
    assert_eq!(down["attempts"], 3, "first try and two retries: {down}");
    assert!(
        !down["target"].as_str().unwrap().contains("/hook"),
        "no URL path recorded"
    );
    assert!(down["error"].as_str().unwrap().len() > 3);
    let last = privacy.bodies.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last["events"].as_array().unwrap().len(), 1, "{last}");
    assert_eq!(last["events"][0]["type"], "pii-appeared");
    assert_eq!(last["events"][0]["column"], "phone");
    assert_eq!(last["severity"], "critical");
}

fn sql_on_sqlite(db: &std::path::Path, sql: &[String]) {
    let c = rusqlite::Connection::open(db).unwrap();
    for s in sql {
        c.execute_batch(s).unwrap();
    }
}

#[test]
fn rescans_record_exactly_the_changes_and_deliver_alerts() {
    let everything = Receiver::start(vec![500]); // fails once, then the retry succeeds
    let privacy = Receiver::start(vec![]);
    let down = dead_url();
    let config = monitor_config(&everything.url, &privacy.url, &down);
    let server = TestServer::start_with(move |c| c.monitor = config);
    let work = tempfile::tempdir().unwrap();

    // SQLite.
    let db = work.path().join("shop.db");
    sql_on_sqlite(&db, &setup_sql());
    let source = format!("sqlite://{}", db.display());
    scenario(
        &server,
        &source,
        "",
        || sql_on_sqlite(&db, &change_sql()),
        &everything,
        &privacy,
    );
    let first_delivery = everything.bodies.lock().unwrap()[0].clone();
    assert_eq!(first_delivery["rule"], "everything");
    assert_eq!(
        *everything.hits.lock().unwrap(),
        2,
        "one 500, then delivered on the retry"
    );

    // PostgreSQL: a schema of our own.
    if let Some(url) = crate::inventory_db::database(
        "postgres",
        "STOCKTAKE_TEST_POSTGRES",
        "postgres://postgres@127.0.0.1:5432/test",
    ) {
        let schema = format!("st_monitor_{}", std::process::id());
        let run = |sql: Vec<String>| {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            c.batch_execute(&format!("SET search_path TO {schema}"))
                .unwrap();
            for s in sql {
                c.batch_execute(&s).unwrap();
            }
            // Statistics reach the shared counters when a backend goes idle (at most once a
            // second) or exits; make this one flush now rather than race its exit.
            c.batch_execute("SELECT pg_stat_force_next_flush()")
                .unwrap();
            c.batch_execute("SELECT 1").unwrap();
        };
        {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            c.batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
            ))
            .unwrap();
        }
        run(setup_sql());
        let scoped = format!("{url}?options=-csearch_path%3D{schema}");
        let prefix = format!("{schema}.");
        // Scan only our schema's tables: the rest of the database is not ours to diff.
        scenario(
            &server,
            &scoped,
            &prefix,
            || run(change_sql()),
            &everything,
            &privacy,
        );
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .unwrap();
    }
    // MariaDB: a database of our own.
    if let Some(url) = crate::inventory_db::database(
        "mysql",
        "STOCKTAKE_TEST_MYSQL",
        "mysql://root@127.0.0.1:3306/test",
    ) {
        use mysql::prelude::Queryable;
        let name = format!("st_monitor_{}", std::process::id());
        let db_url = format!("{}/{name}", url.rsplit_once('/').unwrap().0);
        {
            let mut c = mysql::Conn::new(mysql::Opts::from_url(&url).unwrap()).unwrap();
            c.query_drop(format!("DROP DATABASE IF EXISTS {name}"))
                .unwrap();
            c.query_drop(format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"))
                .unwrap();
        }
        let run = |sql: Vec<String>| {
            let mut c = mysql::Conn::new(mysql::Opts::from_url(&db_url).unwrap()).unwrap();
            for s in sql {
                c.query_drop(s).unwrap();
            }
        };
        run(setup_sql());
        scenario(
            &server,
            &db_url,
            &format!("{name}."),
            || run(change_sql()),
            &everything,
            &privacy,
        );
        let mut c = mysql::Conn::new(mysql::Opts::from_url(&url).unwrap()).unwrap();
        c.query_drop(format!("DROP DATABASE {name}")).unwrap();
    }

    // The history is queryable: by the API (filtered) and by the named query.
    let r: serde_json::Value = client()
        .get(server.url("/api/v1/changes?type=pii-appeared&since=2020-01-01T00:00:00Z"))
        .bearer_auth(READ)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let pii = r["changes"].as_array().unwrap();
    assert!(
        !pii.is_empty()
            && pii
                .iter()
                .all(|e| e["type"] == "pii-appeared" && e["column"] == "phone"),
        "{r}"
    );
    let r = client()
        .get(server.url("/api/v1/changes?since=yesterday"))
        .bearer_auth(READ)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().unwrap().contains("RFC 3339"));
    let r = client()
        .get(server.url("/api/v1/changes?type=exploded"))
        .bearer_auth(READ)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let rows: serde_json::Value = client()
        .get(server.url("/queries/changes-since?since=2020-01-01T00:00:00Z"))
        .bearer_auth(READ)
        .header("accept", "application/sparql-results+json")
        .send()
        .unwrap()
        .json()
        .unwrap();
    let n = rows["results"]["bindings"].as_array().unwrap().len();
    assert!(n >= 7 && n.is_multiple_of(7), "7 events per database: {n}");
    // Every delivery outcome is in the changes graph, failures with their reason.
    let failed = crate::util::select(
        &server.catalog,
        "SELECT ?d ?error WHERE { GRAPH ?g { ?d a st:AlertDelivery ; st:outcome \"failed\" ; st:error ?error ; st:attempts 3 } }",
    );
    assert_eq!(
        failed.len() * 7,
        n,
        "one failed pager delivery per database"
    );
}

#[test]
fn a_touched_file_is_skipped_and_a_changed_one_is_diffed() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, rows: &dyn Fn(usize) -> String| {
        let body: String = (0..300).map(|i| rows(i) + "\n").collect();
        std::fs::write(dir.path().join(name), format!("id,price,grade\n{body}")).unwrap();
    };
    write("prices.csv", &|i| {
        format!("{i},{}.5,{}", 10 + i % 40, ["A", "B", "C"][i % 3])
    });
    write("touched.csv", &|i| {
        format!("{i},{},{}", i % 9, ["x", "y"][i % 2])
    });
    write("same.csv", &|i| format!("{i},{},z", i % 5));
    let source = dir.path().to_str().unwrap().to_string();
    let first = post_scan(&server, &source);
    assert_eq!(first["unchanged"], 0);
    // Touch one file (same bytes, new time) and shift the prices and grades of another.
    let t = std::fs::File::options()
        .append(true)
        .open(dir.path().join("touched.csv"))
        .unwrap();
    t.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    drop(t);
    write("prices.csv", &|i| {
        format!("{i},{}.5,{}", 40 + i % 40, ["A", "A", "A", "B", "C"][i % 5])
    });
    let second = post_scan(&server, &source);
    assert_eq!(second["unchanged"], 2, "{second}");
    let got = got(&second["changes"]);
    let want: BTreeSet<(String, String, String)> = [
        ("prices.csv", "distribution-drift", "grade"),
        ("prices.csv", "distribution-drift", "price"),
    ]
    .into_iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(got, want, "{:#}", second["changes"]);
    // The touched file's new time is recorded, so the next rescan does not even hash it.
    let third = post_scan(&server, &source);
    assert_eq!(third["unchanged"], 3);
    assert_eq!(third["changes"].as_array().unwrap().len(), 0);
    // `full` profiles everything again, and still finds nothing new.
    let r = client()
        .post(server.url("/api/v1/sources"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({ "source": source, "full": true }))
        .send()
        .unwrap();
    let full: serde_json::Value = r.json().unwrap();
    assert_eq!(full["unchanged"], 0);
    assert_eq!(full["changes"].as_array().unwrap().len(), 0, "{full}");
    // The report still lists all three files, none as new.
    let report: serde_json::Value = client()
        .get(server.url("/api/v1/report"))
        .bearer_auth(READ)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let assets = report["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 3);
    assert!(
        assets.iter().all(|a| a["new"] == false && a["rows"] == 300),
        "{report:#}"
    );
}
