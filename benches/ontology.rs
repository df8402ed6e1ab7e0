//! The ontology check's cross-check and speed (`cargo bench --profile dev --bench ontology`):
//! our SKOS checks side by side with skosify's (PyPI, `benches/ontology_peer.py` in
//! `runtime/peers/skosify`, see `scripts/install-peers --skosify`) on the same files in the same
//! run — Google's product taxonomy as SKOS (5,595 concepts, zh/en), the UNESCO thesaurus (4,482
//! concepts, five languages) from `../shared/data/ontology`, and the test fixtures with every
//! SKOS defect planted at once. Per check: what each found, how many resources both name, and
//! agreement (|both| / |either|; 1 when both find nothing). Time: ours (parse + every check)
//! against skosify's (rdflib parse + its checks), best of three for ours.
//!
//! `ONTO_PARTS=plan` (`skos`, `plan` or both): `ontology check` of the shipped folder, and
//! `ontology plan` (merge tablets into computers, cap titles at 49 characters) on the demo's
//! products and on a generated graph of `ONTO_PRODUCTS` products (default 1,000,000: name,
//! ID, brand, category, an offer with price and currency) in an on-disk store: seconds, new
//! SHACL results, products moved. No peer does a plan against live data; these are our times.

mod common;
use common::peak_rss_mb;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use stocktake::catalog::ontology::check::{check, CheckOptions};
use stocktake::catalog::ontology::source::OntologySource;

const CHECKS: &[&str] = &[
    "skos_cycle",
    "orphan_concept",
    "multiple_pref_labels",
    "label_clash",
    "related_hierarchical_clash",
    "hierarchical_redundancy",
];

fn local(iri: &str) -> String {
    iri.rsplit(['/', '#']).next().unwrap_or(iri).to_string()
}

/// What one side names per check, as comparable keys: cycles by the local names of their
/// concepts (skosify logs those), pairs as unordered pairs, others by resource.
fn keys(check: &str, terms: &[Vec<String>]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for t in terms {
        match check {
            "skos_cycle" => out.extend(t.iter().map(|x| local(x))),
            "related_hierarchical_clash" | "hierarchical_redundancy" => {
                let mut p = t.clone();
                p.sort();
                p.dedup();
                out.insert(p.join(" "));
            }
            _ => out.extend(t.first().cloned()),
        }
    }
    out
}

fn run(name: &str, file: &Path, languages: &[&str]) {
    let opts = CheckOptions {
        languages: languages.iter().map(|s| s.to_string()).collect(),
        ..CheckOptions::default()
    };
    let mut secs = f64::INFINITY;
    let mut report = None;
    for _ in 0..3 {
        let t = Instant::now();
        let src = OntologySource::read(&[file.to_path_buf()]).unwrap();
        let r = check(&src, &opts);
        secs = secs.min(t.elapsed().as_secs_f64());
        report = Some(r);
    }
    let report = report.unwrap();
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime/peers/skosify/bin/python");
    let out = std::process::Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/ontology_peer.py"))
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run scripts/install-peers --skosify)",
                python.display()
            )
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let peer_secs =
        peer["parse_seconds"].as_f64().unwrap() + peer["check_seconds"].as_f64().unwrap();
    println!(
        "\n{name}: {} triples, {} concepts; skosify {} (rdflib {})",
        report.counts.triples, report.counts.concepts, peer["skosify"], peer["rdflib"]
    );
    println!(
        "{:<28} {:>7} {:>8} {:>6} {:>10}  differences",
        "check", "ours", "skosify", "both", "agreement"
    );
    for c in CHECKS {
        let ours_terms: Vec<Vec<String>> = report
            .findings
            .iter()
            .filter(|f| f.check == *c)
            .map(|f| f.terms.clone())
            .collect();
        let peer_terms: Vec<Vec<String>> = peer["findings"][*c]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        x.as_array()
                            .unwrap()
                            .iter()
                            .map(|s| s.as_str().unwrap().to_string())
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (a, b) = (keys(c, &ours_terms), keys(c, &peer_terms));
        let both = a.intersection(&b).count();
        let either = a.union(&b).count();
        let agreement = if either == 0 {
            1.0
        } else {
            both as f64 / either as f64
        };
        let only_ours: Vec<String> = a.difference(&b).take(3).map(|s| local(s)).collect();
        let only_peer: Vec<String> = b.difference(&a).take(3).map(|s| local(s)).collect();
        println!(
            "{c:<28} {:>7} {:>8} {both:>6} {agreement:>10.3}  {}{}",
            a.len(),
            b.len(),
            if only_ours.is_empty() {
                String::new()
            } else {
                format!("only ours: {} ", only_ours.join(", "))
            },
            if only_peer.is_empty() {
                String::new()
            } else {
                format!("only skosify: {}", only_peer.join(", "))
            }
        );
    }
    let all: BTreeMap<&str, usize> = report.checks.iter().map(|c| (c.id, c.found)).collect();
    println!("all our checks: {all:?}");
    println!(
        "time: ours {secs:.3} s (parse + {} checks), skosify {peer_secs:.3} s (parse {:.3} + checks {:.3}); ours is {:.1}x faster",
        report.checks.len(),
        peer["parse_seconds"].as_f64().unwrap(),
        peer["check_seconds"].as_f64().unwrap(),
        peer_secs / secs
    );
}

