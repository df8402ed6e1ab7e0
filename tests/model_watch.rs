//! The model watch end to end with the real `product-ner` package: a labelling run of demo
//! product titles becomes the model's reference; a run of garbled, English-only titles drifts
//! from it and raises `model-drift`; people rejecting what the model accepted on its own lower
//! the precision estimate until `model-precision-drop` is raised — once — and alerted; the
//! rejections come back as the next retraining set, and the report and `/metrics` show it all.

use std::sync::Arc;

use stocktake::app::{App, IngestJob};
use stocktake::ingest::mapping::Mapping;
use stocktake::monitor::AlertRule;

use crate::monitor::Receiver;
use crate::util::{client, repo, test_config, TestServer, READ, WRITE};

const MAPPING: &str = "entity = \"product\"\nnamespace = \"watch\"\n[columns]\nid = \"product_id\"\ntitle = \"title\"\n";

fn ingest(app: &App, file: &std::path::Path) -> stocktake::ingest::RunReport {
    let m = Mapping::parse(MAPPING).unwrap();
    app.ingest(&IngestJob {
        asset: file,
        mapping: &m,
        mapping_text: MAPPING,
        label: true,
        force: false,
        confine: None,
    })
    .unwrap()
    .report
}

fn get(server: &TestServer, path: &str) -> serde_json::Value {
    let r = client()
        .get(server.url(path))
        .bearer_auth(READ)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().unwrap()
}

#[test]
fn drift_and_precision_drop_are_raised_and_rejections_feed_retraining() {
    let ner = repo().join("models/product-ner/model.onnx");
    if !ner.is_file() {
        crate::util::missing("models/product-ner");
        return;
    }
    let alerts = Receiver::start(vec![]);
    let url = alerts.url.clone();
    let server = TestServer::start_with(move |c| {
        c.monitor.alerts = vec![AlertRule {
            name: "models".into(),
            events: vec!["model-drift".into(), "model-precision-drop".into()],
            assets: vec![],
            min_severity: None,
            severity: None,
            webhook: Some(url),
            log: true,
        }];
    });
    let mut config = test_config(&server.dir.path().join("store"));
    config.monitor.alerts = vec![AlertRule {
        name: "models".into(),
        events: vec!["model-drift".into(), "model-precision-drop".into()],
        assets: vec![],
        min_severity: None,
        severity: None,
        webhook: Some(alerts.url.clone()),
        log: true,
    }];
    let app = App::with_catalog(Arc::clone(&server.catalog), config);
    let dir = tempfile::tempdir().unwrap();

    // The reference: 400 demo titles.
    let text = std::fs::read_to_string(repo().join("demo/data/products.csv")).unwrap();
    let mut reference = String::from("product_id,title\n");
    for line in text.lines().skip(1).take(400) {
        let mut cells = line.splitn(3, ',');
        let (id, title) = (cells.next().unwrap(), cells.next().unwrap());
        if !title.is_empty() {
            reference.push_str(&format!("{id},{title}\n"));
        }
    }
    let file = dir.path().join("reference.csv");
    std::fs::write(&file, reference).unwrap();
    let first = ingest(&app, &file);
    let w = &first.model_watch;
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].stats.records >= 390 && w[0].stats.labels > 400,
        "{w:?}"
    );
    assert!(
        w[0].reference.is_none() && w[0].drift.is_none(),
        "the first run is the reference"
    );

    // A shifted input: garbled, English-only titles.
    let words = [
        "lorem", "ipsum", "zzq", "wireless", "qwerty", "blorp", "xk-29", "foo", "unit", "thing",
    ];
    let mut shifted = String::from("product_id,title\n");
    for i in 0..400usize {
        let t: Vec<&str> = (0..5)
            .map(|k| words[(i * 7 + k * 3 + i / 10) % words.len()])
            .collect();
        shifted.push_str(&format!("G{i:05},{} {}\n", t.join(" "), i * 37 % 1000));
    }
    let file = dir.path().join("shifted.csv");
    std::fs::write(&file, shifted).unwrap();
    let second = ingest(&app, &file);
    let c = &second.model_watch[0];
    println!(
        "model watch: reference {} labels on {} texts; shifted run {} labels on {} texts, PSI confidences {:?}, label shares {:?}",
        w[0].stats.labels, w[0].stats.records, c.stats.labels, c.stats.records, c.psi_confidence, c.psi_labels
    );
    assert!(c.drift.is_some(), "{c:?}");
    let drift = get(&server, "/api/v1/changes?type=model-drift");
    assert_eq!(drift["changes"].as_array().unwrap().len(), 1, "{drift}");
    assert!(drift["changes"][0]["location"]
        .as_str()
        .unwrap()
        .starts_with("model:product-ner@"));

    // Reviews: a writer rejects 25 labels the model accepted on its own.
    let labels = get(&server, "/api/v1/labels?status=accepted&limit=200");
    let ids: Vec<String> = labels["labels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["confidence"].as_f64().unwrap_or(0.0) >= 0.8)
        .map(|l| l["id"].as_str().unwrap().to_string())
        .take(25)
        .collect();
    assert_eq!(ids.len(), 25);
    for (k, id) in ids.iter().enumerate() {
        let r = client()
            .post(server.url(&format!("/api/v1/labels/{id}/reject")))
            .bearer_auth(WRITE)
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().unwrap());
        let drops = get(&server, "/api/v1/changes?type=model-precision-drop");
        let n = drops["changes"].as_array().unwrap().len();
        // Judged from 20 reviewed labels on (min_reviewed), once per episode.
        assert_eq!(
            n,
            usize::from(k + 1 >= 20),
            "after {} rejections: {drops}",
            k + 1
        );
    }
    let kinds: Vec<String> = alerts
        .bodies
        .lock()
        .unwrap()
        .iter()
        .flat_map(|b| b["events"].as_array().unwrap().clone())
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        ["model-drift", "model-precision-drop"],
        "alerted once each"
    );

    // The rejections are the next retraining set, with their texts.
    let examples = app.model_feedback("product-ner").unwrap();
    assert_eq!(examples.len(), 25);
    assert!(
        examples
            .iter()
            .all(|e| e.verdict == "rejected" && e.text.is_some()),
        "{examples:?}"
    );

    // The report's models section and the metrics.
    let report = get(&server, "/report?format=json");
    let m = &report["models"]["models"][0];
    assert_eq!(m["feedback"]["reviewed_auto"], 25, "{m}");
    assert!(
        m["feedback"]["precision"][0].as_f64().unwrap() < 0.01,
        "{m}"
    );
    assert!(m["latest"]["psi_labels"].as_f64().is_some(), "{m}");
    let metrics = client()
        .get(server.url("/metrics"))
        .bearer_auth(READ)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("stocktake_model_precision"), "{metrics}");
    assert!(metrics.contains("stocktake_model_label_psi"), "{metrics}");
}
