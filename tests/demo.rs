//! `stocktake demo --no-serve` on a fresh data directory, through the real binary and the real
//! default models: the sample is scanned, ingested with its dirt quarantined, TransE trained,
//! sample queries answered; then the store and the model are checked from outside.

use crate::util::stocktake;

#[test]
fn demo_scans_ingests_trains_and_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("store");
    let d = data.to_str().unwrap();
    let (ok, out, err) = stocktake(&["--data", d, "demo", "--no-serve"]);
    assert!(ok, "{out}\n{err}");
    // The sample's dirt (demo/generate.py): four unparseable prices and two empty titles among
    // 3,015 products, one review from the future; reviews and behaviour pointing at the six
    // quarantined products are dangling references (41 events, 5 reviews); the rest accepted.
    assert!(
        out.contains("products     3015 in,   3009 accepted,   6 quarantined"),
        "{out}"
    );
    assert!(
        out.contains("behaviour   19647 in,  19606 accepted,  41 quarantined"),
        "{out}"
    );
    assert!(
        out.contains("reviews      1975 in,   1969 accepted,   6 quarantined"),
        "{out}"
    );
    assert!(out.contains("SHACL: the product graph conforms"), "{out}");
    // The stock sample: its three bad rows and one bad movement quarantined, the snapshot
    // checked, the eight planted conditions raised (tests/stock.rs checks each one).
    assert!(
        out.contains("stock          64 in,     61 accepted,   3 quarantined"),
        "{out}"
    );
    assert!(
        out.contains("as of 2024-10-28") && out.contains("8 new events"),
        "{out}"
    );
    assert!(out.contains("price anomalies"), "{out}");
    assert!(
        out.contains("users.csv") && out.contains("phone (phone)"),
        "{out}"
    );
    assert!(out.contains("== Ingest runs (ingest-runs) =="), "{out}");

    let count = |q: &str| -> usize {
        let (ok, out, err) = stocktake(&["--data", d, "query", q, "--format", "csv"]);
        assert!(ok, "{err}");
        out.lines()
            .nth(1)
            .unwrap_or("0")
            .trim()
            .parse()
            .unwrap_or(0)
    };
    let pre = "PREFIX st: <https://w3id.org/stocktake/ns#> PREFIX schema: <http://schema.org/> ";
    assert_eq!(
        count(&format!(
            "{pre} SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?p a schema:Product }} }}"
        )),
        3009
    );
    assert!(
        count(&format!(
            "{pre} SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?u st:purchased ?p }} }}"
        )) > 500
    );
    // Users' phones are kept, sealed only: none in the clear.
    let phones = count(&format!(
        "{pre} SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?u a st:User ; schema:telephone ?t }} }}"
    ));
    let sealed = count(&format!(
        "{pre} SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?u a st:User ; schema:telephone ?t FILTER(datatype(?t) = st:sealed && STRSTARTS(STR(?t), \"stv1:\")) }} }}"
    ));
    assert!(
        phones > 500 && phones == sealed,
        "{phones} phones, {sealed} sealed"
    );
    assert!(
        count(&format!(
            "{pre} SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?l a st:Label ; st:status ?s }} }}"
        )) > 1000
    );
    // Personal data stays out of the product graph.
    assert_eq!(
        count(&format!(
            "{pre} SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o FILTER(CONTAINS(STR(?o), \"@example.com\")) }} }}"
        )),
        0
    );

    // The trained model answers for a user who bought something.
    let (ok, out, err) = stocktake(&[
        "--data",
        d,
        "query",
        &format!(
            "{pre} SELECT ?u WHERE {{ GRAPH ?g {{ ?u st:purchased ?p }} }} ORDER BY ?u LIMIT 1"
        ),
        "--format",
        "csv",
    ]);
    assert!(ok, "{err}");
    let user = out.lines().nth(1).unwrap().trim().to_string();
    let model = data.join("embeddings/transe.stk");
    let (ok, out, err) = stocktake(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--head",
        &user,
        "--relation",
        "https://w3id.org/stocktake/ns#purchased",
        "-k",
        "5",
        "--format",
        "json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["results"].as_array().map(Vec::len), Some(5), "{v}");

    // The workbench on the demo store, in a real browser.
    crate::workbench::demo_pages_in_a_browser(&data);
}
