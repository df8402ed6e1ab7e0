//! Monitoring beside the scans: directories watched and sources scheduled rescan by themselves,
//! `/metrics` parses as Prometheus text and its counters move, and change events reach NATS.

use std::collections::BTreeSet;
use std::sync::Arc;

use stocktake::monitor::MonitorConfig;

use crate::monitor::post_scan;
use crate::util::{client, TestServer, READ};

#[test]
fn watched_directories_and_schedules_rescan_by_themselves() {
    use stocktake::monitor::{schedule, WatchedSource};
    let store = tempfile::tempdir().unwrap();
    let catalog = Arc::new(crate::util::ontology_catalog(store.path()));
    let watched = tempfile::tempdir().unwrap();
    let timed = tempfile::tempdir().unwrap();
    std::fs::write(watched.path().join("a.csv"), "id,x\n1,2\n").unwrap();
    std::fs::write(timed.path().join("b.csv"), "id,x\n1,2\n").unwrap();
    let config = MonitorConfig {
        sources: vec![
            WatchedSource {
                source: watched.path().display().to_string(),
                every_secs: 0,
                watch: true,
            },
            WatchedSource {
                source: timed.path().display().to_string(),
                every_secs: 1,
                watch: false,
            },
        ],
        ..MonitorConfig::default()
    };
    let scans = |dir: &std::path::Path| {
        crate::util::select(
            &catalog,
            &format!(
                "PREFIX dcterms: <http://purl.org/dc/terms/> PREFIX prov: <http://www.w3.org/ns/prov#>
                 SELECT ?scan WHERE {{ GRAPH ?g {{ ?scan a st:Scan ; prov:used ?s . ?s dcterms:title \"{}\" }} }}",
                dir.display()
            ),
        )
        .len()
    };
    let _scheduler = schedule::start(
        Arc::clone(&catalog),
        config,
        Arc::new(stocktake::inventory::ScanOptions::default),
    );
    let wait_for = |what: &dyn Fn() -> bool| {
        let start = std::time::Instant::now();
        while !what() {
            assert!(start.elapsed().as_secs() < 30, "timed out");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    // The schedule scans the timed source every second; the watched one only on change.
    wait_for(&|| scans(timed.path()) >= 2);
    assert_eq!(
        scans(watched.path()),
        0,
        "nothing changed in the watched folder"
    );
    std::fs::write(watched.path().join("c.csv"), "id,y\n1,2\n2,3\n").unwrap();
    wait_for(&|| scans(watched.path()) >= 1);
    // Its first scan is the baseline; a new file after it is an asset-added event.
    std::fs::write(watched.path().join("d.csv"), "id,z\n1,2\n").unwrap();
    wait_for(&|| {
        crate::util::select(
            &catalog,
            "SELECT ?e WHERE { GRAPH ?g { ?e st:changeType \"asset-added\" ; st:location \"d.csv\" } }",
        )
        .len()
            == 1
    });
}

/// Parses a `/metrics` answer with a Prometheus text-format parser.
fn scrape(server: &TestServer) -> prometheus_parse::Scrape {
    let r = client()
        .get(server.url("/metrics"))
        .bearer_auth(READ)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().unwrap();
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
}

/// The sum of a counter's samples whose labels include all of `labels`.
fn total(s: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match x.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

#[test]
fn metrics_parse_and_move() {
    let server = TestServer::start();
    let r = client().get(server.url("/metrics")).send().unwrap();
    assert_eq!(r.status().as_u16(), 401, "metrics need a token");
    let before = scrape(&server);
    // Counters are process-wide (other tests run beside this one): compare what we add.
    let sparql_ok = |s: &prometheus_parse::Scrape| {
        total(
            s,
            "stocktake_http_requests_total",
            &[("route", "/sparql"), ("status", "200")],
        )
    };
    let bad = |s: &prometheus_parse::Scrape| {
        total(
            s,
            "stocktake_http_requests_total",
            &[("route", "/sparql"), ("status", "400")],
        )
    };
    for _ in 0..3 {
        let r = client()
            .get(server.url("/sparql?query=ASK%7B%7D"))
            .bearer_auth(READ)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    let r = client()
        .get(server.url("/sparql?query=SELEKT"))
        .bearer_auth(READ)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.csv"), "id,x\n1,2\n2,3\n").unwrap();
    post_scan(&server, dir.path().to_str().unwrap());
    let after = scrape(&server);
    assert!(sparql_ok(&after) - sparql_ok(&before) >= 3.0);
    assert!(bad(&after) - bad(&before) >= 1.0);
    assert!(
        total(
            &after,
            "stocktake_scans_total",
            &[("kind", "files"), ("outcome", "ok")]
        ) - total(
            &before,
            "stocktake_scans_total",
            &[("kind", "files"), ("outcome", "ok")]
        ) >= 1.0
    );
    let histogram = after
        .samples
        .iter()
        .find(|x| {
            x.metric == "stocktake_http_request_duration_seconds"
                && x.labels.get("route") == Some("/sparql")
        })
        .expect("a latency histogram for /sparql");
    assert!(
        matches!(histogram.value, prometheus_parse::Value::Histogram(_)),
        "{:?}",
        histogram.value
    );
    assert!(total(&after, "stocktake_store_triples", &[("graph", "ontology")]) > 100.0);
    assert!(total(&after, "stocktake_store_triples", &[("graph", "catalog")]) > 0.0);
    assert!(total(&after, "stocktake_store_size_bytes", &[]) > 0.0);
    let last = total(
        &after,
        "stocktake_last_successful_scan_timestamp_seconds",
        &[("source", dir.path().to_str().unwrap())],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - last).abs() < 120.0, "{last} vs {now}");
}

#[test]
fn change_events_are_published_to_nats() {
    let url =
        std::env::var("STOCKTAKE_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let Ok(client) = runtime.block_on(async_nats::connect(&url)) else {
        crate::util::missing(&format!(
            "NATS not reachable at {url} (set STOCKTAKE_TEST_NATS)"
        ));
        return;
    };
    let subject = format!("st-test-{}", std::process::id());
    let mut sub = runtime
        .block_on(client.subscribe(format!("{subject}.>")))
        .unwrap();
    runtime.block_on(client.flush()).unwrap();
    let (nats_url, prefix) = (url.clone(), subject.clone());
    let server = TestServer::start_with(move |c| {
        c.monitor.nats.url = Some(nats_url);
        c.monitor.nats.subject = prefix;
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), "id,x\n1,2\n").unwrap();
    let source = dir.path().to_str().unwrap().to_string();
    post_scan(&server, &source);
    std::fs::write(dir.path().join("b.csv"), "id,y\n1,2\n").unwrap();
    std::fs::remove_file(dir.path().join("a.csv")).unwrap();
    let second = post_scan(&server, &source);
    let bus = second["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["channel"] == "nats")
        .cloned()
        .unwrap_or_else(|| panic!("no nats delivery: {second}"));
    assert_eq!(bus["outcome"], "delivered", "{bus}");
    assert_eq!(bus["target"], url.as_str());
    let mut got = BTreeSet::new();
    runtime.block_on(async {
        use futures_util::StreamExt;
        for _ in 0..2 {
            let m = tokio::time::timeout(std::time::Duration::from_secs(10), sub.next())
                .await
                .expect("a message within 10 s")
                .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            assert_eq!(body["source"], source.as_str());
            got.insert((
                m.subject.to_string(),
                body["event"]["location"].as_str().unwrap().to_string(),
            ));
        }
    });
    let want: BTreeSet<(String, String)> = [
        (format!("{subject}.asset-added"), "b.csv".to_string()),
        (format!("{subject}.asset-removed"), "a.csv".to_string()),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
    // The subscription unsubscribes on drop by spawning a task: drop it inside the runtime.
    runtime.block_on(async move {
        drop(sub);
        drop(client);
    });
}
