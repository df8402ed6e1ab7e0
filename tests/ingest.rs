//! Ingestion through the real pipeline into an on-disk store: cleaning, stable IRIs,
//! quarantine with every reason, run counts that add up, idempotent re-runs, pseudonymous users,
//! and the errors a wrong mapping or a bad file gets.

use crate::util::{ontology_catalog, select};

use std::path::Path;

use stocktake::catalog::Catalog;
use stocktake::ingest::{self, mapping::Mapping};

const SECRET: &[u8] = b"test-secret";

fn count(c: &Catalog, graph: &str) -> usize {
    let rows = select(
        c,
        &format!("SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <https://example.org/st/graph/{graph}> {{ ?s ?p ?o }} }}"),
    );
    rows[0]["n"].parse().unwrap()
}

const PRODUCTS: &str = "entity = \"product\"\nnamespace = \"shop\"\n[columns]\nid = \"sku\"\ntitle = \"title\"\nprice = \"price\"\nbrand = \"brand\"\ncategory = \"category\"\n[defaults]\ncurrency = \"CNY\"\n";

fn write_products(path: &Path) {
    let mut bytes = Vec::new();
    bytes.extend_from_slice("sku,title,price,brand,category\n".as_bytes());
    bytes.extend_from_slice(
        "A1,Ａｐｐｌｅ iPhone　１５  Pro,\"￥8,999.00\",Apple,手机\n".as_bytes(),
    );
    bytes.extend_from_slice("A2,华为 Mate 60,5999元,华为,手机\n".as_bytes());
    bytes.extend_from_slice("A3,Kindle Paperwhite,US$139.99,Amazon,电子书阅读器\n".as_bytes());
    bytes.extend_from_slice("B1,坏价格的商品,abc,Acme,手机\n".as_bytes());
    bytes.extend_from_slice("B2,,12.00,Acme,手机\n".as_bytes());
    bytes.extend_from_slice("B3,too,many,fields,here,really\n".as_bytes());
    bytes.extend_from_slice(
        format!("B4,{},9.90,Acme,手机\n", "长".repeat(1_048_576 / 3)).as_bytes(),
    );
    bytes.extend_from_slice(b"B5,bad \xff\xfe bytes,9.90,Acme,\xe6\x89\x8b\xe6\x9c\xba\n");
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn products_are_cleaned_linked_and_quarantined_with_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let c = ontology_catalog(&tmp.path().join("store"));
    let file = tmp.path().join("products.csv");
    write_products(&file);
    let m = Mapping::parse(PRODUCTS).unwrap();
    // With a keyring, as the app runs it: quarantined cells are kept sealed.
    let vault = stocktake::vault::Keyring::generate("t1");
    let options = ingest::RunOptions {
        labeler: None,
        commit_every: ingest::COMMIT_EVERY,
        confine: None,
        names: None,
        vault: Some(&vault),
    };
    let r = ingest::ingest_with(&c, &file, &m, PRODUCTS, SECRET, &options).unwrap();
    assert_eq!(
        (r.records_in, r.accepted, r.quarantined),
        (8, 3, 5),
        "{r:?}"
    );
    assert_eq!(r.records_in, r.accepted + r.quarantined);

    let rows = select(
        &c,
        "SELECT ?name ?price ?cur ?brand ?cat WHERE { GRAPH ?g { \
           ?p schema:productID \"A1\" ; schema:name ?name ; schema:offers ?o ; schema:brand ?b ; schema:category ?cat . \
           ?o schema:price ?price ; schema:priceCurrency ?cur . ?b schema:name ?brand } }",
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        rows[0]["name"], "Apple iPhone 15 Pro",
        "NFKC, whitespace collapsed"
    );
    assert_eq!(
        rows[0]["price"], "8999",
        "an exact xsd:decimal (the store keeps it canonical)"
    );
    assert_eq!(rows[0]["cur"], "CNY");
    assert_eq!(rows[0]["brand"], "Apple");
    assert_eq!(
        rows[0]["cat"], "https://w3id.org/stocktake/category/mobile-phones",
        "linked to the taxonomy's concept by its notation"
    );
    // The price's own currency wins over the mapping's default; an unknown category becomes a
    // new concept rather than being dropped.
    let rows = select(
        &c,
        "SELECT ?cur ?label WHERE { GRAPH ?g { ?p schema:productID \"A3\" ; schema:offers/schema:priceCurrency ?cur ; \
           schema:category ?cat . ?cat skos:prefLabel ?label } }",
    );
    assert_eq!(rows[0]["cur"], "USD");
    assert_eq!(rows[0]["label"], "电子书阅读器");

    // Every quarantined record has its reasons, line and raw cells.
    let q = select(
        &c,
        "SELECT ?line ?reason WHERE { GRAPH <https://example.org/st/graph/quarantine> { \
           ?q a st:QuarantinedRecord ; st:sourceLine ?line ; st:reason ?reason } } ORDER BY ?line",
    );
    let reasons: Vec<(String, String)> = q
        .iter()
        .map(|r| (r["line"].clone(), r["reason"].clone()))
        .collect();
    let has = |line: &str, text: &str| reasons.iter().any(|(l, r)| l == line && r.contains(text));
    assert!(has("5", "price \"abc\" is not a number"), "{reasons:?}");
    assert!(has("6", "title is empty"), "{reasons:?}");
    assert!(has("7", "6 fields where the header has 5"), "{reasons:?}");
    assert!(has("8", "characters long (limit 1000)"), "{reasons:?}");
    assert!(has("9", "not valid text"), "{reasons:?}");
    let raw = select(
        &c,
        "SELECT ?q ?raw WHERE { GRAPH ?g { ?q st:sourceLine 5 ; st:rawRecord ?raw } }",
    );
    // Stored sealed: opaque in the store, the cells as read once opened with the key.
    assert!(raw[0]["raw"].starts_with("stv1:t1:"), "{raw:?}");
    assert!(!raw[0]["raw"].contains("abc"), "{raw:?}");
    let opened = vault
        .open_str(
            &raw[0]["raw"],
            &stocktake::vault::field_context(
                &raw[0]["q"],
                &format!("{}rawRecord", stocktake::catalog::vocab::ST),
            ),
        )
        .unwrap();
    assert!(opened.contains("\"price\":\"abc\""), "{}", *opened);

    // The run's PROV record adds up.
    let run = select(
        &c,
        "SELECT ?in ?ok ?q WHERE { GRAPH ?g { ?r a st:IngestRun ; st:recordsIn ?in ; st:recordsAccepted ?ok ; st:recordsQuarantined ?q } }",
    );
    assert_eq!(
        (
            run[0]["in"].as_str(),
            run[0]["ok"].as_str(),
            run[0]["q"].as_str()
        ),
        ("8", "3", "5")
    );

    // Re-ingesting the same input changes neither graph.
    let (products, quarantine) = (count(&c, "products"), count(&c, "quarantine"));
    let again = ingest::ingest_with(&c, &file, &m, PRODUCTS, SECRET, &options).unwrap();
    assert_eq!((again.accepted, again.quarantined), (3, 5));
    assert_eq!(
        again.unchanged, 3,
        "every accepted record is already there: none rewritten"
    );
    assert_eq!(count(&c, "products"), products);
    assert_eq!(count(&c, "quarantine"), quarantine);

    // A corrected record replaces its earlier version (no stale price left behind).
    std::fs::write(
        &file,
        "sku,title,price,brand,category\nA1,Apple iPhone 15 Pro,7999,Apple,手机\n",
    )
    .unwrap();
    ingest::ingest(&c, &file, &m, PRODUCTS, SECRET, None).unwrap();
    let prices = select(
        &c,
        "SELECT ?price WHERE { GRAPH ?g { ?p schema:productID \"A1\" ; schema:offers/schema:price ?price } }",
    );
    assert_eq!(prices.len(), 1);
    assert_eq!(prices[0]["price"], "7999");

    // The file grows: only the new record is processed; the old one is skipped, not rewritten.
    std::fs::write(
        &file,
        "sku,title,price,brand,category
A1,Apple iPhone 15 Pro,7999,Apple,手机
A9,小米14 Ultra,6499,小米,手机
",
    )
    .unwrap();
    let grown = ingest::ingest(&c, &file, &m, PRODUCTS, SECRET, None).unwrap();
    assert_eq!(
        (grown.records_in, grown.accepted, grown.unchanged),
        (2, 2, 1),
        "{grown:?}"
    );
    let a9 = select(
        &c,
        "SELECT ?p WHERE { GRAPH ?g { ?p schema:productID \"A9\" } }",
    );
    assert_eq!(a9.len(), 1);
    let runs = select(
        &c,
        &format!(
            "SELECT ?n WHERE {{ GRAPH ?g {{ <{}> st:recordsUnchanged ?n }} }}",
            grown.run
        ),
    );
    assert_eq!(runs[0]["n"], "1");
}

