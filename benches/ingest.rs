//! End-to-end ingestion throughput against the labelling model alone, on the same records.
//!
//! The pipeline (read, clean, build, label, write in transactions, quarantine, duplicates and
//! outliers, SHACL) should not be the bottleneck: the goal is end-to-end records/s ≥ 0.8× the
//! rate at which `product-ner` alone labels the same titles in the same batches. Peak memory
//! of each part is printed too.
//!
//! Records: `demo/data/products.csv` repeated with fresh ids up to ING_ROWS (default 30,000;
//! the titles are realistic Chinese and English product titles; repeats become duplicate links,
//! as they would in a real feed). Environment: ING_ROWS, ING_DIR (default
//! target/ingest-bench), ING_PARTS (model,ingest,store,plain,sealed).
//!
//! `store` is the floor under the end-to-end figure: the quads the labelled run left in its
//! product graph, bulk-loaded into a fresh Oxigraph store straight through Oxigraph's own bulk
//! loader (no pipeline), once in the pipeline's batches and once in one load. On a machine where
//! the model alone keeps every core busy, end to end cannot take less than the model plus this.
//!
//! `sealed` is the cost of encryption on the demo's ingest: the five demo files through their
//! mappings (no labelling model: the conservative case, where sealing is the larger share),
//! once with sealing — users' name, phone and e-mail and every quarantined record's cells —
//! and once without (users by id only, quarantined records without a copy of their cells, as
//! an ingest with no keyring writes them), alternating, ING_ROUNDS times (default 3), each on a
//! fresh store. The difference bounds what encryption adds: the sealed runs also write more.
//!
//! `cargo bench --bench ingest`

mod common;
use common::{cores, cpu_seconds, env, peak_rss_mb, reset_peak};

use std::path::{Path, PathBuf};
use std::time::Instant;

use stocktake::catalog::{Catalog, GraphFormat, GraphLayout, GraphTarget};
use stocktake::infer::{Model, Options};
use stocktake::ingest::{self, label::Labeler, mapping::Mapping};

const MAPPING: &str = "entity = \"product\"\nnamespace = \"bench\"\n[columns]\nid = \"product_id\"\ntitle = \"title\"\nprice = \"price\"\nbrand = \"brand\"\ncategory = \"category\"\n[defaults]\ncurrency = \"CNY\"\n";

/// Writes the records and returns their titles (in file order).
fn generate(repo: &Path, path: &Path, rows: usize) -> anyhow::Result<Vec<String>> {
    let mut rd = csv::Reader::from_path(repo.join("demo/data/products.csv"))?;
    let source: Vec<csv::StringRecord> = rd.records().collect::<Result<_, _>>()?;
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(["product_id", "title", "price", "brand", "category"])?;
    let mut titles = Vec::with_capacity(rows);
    for i in 0..rows {
        let r = &source[i % source.len()];
        // Columns of the demo file: product_id,title,price,brand,category,seller_id
        w.write_record([&format!("B{i:07}"), &r[1], &r[2], &r[3], &r[4]])?;
        titles.push(r[1].to_string());
    }
    w.flush()?;
    Ok(titles)
}

fn store(dir: &Path, repo: &Path) -> anyhow::Result<Catalog> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    let c = Catalog::open(dir, GraphLayout::new("https://example.org/st/")?)?;
    c.load_ontology(&repo.join("ontology"))?;
    Ok(c)
}

