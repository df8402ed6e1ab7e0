//! Profiling throughput and peak memory: a generated orders CSV (2 million rows by default)
//! scanned in full by `stocktake scan` (recorded in an on-disk catalog, the name/address model
//! loaded) side by side with the peers a data engineer picks for this today — DuckDB `SUMMARIZE`,
//! Polars and pandas with pyarrow dtypes (from `scripts/install-peers`), each a process measured
//! the same way (`benches/measure.py`) — then our approximate statistics against exact ones; and a
//! PostgreSQL table read in full.
//!
//! `cargo bench --bench inventory` prints every round's raw figures, the medians with their
//! spread and the ratios.
//! A third part measures PII column detection on the labelled set against Presidio (the peer from
//! `scripts/install-peers --presidio`).
//!
//! Environment: INV_ROWS (2000000), INV_ROUNDS (3), INV_PEERS (duckdb,polars,pandas), INV_PARTS
//! (csv,postgres,pii), INV_PG_ROWS (1000000), INV_PG_URL (postgres://postgres@127.0.0.1:5432/test),
//! INV_DIR (where the CSV is written; default target/inventory-bench).

mod common;
use common::{env, peak_rss_mb, reset_peak};

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use stocktake::inventory::{self, ScanOptions, Source};

fn generate(path: &Path, rows: u64) -> anyhow::Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
        let marker = path.with_extension("rows");
        if std::fs::read_to_string(&marker).ok().as_deref() == Some(&rows.to_string()) {
            return Ok(());
        }
    }
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(
        w,
        "order_id,user_id,手机,price,quantity,city,status,created_at"
    )?;
    let cities = [
        "北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "西安",
    ];
    let status = ["paid", "shipped", "delivered", "cancelled"];
    for i in 0..rows {
        let phone = if rng.gen_bool(0.05) {
            String::new()
        } else {
            format!(
                "1{}{:09}",
                rng.gen_range(3..10),
                rng.gen_range(0..1_000_000_000u64)
            )
        };
        writeln!(
            w,
            "DD{:016},U{:07},{phone},{:.2},{},{},{},2024-{:02}-{:02} {:02}:{:02}:{:02}",
            i,
            rng.gen_range(0..2_000_000u32),
            rng.gen_range(1.0..5000.0f64),
            rng.gen_range(1..10u32),
            cities[rng.gen_range(0..cities.len())],
            status[rng.gen_range(0..status.len())],
            rng.gen_range(1..13u32),
            rng.gen_range(1..29u32),
            rng.gen_range(0..24u32),
            rng.gen_range(0..60u32),
            rng.gen_range(0..60u32),
        )?;
    }
    w.flush()?;
    std::fs::write(path.with_extension("rows"), rows.to_string())?;
    Ok(())
}