#[test]
fn reviews_and_interactions_link_pseudonymous_users_to_products() {
    let tmp = tempfile::tempdir().unwrap();
    let c = ontology_catalog(&tmp.path().join("store"));
    // Only A1 is a known product at first: what points at A2 is a dangling reference.
    let shop = tmp.path().join("shop.csv");
    std::fs::write(&shop, "sku,title\nA1,iPhone 15\n").unwrap();
    let pm =
        "entity = \"product\"\nnamespace = \"shop\"\n[columns]\nid = \"sku\"\ntitle = \"title\"\n";
    ingest::ingest(&c, &shop, &Mapping::parse(pm).unwrap(), pm, SECRET, None).unwrap();
    let reviews = tmp.path().join("reviews.jsonl");
    std::fs::write(
        &reviews,
        [
            r#"{"rid": "r1", "item": "A1", "uid": "alice@example.com", "stars": 5, "body": "很好用", "at": "2024-03-05 10:00:00"}"#,
            r#"{"rid": "r2", "item": "A2", "uid": "bob", "stars": 9, "body": "??", "at": "2024-03-06"}"#,
            r#"{"rid": "r3", "item": "A2", "uid": "bob", "stars": 4, "body": "还行", "at": "2099-01-01"}"#,
            r#"not json"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let rm = "entity = \"review\"\nproduct_namespace = \"shop\"\n[columns]\nid = \"rid\"\nproduct = \"item\"\nuser = \"uid\"\nrating = \"stars\"\ntext = \"body\"\ntime = \"at\"\n";
    let r = ingest::ingest(&c, &reviews, &Mapping::parse(rm).unwrap(), rm, SECRET, None).unwrap();
    assert_eq!(
        (r.records_in, r.accepted, r.quarantined),
        (4, 1, 3),
        "{r:?}"
    );
    let reasons: Vec<&String> = r.reasons.keys().collect();
    assert!(
        reasons.iter().any(|x| x.contains("outside 1–5")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|x| x.contains("in the future")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|x| x.contains("invalid JSON")),
        "{reasons:?}"
    );

    let events = tmp.path().join("events.csv");
    std::fs::write(
        &events,
        "user,item,action,ts\nalice@example.com,A1,buy,1700000000\nalice@example.com,A2,pv,1700000100\ncarol,A1,cart,1700000200\n",
    )
    .unwrap();
    let em = "entity = \"interaction\"\nproduct_namespace = \"shop\"\n[columns]\nuser = \"user\"\nproduct = \"item\"\nkind = \"action\"\ntime = \"ts\"\n";
    let r = ingest::ingest(&c, &events, &Mapping::parse(em).unwrap(), em, SECRET, None).unwrap();
    assert_eq!((r.accepted, r.quarantined), (1, 2), "{r:?}");
    assert!(r
        .reasons
        .keys()
        .any(|k| k.contains("\"cart\" is not one of")));
    assert!(
        r.reasons.keys().any(|k| k.contains(
            "product \"A2\" is not in the product graph (namespace \"shop\"): ingest the products first"
        )),
        "{:?}",
        r.reasons
    );
    let dangling = "SELECT ?q WHERE { GRAPH ?g { ?q st:reason ?r FILTER(CONTAINS(?r, \"not in the product graph\")) } }";
    assert_eq!(select(&c, dangling).len(), 1);
    // Once A2 is ingested, the rerun accepts the interaction and clears its quarantine entry.
    std::fs::write(&shop, "sku,title\nA1,iPhone 15\nA2,Mate 60\n").unwrap();
    ingest::ingest(&c, &shop, &Mapping::parse(pm).unwrap(), pm, SECRET, None).unwrap();
    let r = ingest::ingest(&c, &events, &Mapping::parse(em).unwrap(), em, SECRET, None).unwrap();
    assert_eq!((r.accepted, r.quarantined), (2, 1), "{r:?}");
    assert_eq!(
        select(&c, dangling).len(),
        0,
        "the stale quarantine entry is gone"
    );
    let v = r.validation.as_ref().unwrap();
    assert!(v.conforms, "{:#?}", v.results);

    // The reviewer and the buyer are one pseudonymous node, linked to the shop's product IRI.
    let rows = select(
        &c,
        "SELECT ?u ?p WHERE { GRAPH ?g { ?r schema:author ?u ; schema:itemReviewed ?p . ?u st:purchased ?p } }",
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["p"], "https://example.org/st/id/product/shop/A1");
    let user = &rows[0]["u"];
    assert!(user.starts_with("https://example.org/st/id/user/"));
    let dump: Vec<String> = select(&c, "SELECT ?s ?o WHERE { GRAPH ?g { ?s ?p ?o } }")
        .into_iter()
        .map(|r| format!("{} {}", r["s"], r["o"]))
        .collect();
    assert!(
        !dump.iter().any(|t| t.contains("alice@example.com")),
        "the raw user id appears nowhere, not even in quarantined records (they keep its \
         pseudonym)"
    );
}

#[test]
fn wrong_mappings_and_unusable_files_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let c = ontology_catalog(&tmp.path().join("store"));
    let file = tmp.path().join("products.csv");
    std::fs::write(&file, "sku,name\nA1,x\n").unwrap();
    let m = Mapping::parse(PRODUCTS).unwrap();
    let e = ingest::ingest(&c, &file, &m, PRODUCTS, SECRET, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("column \"title\" for title")
            && e.contains("column \"brand\" for brand")
            && e.contains("the asset's columns are sku, name"),
        "{e}"
    );

    let empty = tmp.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let e = ingest::ingest(&c, &empty, &m, PRODUCTS, SECRET, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty file"), "{e}");

    let e = ingest::ingest(
        &c,
        &tmp.path().join("missing.csv"),
        &m,
        PRODUCTS,
        SECRET,
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("cannot open"), "{e}");
    let e = ingest::ingest(
        &c,
        &tmp.path().join("x.parquet"),
        &m,
        PRODUCTS,
        SECRET,
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("export the table as CSV or JSONL"), "{e}");
    // Nothing was written by the failed runs.
    assert_eq!(count(&c, "products"), 0);
}

#[test]
fn duplicates_are_linked_and_price_outliers_flagged_not_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let c = ontology_catalog(&tmp.path().join("store"));
    let file = tmp.path().join("phones.csv");
    let mut csv = String::from("sku,title,price,brand,category\n");
    for (i, price) in [3999, 4299, 5199, 4599, 3899, 4999, 4399, 99999]
        .iter()
        .enumerate()
    {
        csv.push_str(&format!(
            "M{i},测试手机型号{i}号 旗舰版,{price},Acme,手机\n"
        ));
    }
    csv.push_str("D1,Apple iPhone 15 Pro,7999,Apple,手机\n");
    csv.push_str("D2,\"apple  IPHONE15, pro\",7999,Apple,手机\n");
    csv.push_str("N1,华为 Mate 60 Pro 智能手机 12GB+512GB 5G全网通 雅丹黑,6999,华为,手机\n");
    csv.push_str("N2,华为 Mate 60 Pro 智能手机 12GB+512GB 5G全网通 雅丹黑色,6999,华为,手机\n");
    std::fs::write(&file, csv).unwrap();
    let m = Mapping::parse(PRODUCTS).unwrap();
    let r = ingest::ingest(&c, &file, &m, PRODUCTS, SECRET, None).unwrap();
    assert_eq!(
        r.accepted, 12,
        "outliers and duplicates are accepted, not quarantined"
    );
    let f = r.findings.unwrap();
    assert_eq!((f.exact_duplicates, f.price_anomalies), (1, 1), "{f:?}");
    assert!(f.near_duplicates >= 1, "{f:?}");

    let id = |iri: &str| iri.rsplit('/').next().unwrap().to_string();
    let dups = select(
        &c,
        "SELECT ?a ?b WHERE { GRAPH ?g { ?a st:duplicateOf ?b } }",
    );
    assert_eq!(
        (id(&dups[0]["a"]), id(&dups[0]["b"])),
        ("D2".into(), "D1".into())
    );
    let near = select(
        &c,
        "SELECT ?a ?b WHERE { GRAPH ?g { ?a st:nearDuplicateOf ?b } }",
    );
    assert!(
        near.iter()
            .any(|r| id(&r["a"]) == "N2" && id(&r["b"]) == "N1"),
        "{near:?}"
    );
    let odd = select(
        &c,
        "SELECT ?p ?why WHERE { GRAPH ?g { ?p st:priceAnomaly ?why } }",
    );
    assert_eq!(odd.len(), 1);
    assert_eq!(id(&odd[0]["p"]), "M7");
    assert!(odd[0]["why"].contains("price 99999"), "{odd:?}");

    // Findings are rewritten, not accumulated: fix the price and they are gone.
    let fixed = std::fs::read_to_string(&file)
        .unwrap()
        .replace(",99999,", ",4799,");
    std::fs::write(&file, fixed).unwrap();
    let r = ingest::ingest(&c, &file, &m, PRODUCTS, SECRET, None).unwrap();
    assert_eq!(r.findings.unwrap().price_anomalies, 0);
    assert!(select(
        &c,
        "SELECT ?p WHERE { GRAPH ?g { ?p st:priceAnomaly ?why } }"
    )
    .is_empty());
}

#[test]
fn brand_aliases_from_the_ontology_resolve_to_one_node() {
    let tmp = tempfile::tempdir().unwrap();
    let c = ontology_catalog(&tmp.path().join("store"));
    let file = tmp.path().join("products.csv");
    std::fs::write(
        &file,
        "sku,title,price,brand,category\nX1,iPhone 15,5999,Apple,手机\nX2,iPhone 15 Pro,7999,APPLE,手机\nX3,iPhone 14,4999,苹果,手机\nX4,Mate 60,5999,华为,手机\nX5,Mate 60 Pro,6999,HUAWEI,手机\nX6,杂牌手机,99,NoName,手机\nX7,杂牌手机二代,199,noname,手机\n",
    )
    .unwrap();
    let m = Mapping::parse(PRODUCTS).unwrap();
    ingest::ingest(&c, &file, &m, PRODUCTS, SECRET, None).unwrap();
    let rows = select(
        &c,
        "SELECT ?b (COUNT(?p) AS ?n) WHERE { GRAPH <https://example.org/st/graph/products> { ?p schema:brand ?b } } GROUP BY ?b ORDER BY ?b",
    );
    let got: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r["b"].clone(), r["n"].clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "https://example.org/st/id/brand/noname".to_string(),
                "2".to_string()
            ),
            (
                "https://w3id.org/stocktake/brand/apple".to_string(),
                "3".to_string()
            ),
            (
                "https://w3id.org/stocktake/brand/huawei".to_string(),
                "2".to_string()
            ),
        ]
    );
}

