//! Embeddings that keep up: a model trained on the product graph, the graph then grows (new
//! users with their purchases), and the warm-started retrain must give the new entities
//! predictions without losing quality on the old held-out triples (filtered MRR within 0.01).

use stocktake::catalog::{Catalog, GraphLayout, Object, Statement};
use stocktake::embed::{self, Embedding};
use stocktake::kg::{Checkpoint, KnownTriples, Triple};
use stocktake::recommend::retrain::{self, Skipped};

use crate::util::stocktake;

const EX: &str = "http://ex.org/shop/";

/// A shop with structure to learn: every product has a category and a brand (brands make one
/// category); every user buys mostly in one favourite category.
fn shop(users: std::ops::Range<usize>) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let iri = |s: String| format!("{EX}{s}");
    for p in 0..120 {
        let c = p % 12;
        out.push((
            iri(format!("product/p{p}")),
            iri("category".into()),
            iri(format!("category/c{c}")),
        ));
        out.push((
            iri(format!("product/p{p}")),
            iri("brand".into()),
            iri(format!("brand/b{}", c * 2 + p % 2)),
        ));
    }
    for u in users {
        let fav = u % 12;
        for k in 0..8 {
            // Mostly the favourite category (p ≡ fav mod 12), sometimes the next one.
            let c = if k % 4 == 3 { (fav + 1) % 12 } else { fav };
            let p = c + 12 * ((u * 7 + k * 3) % 10);
            out.push((
                iri(format!("user/u{u}")),
                iri("purchased".into()),
                iri(format!("product/p{p}")),
            ));
        }
    }
    out
}

fn add(catalog: &Catalog, triples: &[(String, String, String)]) {
    let stmts: Vec<Statement> = triples
        .iter()
        .map(|(h, r, t)| Statement::new(h, r, Object::iri(t)))
        .collect();
    let g = catalog.layout().products.clone();
    catalog.describe(&g, &[], &stmts).unwrap();
}

/// The layout the binary uses by default (the CLI trains from the same store).
fn layout() -> GraphLayout {
    GraphLayout::new(&stocktake::config::Config::default().catalog.base_iri).unwrap()
}

fn load(path: &std::path::Path) -> Embedding {
    Embedding::from_checkpoint(&Checkpoint::load(path).unwrap()).unwrap()
}

/// Filtered MRR of `e` on the named `test` triples, filtering every named triple in `known`.
fn mrr(
    e: &Embedding,
    test: &[(String, String, String)],
    known: &[(String, String, String)],
) -> f64 {
    let id = |(h, r, t): &(String, String, String)| {
        Some(Triple::new(
            e.ids.entities.get(h)?,
            e.ids.relations.get(r)?,
            e.ids.entities.get(t)?,
        ))
    };
    let test: Vec<Triple> = test.iter().filter_map(id).collect();
    let known: Vec<Triple> = known.iter().filter_map(id).collect();
    embed::evaluate(&e.model, &test, &KnownTriples::new([&known[..]]))
        .both
        .mrr
}

#[test]
fn a_grown_graph_is_learnt_warm_without_losing_the_old() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let model = store.join("embeddings/transe.stk");
    let old_triples = shop(0..200);
    {
        let catalog = Catalog::open(&store, layout()).unwrap();
        add(&catalog, &old_triples);
        // Nothing is served yet: nothing to keep up.
        assert_eq!(
            retrain::maybe_retrain(&catalog, &model, 0.05, 10)
                .unwrap()
                .unwrap_err(),
            Skipped::NoModel
        );
    }
    let (ok, _, err) = stocktake(&[
        "--data",
        store.to_str().unwrap(),
        "train",
        "--from-catalog",
        "--out",
        model.to_str().unwrap(),
        "--epochs",
        "60",
        "--eval-every",
        "10",
        "--dim",
        "32",
        "--negatives",
        "16",
        "--loss",
        "softmax",
        "--lr",
        "0.1",
        "--batch-size",
        "128",
        "--no-catalog",
    ]);
    assert!(ok, "train failed: {err}");
    let before = load(&model);
    // The held-out triples of the first graph (the same hash split the trainer used).
    let (_, _, old_test) = stocktake::kg::split_by_hash(old_triples.clone(), 50, 50);
    assert!(old_test.len() > 50, "{}", old_test.len());

    let catalog = Catalog::open(&store, layout()).unwrap();
    // 10 new users (5% of the training triples are new): below a 10% threshold, nothing happens.
    add(&catalog, &shop(200..210));
    match retrain::maybe_retrain(&catalog, &model, 0.1, 30).unwrap() {
        Err(Skipped::BelowThreshold { changed_fraction }) => {
            assert!(
                changed_fraction > 0.02 && changed_fraction < 0.1,
                "{changed_fraction}"
            )
        }
        other => panic!("expected no retrain: {other:?}"),
    }
    assert_eq!(
        load(&model).model_id(),
        before.model_id(),
        "the served model is untouched"
    );
    // 60 more users: well above it.
    add(&catalog, &shop(210..270));
    let done = retrain::maybe_retrain(&catalog, &model, 0.1, 30)
        .unwrap()
        .unwrap();
    assert!(done.new_entities >= 70, "{done:?}");
    assert_ne!(done.model_id, done.previous_model_id);
    let after = load(&model);
    assert_eq!(after.model_id(), done.model_id);
    assert_eq!(after.info.snapshot, done.snapshot);
    assert_ne!(
        after.info.snapshot, before.info.snapshot,
        "the answers name the new snapshot"
    );
    // New users have embeddings and get products of their favourite category first.
    let u = after
        .ids
        .entities
        .get(&format!("{EX}user/u265"))
        .expect("a new user is in the model");
    let r = after.ids.relations.get(&format!("{EX}purchased")).unwrap();
    let q = after.model.tail_query(u, r);
    let mut ranked: Vec<(f32, &str)> = after
        .ids
        .entities
        .names()
        .iter()
        .enumerate()
        .filter(|(_, n)| n.contains("/product/"))
        .map(|(i, n)| {
            (
                after.model.point_distance(&q, after.model.entity(i as u32)),
                n.as_str(),
            )
        })
        .collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    let in_favourite = ranked[..10]
        .iter()
        .filter(|(_, n)| {
            let p: usize = n.rsplit('p').next().unwrap().parse().unwrap();
            p % 12 == 265 % 12 || p % 12 == (265 + 1) % 12
        })
        .count();
    assert!(
        in_favourite >= 6,
        "top 10 for a new user: {:?}",
        &ranked[..10]
    );
    // Old held-out triples: no real loss (filtered by everything the graph now holds).
    let all = [old_triples.clone(), shop(200..270)].concat();
    let (m0, m1) = (mrr(&before, &old_test, &all), mrr(&after, &old_test, &all));
    eprintln!("old test MRR: {m0:.4} before, {m1:.4} after the warm retrain ({done:?})");
    assert!(
        m1 >= m0 - 0.01,
        "MRR on the old test triples dropped: {m0:.4} → {m1:.4}"
    );
}