/// One program's run: wall time and peak RSS of its process, and what it printed.
struct Run {
    seconds: f64,
    peak_mb: f64,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` under `benches/measure.py` (wall time and the process's own peak RSS, measured the
/// same way for every program).
fn measure(repo: &Path, python: &Path, cmd: &[&std::ffi::OsStr]) -> anyhow::Result<Run> {
    let out = Command::new(python)
        .arg(repo.join("benches/measure.py"))
        .args(cmd)
        .output()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        anyhow::anyhow!(
            "measure.py failed: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    anyhow::ensure!(v["status"] == 0, "{:?} exited with {}", cmd, v["status"]);
    Ok(Run {
        seconds: v["seconds"].as_f64().unwrap_or(f64::NAN),
        peak_mb: v["peak_mb"].as_f64().unwrap_or(f64::NAN),
        stdout: v["stdout"].as_str().unwrap_or("").to_string(),
        stderr: v["stderr"].as_str().unwrap_or("").to_string(),
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn spread(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{lo:.2}-{hi:.2}")
}

/// The full `stocktake scan` (profiles, semantic types with the name/address model, PII, kinds,
/// recorded in an on-disk catalog) as a process, side by side with DuckDB `SUMMARIZE`, Polars and
/// typed pandas, each as a process, `INV_ROUNDS` rounds in turn; then our approximate statistics
/// against exact ones.
fn csv_part(repo: &Path) -> anyhow::Result<()> {
    let rows: u64 = env("INV_ROWS", 2_000_000);
    let rounds: usize = env("INV_ROUNDS", 3);
    let dir = std::env::var("INV_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo.join("target/inventory-bench"));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("orders.csv");
    generate(&path, rows)?;
    let mb = std::fs::metadata(&path)?.len() as f64 / 1e6;
    let python = repo.join("runtime/peers/venv/bin/python");
    anyhow::ensure!(
        python.exists(),
        "the peers are not installed: run scripts/install-peers"
    );
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_stocktake"));
    let models = repo.join("models");
    let peers: Vec<String> = env("INV_PEERS", "duckdb,polars,pandas".to_string())
        .split(',')
        .map(str::to_string)
        .collect();
    println!(
        "csv: {rows} rows, {mb:.0} MB, {} cores; {rounds} rounds",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut ours: Vec<Run> = Vec::new();
    let mut theirs: Vec<Vec<Run>> = peers.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        let store = tempfile::tempdir()?;
        let run = measure(
            repo,
            &python,
            &[
                bin.as_os_str(),
                "--data".as_ref(),
                store.path().as_os_str(),
                "--models".as_ref(),
                models.as_os_str(),
                "scan".as_ref(),
                path.as_os_str(),
                "--format".as_ref(),
                "json".as_ref(),
            ],
        )?;
        let report: serde_json::Value = serde_json::from_str(&run.stdout)?;
        let asset = &report["assets"][0];
        anyhow::ensure!(asset["rows"] == rows, "every row profiled");
        // A scan that cannot load the name/address model says so on stderr and goes on with
        // rules only: that would not be the full scan this compares.
        anyhow::ensure!(
            models.join("lac/model.onnx").is_file() && !run.stderr.contains("unavailable"),
            "the name/address model did not load (scripts/install-lac): {}",
            run.stderr
        );
        println!(
            "raw round {round}: stocktake scan {:.3} s, peak {:.0} MB (name/address model loaded)",
            run.seconds, run.peak_mb
        );
        ours.push(run);
        for (i, peer) in peers.iter().enumerate() {
            let run = measure(
                repo,
                &python,
                &[
                    python.as_os_str(),
                    repo.join("benches/inventory_peer.py").as_os_str(),
                    peer.as_ref(),
                    path.as_os_str(),
                ],
            )?;
            println!(
                "raw round {round}: {peer} {:.3} s, peak {:.0} MB; {}",
                run.seconds,
                run.peak_mb,
                run.stdout.trim()
            );
            theirs[i].push(run);
        }
    }
    let secs: Vec<f64> = ours.iter().map(|r| r.seconds).collect();
    let peaks: Vec<f64> = ours.iter().map(|r| r.peak_mb).collect();
    let (s, p) = (median(secs.clone()), median(peaks.clone()));
    println!(
        "csv: Stocktake scan median {s:.2} s ({}) = {:.0} rows/s, {:.1} MB/s; peak {p:.0} MB ({})",
        spread(&secs),
        rows as f64 / s,
        mb / s,
        spread(&peaks)
    );
    for (peer, runs) in peers.iter().zip(&theirs) {
        let ps: Vec<f64> = runs.iter().map(|r| r.seconds).collect();
        let pp: Vec<f64> = runs.iter().map(|r| r.peak_mb).collect();
        let (ms, mp) = (median(ps.clone()), median(pp.clone()));
        println!(
            "csv: {peer} median {ms:.2} s ({}), peak {mp:.0} MB ({}); Stocktake/{peer}: throughput {:.2}x, peak memory {:.2}x",
            spread(&ps),
            spread(&pp),
            ms / s,
            p / mp
        );
    }
    if let Some(last) = ours.last() {
        errors(repo, &python, &path, &last.stdout)?;
    }
    Ok(())
}

/// Our approximate statistics (distinct counts, quantiles, top-value counts) against the exact
/// ones computed by Polars.
fn errors(repo: &Path, python: &Path, path: &Path, report: &str) -> anyhow::Result<()> {
    let out = Command::new(python)
        .arg(repo.join("benches/inventory_peer.py"))
        .arg("exact")
        .arg(path)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "exact statistics failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exact: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let report: serde_json::Value = serde_json::from_str(report)?;
    for c in report["assets"][0]["scanned_columns"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let p = &c["profile"];
        let name = p["name"].as_str().unwrap_or("");
        let e = &exact["columns"][name];
        let rel = |ours: f64, truth: f64| (ours - truth).abs() / truth.abs().max(1e-12);
        let distinct = rel(
            p["distinct"].as_f64().unwrap_or(f64::NAN),
            e["distinct"].as_f64().unwrap_or(f64::NAN),
        );
        let mut line = format!("errors {name}: distinct {:.2}%", distinct * 100.0);
        if let (Some(q), Some(t)) = (p["quantiles"].as_array(), e["quantiles"].as_array()) {
            // Rank error of a sampled quantile, as a share of the value range.
            let range = e["max"].as_f64().unwrap_or(0.0) - e["min"].as_f64().unwrap_or(0.0);
            let worst = q
                .iter()
                .zip(t)
                .map(|(a, b)| {
                    (a.as_f64().unwrap_or(f64::NAN) - b.as_f64().unwrap_or(f64::NAN)).abs()
                        / range.max(1e-12)
                })
                .fold(0.0f64, f64::max);
            let mean = rel(
                p["mean"].as_f64().unwrap_or(f64::NAN),
                e["mean"].as_f64().unwrap_or(f64::NAN),
            );
            line += &format!(
                ", quantiles worst {:.3}% of range, mean {:.1e} relative",
                worst * 100.0,
                mean
            );
        }
        let top = p["top"].as_array().cloned().unwrap_or_default();
        if top.is_empty() {
            line += ", top values withheld (personal data or below the publication threshold)";
        } else {
            let truth: std::collections::HashMap<String, f64> = e["top"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| Some((r[0].as_str()?.to_string(), r[1].as_f64()?)))
                .collect();
            let worst = top
                .iter()
                .filter_map(|r| {
                    let t = truth.get(r[0].as_str()?)?;
                    Some(rel(r[1].as_f64()?, *t))
                })
                .fold(0.0f64, f64::max);
            line += &format!(", top-value counts worst {:.2}% low", worst * 100.0);
        }
        println!("{line}");
    }
    Ok(())
}

fn postgres_part() -> anyhow::Result<()> {
    let url: String = env(
        "INV_PG_URL",
        "postgres://postgres@127.0.0.1:5432/test".to_string(),
    );
    let rows: u64 = env("INV_PG_ROWS", 1_000_000);
    let mut c = match postgres::Client::connect(&url, postgres::NoTls) {
        Ok(c) => c,
        Err(e) => {
            println!("postgres: skipped ({e})");
            return Ok(());
        }
    };
    let schema = format!("st_bench_{}", std::process::id());
    c.batch_execute(&format!(
        "CREATE SCHEMA {schema}; CREATE TABLE {schema}.orders AS SELECT 'DD' || lpad(g::text, 16, '0') AS order_id, \
         'U' || (g % 2000000) AS user_id, (random() * 5000)::numeric(10,2) AS price, (1 + g % 9) AS quantity, \
         (ARRAY['北京','上海','广州','深圳'])[1 + g % 4] AS city, now() - (g || ' seconds')::interval AS created_at \
         FROM generate_series(1, {rows}) g; ANALYZE {schema}.orders"
    ))?;
    reset_peak();
    let t = Instant::now();
    let report = inventory::scan(
        &Source::Postgres(url.clone()),
        &ScanOptions {
            db_sample_rows: 0,
            ..ScanOptions::default()
        },
    );
    let secs = t.elapsed().as_secs_f64();
    let peak = peak_rss_mb();
    c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))?;
    let report = report?;
    let a = report
        .assets
        .iter()
        .find(|a| a.location == format!("{schema}.orders"))
        .expect("the bench table");
    println!(
        "postgres: {} rows read in full from a table in {secs:.1} s (whole database scan: {} tables) = {:.0} rows/s, peak RSS {peak:.0} MB",
        a.rows,
        report.assets.len(),
        a.rows as f64 / secs
    );
    Ok(())
}

/// PII column detection on the labelled sets (development and held-out): Stocktake with rules
/// only, with the LAC model, and Presidio, precision and recall side by side.
fn pii_part(repo: &Path) -> anyhow::Result<()> {
    use stocktake::inventory::{ner::NameTagger, pii_eval};
    let models = repo.join("models");
    let lac = if models.join("lac/model.onnx").is_file() {
        Some(NameTagger::load(
            &models,
            "lac",
            &stocktake::infer::Options::default(),
        )?)
    } else {
        println!("pii: LAC not installed (scripts/install-lac): rules only");
        None
    };
    for set in ["columns", "heldout", "heldout2"] {
        let path = repo.join(format!("tests/fixtures/pii/{set}.jsonl"));
        let text = std::fs::read_to_string(&path)?;
        for (what, ner) in [("rules", None), ("rules + LAC", lac.as_ref())] {
            if what != "rules" && ner.is_none() {
                continue;
            }
            let t = Instant::now();
            let s = pii_eval::score(&text, ner).map_err(anyhow::Error::msg)?;
            println!(
                "pii {set}: Stocktake ({what}) precision {:.3}, recall {:.3} (tp {}, fp {}, fn {}) in {:.3} s; mistakes: {:?}",
                s.precision,
                s.recall,
                s.tp,
                s.fp,
                s.fn_,
                t.elapsed().as_secs_f64(),
                s.mistakes
            );
        }
        let python = repo.join("runtime/peers/presidio/bin/python");
        if !python.exists() {
            println!("pii: Presidio skipped (run scripts/install-peers --presidio)");
            continue;
        }
        // Out of the box, and configured as its users would for this data (custom recognizers
        // for mainland mobiles, resident ids, USCCs and UnionPay cards; see pii_peer.py).
        for setup in ["default", "configured"] {
            let t = Instant::now();
            let out = Command::new(&python)
                .arg(repo.join("benches/pii_peer.py"))
                .arg(&path)
                .arg(setup)
                .output()?;
            let psecs = t.elapsed().as_secs_f64();
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
                anyhow::anyhow!(
                    "Presidio failed: {e}: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })?;
            println!(
                "pii {set}: Presidio ({setup}) precision {:.3}, recall {:.3} (tp {}, fp {}, fn {}) in {psecs:.1} s; misses: {}",
                v["precision"].as_f64().unwrap_or(f64::NAN),
                v["recall"].as_f64().unwrap_or(f64::NAN),
                v["tp"],
                v["fp"],
                v["fn"],
                v["misses"]
            );
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let parts: String = env("INV_PARTS", "csv,postgres,pii".to_string());
    if parts.contains("csv") {
        csv_part(&repo)?;
    }
    if parts.contains("postgres") {
        postgres_part()?;
    }
    if parts.contains("pii") {
        pii_part(&repo)?;
    }
    Ok(())
}
