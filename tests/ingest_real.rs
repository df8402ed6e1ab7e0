//! Ingestion end to end on real data from `../shared/data` (skipped with a printed reason when
//! it is absent): Taobao titles labelled by the real `product-ner` model, and the Olist product
//! table (categories, dimensions, impossible values, weight outliers). Graph contents are
//! asserted by SPARQL, run counts must add up, SHACL must find no violation, and re-ingesting
//! the same input must leave the store exactly as it was.

use crate::util::{ontology_catalog, select};
use std::collections::HashSet;
use std::path::Path;

use stocktake::catalog::Catalog;
use stocktake::infer::{Model, Options};
use stocktake::ingest::{self, label::Labeler, mapping::Mapping};

const SECRET: &[u8] = b"real-data-test";

fn number(c: &Catalog, q: &str) -> u64 {
    select(c, q)[0]["n"].parse().unwrap()
}

/// Taobao NER sentences (one character per line, BIO tags, CRLF) as (title, gold brand spans).
fn taobao(path: &Path) -> Vec<(String, HashSet<String>)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let (mut title, mut brands, mut cur) = (String::new(), HashSet::new(), None::<String>);
    let close = |cur: &mut Option<String>, brands: &mut HashSet<String>| {
        if let Some(b) = cur.take() {
            brands.insert(b);
        }
    };
    for line in text.lines().map(|l| l.trim_end_matches('\r')) {
        if line.trim().is_empty() {
            close(&mut cur, &mut brands);
            if !title.is_empty() {
                out.push((std::mem::take(&mut title), std::mem::take(&mut brands)));
            }
            continue;
        }
        let (ch, tag) = line.rsplit_once(' ').unwrap_or((line, "O"));
        title.push_str(ch);
        match tag {
            "B-HPPX" => {
                close(&mut cur, &mut brands);
                cur = Some(ch.to_string());
            }
            "I-HPPX" if cur.is_some() => cur.as_mut().unwrap().push_str(ch),
            _ => close(&mut cur, &mut brands),
        }
    }
    close(&mut cur, &mut brands);
    if !title.is_empty() {
        out.push((title, brands));
    }
    out
}

#[test]
fn taobao_titles_are_labelled_with_provenance_and_reingest_changes_nothing() {
    let data = crate::need_shared_data!();
    let titles = taobao(&data.join("ner/taobao-ner-jie2019/dev.txt"));
    assert!(titles.len() > 900, "{} sentences", titles.len());
    let tmp = tempfile::tempdir().unwrap();
    let c = ontology_catalog(&tmp.path().join("store"));
    let file = tmp.path().join("taobao.csv");
    let mut w = csv::Writer::from_path(&file).unwrap();
    w.write_record(["sku", "title"]).unwrap();
    for (i, (t, _)) in titles.iter().enumerate() {
        w.write_record([format!("T{i:04}"), t.clone()]).unwrap();
    }
    w.flush().unwrap();
    let model = Model::load(
        &crate::util::repo().join("models/product-ner"),
        &Options::default(),
    )
    .unwrap();
    let iri = c
        .model_iri(&model.package.config.name, &model.package.sha256)
        .unwrap();
    let labeler = Labeler::new(model, iri.as_str().to_string(), 0.8);
    let text = "entity = \"product\"\nnamespace = \"taobao\"\n[columns]\nid = \"sku\"\ntitle = \"title\"\n";
    let m = Mapping::parse(text).unwrap();
    let r = ingest::ingest(&c, &file, &m, text, SECRET, Some(&labeler)).unwrap();
    assert_eq!(r.records_in, titles.len() as u64);
    assert_eq!(r.records_in, r.accepted + r.quarantined, "{r:?}");
    let stats = r.labels.unwrap();
    assert!(stats.labels as usize > titles.len(), "{stats:?}");
    assert!(stats.accepted > 0 && stats.review > 0, "{stats:?}");
    let v = r.validation.as_ref().unwrap();
    assert_eq!(v.violations, 0, "{:#?}", v.results);

    // Every label names its product, model, confidence, run and status.
    let incomplete = number(
        &c,
        "SELECT (COUNT(?l) AS ?n) WHERE { GRAPH ?g { ?l a st:Label . \
         FILTER NOT EXISTS { ?l st:labelOf ?p ; st:model ?m ; st:confidence ?c ; \
         <http://www.w3.org/ns/prov#wasGeneratedBy> ?run ; st:status ?s ; st:value ?v } } }",
    );
    assert_eq!(incomplete, 0);
    // Brand facts are the confident labels only, one per product, and mostly right.
    let facts = select(
        &c,
        "SELECT ?id ?v WHERE { GRAPH ?g { ?l st:labelOf ?p ; st:entityType \"brand\" ; st:value ?v ; \
         st:predicate schema:brand ; st:status \"accepted\" . ?p schema:productID ?id } }",
    );
    let under = number(
        &c,
        "SELECT (COUNT(?l) AS ?n) WHERE { GRAPH ?g { ?l st:predicate ?x ; st:confidence ?c FILTER(?c < 0.8) } }",
    );
    assert_eq!(under, 0, "no fact from a label under the threshold");
    let two = number(
        &c,
        "SELECT (COUNT(?p) AS ?n) WHERE { { SELECT ?p WHERE { GRAPH ?g { ?p schema:brand ?b } } \
         GROUP BY ?p HAVING (COUNT(?b) > 1) } }",
    );
    assert_eq!(two, 0, "one brand per product");
    let right = facts
        .iter()
        .filter(|f| {
            let i: usize = f["id"][1..].parse().unwrap();
            titles[i].1.contains(&f["v"])
        })
        .count();
    let precision = right as f64 / facts.len() as f64;
    eprintln!(
        "taobao dev: {} titles, {} labels ({} accepted, {} review), {} brand facts, precision {precision:.3}",
        titles.len(),
        stats.labels,
        stats.accepted,
        stats.review,
        facts.len()
    );
    assert!(facts.len() > 100, "{}", facts.len());
    assert!(precision >= 0.85, "brand fact precision {precision:.3}");

    // Re-ingesting the same file changes nothing.
    let before = c.len().unwrap();
    let again = ingest::ingest(&c, &file, &m, text, SECRET, Some(&labeler)).unwrap();
    assert_eq!(again.run, r.run);
    assert_eq!(c.len().unwrap(), before);
}

