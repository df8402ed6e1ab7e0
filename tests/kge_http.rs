//! Link prediction over HTTP through the real binary and server: a model trained on the shop
//! fixture (as IRIs) serves `/api/v1/predict`, `/api/v1/recommend` and `/api/v1/similar`, with
//! roles, restricted entities, known links filtered and a retrained model swapped in live.

use std::path::Path;

use serde_json::Value;

use crate::kge::SHOP;
use crate::util::stocktake;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The shop fixture with IRIs for names, written as TSV into `dir`.
pub(crate) fn shop_as_iris(dir: &Path) {
    let src = crate::util::repo().join("tests/fixtures/kg/shop");
    std::fs::create_dir_all(dir).unwrap();
    for split in ["train.txt", "valid.txt", "test.txt"] {
        let text = std::fs::read_to_string(src.join(split)).unwrap();
        let out: String = text
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                format!("{SHOP}{}\t{SHOP}{}\t{SHOP}{}\n", f[0], f[1], f[2])
            })
            .collect();
        std::fs::write(dir.join(split), out).unwrap();
    }
}

pub(crate) fn train_into(tsv: &Path, out: &Path, seed: &str) {
    let (ok, _, err) = stocktake(&[
        "train",
        "--tsv",
        s(tsv),
        "--out",
        s(out),
        "--no-catalog",
        "--epochs",
        "80",
        "--eval-every",
        "0",
        "--dim",
        "32",
        "--negatives",
        "8",
        "--loss",
        "self-adversarial",
        "--margin",
        "6",
        "--batch-size",
        "64",
        "--seed",
        seed,
    ]);
    assert!(ok, "train failed: {err}");
}

#[test]
fn link_prediction_api_over_http() {
    use crate::util::{admin_update, client, TestServer, ADMIN, READ};
    let server =
        TestServer::start_with(|c| c.embed.recommend_relation = format!("{SHOP}purchased"));
    let http = client();
    let get = |path: &str, token: Option<&str>| {
        let mut r = http.get(server.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().unwrap_or(Value::Null);
        (status, body)
    };
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let user = format!("{SHOP}user/u0");
    let tails = |extra: &str| {
        format!(
            "/api/v1/predict/tails?head={}&relation={}{extra}",
            enc(&user),
            enc(&format!("{SHOP}purchased"))
        )
    };

    // No model yet: a clear 503, and auth still comes first.
    let (status, body) = get(&tails(""), Some(READ));
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("stocktake train"),
        "{body}"
    );
    assert_eq!(get(&tails(""), None).0, 401);

    // Types, a label and one restricted product in the catalog.
    let products: Vec<String> = (0..60).map(|i| format!("{SHOP}product/p{i}")).collect();
    let typed: String = products
        .iter()
        .map(|p| format!("<{p}> a <{SHOP}Product> . "))
        .collect();
    let quarantine = server.catalog.layout().quarantine.as_str().to_string();
    let products_graph = server.catalog.layout().products.as_str().to_string();
    admin_update(
        &server,
        &format!(
            "INSERT DATA {{ GRAPH <{products_graph}> {{ {typed} <{SHOP}purchased> <http://www.w3.org/2000/01/rdf-schema#range> <{SHOP}Product> . \
             <{SHOP}product/p2> <http://www.w3.org/2000/01/rdf-schema#label> \"洗发水 p2\"@zh }} \
             GRAPH <{quarantine}> {{ <{SHOP}product/p1> <{SHOP}reason> \"duplicate\" }} }}"
        ),
    );

    // Train; the server picks the model up without a restart.
    let tsv = server.dir.path().join("shop-iris");
    shop_as_iris(&tsv);
    let model_path = server.dir.path().join("store/embeddings/transe.stk");
    train_into(&tsv, &model_path, "1");
    let wait_model = |not: Option<&str>| -> Value {
        for _ in 0..100 {
            let (status, body) = get("/api/v1/predict/model", Some(READ));
            if status == 200 && body["model_id"].as_str() != not {
                return body;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("model not loaded");
    };
    let first = wait_model(None);

    let (status, body) = get(&tails("&k=5"), Some(READ));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model_id"], first["model_id"]);
    assert!(body["snapshot"].as_str().unwrap().len() == 64);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    let train = std::fs::read_to_string(tsv.join("train.txt")).unwrap();
    for r in results {
        let e = r["entity"].as_str().unwrap();
        assert!(
            !train.contains(&format!("{user}\t{SHOP}purchased\t{e}\n")),
            "known purchase recommended: {e}"
        );
    }

    // Type constraint: only products; the restricted product only for admins.
    let (_, body) = get(&tails("&k=200&constrain=true"), Some(READ));
    assert_eq!(body["type_constraint"], format!("{SHOP}Product"));
    let ents: Vec<String> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["entity"].as_str().unwrap().to_string())
        .collect();
    assert!(ents.iter().all(|e| products.contains(e)), "{ents:?}");
    assert!(
        !ents.contains(&format!("{SHOP}product/p1")),
        "restricted entity shown to a reader"
    );
    let (_, body) = get(&tails("&k=200&constrain=true"), Some(ADMIN));
    let admin_ents: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["entity"].as_str().unwrap())
        .collect();
    assert!(admin_ents.contains(&format!("{SHOP}product/p1").as_str()));
    assert_eq!(admin_ents.len(), ents.len() + 1);
    // p2 is a shampoo, never bought by u0 (who buys phones), so it is always a candidate.
    let labelled = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["entity"] == format!("{SHOP}product/p2"))
        .expect("p2 among all products");
    assert_eq!(labelled["label"], "洗发水 p2");

    // recommend, similar, heads, POST.
    let (status, body) = get(
        &format!("/api/v1/recommend?user={}&k=3", enc(&user)),
        Some(READ),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"].as_array().unwrap().len(), 3);
    assert_eq!(body["type_constraint"], format!("{SHOP}Product"));
    let p0 = format!("{SHOP}product/p0");
    let (status, body) = get(
        &format!("/api/v1/similar?entity={}&k=4", enc(&p0)),
        Some(READ),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["entity"] != p0.as_str()));
    let (status, body) = get(
        &format!(
            "/api/v1/predict/heads?tail={}&relation={}&k=3",
            enc(&p0),
            enc(&format!("{SHOP}brand"))
        ),
        Some(READ),
    );
    assert_eq!(status, 200, "{body}");
    let resp = http
        .post(server.url("/api/v1/predict/tails"))
        .bearer_auth(READ)
        .json(&serde_json::json!({"head": user, "relation": format!("{SHOP}purchased"), "k": 2}))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);

    // Errors: unknown entity / relation (404), hidden anchor for readers (404), bad k (400),
    // missing parameter (400), unknown parameter (400).
    let (status, body) = get(
        &format!(
            "/api/v1/predict/tails?head=nobody&relation={}",
            enc(&format!("{SHOP}purchased"))
        ),
        Some(READ),
    );
    assert_eq!(status, 404);
    assert!(
        body["error"].as_str().unwrap().contains("unknown entity"),
        "{body}"
    );
    let (status, body) = get(
        &format!("/api/v1/predict/tails?head={}&relation=nope", enc(&user)),
        Some(READ),
    );
    assert_eq!(status, 404);
    assert!(
        body["error"].as_str().unwrap().contains("unknown relation"),
        "{body}"
    );
    let p10 = enc(&format!("{SHOP}product/p1"));
    assert_eq!(
        get(&format!("/api/v1/similar?entity={p10}"), Some(READ)).0,
        404
    );
    assert_eq!(
        get(&format!("/api/v1/similar?entity={p10}"), Some(ADMIN)).0,
        200
    );
    assert_eq!(get(&tails("&k=0"), Some(READ)).0, 400);
    assert_eq!(get("/api/v1/recommend", Some(READ)).0, 400);
    assert_eq!(get(&tails("&bogus=1"), Some(READ)).0, 400);

    // A retrained model replaces the served one while the server runs.
    train_into(&tsv, &model_path, "2");
    let second = wait_model(first["model_id"].as_str());
    assert_ne!(second["model_id"], first["model_id"]);
    let (status, body) = get(&tails("&k=5"), Some(READ));
    assert_eq!(status, 200);
    assert_eq!(body["model_id"], second["model_id"]);
}

