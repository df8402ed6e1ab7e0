//! Profiling throughput and peak memory: a large generated CSV (10 million rows by default)
//! profiled by Stocktake's streaming scanner side by side with pandas (the peer, from
//! `scripts/install-peers`), and a PostgreSQL table read in full.
//!
//! `cargo bench --bench inventory` prints rows/s, MB/s and peak RSS for both and the ratios.
//! A third part measures PII column detection on the labelled set against Presidio (the peer from
//! `scripts/install-peers --presidio`).
//!
//! Environment: INV_ROWS (10000000), INV_PARTS (csv,postgres,pii), INV_PG_ROWS (1000000),
//! INV_PG_URL (postgres://postgres@127.0.0.1:5432/test), INV_PEER (1; 0 skips pandas),
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

fn csv_part(repo: &Path) -> anyhow::Result<()> {
    let rows: u64 = env("INV_ROWS", 10_000_000);
    let dir = std::env::var("INV_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo.join("target/inventory-bench"));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("orders.csv");
    generate(&path, rows)?;
    let mb = std::fs::metadata(&path)?.len() as f64 / 1e6;
    reset_peak();
    let t = Instant::now();
    let report = inventory::scan(&Source::Files(path.clone()), &ScanOptions::default())?;
    let secs = t.elapsed().as_secs_f64();
    let peak = peak_rss_mb();
    let a = &report.assets[0];
    assert_eq!(a.rows, rows, "every row profiled");
    println!(
        "csv: {rows} rows, {mb:.0} MB: Stocktake {secs:.1} s = {:.0} rows/s, {:.1} MB/s, peak RSS {peak:.0} MB (phone column typed {})",
        rows as f64 / secs,
        mb / secs,
        a.scanned_columns[2].semantic.kind.name()
    );
    let python = repo.join("runtime/peers/venv/bin/python");
    if env("INV_PEER", 1) == 1 && python.exists() {
        let out = Command::new(&python)
            .arg(repo.join("benches/inventory_peer.py"))
            .arg(&path)
            .output()?;
        if !out.status.success() {
            println!(
                "csv: pandas failed: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            return Ok(());
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let (ps, pm) = (
            v["seconds"].as_f64().unwrap_or(f64::NAN),
            v["peak_mb"].as_f64().unwrap_or(f64::NAN),
        );
        println!(
            "csv: pandas {ps:.1} s = {:.0} rows/s, peak RSS {pm:.0} MB; Stocktake/pandas: throughput {:.2}x, peak memory {:.3}x",
            rows as f64 / ps,
            ps / secs,
            peak / pm
        );
    } else {
        println!("csv: pandas peer skipped (run scripts/install-peers, or INV_PEER=0 was set)");
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