#[test]
fn olist_products_get_categories_dimensions_and_outliers() {
    let data = crate::need_shared_data!();
    let file = data.join("tabular/olist/olist_products_dataset.csv");
    let tmp = tempfile::tempdir().unwrap();
    let c = ontology_catalog(&tmp.path().join("store"));
    let text = "entity = \"product\"\nnamespace = \"olist\"\n[columns]\nid = \"product_id\"\n\
                category = \"product_category_name\"\nweight = \"product_weight_g\"\n\
                length = \"product_length_cm\"\nheight = \"product_height_cm\"\nwidth = \"product_width_cm\"\n";
    let m = Mapping::parse(text).unwrap();
    let r = ingest::ingest(&c, &file, &m, text, SECRET, None).unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&r).unwrap());
    assert_eq!(r.records_in, 32_951);
    assert_eq!(r.records_in, r.accepted + r.quarantined);
    // Olist has products that weigh 0 g: impossible, so quarantined with that reason.
    let zero = r
        .reasons
        .iter()
        .find(|(k, _)| k.starts_with("weight \"0\" is not positive"))
        .map(|x| *x.1);
    assert!(zero.is_some_and(|n| n > 0), "{:?}", r.reasons);
    assert_eq!(
        number(
            &c,
            "SELECT (COUNT(?q) AS ?n) WHERE { GRAPH ?g { ?q a st:QuarantinedRecord ; st:reason ?why } }"
        ),
        r.quarantined
    );
    let f = r.findings.clone().unwrap();
    assert!(f.weight_anomalies > 0, "{f:?}");
    // 73 categories in the data, each one SKOS concept.
    let cats = number(
        &c,
        "SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { GRAPH ?g { ?p schema:category ?c . ?c a <http://www.w3.org/2004/02/skos/core#Concept> } }",
    );
    assert_eq!(cats, 73);
    // Dimensions as schema:QuantitativeValue in g and cm.
    let w = select(
        &c,
        "SELECT ?v ?u WHERE { GRAPH ?g { ?p schema:productID \"1e9e8ef04dbcff4541ed26657ea517e5\" ; \
         schema:weight [ schema:value ?v ; schema:unitCode ?u ] } }",
    );
    assert_eq!((w[0]["v"].as_str(), w[0]["u"].as_str()), ("225", "GRM"));
    let outlier = select(
        &c,
        "SELECT ?why WHERE { GRAPH ?g { ?p st:weightAnomaly ?why } } LIMIT 1",
    );
    assert!(
        outlier[0]["why"].contains("robust z-scores from the median"),
        "{outlier:?}"
    );
    let v = r.validation.as_ref().unwrap();
    assert_eq!(v.violations, 0, "{:#?}", v.results);
    assert!(
        v.results
            .iter()
            .all(|x| x.message.contains("without a name")),
        "only the warning that Olist products have no names: {:#?}",
        v.results
    );

    let before = c.len().unwrap();
    ingest::ingest(&c, &file, &m, text, SECRET, None).unwrap();
    assert_eq!(c.len().unwrap(), before, "re-ingest changes nothing");
}