/// The PQ4 index (`[embed] search = "pq4"`) answers over HTTP as exact search does: two servers
/// serve the same trained model, one searching exactly and one through the index, and every
/// user's top tails (known purchases filtered, restricted product hidden) agree, scores included.
/// The shop graph is small enough that the index's re-ranking budget covers every entity, so the
/// answers must be identical; its recall on large tables is measured in `benches/kge.rs`.
#[test]
fn pq4_search_answers_as_exact_search_over_http() {
    use crate::util::{admin_update, client, TestServer, READ};
    use stocktake::config::SearchMode;
    let relation = format!("{SHOP}purchased");
    let exact = TestServer::start_with(|c| {
        c.embed.recommend_relation = relation.clone();
        c.embed.search = SearchMode::Exact;
    });
    let pq4 = TestServer::start_with(|c| {
        c.embed.recommend_relation = relation.clone();
        c.embed.search = SearchMode::Pq4;
    });
    let tsv = exact.dir.path().join("shop-iris");
    shop_as_iris(&tsv);
    let trained = exact.dir.path().join("model.stk");
    train_into(&tsv, &trained, "3");
    let http = client();
    let get = |server: &TestServer, path: &str| -> Value {
        let resp = http.get(server.url(path)).bearer_auth(READ).send().unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        resp.json().unwrap()
    };
    for server in [&exact, &pq4] {
        let q = server.catalog.layout().quarantine.as_str().to_string();
        admin_update(
            server,
            &format!("INSERT DATA {{ GRAPH <{q}> {{ <{SHOP}product/p1> <{SHOP}reason> \"x\" }} }}"),
        );
        let path = server.dir.path().join("store/embeddings/transe.stk");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::copy(&trained, &path).unwrap();
        let mut loaded = false;
        for _ in 0..100 {
            let r = http
                .get(server.url("/api/v1/predict/model"))
                .bearer_auth(READ)
                .send()
                .unwrap();
            if r.status().as_u16() == 200 {
                loaded = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(loaded, "model not loaded");
    }
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    for u in 0..20 {
        let path = format!(
            "/api/v1/predict/tails?head={}&relation={}&k=8",
            enc(&format!("{SHOP}user/u{u}")),
            enc(&relation)
        );
        let (a, b) = (get(&exact, &path), get(&pq4, &path));
        assert_eq!(a["search"], "exact");
        assert_eq!(b["search"], "pq4");
        assert_eq!(a["results"], b["results"], "user u{u}");
        assert_eq!(a["results"].as_array().unwrap().len(), 8);
        let hidden = format!("{SHOP}product/p1");
        assert!(b["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["entity"] != hidden.as_str()));
    }
}