#[test]
fn an_ingest_over_http_retrains_the_served_model_warm() {
    use crate::util::{client, TestServer, ADMIN, READ};
    use stocktake::embed::checkpoint::ModelInfo;
    use stocktake::embed::{TrainConfig, Trainer};
    let server = TestServer::start_with(|c| {
        c.ingest.title_model = String::new();
        c.embed.retrain_fraction = 0.1;
        c.embed.retrain_epochs = 10;
    });
    // The graph before, and a model trained on it and served.
    add(&server.catalog, &shop(0..200));
    let data = retrain::catalog_dataset(
        &server.catalog,
        "products",
        &[],
        stocktake::kg::UnseenPolicy::Keep,
    )
    .unwrap();
    let config = TrainConfig {
        dim: 16,
        epochs: 20,
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(
        config,
        &data.train,
        data.num_entities(),
        data.num_relations(),
    )
    .unwrap();
    t.run(
        &data.train,
        None,
        |_, _| std::ops::ControlFlow::Continue(()),
    );
    let info = ModelInfo {
        source: data.source.clone(),
        snapshot: data.fingerprint.clone(),
        ..ModelInfo::default()
    };
    let first = Embedding::new(
        t.best_model().clone(),
        data.ids.clone(),
        t.config.clone(),
        info,
        data.train.clone(),
    )
    .unwrap();
    let path = server.dir.path().join("store/embeddings/transe.stk");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    first.to_checkpoint().save(&path).unwrap();
    let served = || -> serde_json::Value {
        client()
            .get(server.url("/api/v1/predict/model"))
            .bearer_auth(READ)
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let wait_for = |what: &dyn Fn(&serde_json::Value) -> bool| -> serde_json::Value {
        let start = std::time::Instant::now();
        loop {
            let m = served();
            if what(&m) {
                return m;
            }
            assert!(start.elapsed().as_secs() < 90, "timed out: {m}");
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    };
    let old_id = first.model_id();
    wait_for(&|m| m["model_id"] == old_id.as_str());

    // 150 new products with brands and categories: far more than 10% new triples.
    let file = server.dir.path().join("new-products.csv");
    let mut csv = String::from("sku,title,price,brand,category\n");
    for i in 0..150 {
        csv.push_str(&format!(
            "N{i},新品 {i} 号,{}.00,品牌{},手机\n",
            100 + i,
            i % 7
        ));
    }
    std::fs::write(&file, csv).unwrap();
    let mapping = "entity = \"product\"\nnamespace = \"new\"\n[columns]\nid = \"sku\"\ntitle = \"title\"\nprice = \"price\"\nbrand = \"brand\"\ncategory = \"category\"\n[defaults]\ncurrency = \"CNY\"\n";
    let r = client()
        .post(server.url("/api/v1/ingest"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({ "asset": file, "mapping": mapping }))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    // The old model answers until the retrained one is swapped in; then the answers name the
    // new data snapshot.
    let now = wait_for(&|m| m["model_id"].is_string() && m["model_id"] != old_id.as_str());
    assert_ne!(now["snapshot"], first.info.snapshot.as_str(), "{now}");
    let product = crate::util::select(
        &server.catalog,
        "SELECT ?p WHERE { GRAPH ?g { ?p schema:productID \"N7\" } }",
    )[0]["p"]
        .clone();
    let r = client()
        .get(server.url(&format!(
            "/api/v1/similar?entity={}&k=5",
            form_urlencoded::byte_serialize(product.as_bytes()).collect::<String>()
        )))
        .bearer_auth(READ)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().unwrap();
    assert_eq!(
        status, 200,
        "a product ingested after the first model has neighbours now: {body}"
    );
    assert_eq!(body["snapshot"], now["snapshot"], "{body}");
}
