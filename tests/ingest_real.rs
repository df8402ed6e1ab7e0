//! Ingestion end to end on real data from `../shared/data` (skipped with a printed reason when
//! it is absent): Taobao titles labelled by the real `product-ner` model, shopping reviews
//! labelled by the real `review-classifier` (category and sentiment), and the Olist product
//! table (categories, dimensions, impossible values, weight outliers). Graph contents are
//! asserted by SPARQL, run counts must add up, SHACL must find no violation, and re-ingesting
//! the same input must leave the store exactly as it was.

use crate::util::{ontology_catalog, select};
use std::collections::{HashMap, HashSet};
use std::path::Path;

use stocktake::catalog::Catalog;
use stocktake::infer::{Model, Options};
use stocktake::ingest::{self, label::Labeler, mapping::Mapping};

const SECRET: &[u8] = b"real-data-test";

fn number(c: &Catalog, q: &str) -> u64 {
    select(c, q)[0]["n"].parse().unwrap()
}

/// A labelled ingest (the model under its catalog IRI, threshold 0.8, one mapping), run once and
/// again for the idempotence check; every run's counts must add up.
struct LabelledIngest {
    labeler: Labeler,
    mapping: Mapping,
    text: &'static str,
}

impl LabelledIngest {
    fn new(c: &Catalog, model: Model, text: &'static str) -> Self {
        let iri = stocktake::registry::model_iri(
            c.layout().base(),
            &model.package.config.name,
            &model.package.sha256,
        );
        let labeler = Labeler::new(model, iri, 0.8);
        let mapping = Mapping::parse(text).unwrap();
        LabelledIngest {
            labeler,
            mapping,
            text,
        }
    }

    fn run(&self, c: &Catalog, file: &Path) -> ingest::RunReport {
        let r = ingest::ingest(
            c,
            file,
            &self.mapping,
            self.text,
            SECRET,
            Some(&self.labeler),
        )
        .unwrap();
        assert_eq!(r.records_in, r.accepted + r.quarantined, "{r:?}");
        r
    }
}