/// Bulk-loads the labelled run's product graph into fresh stores with Oxigraph alone: in the
/// pipeline's batches (one load per `ingest::BATCH` records' quads) and in one load.
fn store_floor(catalog: &Catalog, dir: &Path, rows: usize, records: usize) -> anyhow::Result<f64> {
    use oxigraph::io::{RdfFormat, RdfParser};
    use oxigraph::store::Store;
    let products = catalog.layout().products.as_str().to_owned();
    let mut nq = Vec::new();
    catalog.dump(
        Some(&GraphTarget::Named(products)),
        GraphFormat::NQuads,
        &stocktake::catalog::Visibility::ADMIN,
        &mut nq,
    )?;
    let quads: Vec<oxigraph::model::Quad> = RdfParser::from_format(RdfFormat::NQuads)
        .for_slice(&nq)
        .collect::<Result<_, _>>()?;
    let per_batch = quads.len().div_ceil(records.max(1).div_ceil(ingest::BATCH));
    let mut best = f64::INFINITY;
    for (name, chunk) in [("pipeline batches", per_batch), ("one load", quads.len())] {
        let cpu = cpu_seconds();
        let path = dir.join("store-floor");
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        let store = Store::open(&path)?;
        let t = Instant::now();
        for part in quads.chunks(chunk.max(1)) {
            let mut loader = store.bulk_loader();
            loader.load_quads(part.iter().cloned())?;
            loader.commit()?;
        }
        store.flush()?;
        let s = t.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu;
        best = best.min(cpu);
        println!(
            "store alone ({name}): {s:6.1} s  {:9.0} records/s  ({} quads, {:.0} quads/s; CPU {cpu:.1} s)",
            rows as f64 / s,
            quads.len(),
            quads.len() as f64 / s
        );
    }
    Ok(best)
}

fn main() -> anyhow::Result<()> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let rows: usize = env("ING_ROWS", 30_000);
    let parts: String = env("ING_PARTS", "model,ingest,store,plain,sealed".to_string());
    let dir = PathBuf::from(env(
        "ING_DIR",
        repo.join("target/ingest-bench").display().to_string(),
    ));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("products.csv");
    let titles = generate(&repo, &file, rows)?;
    let model_dir = repo.join("models/product-ner");
    println!(
        "ingest bench: {rows} product records, titles labelled by {}",
        model_dir.display()
    );

    let mut model_rate = f64::NAN;
    let mut model_cpu = f64::NAN;
    if parts.contains("model") {
        let model = Model::load(&model_dir, &Options::default())?;
        reset_peak();
        let t = Instant::now();
        let cpu = cpu_seconds();
        let mut entities = 0usize;
        // The pipeline labels one write batch (`ingest::BATCH` records) at a time: the same here.
        for chunk in titles.chunks(ingest::BATCH) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            entities += model
                .predict(&refs)?
                .iter()
                .map(|p| p.entities.len())
                .sum::<usize>();
        }
        let s = t.elapsed().as_secs_f64();
        model_rate = rows as f64 / s;
        model_cpu = cpu_seconds() - cpu;
        println!(
            "model alone:        {s:8.1} s  {model_rate:9.0} records/s  ({entities} entities)  peak RSS {:.0} MB  CPU {model_cpu:.1} s",
            peak_rss_mb()
        );
    }

    if parts.contains("ingest") {
        let catalog = store(&dir.join("store-labelled"), &repo)?;
        // ING_THREADS: ONNX Runtime threads of the model inside the pipeline (0 = its default).
        let threads: usize = env("ING_THREADS", 0);
        let model = Model::load(
            &model_dir,
            // As `Labeler::load` configures the labeller of `stocktake ingest`.
            &Options {
                threads,
                ..Options::default()
            }
            .sharing_cores(),
        )?;
        let card = stocktake::registry::from_package(&model.package);
        let iri = stocktake::registry::describe(&catalog, &card)?;
        let labeler = Labeler::new(model, iri, 0.8);
        let m = Mapping::parse(MAPPING)?;
        reset_peak();
        let t = Instant::now();
        let r = ingest::ingest(&catalog, &file, &m, MAPPING, b"bench", Some(&labeler))?;
        catalog.flush()?;
        let s = t.elapsed().as_secs_f64();
        let rate = rows as f64 / s;
        let l = r.labels.unwrap_or_default();
        println!(
            "end to end:         {s:8.1} s  {rate:9.0} records/s  ({} accepted, {} quarantined, {} triples, {} labels; model {:.1} s inside)  peak RSS {:.0} MB",
            r.accepted,
            r.quarantined,
            r.triples_written,
            l.labels,
            l.model_seconds,
            peak_rss_mb()
        );
        println!("  stages (s): {:?}", r.seconds);
        let store = if parts.contains("store") {
            store_floor(&catalog, &dir, rows, r.accepted as usize)?
        } else {
            f64::NAN
        };
        if model_rate.is_finite() {
            println!(
                "ratio end to end / model alone: {:.2}x  (goal >= 0.80)",
                rate / model_rate
            );
            // A run that did nothing but label and store needs at least the CPU time of both
            // spread over every core (and never less than the model alone).
            let model_s = rows as f64 / model_rate;
            if store.is_finite() {
                let floor = model_s.max((model_cpu + store) / cores());
                println!(
                    "bound: (model CPU {model_cpu:.1} s + store CPU {store:.1} s) / {} cores = {floor:.1} s, at most {:.2}x on this machine before any cleaning, SHACL or duplicate search",
                    cores(),
                    model_s / floor
                );
            }
        }
    }

    if parts.contains("sealed") {
        sealed_cost(&repo, &dir)?;
    }

    if parts.contains("plain") {
        let catalog = store(&dir.join("store-plain"), &repo)?;
        let m = Mapping::parse(MAPPING)?;
        reset_peak();
        let t = Instant::now();
        let r = ingest::ingest(&catalog, &file, &m, MAPPING, b"bench", None)?;
        catalog.flush()?;
        let s = t.elapsed().as_secs_f64();
        println!(
            "pipeline, no model: {s:8.1} s  {:9.0} records/s  ({} triples)  peak RSS {:.0} MB",
            rows as f64 / s,
            r.triples_written,
            peak_rss_mb()
        );
        println!("  stages (s): {:?}", r.seconds);
    }
    Ok(())
}