#[test]
fn suggested_mappings_match_the_hand_written_demo_mappings() {
    use stocktake::ingest::suggest::suggest;
    use stocktake::inventory::{scan, ScanOptions, Source};
    let demo = crate::util::repo().join("demo");
    for name in ["products", "reviews", "behaviour", "sellers", "users"] {
        let file = demo.join("data").join(format!("{name}.csv"));
        let report = scan(&Source::Files(file.clone()), &ScanOptions::default()).unwrap();
        let s = suggest(&report.assets[0]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let text =
            std::fs::read_to_string(demo.join("mappings").join(format!("{name}.toml"))).unwrap();
        let want = Mapping::parse(&text).unwrap();
        assert_eq!(s.mapping.entity, want.entity, "{name}:\n{}", s.toml);
        assert_eq!(s.mapping.columns, want.columns, "{name}:\n{}", s.toml);
        assert_eq!(
            Mapping::parse(&s.toml).unwrap(),
            s.mapping,
            "the TOML says what it proposes"
        );
        // Personal columns are proposed only sealed, as the demo keeps them.
        assert_eq!(s.mapping.keep, want.keep, "{name}:\n{}", s.toml);
        if name == "users" {
            assert_eq!(s.mapping.keep.len(), 3, "{}", s.toml);
            assert!(s.toml.contains("phone = \"encrypted\""), "{}", s.toml);
        }
    }
    // A file with nothing to map is a clear refusal, not a guess.
    let tmp = tempfile::tempdir().unwrap();
    let odd = tmp.path().join("weather.csv");
    std::fs::write(&odd, "temperature,humidity\n21.5,0.4\n19.0,0.5\n").unwrap();
    let report = scan(&Source::Files(odd), &ScanOptions::default()).unwrap();
    let e = suggest(&report.assets[0]).unwrap_err();
    assert!(e.contains("no entity fits"), "{e}");
}

/// A record id that comes back later in the same file: the later record replaces the earlier
/// one, whether the two are in one batch or the first still waits in the bulk loader when the
/// second arrives. The graph equals that of a file holding only the later record.
#[test]
fn a_repeated_id_replaces_the_earlier_record_in_and_across_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let filler = |csv: &mut String, from: usize, n: usize| {
        for i in from..from + n {
            csv.push_str(&format!(
                "F{i:05},填充商品 {i},{}.00,Acme,手机\n",
                10 + i % 50
            ));
        }
    };
    let header = "sku,title,price,brand,category\n";
    // R1 twice in the first batch; R2 in the first batch and again in the second.
    let mut repeated = String::from(header);
    repeated.push_str("R1,Old title one,10.00,Acme,手机\n");
    repeated.push_str("R2,Old title two,11.00,Acme,手机\n");
    repeated.push_str("R1,New title one,20.00,Globex,手机\n");
    filler(&mut repeated, 0, ingest::BATCH + 10);
    repeated.push_str("R2,New title two,21.00,Globex,手机\n");
    let mut once = String::from(header);
    once.push_str("R1,New title one,20.00,Globex,手机\n");
    filler(&mut once, 0, ingest::BATCH + 10);
    once.push_str("R2,New title two,21.00,Globex,手机\n");

    let m = Mapping::parse(PRODUCTS).unwrap();
    let mut graphs = Vec::new();
    for (name, text) in [("repeated", &repeated), ("once", &once)] {
        let file = tmp.path().join(format!("{name}.csv"));
        std::fs::write(&file, text).unwrap();
        let c = ontology_catalog(&tmp.path().join(name));
        let r = ingest::ingest(&c, &file, &m, PRODUCTS, SECRET, None).unwrap();
        assert_eq!(r.records_in, r.accepted + r.quarantined, "{r:?}");
        for (id, title, price) in [
            ("R1", "New title one", "20.00"),
            ("R2", "New title two", "21.00"),
        ] {
            let rows = select(
                &c,
                &format!(
                    "SELECT ?name ?price WHERE {{ GRAPH ?g {{ ?p schema:productID \"{id}\" ; \
                     schema:name ?name ; schema:offers/schema:price ?price }} }}"
                ),
            );
            assert_eq!(
                rows.len(),
                1,
                "{name}: {id} has one name and one price: {rows:?}"
            );
            assert_eq!(rows[0]["name"], title);
            assert_eq!(
                rows[0]["price"].parse::<f64>().unwrap(),
                price.parse::<f64>().unwrap()
            );
        }
        graphs.push(count(&c, "products"));
    }
    assert_eq!(
        graphs[0], graphs[1],
        "nothing of the earlier records is left"
    );
}
