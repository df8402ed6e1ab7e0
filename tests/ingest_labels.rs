//! Machine labels end to end with the real `product-ner` model: label nodes with model,
//! confidence and run; facts only for confident or human-accepted labels; the review queue and
//! decisions over HTTP (roles, audit, 404s); a decision winning over the model on re-ingest.

use crate::util::{ontology_catalog, select};
use stocktake::catalog::Catalog;
use stocktake::infer::{Model, Options};
use stocktake::ingest::{self, label::Labeler, mapping::Mapping};

use crate::util::{client, TestServer, ADMIN, READ, WRITE};

const MAPPING: &str =
    "entity = \"product\"\nnamespace = \"shop\"\n[columns]\nid = \"sku\"\ntitle = \"title\"\n";

fn labeler(catalog: &Catalog, threshold: f32) -> Labeler {
    let dir = crate::util::repo().join("models/product-ner");
    let model = Model::load(&dir, &Options::default()).unwrap();
    let iri = stocktake::registry::model_iri(
        catalog.layout().base(),
        &model.package.config.name,
        &model.package.sha256,
    );
    Labeler::new(model, iri, threshold)
}

#[test]
fn labels_become_facts_when_confident_or_accepted_by_a_person() {
    let server = TestServer::start();
    let c = &server.catalog;
    let file = server.dir.path().join("titles.csv");
    std::fs::write(
        &file,
        "sku,title\nP1,华为Mate60Pro手机 5G全网通 黑色\nP2,耐克NIKE男子运动鞋AIR MAX 90休闲跑步鞋\nP3,蒙牛纯牛奶250ml*24盒整箱\n",
    )
    .unwrap();
    let m = Mapping::parse(MAPPING).unwrap();

    // Threshold above 1: every label waits for review, so no machine fact enters the graph.
    let strict = labeler(c, 1.01);
    let r = ingest::ingest(c, &file, &m, MAPPING, b"s", Some(&strict)).unwrap();
    let stats = r.labels.unwrap();
    assert!(stats.labels >= 3, "{stats:?}");
    assert_eq!(stats.review, stats.labels);
    let facts = select(
        c,
        "SELECT ?p WHERE { GRAPH ?g { ?p schema:productID ?id . { ?p schema:brand ?x } UNION { ?p schema:model ?x } UNION { ?p st:productType ?x } } }",
    );
    assert!(facts.is_empty(), "{facts:?}");

    // The review queue over HTTP: readers may look, only writers decide.
    let list: serde_json::Value = client()
        .get(server.url("/api/v1/labels?status=review"))
        .bearer_auth(READ)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let labels = list["labels"].as_array().unwrap();
    assert_eq!(labels.len() as u64, stats.labels, "{list}");
    let brand = labels
        .iter()
        .find(|l| l["type"] == "brand" && l["value"] == "华为")
        .unwrap_or_else(|| panic!("no brand label 华为: {list}"));
    assert!(brand["model"]
        .as_str()
        .unwrap()
        .contains("/model/product-ner/"));
    assert!(brand["confidence"].as_f64().unwrap() > 0.0);
    let id = brand["id"].as_str().unwrap();
    let url = server.url(&format!("/api/v1/labels/{id}/accept"));
    assert_eq!(
        client()
            .post(&url)
            .bearer_auth(READ)
            .send()
            .unwrap()
            .status(),
        403
    );
    assert_eq!(client().post(&url).send().unwrap().status(), 401);
    let ok = client().post(&url).bearer_auth(WRITE).send().unwrap();
    assert_eq!(ok.status(), 200);
    // The decision counts at once: the label leaves the queue and reads as human-accepted, with
    // who decided, its product's title and the span.
    let after = |q: &str| -> serde_json::Value {
        client()
            .get(server.url(&format!("/api/v1/labels?{q}")))
            .bearer_auth(READ)
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let queue = after("status=review");
    assert_eq!(
        queue["labels"].as_array().unwrap().len() as u64,
        stats.labels - 1,
        "{queue}"
    );
    let decided = after("status=human-accepted");
    let decided = &decided["labels"][0];
    assert_eq!(decided["id"], id, "{decided}");
    assert_eq!(decided["decided_by"], "writer", "{decided}");
    let title = decided["title"].as_str().unwrap();
    let (start, end) = (
        decided["start"].as_u64().unwrap() as usize,
        decided["end"].as_u64().unwrap() as usize,
    );
    let span: String = title.chars().skip(start).take(end - start).collect();
    assert_eq!(span, "华为", "{decided}");
    let product = decided["product"].as_str().unwrap();
    let one = after(&format!(
        "product={}",
        form_urlencoded::byte_serialize(product.as_bytes()).collect::<String>()
    ));
    assert!(
        one["labels"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["product"] == product),
        "{one}"
    );
    let missing = client()
        .post(server.url("/api/v1/labels/0123456789ab/accept"))
        .bearer_auth(WRITE)
        .send()
        .unwrap();
    assert_eq!(missing.status(), 404);
    let bad = client()
        .post(server.url(&format!("/api/v1/labels/{id}/maybe")))
        .bearer_auth(WRITE)
        .send()
        .unwrap();
    assert_eq!(bad.status(), 404);
    assert!(bad.text().unwrap().contains("/accept or /reject"));
    let bad = client()
        .get(server.url("/api/v1/labels?status=unsure"))
        .bearer_auth(READ)
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(server.audit_log().contains("label-accept"));

    // Re-ingest: the accepted label's fact is now in the graph, the others still wait. Only P1,
    // whose label a person decided on, is labelled again; P2 and P3 are unchanged and skipped.
    let r = ingest::ingest(c, &file, &m, MAPPING, b"s", Some(&strict)).unwrap();
    assert_eq!(r.unchanged, 2, "{r:?}");
    let stats = r.labels.unwrap();
    assert_eq!(stats.human_accepted, 1);
    assert_eq!(stats.review, stats.labels - 1);
    let brands = select(
        c,
        "SELECT ?name WHERE { GRAPH ?g { ?p schema:productID \"P1\" ; schema:brand ?b . ?b schema:name ?name } }",
    );
    assert_eq!(brands.len(), 1);
    assert_eq!(brands[0]["name"], "华为");

    // With the default threshold confident labels become facts; a person's rejection still wins.
    let normal = labeler(c, 0.8);
    let r = ingest::ingest(c, &file, &m, MAPPING, b"s", Some(&normal)).unwrap();
    assert_eq!(
        r.unchanged, 0,
        "another threshold labels every record again"
    );
    let stats = r.labels.unwrap();
    assert!(stats.accepted > 0, "{stats:?}");
    let accepted = select(
        c,
        "SELECT ?l ?p ?pred ?v WHERE { GRAPH ?g { ?l st:status \"accepted\" ; st:labelOf ?p ; st:predicate ?pred ; st:value ?v } }",
    );
    assert!(!accepted.is_empty());
    let rejected = accepted
        .iter()
        .find(|l| l["pred"].ends_with("productType"))
        .expect("a confident product-type label");
    let rid = rejected["l"].rsplit('/').next().unwrap();
    let resp = client()
        .post(server.url(&format!("/api/v1/labels/{rid}/reject")))
        .bearer_auth(ADMIN)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    ingest::ingest(c, &file, &m, MAPPING, b"s", Some(&normal)).unwrap();
    let still = select(
        c,
        &format!(
            "SELECT ?x WHERE {{ GRAPH ?g {{ <{}> st:productType ?x FILTER(?x = \"{}\") }} }}",
            rejected["p"], rejected["v"]
        ),
    );
    assert!(
        still.is_empty(),
        "a rejected label's fact is gone: {still:?}"
    );
    let status = select(
        c,
        &format!(
            "SELECT ?s WHERE {{ GRAPH ?g {{ <{}> st:status ?s }} }}",
            rejected["l"]
        ),
    );
    assert_eq!(status[0]["s"], "human-rejected");
}

#[test]
fn the_review_queue_works_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("store");
    let d = data.to_str().unwrap();
    let file = tmp.path().join("titles.csv");
    std::fs::write(
        &file,
        "sku,title\nP1,华为Mate60Pro手机 5G全网通 黑色\nP2,耐克NIKE男子运动鞋AIR MAX 90休闲跑步鞋\n",
    )
    .unwrap();
    let mapping = tmp.path().join("m.toml");
    std::fs::write(&mapping, MAPPING).unwrap();
    // Every label goes to review (threshold above 1).
    let config = tmp.path().join("stocktake.toml");
    std::fs::write(&config, "[ingest]\nlabel_threshold = 1.01\n").unwrap();
    let c = config.to_str().unwrap();
    let f = file.to_str().unwrap();
    let m = mapping.to_str().unwrap();
    let (ok, out, err) =
        crate::util::stocktake(&["--data", d, "--config", c, "ingest", f, "--mapping", m]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = crate::util::stocktake(&[
        "--data", d, "labels", "list", "--status", "review", "--format", "json",
    ]);
    assert!(ok, "{err}");
    let labels: serde_json::Value = serde_json::from_str(&out).unwrap();
    let brand = labels
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["type"] == "brand" && l["product"].as_str().unwrap().ends_with("/P1"))
        .unwrap_or_else(|| panic!("{labels:#}"))
        .clone();
    let id = brand["id"].as_str().unwrap();
    let (ok, out, _) =
        crate::util::stocktake(&["--data", d, "labels", "accept", id, "--by", "alice"]);
    assert!(ok && out.contains("accepted by local:alice"), "{out}");
    let (ok, _, err) = crate::util::stocktake(&["--data", d, "labels", "reject", "ffff"]);
    assert!(!ok && err.contains("no label \"ffff\""), "{err}");
    let (ok, _, err) =
        crate::util::stocktake(&["--data", d, "labels", "list", "--status", "maybe"]);
    assert!(!ok && err.contains("unknown status"), "{err}");

    // The decision came after the run, so the same input is ingested again, and the brand
    // becomes a fact although the model alone would leave it in review.
    let (ok, out, err) =
        crate::util::stocktake(&["--data", d, "--config", c, "ingest", f, "--mapping", m]);
    assert!(ok && !out.contains("already ingested"), "{out}{err}");
    let (ok, out, _) = crate::util::stocktake(&[
        "--data",
        d,
        "labels",
        "list",
        "--status",
        "human-accepted",
        "--format",
        "json",
    ]);
    assert!(ok);
    let accepted: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(accepted[0]["value"], brand["value"], "{accepted:#}");
    let (_, out, _) = crate::util::stocktake(&[
        "--data",
        d,
        "query",
        "SELECT ?b WHERE { GRAPH ?g { ?p <http://schema.org/productID> \"P1\" ; <http://schema.org/brand> ?b } }",
        "--format",
        "csv",
    ]);
    assert_eq!(out.lines().count(), 2, "one brand fact: {out}");
    let log = std::fs::read_to_string(data.join("audit.log")).unwrap_or_default();
    assert!(
        log.contains("label-accept") && log.contains("local:alice"),
        "{log}"
    );
}