/// A copy of the shipped ontology with tablets merged into computers and titles capped.
fn changed_ontology(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for e in std::fs::read_dir(repo.join("ontology")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    let mut tax = std::fs::read_to_string(dir.join("taxonomy.ttl")).unwrap();
    tax.push_str("\n<https://w3id.org/stocktake/category/tablets> <http://www.w3.org/2002/07/owl#deprecated> true ;\n    <http://purl.org/dc/terms/isReplacedBy> <https://w3id.org/stocktake/category/computers> .\n");
    std::fs::write(dir.join("taxonomy.ttl"), tax).unwrap();
    let mut shapes = std::fs::read_to_string(dir.join("shapes.ttl")).unwrap();
    shapes.push_str("\nshapes:TitleLengthShape a sh:NodeShape ;\n    sh:targetClass schema:Product ;\n    sh:property [ sh:path schema:name ; sh:maxLength 49 ] .\n");
    std::fs::write(dir.join("shapes.ttl"), shapes).unwrap();
}

fn plan_part() {
    use std::sync::Arc;
    use stocktake::app::{App, IngestJob};
    use stocktake::catalog::{Catalog, GraphFormat, GraphLayout, GraphTarget};
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let t = Instant::now();
    let src = OntologySource::read(&[repo.join("ontology")]).unwrap();
    let r = check(&src, &CheckOptions::default());
    println!(
        "\nontology check of the shipped folder: {} triples, {} findings, {:.3} s",
        r.counts.triples,
        r.findings.len(),
        t.elapsed().as_secs_f64()
    );
    let n: u64 = std::env::var("ONTO_PRODUCTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    for (name, products) in [
        ("demo products (3,015 rows)", 0u64),
        ("generated products", n),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let onto = dir.path().join("ontology");
        let mut config = stocktake::config::Config {
            data: dir.path().join("store"),
            ..Default::default()
        };
        config.catalog.ontology_dir = repo.join("ontology");
        let layout = GraphLayout::new(&config.catalog.base_iri).unwrap();
        let catalog = Arc::new(Catalog::open(&config.data, layout).unwrap());
        catalog.load_ontology(&repo.join("ontology")).unwrap();
        let products_graph = catalog.layout().products.as_str().to_owned();
        let load = Instant::now();
        if products == 0 {
            let app = App::with_catalog(Arc::clone(&catalog), config.clone());
            let text = std::fs::read_to_string(repo.join("demo/mappings/products.toml")).unwrap();
            let mapping = stocktake::ingest::mapping::Mapping::parse(&text).unwrap();
            app.ingest(&IngestJob {
                asset: &repo.join("demo/data/products.csv"),
                mapping: &mapping,
                mapping_text: &text,
                label: false,
                force: false,
                confine: None,
            })
            .unwrap();
        } else {
            // N-Triples generated in chunks and bulk-loaded.
            let cats = [
                "tablets",
                "computers",
                "mobile-phones",
                "books",
                "fruit",
                "shampoo",
                "clothing",
                "dairy",
            ];
            let brands = [
                "apple", "huawei", "xiaomi", "lenovo", "dell", "sony", "nike", "haier",
            ];
            let chunk = 100_000u64;
            let mut start = 0;
            while start < products {
                let end = (start + chunk).min(products);
                let mut nt = String::with_capacity(((end - start) * 700) as usize);
                for i in start..end {
                    let p = format!("<http://stocktake.local/id/product/bench/P{i:07}>");
                    let title_len = 20 + (i % 37) as usize;
                    let title: String = std::iter::repeat_n('品', title_len).collect();
                    nt.push_str(&format!(
                        "{p} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://schema.org/Product> .\n\
                         {p} <http://schema.org/productID> \"P{i:07}\" .\n\
                         {p} <http://schema.org/name> \"{title}\" .\n\
                         {p} <http://schema.org/brand> <https://w3id.org/stocktake/brand/{}> .\n\
                         {p} <http://schema.org/category> <https://w3id.org/stocktake/category/{}> .\n\
                         {p} <http://schema.org/offers> <http://stocktake.local/id/product/bench/P{i:07}/offer> .\n\
                         <http://stocktake.local/id/product/bench/P{i:07}/offer> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://schema.org/Offer> .\n\
                         <http://stocktake.local/id/product/bench/P{i:07}/offer> <http://schema.org/price> \"{}.50\"^^<http://www.w3.org/2001/XMLSchema#decimal> .\n\
                         <http://stocktake.local/id/product/bench/P{i:07}/offer> <http://schema.org/priceCurrency> \"CNY\" .\n",
                        brands[(i % 8) as usize],
                        cats[(i % 8) as usize],
                        10 + i % 990
                    ));
                }
                catalog
                    .bulk_load(
                        nt.as_bytes(),
                        GraphFormat::from_name("ntriples").unwrap(),
                        Some(&GraphTarget::Named(products_graph.clone())),
                        None,
                        |_| {},
                    )
                    .unwrap();
                start = end;
            }
        }
        let loaded = load.elapsed().as_secs_f64();
        changed_ontology(&onto);
        config.catalog.ontology_dir = onto.clone();
        let app = App::with_catalog(Arc::clone(&catalog), config);
        let t = Instant::now();
        let plan = app
            .ontology_change(&stocktake::privacy::Principal::Local, None, None, false)
            .unwrap();
        let secs = t.elapsed().as_secs_f64();
        let sh = plan.shacl.clone().unwrap_or_default();
        let moved: usize = plan.rewrites.iter().map(|r| r.subjects).sum();
        println!(
            "ontology plan, {name}{}: {secs:.2} s (data in {loaded:.1} s); SHACL {} results now, {} after, {} new, {} resolved; {} rewrites moving {moved} subjects; peak RSS {:.0} MB",
            if products > 0 { format!(" ({products})") } else { String::new() },
            sh.before,
            sh.after,
            sh.new,
            sh.resolved,
            plan.rewrites.len(),
            peak_rss_mb()
        );
    }
}

fn main() {
    let parts = std::env::var("ONTO_PARTS").unwrap_or_else(|_| "skos,plan".into());
    if parts.contains("plan") {
        plan_part();
    }
    if !parts.contains("skos") {
        return;
    }
    let shared = std::env::var_os("STOCKTAKE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let onto = shared.join("ontology");
    // The fixtures with every SKOS defect planted at once (one Turtle file; prefixes repeat).
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ontology");
    let mut text = std::fs::read_to_string(fixtures.join("base.ttl")).unwrap();
    for d in [
        "skos_cycle",
        "orphan_concept",
        "multiple_pref_labels",
        "label_clash",
        "related_hierarchical_clash",
        "hierarchical_redundancy",
        "exact_match_contradiction",
    ] {
        text.push_str(&std::fs::read_to_string(fixtures.join(format!("defects/{d}.ttl"))).unwrap());
    }
    let planted = std::env::temp_dir().join("stocktake-ontology-bench-planted.ttl");
    std::fs::write(&planted, text).unwrap();
    run(
        "test fixtures, SKOS defects planted",
        &planted,
        &["zh", "en"],
    );
    run(
        "Google product taxonomy (SKOS, zh/en)",
        &onto.join("google-product-taxonomy/gpt-2021-09-21-skos-en-zh.ttl"),
        &["zh", "en"],
    );
    run(
        "UNESCO thesaurus",
        &onto.join("unesco-thesaurus/unesco-thesaurus.ttl"),
        &["en", "es", "fr", "ar", "ru"],
    );
    // Both in one file: 10,077 concepts, the size the 5 s goal names.
    let mut both =
        std::fs::read_to_string(onto.join("google-product-taxonomy/gpt-2021-09-21-skos-en-zh.ttl"))
            .unwrap();
    both.push('\n');
    both.push_str(
        &std::fs::read_to_string(onto.join("unesco-thesaurus/unesco-thesaurus.ttl")).unwrap(),
    );
    let joined = std::env::temp_dir().join("stocktake-ontology-bench-10k.ttl");
    std::fs::write(&joined, both).unwrap();
    run(
        "Google product taxonomy + UNESCO in one file (10,077 concepts)",
        &joined,
        &["en"],
    );
}
