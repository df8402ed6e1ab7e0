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

use anyhow::Context as _;

use crate::app::{App, IngestJob, ScanJob, TrainData, TrainJob};
use crate::catalog::{CancelToken, Limits, OutputFormat, ResultsFormat};
use crate::config::Config;
use crate::embed::TrainConfig;
use crate::ingest::mapping::{Entity, Mapping};
use crate::ingest::RunReport;
use crate::inventory::Source;
use crate::kg::UnseenPolicy;

/// Files ingested, in dependency order (sellers and products before what points at them).
const FILES: [&str; 8] = [
    "sellers",
    "products",
    "users",
    "behaviour",
    "orders",
    "reviews",
    "stock",
    "movements",
];

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
const NOT_LEARNT: [&str; 13] = [
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
    "https://w3id.org/stocktake/ns#warehouse",
    "http://schema.org/inventoryLevel",
];

/// `stocktake demo`.
pub fn run(mut config: Config, no_serve: bool) -> anyhow::Result<ExitCode> {
    let demo = PathBuf::from("demo");
    if !demo.join("data").is_dir() {
        anyhow::bail!(
            "demo/data not found: run `stocktake demo` from the repository root (or `python3 demo/generate.py` to recreate the sample)"
        );
    }
    let user = {
        let app = start(&config)?;
        println!("\n== scan demo/data ==");
        scan(&app, &demo.join("data"))?;
        println!("\n== ingest ==");
        ingest_all(&app, &demo)?;
        println!("\n== stock watch (库存预警) ==");
        stock_check(&app)?;
        app.sample_user()?
    }; // the store is closed here: training opens it itself

    println!("\n== train TransE on the product graph ==");
    train(&config)?;

    let app = App::open(config.clone())?;
    answer_queries(&app)?;
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
    drop(app);
    // The demo serves read-only without a token so the links below work in a browser;
    // restricted graphs (quarantine, PII) stay hidden and writes still need a token.
    config.server.anonymous_read = true;
    println!(
        "\nTry:\n  http://{bind}/                                  the service index (JSON)\n  http://{bind}/report                            the inventory report (盘点报告) with the stock watch (库存预警)\n  http://{bind}/queries                           named queries\n  {rec}\n                                                  items for a user (TransE)\n  http://{bind}/api/v1/labels?status=review       machine labels waiting for review\nAnonymous read is on for the demo; for writes create a token: stocktake token add me --role write\n"
    );
    super::commands::serve_app(App::open(config)?)
}

/// The store opened with the ontology and the model cards loaded, said on the way.
fn start(config: &Config) -> anyhow::Result<App> {
    let (app, started) = App::start(config.clone())?;
    let report = started.ontology.with_context(|| {
        format!(
            "no ontology in {} (run the demo from the repository root)",
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
    println!(
        "models: {} packages described in the models graph",
        started.models
    );
    Ok(app)
}

/// Scans the sample through the monitor, like every scan: a second demo run skips the
/// unchanged files and records what changed in between.
fn scan(app: &App, data: &Path) -> anyhow::Result<()> {
    let job = ScanJob {
        record: true,
        ..ScanJob::default()
    };
    let scanned = app.scan(&Source::Files(data.to_path_buf()), &job)?;
    for a in &scanned.report.assets {
        let kind = a
            .classification
            .as_ref()
            .map(|c| format!("{:?}", c.kind))
            .unwrap_or_default();
        let pii: Vec<String> = a
            .scanned_columns
            .iter()
            .filter_map(|c| {
                let p = c.semantic.kind.pii()?;
                Some(format!("{} ({})", c.profile.name, p.name()))
            })
            .collect();
        println!(
            "  {:<16} {:>6} rows  {:<18} PII columns: {}",
            a.name,
            a.rows,
            kind,
            pii.join(", ")
        );
    }
    Ok(())
}

/// Ingests every sample file through its mapping and prints what each run did, then the SHACL
/// verdict on the product graph.
fn ingest_all(app: &App, demo: &Path) -> anyhow::Result<()> {
    // Without the title model the demo still runs, its products unlabelled.
    let label_titles = match app.labeler(Entity::Product) {
        Ok(_) => true,
        Err(e) => {
            println!("  (titles not labelled: {e})");
            false
        }
    };
    let mut validation = None;
    for name in FILES {
        let map_path = demo.join("mappings").join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&map_path)
            .with_context(|| format!("cannot read {}", map_path.display()))?;
        let mapping = Mapping::parse(&text).with_context(|| map_path.display().to_string())?;
        let file = demo.join("data").join(format!("{name}.csv"));
        let job = IngestJob {
            asset: &file,
            mapping: &mapping,
            mapping_text: &text,
            label: mapping.entity != Entity::Product || label_titles,
            force: false,
            confine: None,
        };
        let r = app.ingest(&job)?.report;
        println!("{}", run_line(name, &r));
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
    Ok(())
}

/// A stock check of the sample's snapshot: what it raised and proposed (a rerun of the demo
/// raises nothing new: its conditions are still open).
fn stock_check(app: &App) -> anyhow::Result<()> {
    let r = app.stock_check(
        &crate::privacy::Principal::Local,
        &crate::stock::CheckOptions::default(),
    )?;
    if r.skipped {
        println!("  stock and sales unchanged since the last check");
        return Ok(());
    }
    if let Some(s) = &r.summary {
        println!(
            "  as of {}: {} positions, {} new events, {} open, {} proposals",
            s.as_of,
            s.positions,
            r.events.len(),
            r.open,
            r.proposals.len()
        );
    }
    for e in &r.events {
        println!("  {:<12} {:<22} {}", e.kind, e.location, e.message);
    }
    Ok(())
}

/// One line per ingest run: counts, labels and findings.
fn run_line(name: &str, r: &RunReport) -> String {
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
    line
}

/// TransE on the product graph's entity links, small enough for a laptop.
fn train(config: &Config) -> anyhow::Result<()> {
    let job = TrainJob {
        data: TrainData::Catalog {
            graph: "products".into(),
            exclude: NOT_LEARNT.iter().map(|p| (*p).to_owned()).collect(),
        },
        unseen: UnseenPolicy::Keep,
        hyper: TrainConfig {
            dim: 50,
            epochs: 40,
            eval_every: 20,
            negatives: 4,
            ..TrainConfig::default()
        },
        out: None,
        checkpoint: None,
        resume: None,
        test: false,
        threads: 0,
        describe_as: Some("transe".into()),
    };
    let trained = crate::app::train(config, &job, &mut |_| {})?;
    let info = &trained.embedding.info;
    println!(
        "trained {} epochs in {:.1}s (best epoch {}); model written to {}",
        info.epochs,
        info.seconds,
        info.best_epoch.map_or("-".to_string(), |e| e.to_string()),
        trained.model.display()
    );
    for (k, v) in &info.metrics {
        println!("  {k:<16} {v:.4}");
    }
    Ok(())
}

/// Answers the sample named queries and prints their first rows.
fn answer_queries(app: &App) -> anyhow::Result<()> {
    let catalog = app.catalog();
    let queries = app.named_queries()?;
    for (name, args) in QUERIES {
        let q = queries
            .iter()
            .find(|q| q.name == *name)
            .with_context(|| format!("named query '{name}' missing from queries/"))?;
        let args = args
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let prepared = catalog.prepare_named(
            q,
            &args,
            &crate::catalog::Visibility::PUBLIC,
            false,
            &CancelToken::new(),
        )?;
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