#[test]
fn reviews_get_category_and_sentiment_labels_from_a_classifier() {
    let tmp = tempfile::tempdir().unwrap();
    let c = ontology_catalog(&tmp.path().join("store"));
    let products = tmp.path().join("p.csv");
    std::fs::write(&products, "sku,title\nA1,华为Mate60\n").unwrap();
    let pm =
        "entity = \"product\"\nnamespace = \"shop\"\n[columns]\nid = \"sku\"\ntitle = \"title\"\n";
    ingest::ingest(&c, &products, &Mapping::parse(pm).unwrap(), pm, b"s", None).unwrap();
    let reviews = tmp.path().join("r.csv");
    std::fs::write(
        &reviews,
        "rid,item,body\nr1,A1,屏幕很好\nr2,A1,电池太差了\nr3,A1,还行吧\n",
    )
    .unwrap();
    let rm = "entity = \"review\"\nproduct_namespace = \"shop\"\n[columns]\nid = \"rid\"\nproduct = \"item\"\ntext = \"body\"\n";
    // The fixture follows fixed rules (models/train/make_tiny.py): phone words → 手机, 好 →
    // positive, 差 → negative, each at 0.95; no cue → a tie, under the threshold.
    let dir = crate::util::repo().join("tests/fixtures/models/tiny-reviews");
    let model = Model::load(&dir, &Options::default()).unwrap();
    let iri = stocktake::registry::model_iri(
        c.layout().base(),
        &model.package.config.name,
        &model.package.sha256,
    );
    let l = Labeler::new(model, iri, 0.8);
    let r = ingest::ingest(
        &c,
        &reviews,
        &Mapping::parse(rm).unwrap(),
        rm,
        b"s",
        Some(&l),
    )
    .unwrap();
    let stats = r.labels.unwrap();
    assert_eq!(
        (stats.labels, stats.accepted, stats.review),
        (6, 4, 2),
        "{stats:?}"
    );
    let facts = select(
        &c,
        "SELECT ?r ?s ?cat WHERE { GRAPH ?g { ?r a schema:Review . \
         OPTIONAL { ?r st:sentiment ?s } OPTIONAL { ?r st:reviewCategory ?cat } } } ORDER BY ?r",
    );
    let rows: Vec<(String, String, String)> = facts
        .iter()
        .map(|f| {
            let g = |k: &str| f.get(k).cloned().unwrap_or_default();
            let id = g("r").rsplit('/').next().unwrap_or_default().to_string();
            (id, g("s"), g("cat"))
        })
        .collect();
    let phone = "https://w3id.org/stocktake/category/mobile-phones";
    assert_eq!(
        rows,
        vec![
            ("r1".into(), "positive".into(), phone.into()),
            ("r2".into(), "negative".into(), phone.into()),
            ("r3".into(), String::new(), String::new()),
        ],
        "the category resolves to the taxonomy's concept; r3 waits for review"
    );
    let v = r.validation.unwrap();
    assert_eq!(v.violations, 0, "{:#?}", v.results);
    // Labels carry the model and confidence like title labels do; r3's wait in the queue.
    let queue = select(
        &c,
        "SELECT ?type ?value WHERE { GRAPH ?g { ?l st:status \"review\" ; st:entityType ?type ; st:value ?value ; st:model ?m } }",
    );
    assert_eq!(queue.len(), 2, "{queue:?}");
}
