//! The stock watch end to end on the demo's stock sample (`demo/generate.py`): products,
//! 90 days of order lines, the snapshot of 2024-10-28 and the movements after it ingested into
//! an on-disk store; checks run through real HTTP; alerts and accepted proposals delivered to
//! webhook receivers on loopback.
//!
//! The sample plants, each once: two hot sellers running low and one out of stock, a fruit lot
//! expiring in four days and a dairy lot expired three days ago, two SKUs without a sale in 90
//! days, one overstocked SKU — and three bad stock rows and one bad movement for the
//! quarantine. Every other position is healthy, so the alerts' precision and recall on the
//! planted cases are both measured, not assumed.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use stocktake::app::{App, IngestJob};
use stocktake::ingest::mapping::Mapping;
use stocktake::monitor::AlertRule;

use crate::monitor::Receiver;
use crate::util::{client, repo, test_config, TestServer, ADMIN, READ, WRITE};

/// (type, location) of every planted condition.
const PLANTED: [(&str, &str); 8] = [
    ("stock-low", "P00028@WH-SH"),
    ("stock-low", "P00045@WH-SH"),
    ("stock-out", "P00004@WH-GZ"),
    ("dead-stock", "P00057@WH-CD"),
    ("dead-stock", "P00001@WH-SH"),
    ("overstock", "P00005@WH-SH"),
    ("expiry-soon", "P00021@WH-GZ#L-F1"),
    ("expired", "P00007@WH-GZ#L-D1"),
];

fn ingest(app: &App, file: &Path, mapping: &str) -> stocktake::ingest::RunReport {
    let text = std::fs::read_to_string(repo().join("demo/mappings").join(mapping)).unwrap();
    let m = Mapping::parse(&text).unwrap();
    app.ingest(&IngestJob {
        asset: file,
        mapping: &m,
        mapping_text: &text,
        label: false,
        force: false,
        confine: None,
    })
    .unwrap()
    .report
}

