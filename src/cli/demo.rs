//! `stocktake demo`: the whole job on the bundled sample (`demo/data`, made by
//! `demo/generate.py`), then serve — the README's quick start.
//!
//! Ontology and models in; the sample scanned (profiles, PII, asset kinds); every file ingested
//! through its mapping in `demo/mappings` (products labelled by `product-ner`, dirt quarantined,
//! duplicates and outliers flagged); TransE trained on the product graph; three named queries
//! and a recommendation answered; then the server. Re-running it changes nothing but the model
//! file (ingest runs are named by their input, so they are rewritten, not repeated).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;

use crate::catalog::{CancelToken, Limits, NamedQuery, OutputFormat, ResultsFormat};
use crate::config::Config;
use crate::ingest::{
    self,
    mapping::{Entity, Mapping},
};
use crate::inventory::{self, ScanOptions, Source};

/// Files ingested, in dependency order (sellers and products before what points at them).
const FILES: [&str; 5] = ["sellers", "products", "users", "behaviour", "reviews"];

/// Named queries the demo answers.
const QUERIES: &[(&str, &[(&str, &str)])] = &[
    ("ingest-runs", &[]),
    (
        "products-in-category",
        &[(
            "category",
            "https://w3id.org/stocktake/category/mobile-phones",
        )],
    ),
    ("product-findings", &[]),
];

/// Predicates TransE does not learn from: provenance, label bookkeeping and event nodes (the
/// user → product links themselves are kept as st:viewed / st:purchased).
const NOT_LEARNT: [&str; 11] = [
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#type",
    "https://w3id.org/stocktake/ns#labelOf",
    "https://w3id.org/stocktake/ns#model",
    "https://w3id.org/stocktake/ns#predicate",
    "https://w3id.org/stocktake/ns#user",
    "https://w3id.org/stocktake/ns#product",
    "https://w3id.org/stocktake/ns#interactionKind",
    "https://w3id.org/stocktake/ns#decisionOn",
    "http://www.w3.org/ns/prov#wasGeneratedBy",
    "http://schema.org/offers",
    "http://schema.org/reviewRating",
];

#[derive(Parser)]
struct TrainWrapper {
    #[command(flatten)]
    args: super::kge::TrainArgs,
}