/// The demo's ingest with and without sealing (see the module comment); prints both medians
/// and their ratio.
fn sealed_cost(repo: &Path, dir: &Path) -> anyhow::Result<()> {
    let rounds: usize = env("ING_ROUNDS", 3);
    let files = ["sellers", "products", "users", "behaviour", "reviews"];
    let vault = stocktake::vault::Keyring::generate("bench");
    let run = |sealed: bool, n: usize| -> anyhow::Result<(f64, u64, u64)> {
        let catalog = store(&dir.join(format!("store-sealed-{sealed}-{n}")), repo)?;
        let options = ingest::RunOptions {
            labeler: None,
            commit_every: ingest::COMMIT_EVERY,
            confine: None,
            names: None,
            vault: sealed.then_some(&vault),
        };
        let t = Instant::now();
        let (mut quarantined, mut records) = (0, 0);
        for f in files {
            let mut text = std::fs::read_to_string(repo.join(format!("demo/mappings/{f}.toml")))?;
            if !sealed && f == "users" {
                text = "entity = \"user\"\n[columns]\nid = \"user_id\"\n".into();
            }
            let m = Mapping::parse(&text)?;
            let path = repo.join(format!("demo/data/{f}.csv"));
            let r = ingest::ingest_with(&catalog, &path, &m, &text, b"bench", &options)?;
            quarantined += r.quarantined;
            records += r.records_in;
        }
        catalog.flush()?;
        Ok((t.elapsed().as_secs_f64(), quarantined, records))
    };
    let (mut plain, mut sealed) = (Vec::new(), Vec::new());
    let (mut q, mut records) = (0, 0);
    for n in 0..rounds {
        let (s, _, _) = run(false, n)?;
        plain.push(s);
        let (s, qn, rn) = run(true, n)?;
        sealed.push(s);
        (q, records) = (qn, rn);
        println!(
            "sealed round {n}: without {:.2} s, with {:.2} s",
            plain[n], sealed[n]
        );
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (p, s) = (median(&mut plain), median(&mut sealed));
    println!(
        "demo ingest (5 files, {records} records, {q} quarantined, users' 3 fields sealed): \
         without sealing {p:.2} s, with {s:.2} s (medians of {rounds}): encryption adds {:+.1}%",
        (s / p - 1.0) * 100.0
    );
    Ok(())
}
