//! Rescan of an unchanged source vs its first scan (issue 7's bar: at least 20× faster).
//!
//! Two sources: a directory of small CSV files (10,000 by default) and a PostgreSQL schema of
//! tables (1,000 by default). Each is scanned once through `monitor::scan_and_record` into an
//! on-disk catalog — profile, record, diff — and then rescanned unchanged the same way; a third
//! pass touches every file (new time, same bytes), which costs a hash but no profile. The
//! ratios are printed.
//!
//! `cargo bench --bench rescan` (add `--profile dev` to skip the release build).
//! Environment: RESCAN_FILES (10000), RESCAN_ROWS (200 rows per file/table), RESCAN_TABLES
//! (1000; 0 skips PostgreSQL), RESCAN_PG_URL (postgres://postgres@127.0.0.1:5432/test).

mod common;
use common::env;

use std::io::Write;
use std::time::Instant;

use stocktake::catalog::{Catalog, GraphLayout};
use stocktake::inventory::{ScanOptions, Source};
use stocktake::monitor::{self, MonitorConfig};

fn timed(catalog: &Catalog, source: &Source) -> anyhow::Result<(f64, usize, usize)> {
    let t = Instant::now();
    let o = monitor::scan_and_record(
        catalog,
        source,
        ScanOptions {
            db_sample_rows: 0,
            ..ScanOptions::default()
        },
        &MonitorConfig::default(),
        false,
    )?;
    Ok((
        t.elapsed().as_secs_f64(),
        o.report.unchanged(),
        o.events.len(),
    ))
}

fn files(n: usize, rows: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    for i in 0..n {
        let sub = dir.path().join(format!("part-{:03}", i / 500));
        std::fs::create_dir_all(&sub)?;
        let mut w =
            std::io::BufWriter::new(std::fs::File::create(sub.join(format!("orders-{i}.csv")))?);
        writeln!(w, "order_id,user_id,price,city,status")?;
        for r in 0..rows {
            writeln!(
                w,
                "O{i}-{r},U{},{}.{:02},{},{}",
                (r * 7919 + i) % 5000,
                (r * 37 + i) % 900 + 10,
                r % 100,
                ["北京", "上海", "广州", "深圳"][r % 4],
                ["paid", "shipped", "cancelled"][r % 3]
            )?;
        }
    }
    let store = tempfile::tempdir()?;
    let catalog = Catalog::open(store.path(), GraphLayout::new("https://example.org/st/")?)?;
    let source = Source::Files(dir.path().to_path_buf());
    let (first, _, _) = timed(&catalog, &source)?;
    let (again, unchanged, events) = timed(&catalog, &source)?;
    assert_eq!(unchanged, n, "every file found unchanged");
    assert_eq!(events, 0);
    // Touch every file: same bytes, new time.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(10);
    for e in walk(dir.path())? {
        std::fs::File::options()
            .append(true)
            .open(&e)?
            .set_modified(later)?;
    }
    let (touched, unchanged_t, _) = timed(&catalog, &source)?;
    assert_eq!(unchanged_t, n);
    println!(
        "files: {n} CSV files × {rows} rows: first scan {first:.2} s, unchanged rescan {again:.3} s \
         → {:.1}× faster; all touched (hashed, not profiled) {touched:.2} s → {:.1}×",
        first / again,
        first / touched
    );
    Ok(())
}

fn walk(p: &std::path::Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p)? {
        let e = e?.path();
        if e.is_dir() {
            out.extend(walk(&e)?);
        } else {
            out.push(e);
        }
    }
    Ok(out)
}

fn tables(n: usize, rows: usize, url: &str) -> anyhow::Result<()> {
    let mut c = match postgres::Client::connect(url, postgres::NoTls) {
        Ok(c) => c,
        Err(e) => {
            println!("postgres: skipped ({url} not reachable: {e})");
            return Ok(());
        }
    };
    let schema = format!("st_rescan_{}", std::process::id());
    c.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ))?;
    for i in 0..n {
        c.batch_execute(&format!(
            "CREATE TABLE {schema}.t{i} (id integer PRIMARY KEY, user_id text, price numeric(10,2), city text);
             INSERT INTO {schema}.t{i} SELECT g, 'U' || (g * 7919 % 5000), (g * 37 % 900 + 10) + 0.5,
                (ARRAY['北京','上海','广州','深圳'])[g % 4 + 1] FROM generate_series(1, {rows}) g"
        ))?;
    }
    c.batch_execute("SELECT pg_stat_force_next_flush()")?;
    c.batch_execute("SELECT 1")?;
    let store = tempfile::tempdir()?;
    let catalog = Catalog::open(store.path(), GraphLayout::new("https://example.org/st/")?)?;
    let source = Source::parse(&format!("{url}?options=-csearch_path%3D{schema}"))?;
    let result = (|| -> anyhow::Result<()> {
        let (first, _, _) = timed(&catalog, &source)?;
        let (again, unchanged, events) = timed(&catalog, &source)?;
        assert_eq!(unchanged, n, "every table found unchanged");
        assert_eq!(events, 0);
        println!(
            "postgres: {n} tables × {rows} rows: first scan {first:.2} s, unchanged rescan {again:.3} s → {:.1}× faster",
            first / again
        );
        Ok(())
    })();
    c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))?;
    result
}

fn main() -> anyhow::Result<()> {
    let n: usize = env("RESCAN_FILES", 10_000);
    let rows: usize = env("RESCAN_ROWS", 200);
    let t: usize = env("RESCAN_TABLES", 1000);
    if n > 0 {
        files(n, rows)?;
    }
    if t > 0 {
        let url: String = env(
            "RESCAN_PG_URL",
            "postgres://postgres@127.0.0.1:5432/test".to_string(),
        );
        tables(t, rows, &url)?;
    }
    Ok(())
}