/// `stocktake demo`.
pub fn run(mut config: Config, no_serve: bool) -> anyhow::Result<ExitCode> {
    let demo = PathBuf::from("demo");
    if !demo.join("data").is_dir() {
        anyhow::bail!(
            "demo/data not found: run `stocktake demo` from the repository root (or `python3 demo/generate.py` to recreate the sample)"
        );
    }
    let user = {
        let catalog = super::commands::open_catalog(&config)?;
        let report = catalog
            .load_ontology(&config.catalog.ontology_dir)
            .with_context(|| {
                format!(
                    "loading the ontology from {} (run the demo from the repository root)",
                    config.catalog.ontology_dir.display()
                )
            })?;
        println!(
            "ontology: {} files, {} triples ({})",
            report.files.len(),
            report.triples,
            if report.reloaded {
                "loaded"
            } else {
                "unchanged"
            }
        );
        let models = super::models::register_all(&catalog, &config)?;
        println!("models: {models} packages described in the models graph");

        println!("\n== scan demo/data ==");
        let ner = inventory::ner::load_for_scan(&config.infer).map(Arc::new);
        // Through the monitor, like every scan: a second demo run skips the unchanged files
        // and records what changed in between.
        let outcome = crate::monitor::scan_and_record(
            &catalog,
            &Source::Files(demo.join("data")),
            ScanOptions {
                ner: ner.clone(),
                ..ScanOptions::default()
            },
            &config.monitor,
            false,
        )?;
        let scan = outcome.report;
        for a in &scan.assets {
            let kind = a
                .classification
                .as_ref()
                .map(|c| format!("{:?}", c.kind))
                .unwrap_or_default();
            println!(
                "  {:<16} {:>6} rows  {:<18} PII columns: {}",
                a.name,
                a.rows,
                kind,
                a.scanned_columns
                    .iter()
                    .filter_map(|c| c.semantic.kind.pii().map(|p| format!(
                        "{} ({})",
                        c.profile.name,
                        p.name()
                    )))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }

        println!("\n== ingest ==");
        let secret = ingest::pseudonym_secret(&config.data)?;
        let titles = match super::ingest::labeler(&config, &catalog, Entity::Product) {
            Ok(l) => l,
            Err(e) => {
                println!("  (titles not labelled: {e:#})");
                None
            }
        };
        let reviews = super::ingest::labeler(&config, &catalog, Entity::Review)?;
        let mut validation = None;
        for name in FILES {
            let map_path = demo.join("mappings").join(format!("{name}.toml"));
            let text = std::fs::read_to_string(&map_path)
                .with_context(|| format!("cannot read {}", map_path.display()))?;
            let mapping = Mapping::parse(&text).with_context(|| map_path.display().to_string())?;
            let file = demo.join("data").join(format!("{name}.csv"));
            let labels = match name {
                "products" => titles.as_ref(),
                "reviews" => reviews.as_ref(),
                _ => None,
            };
            let r = match ingest::finished_run(&catalog, &file, &text, labels)? {
                Some(done) => done,
                None => {
                    // The demo's reviews get their people masked like anyone's.
                    let options = ingest::RunOptions {
                        labeler: labels,
                        commit_every: config.ingest.commit_every,
                        confine: None,
                        names: (mapping.entity == Entity::Review)
                            .then_some(ner.as_deref())
                            .flatten(),
                    };
                    ingest::ingest_with(&catalog, &file, &mapping, &text, &secret, &options)?
                }
            };
            let mut line = format!(
                "  {:<10} {:>6} in, {:>6} accepted, {:>3} quarantined",
                name, r.records_in, r.accepted, r.quarantined
            );
            if r.skipped {
                line.push_str(" (ingested before: unchanged)");
            }
            if let Some(l) = &r.labels {
                line.push_str(&format!(
                    "; {} labels ({} accepted, {} for review)",
                    l.labels, l.accepted, l.review
                ));
            }
            if let Some(f) = &r.findings {
                line.push_str(&format!(
                    "; {} duplicates, {} near duplicates, {} price anomalies",
                    f.exact_duplicates, f.near_duplicates, f.price_anomalies
                ));
            }
            println!("{line}");
            if r.validation.is_some() {
                validation = r.validation;
            }
        }
        if let Some(v) = validation {
            if v.conforms {
                println!(
                    "  SHACL: the product graph conforms to the {} shapes of ontology/shapes.ttl",
                    v.shapes
                );
            } else {
                println!(
                    "  SHACL: {} violations against ontology/shapes.ttl, e.g.:",
                    v.violations
                );
                for r in v.results.iter().take(3) {
                    println!("    {}: {}", r.focus, r.message);
                }
            }
        }
        catalog.flush()?;
        // A user with purchases, for the recommendation example.
        catalog
            .select(&format!(
                "SELECT ?u WHERE {{ GRAPH <{}> {{ ?u <https://w3id.org/stocktake/ns#purchased> ?p }} }} ORDER BY ?u LIMIT 1",
                catalog.layout().products.as_str()
            ))?
            .into_iter()
            .next()
            .and_then(|r| r.get("u").cloned())
    }; // the store is closed here: training opens it itself

    println!("\n== train TransE on the product graph ==");
    let mut argv = vec![
        "train".to_string(),
        "--from-catalog".into(),
        "--dim".into(),
        "50".into(),
        "--epochs".into(),
        "40".into(),
        "--eval-every".into(),
        "20".into(),
        "--negatives".into(),
        "4".into(),
    ];
    for p in NOT_LEARNT {
        argv.push("--exclude-predicate".into());
        argv.push(p.into());
    }
    let train = TrainWrapper::try_parse_from(argv)?;
    super::kge::train(&config, train.args)?;

    let catalog = super::commands::open_catalog(&config)?;
    answer_queries(&catalog, &config)?;
    let bind = config.server.bind.clone();
    let rec = user
        .map(|u| {
            format!(
                "http://{bind}/api/v1/recommend?user={}&k=5",
                percent_encoding::utf8_percent_encode(&u, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .unwrap_or_default();
    if no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    // The demo serves read-only without a token so the links below work in a browser;
    // restricted graphs (quarantine, PII) stay hidden and writes still need a token.
    config.server.anonymous_read = true;
    println!(
        "\nTry:\n  http://{bind}/                                  the web UI\n  http://{bind}/report                            the inventory report (盘点报告)\n  http://{bind}/queries                           named queries\n  {rec}\n                                                  items for a user (TransE)\n  http://{bind}/api/v1/labels?status=review       machine labels waiting for review\nAnonymous read is on for the demo; for writes create a token: stocktake token add me --role write\n"
    );
    super::commands::serve_catalog(catalog, config)
}

fn answer_queries(catalog: &crate::catalog::Catalog, config: &Config) -> anyhow::Result<()> {
    let queries = NamedQuery::load_dir(Path::new(&config.catalog.queries_dir))?;
    for (name, args) in QUERIES {
        let q = queries
            .iter()
            .find(|q| q.name == *name)
            .with_context(|| format!("named query '{name}' missing from queries/"))?;
        let args = args
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let prepared = catalog.prepare_named(q, &args, false, false, &CancelToken::new())?;
        let s = catalog.execute_query(
            prepared,
            OutputFormat::Results(ResultsFormat::Tsv),
            Limits {
                max_rows: 8,
                ..Limits::unbounded()
            },
        )?;
        println!("\n== {} ({}) ==", q.title, name);
        print!("{}", String::from_utf8_lossy(&s.body));
        if s.truncated {
            println!("…");
        }
    }
    Ok(())
}