/// Labels missing any of product, model, confidence, run, status or value.
fn incomplete_labels(c: &Catalog) -> u64 {
    number(
        c,
        "SELECT (COUNT(?l) AS ?n) WHERE { GRAPH ?g { ?l a st:Label . \
         FILTER NOT EXISTS { ?l st:labelOf ?p ; st:model ?m ; st:confidence ?c ; \
         <http://www.w3.org/ns/prov#wasGeneratedBy> ?run ; st:status ?s ; st:value ?v } } }",
    )
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
    let run = LabelledIngest::new(
        &c,
        model,
        "entity = \"product\"\nnamespace = \"taobao\"\n[columns]\nid = \"sku\"\ntitle = \"title\"\n",
    );
    let r = run.run(&c, &file);
    assert_eq!(r.records_in, titles.len() as u64);
    let stats = r.labels.unwrap();
    assert!(stats.labels as usize > titles.len(), "{stats:?}");
    assert!(stats.accepted > 0 && stats.review > 0, "{stats:?}");
    let v = r.validation.as_ref().unwrap();
    assert_eq!(v.violations, 0, "{:#?}", v.results);

    // Every label names its product, model, confidence, run and status.
    assert_eq!(incomplete_labels(&c), 0);
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
    let again = run.run(&c, &file);
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

/// Reviews from the test split of online_shopping_10_cats (never seen in training), labelled by
/// the shipped review-classifier: every review gets a category and a sentiment label with model,
/// confidence and run; confident ones become facts (the category as the taxonomy's concept, not a
/// minted node) that agree with the data's own labels; re-ingesting changes nothing.
#[test]
fn shopping_reviews_get_category_and_sentiment_from_the_classifier() {
    let data = crate::need_shared_data!();
    let dir = crate::util::repo().join("models/review-classifier");
    if !dir.join("model.onnx").is_file() {
        crate::util::missing("models/review-classifier is not present");
        return;
    }
    let model = Model::load(&dir, &Options::default()).unwrap();
    let reviews = data.join("text/online_shopping_10_cats");
    let split_file = reviews.join("split_seed42.json");
    let examples = stocktake::infer::eval::load_cls(
        &reviews.join("online_shopping_10_cats.zip"),
        &model.package.config.eval_columns,
        &model.package.config.label_aliases,
        Some(stocktake::infer::eval::Split {
            file: &split_file,
            name: "test",
        }),
    )
    .unwrap();
    // Every 10th test review: all ten categories, 628 reviews.
    let sample: Vec<_> = examples
        .iter()
        .step_by(10)
        .filter(|e| !e.text.trim().is_empty())
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let c = ontology_catalog(&tmp.path().join("store"));
    // One product per category, so every review names a product that exists.
    let products = tmp.path().join("products.csv");
    let mut w = csv::Writer::from_path(&products).unwrap();
    w.write_record(["sku", "title"]).unwrap();
    let cats: HashSet<&str> = sample
        .iter()
        .map(|e| e.labels["category"].as_str())
        .collect();
    assert_eq!(cats.len(), 10, "{cats:?}");
    for cat in &cats {
        w.write_record([format!("P-{cat}"), format!("{cat}商品")])
            .unwrap();
    }
    w.flush().unwrap();
    let pm =
        "entity = \"product\"\nnamespace = \"shop\"\n[columns]\nid = \"sku\"\ntitle = \"title\"\n";
    ingest::ingest(
        &c,
        &products,
        &Mapping::parse(pm).unwrap(),
        pm,
        SECRET,
        None,
    )
    .unwrap();
    let file = tmp.path().join("reviews.csv");
    let mut w = csv::Writer::from_path(&file).unwrap();
    w.write_record(["rid", "item", "body"]).unwrap();
    for (i, e) in sample.iter().enumerate() {
        w.write_record([
            format!("R{i:04}"),
            format!("P-{}", e.labels["category"]),
            e.text.clone(),
        ])
        .unwrap();
    }
    w.flush().unwrap();
    let run = LabelledIngest::new(
        &c,
        model,
        "entity = \"review\"\nproduct_namespace = \"shop\"\n[columns]\nid = \"rid\"\nproduct = \"item\"\ntext = \"body\"\n",
    );
    let r = run.run(&c, &file);
    assert_eq!(r.records_in, sample.len() as u64);
    assert_eq!(r.quarantined, 0, "{:?}", r.reasons);
    let stats = r.labels.unwrap();
    assert_eq!(stats.labels as usize, 2 * sample.len(), "{stats:?}");
    assert_eq!(stats.labels, stats.accepted + stats.review, "{stats:?}");
    let v = r.validation.as_ref().unwrap();
    assert_eq!(v.violations, 0, "{:#?}", v.results);
    assert_eq!(incomplete_labels(&c), 0);

    // The facts: categories are the ontology's concepts (by their Chinese label), sentiments
    // the two literals; each agrees with the data's own label far more often than chance.
    let ontology = c.layout().ontology.as_str().to_owned();
    let concept_names: HashMap<String, String> = select(
        &c,
        &format!(
            "SELECT ?c ?l WHERE {{ GRAPH <{ontology}> {{ ?c a skos:Concept ; skos:prefLabel|skos:altLabel ?l }} }}"
        ),
    )
    .into_iter()
    .filter(|row| cats.contains(row["l"].as_str()))
    .map(|row| (row["c"].clone(), row["l"].clone()))
    .collect();
    assert_eq!(
        concept_names.len(),
        10,
        "each review category is a taxonomy concept"
    );
    let gold: HashMap<String, &stocktake::infer::eval::ClsExample> = sample
        .iter()
        .enumerate()
        .map(|(i, e)| (format!("R{i:04}"), *e))
        .collect();
    let facts = select(
        &c,
        "SELECT ?r ?cat ?s WHERE { GRAPH ?g { ?r a schema:Review . \
         OPTIONAL { ?r st:reviewCategory ?cat } OPTIONAL { ?r st:sentiment ?s } } }",
    );
    assert_eq!(facts.len(), sample.len());
    let (mut cat_n, mut cat_ok, mut sen_n, mut sen_ok) = (0, 0, 0, 0);
    for f in &facts {
        // The review IRI ends with its business key.
        let id = f["r"].rsplit('/').next().unwrap();
        let e = gold[id];
        if let Some(cat) = f.get("cat") {
            let name = concept_names
                .get(cat)
                .unwrap_or_else(|| panic!("{cat} is not a taxonomy concept"));
            cat_n += 1;
            cat_ok += usize::from(name == &e.labels["category"]);
        }
        if let Some(s) = f.get("s") {
            sen_n += 1;
            sen_ok += usize::from(s == &e.labels["sentiment"]);
        }
    }
    let (cat_p, sen_p) = (cat_ok as f64 / cat_n as f64, sen_ok as f64 / sen_n as f64);
    eprintln!(
        "reviews: {} texts, {} labels ({} accepted, {} review); category facts {cat_n} \
         (precision {cat_p:.3}), sentiment facts {sen_n} (precision {sen_p:.3})",
        sample.len(),
        stats.labels,
        stats.accepted,
        stats.review
    );
    assert_eq!(cat_n + sen_n, stats.accepted as usize);
    assert!(cat_n * 10 >= sample.len() * 7, "{cat_n} category facts");
    assert!(sen_n * 10 >= sample.len() * 7, "{sen_n} sentiment facts");
    assert!(cat_p >= 0.93, "category fact precision {cat_p:.3}");
    assert!(sen_p >= 0.95, "sentiment fact precision {sen_p:.3}");

    // Re-ingesting the same file changes nothing.
    let before = c.len().unwrap();
    let again = run.run(&c, &file);
    assert_eq!(again.run, r.run);
    assert_eq!(c.len().unwrap(), before);
}