fn post(server: &TestServer, token: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let r = client()
        .post(server.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

fn get(server: &TestServer, token: &str, path: &str) -> (u16, serde_json::Value) {
    let r = client()
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

fn events(check: &serde_json::Value) -> BTreeSet<(String, String)> {
    check["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["location"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn stock_watch_alerts_the_planted_cases_once_and_proposes_replenishment() {
    let alerts = Receiver::start(vec![]);
    let purchasing = Receiver::start(vec![]);
    let (alert_url, buy_url) = (alerts.url.clone(), purchasing.url.clone());
    let server = TestServer::start_with(move |c| {
        c.monitor.alerts = vec![AlertRule {
            name: "stock".into(),
            events: [
                "stock-out",
                "stock-low",
                "overstock",
                "dead-stock",
                "expiry-soon",
                "expired",
            ]
            .map(String::from)
            .to_vec(),
            assets: vec![],
            min_severity: None,
            severity: None,
            webhook: Some(alert_url),
            log: true,
        }];
        c.stock.purchasing_webhook = Some(buy_url);
    });
    let mut config = test_config(&server.dir.path().join("store"));
    config.stock.purchasing_webhook = Some(purchasing.url.clone());
    let app = App::with_catalog(Arc::clone(&server.catalog), config);
    let data = repo().join("demo/data");
    let products = ingest(&app, &data.join("products.csv"), "products.toml");
    assert_eq!(products.accepted, 3009);
    let orders = ingest(&app, &data.join("orders.csv"), "orders.toml");
    assert_eq!(orders.quarantined, 0, "{orders:?}");
    // The bad rows: negative stock, expiry before production, an unknown SKU; a movement of an
    // unknown kind. Each is quarantined with its reason, nothing dropped.
    let stock = ingest(&app, &data.join("stock.csv"), "stock.toml");
    assert_eq!((stock.records_in, stock.quarantined), (64, 3), "{stock:?}");
    let shacl = stock.validation.as_ref().unwrap();
    assert!(shacl.conforms, "{shacl:?}");
    let moves = ingest(&app, &data.join("movements.csv"), "movements.toml");
    assert_eq!((moves.records_in, moves.quarantined), (3, 1), "{moves:?}");
    let reasons = crate::util::select(
        &server.catalog,
        &format!(
            "SELECT ?r WHERE {{ GRAPH <{}> {{ ?q <https://w3id.org/stocktake/ns#reason> ?r }} }}",
            server.catalog.layout().quarantine.as_str()
        ),
    );
    let reasons: Vec<String> = reasons.into_iter().map(|r| r["r"].clone()).collect();
    for want in [
        "on hand \"-5\" is negative",
        "is before production date",
        "P99999",
        "teleport",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(want)),
            "{want}: {reasons:?}"
        );
    }

    // Writers check; readers and anonymous callers cannot.
    assert_eq!(post(&server, READ, "/api/v1/stock/check", "").0, 403);
    let (status, check) = post(&server, WRITE, "/api/v1/stock/check", "");
    assert_eq!(status, 200, "{check}");
    assert_eq!(check["summary"]["as_of"], "2024-10-28", "{check}");
    let raised = events(&check);
    let planted: BTreeSet<(String, String)> = PLANTED
        .iter()
        .map(|(t, l)| (t.to_string(), l.to_string()))
        .collect();
    let hits = raised.intersection(&planted).count() as f64;
    let (precision, recall) = (hits / raised.len() as f64, hits / planted.len() as f64);
    println!("stock alerts on the planted cases: precision {precision:.3}, recall {recall:.3}");
    assert_eq!((precision, recall), (1.0, 1.0), "raised {raised:?}");
    // Three proposals, one per low or empty position, each with its reason and confidence.
    let props = check["proposals"].as_array().unwrap();
    assert_eq!(props.len(), 3, "{check}");
    let (_, listed) = get(&server, READ, "/api/v1/stock/proposals?status=proposed");
    let listed = listed["proposals"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 3);
    for p in &listed {
        assert!(p["quantity"].as_f64().unwrap() >= 1.0, "{p}");
        assert!(p["reason"].as_str().unwrap().contains("order up to"), "{p}");
        let c = p["confidence"].as_f64().unwrap();
        assert!((0.5..=1.0).contains(&c), "{p}");
    }
    // The events are in the change history and went through the alert rule, once.
    let (_, low) = get(&server, READ, "/api/v1/changes?type=stock-low");
    assert_eq!(low["changes"].as_array().unwrap().len(), 2, "{low}");
    let delivered: usize = alerts
        .bodies
        .lock()
        .unwrap()
        .iter()
        .map(|b| b["events"].as_array().unwrap().len())
        .sum();
    assert_eq!(delivered, 8);

    // An unchanged input: the check is skipped; forced, it raises nothing new.
    let (_, again) = post(&server, WRITE, "/api/v1/stock/check", "");
    assert_eq!(again["skipped"], true, "{again}");
    let (_, forced) = post(&server, WRITE, "/api/v1/stock/check", r#"{"force": true}"#);
    assert_eq!(forced["events"].as_array().unwrap().len(), 0, "{forced}");
    assert_eq!(forced["open"], 8);
    assert_eq!(forced["proposals"].as_array().unwrap().len(), 0);
    assert_eq!(alerts.bodies.lock().unwrap().len(), 1, "no second alert");

    // Decisions: readers cannot; a writer accepts the stock-out's proposal (sent to purchasing)
    // and rejects one; a decision is final.
    let id_of = |sku: &str| {
        listed.iter().find(|p| p["sku"] == sku).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let out_id = id_of("P00004");
    assert_eq!(
        post(
            &server,
            READ,
            &format!("/api/v1/stock/proposals/{out_id}/accept"),
            ""
        )
        .0,
        403
    );
    let (status, accepted) = post(
        &server,
        WRITE,
        &format!("/api/v1/stock/proposals/{out_id}/accept"),
        r#"{"note": "ordered from the usual supplier"}"#,
    );
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["proposal"]["status"], "accepted");
    assert_eq!(accepted["delivery"]["outcome"], "delivered", "{accepted}");
    let sent = purchasing.bodies.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["sku"], "P00004");
    assert_eq!(sent[0]["accepted_by"], "writer");
    assert_eq!(sent[0]["quantity"], accepted["proposal"]["quantity"]);
    let (status, twice) = post(
        &server,
        WRITE,
        &format!("/api/v1/stock/proposals/{out_id}/reject"),
        "",
    );
    assert_eq!(status, 409, "{twice}");
    assert!(
        twice["error"]
            .as_str()
            .unwrap_or("")
            .contains("already accepted by writer"),
        "{twice}"
    );
    let low_id = id_of("P00045");
    assert_eq!(
        post(
            &server,
            WRITE,
            &format!("/api/v1/stock/proposals/{low_id}/reject"),
            ""
        )
        .0,
        200
    );
    assert_eq!(
        purchasing.bodies.lock().unwrap().len(),
        1,
        "a rejection is not sent"
    );
    assert_eq!(
        post(&server, WRITE, "/api/v1/stock/proposals/00ff/accept", "").0,
        404
    );
    assert_eq!(
        post(
            &server,
            WRITE,
            &format!("/api/v1/stock/proposals/{low_id}/approve"),
            ""
        )
        .0,
        404
    );
    assert!(
        server.audit_log().contains("proposal-accept"),
        "{}",
        server.audit_log()
    );

    // A new snapshot restocks P00028: its condition clears and its waiting proposal is
    // withdrawn. Running low again later is a new episode, alerted again.
    let dir = tempfile::tempdir().unwrap();
    let restock = dir.path().join("restock.csv");
    let header = "sku,warehouse,warehouse_name,on_hand,reserved,in_transit,lead_time_days,lot,production_date,expiry_date,unit_cost,snapshot_at\n";
    std::fs::write(
        &restock,
        format!("{header}P00028,WH-SH,上海嘉定仓,600,0,0,7,,,,,2024-10-28 12:00:00\n"),
    )
    .unwrap();
    ingest(&app, &restock, "stock.toml");
    let (_, after) = post(&server, WRITE, "/api/v1/stock/check", "");
    assert_eq!(after["cleared"], 1, "{after}");
    assert_eq!(after["withdrawn"], 1, "{after}");
    assert_eq!(after["events"].as_array().unwrap().len(), 0, "{after}");
    let (_, withdrawn) = get(&server, READ, "/api/v1/stock/proposals?status=withdrawn");
    assert_eq!(withdrawn["proposals"][0]["sku"], "P00028", "{withdrawn}");
    let low_again = dir.path().join("low-again.csv");
    std::fs::write(
        &low_again,
        format!("{header}P00028,WH-SH,上海嘉定仓,3,0,0,7,,,,,2024-10-28 18:00:00\n"),
    )
    .unwrap();
    ingest(&app, &low_again, "stock.toml");
    let (_, again) = post(&server, WRITE, "/api/v1/stock/check", "");
    assert_eq!(
        events(&again),
        BTreeSet::from([("stock-low".to_string(), "P00028@WH-SH".to_string())]),
        "{again}"
    );
    assert_eq!(again["proposals"].as_array().unwrap().len(), 1);

    // The report's stock section (库存预警报告), JSON and HTML.
    let (status, report) = get(&server, READ, "/report?format=json");
    assert_eq!(status, 200);
    let s = &report["stock"];
    assert_eq!(s["by_type"]["stock-low"], 2, "{s}");
    assert_eq!(s["expiring"].as_array().unwrap().len(), 2, "{s}");
    assert!(s["overstock_value"].as_f64().unwrap() > 0.0, "{s}");
    let html = client()
        .get(server.url("/report"))
        .bearer_auth(ADMIN)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        html.contains("库存预警 · Stock watch") && html.contains("P00021"),
        "no stock section"
    );
}
