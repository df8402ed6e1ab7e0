//! The stock watch's benchmarks (`cargo bench --profile dev --bench stock`; `STOCK_PARTS`
//! picks `forecast`, `scale` or both):
//!
//! - **forecast**: forecast quality and speed side by side with Nixtla's statsforecast (the
//!   peer a planner would use: AutoETS with a weekly season, CrostonOptimized, ADIDA, and
//!   SeasonalNaive as the yardstick; `benches/stock_peer.py` in `runtime/peers/forecast`, see
//!   `scripts/install-peers --forecast`) on the same series in the same run: generated smooth,
//!   weekly-seasonal and intermittent series with known generating processes (1,000 each, 90
//!   days to fit, 14 to forecast) and the demo's real order lines per product and warehouse
//!   (76 days to fit, 14 to forecast). MASE per series (scaled by the in-sample seasonal-naive
//!   error, m = 7), averaged per class; the ratio to the best statsforecast model per class
//!   and to SeasonalNaive; wall-clock time of each over all series on every core.
//! - **scale**: a stock check's assessment over 1M SKUs × 10 warehouses with 90 days of sales
//!   each (10M positions, generated per position from its index, so memory stays bounded), on
//!   every core: seconds and peak resident memory.

mod common;
use common::peak_rss_mb;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use rayon::prelude::*;
use stocktake::stock::forecast::{self, mase};
use stocktake::stock::policy::{self, Lot, Position};
use stocktake::stock::Rules;

const H: usize = 14;
const SEASON: usize = 7;

fn normal(r: &mut Pcg64) -> f64 {
    let (u, v): (f64, f64) = (r.gen::<f64>().max(1e-12), r.gen());
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

fn poisson(r: &mut Pcg64, lambda: f64) -> f64 {
    if lambda <= 0.0 {
        return 0.0;
    }
    if lambda > 30.0 {
        return (lambda + lambda.sqrt() * normal(r)).round().max(0.0);
    }
    let (l, mut k, mut p) = ((-lambda).exp(), 0.0, 1.0);
    loop {
        p *= r.gen::<f64>();
        if p <= l {
            return k;
        }
        k += 1.0;
    }
}

/// One generated series of `n` days of the class, from `seed`.
fn generate(class: &str, n: usize, seed: u64) -> Vec<f64> {
    let mut r = Pcg64::seed_from_u64(seed);
    match class {
        "smooth" => {
            let base = r.gen_range(5.0..50.0);
            let mut level = base;
            (0..n)
                .map(|_| {
                    level = (level + 0.02 * base * normal(&mut r)).max(1.0);
                    poisson(&mut r, level)
                })
                .collect()
        }
        "seasonal" => {
            let level = r.gen_range(5.0..50.0);
            let amp = r.gen_range(0.3..0.8);
            let peak = r.gen_range(0..SEASON);
            let shape: Vec<f64> = (0..SEASON)
                .map(|d| {
                    let dist = (d as i64 - peak as i64)
                        .rem_euclid(SEASON as i64)
                        .min((peak as i64 - d as i64).rem_euclid(SEASON as i64))
                        as f64;
                    1.0 + amp * (1.0 - dist / 2.0).max(-0.5)
                })
                .collect();
            (0..n)
                .map(|t| poisson(&mut r, level * shape[t % SEASON]))
                .collect()
        }
        _ => {
            let p = r.gen_range(0.05..0.35);
            let size = r.gen_range(0.5..4.0);
            (0..n)
                .map(|_| {
                    if r.gen::<f64>() < p {
                        1.0 + poisson(&mut r, size)
                    } else {
                        0.0
                    }
                })
                .collect()
        }
    }
}

/// The demo's order lines as daily units per (product, warehouse) over the 90 days before the
/// snapshot of 2024-10-28 (`demo/generate.py`).
fn demo_series() -> Vec<(String, Vec<f64>)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/data/orders.csv");
    let mut rdr = csv::Reader::from_path(&path).expect("demo/data/orders.csv");
    let start = 1_730_073_600i64 - 90 * 86_400;
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let day = (rec[5].parse::<i64>().unwrap() - start) / 86_400;
        if !(0..90).contains(&day) {
            continue;
        }
        let key = format!("{}@{}", &rec[2], &rec[4]);
        out.entry(key).or_insert_with(|| vec![0.0; 90])[day as usize] +=
            rec[3].parse::<f64>().unwrap();
    }
    out.into_iter().collect()
}

struct Series {
    id: String,
    class: String,
    train: Vec<f64>,
    test: Vec<f64>,
}

fn forecast_part() {
    let mut all = Vec::new();
    for class in ["smooth", "seasonal", "intermittent"] {
        for i in 0..1000u64 {
            let y = generate(class, 90 + H, i * 7919 + class.len() as u64);
            all.push(Series {
                id: format!("{class}-{i}"),
                class: class.into(),
                train: y[..90].to_vec(),
                test: y[90..].to_vec(),
            });
        }
    }
    for (id, y) in demo_series() {
        all.push(Series {
            id: format!("demo-{id}"),
            class: "demo".into(),
            train: y[..90 - H].to_vec(),
            test: y[90 - H..].to_vec(),
        });
    }
    let dir = std::env::temp_dir().join("stocktake-stock-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let train_csv = dir.join("train.csv");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&train_csv).unwrap());
        writeln!(f, "unique_id,ds,y").unwrap();
        for s in &all {
            for (t, v) in s.train.iter().enumerate() {
                writeln!(f, "{},{t},{v}", s.id).unwrap();
            }
        }
    }
    // Ours: the model each series' class calls for, fitted and forecast on every core; best
    // of three runs.
    let mut ours: Vec<Vec<f64>> = Vec::new();
    let mut secs = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        ours = all
            .par_iter()
            .map(|s| {
                let f = forecast::fit(&s.train, SEASON);
                (0..H).map(|i| f.day(i)).collect()
            })
            .collect();
        secs = secs.min(t.elapsed().as_secs_f64());
    }
    let methods: BTreeMap<String, usize> = all.iter().fold(BTreeMap::new(), |mut m, s| {
        let f = forecast::fit(&s.train, SEASON);
        *m.entry(format!("{}/{:?}", s.class, f.method)).or_default() += 1;
        m
    });
    // The peer.
    let python =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime/peers/forecast/bin/python");
    let out_csv = dir.join("peer.csv");
    let peer = std::process::Command::new(&python)
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/stock_peer.py"))
        .arg(&train_csv)
        .arg(H.to_string())
        .arg(&out_csv)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run scripts/install-peers --forecast)",
                python.display()
            )
        });
    assert!(
        peer.status.success(),
        "{}",
        String::from_utf8_lossy(&peer.stderr)
    );
    let timings: serde_json::Value = serde_json::from_slice(&peer.stdout).unwrap();
    let models = ["AutoETS", "CrostonOptimized", "ADIDA", "SeasonalNaive"];
    let mut peer_fc: BTreeMap<String, Vec<[f64; 4]>> = BTreeMap::new();
    let mut rdr = csv::Reader::from_path(&out_csv).unwrap();
    let header = rdr.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let cols: Vec<usize> = models.iter().map(|m| col(m)).collect();
    let (id_col, ds_col) = (col("unique_id"), col("ds"));
    let mut rows: Vec<(String, i64, [f64; 4])> = Vec::new();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let mut v = [0.0; 4];
        for (k, c) in cols.iter().enumerate() {
            v[k] = rec[*c].parse::<f64>().unwrap_or(f64::NAN).max(0.0);
        }
        rows.push((rec[id_col].to_string(), rec[ds_col].parse().unwrap(), v));
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    for (id, _, v) in rows {
        peer_fc.entry(id).or_default().push(v);
    }
    // MASE per class and model.
    let mut table: BTreeMap<String, (usize, usize, f64, [f64; 4])> = BTreeMap::new();
    for (s, mine) in all.iter().zip(&ours) {
        let e = table
            .entry(s.class.clone())
            .or_insert((0, 0, 0.0, [0.0; 4]));
        let scale_ok = s.train.windows(SEASON + 1).any(|w| w[SEASON] != w[0]);
        if !scale_ok {
            e.1 += 1; // a training series without variation has no MASE
            continue;
        }
        let p = &peer_fc[&s.id];
        e.0 += 1;
        e.2 += mase(&s.train, &s.test, mine, SEASON);
        for k in 0..4 {
            let f: Vec<f64> = p.iter().map(|v| v[k]).collect();
            e.3[k] += mase(&s.train, &s.test, &f, SEASON);
        }
    }
    println!(
        "stock forecast benchmark: {} series, horizon {H} days; statsforecast {}",
        all.len(),
        timings["statsforecast"]
    );
    println!("methods chosen: {methods:?}");
    println!(
        "{:<13} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>12} {:>14}",
        "class",
        "series",
        "ours",
        "AutoETS",
        "Croston",
        "ADIDA",
        "SNaive",
        "ours/best",
        "ours/SNaive"
    );
    for (class, (n, skipped, ours_sum, peers)) in &table {
        let n = *n as f64;
        let peer_mean: Vec<f64> = peers.iter().map(|v| v / n).collect();
        let best = peer_mean[..3].iter().copied().fold(f64::INFINITY, f64::min);
        let mine = ours_sum / n;
        println!(
            "{:<13} {:>6} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>12.3} {:>14.3}{}",
            class,
            n,
            mine,
            peer_mean[0],
            peer_mean[1],
            peer_mean[2],
            peer_mean[3],
            mine / best,
            mine / peer_mean[3],
            if *skipped > 0 {
                format!("  ({skipped} constant series left out)")
            } else {
                String::new()
            }
        );
    }
    let peer_secs = &timings["seconds"];
    println!(
        "time over all series, {} threads:",
        rayon::current_num_threads()
    );
    println!("  ours (class → model, fit + forecast): {secs:.3} s");
    for m in models {
        let t = peer_secs[m].as_f64().unwrap();
        println!(
            "  statsforecast {m:<17} {t:.3} s   ours is {:.1}x faster",
            t / secs
        );
    }
}

/// One position of the scale run, generated from its index.
fn position(i: u64) -> Position {
    let mut r = Pcg64::seed_from_u64(i);
    let class = match r.gen_range(0..20) {
        0..=9 => "intermittent",
        10..=16 => "smooth",
        _ => "seasonal",
    };
    let sales = generate(class, 90, i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let rate = sales.iter().sum::<f64>() / 90.0;
    let on_hand = (rate * r.gen_range(0.0..150.0)).round() + r.gen_range(0.0..5.0f64).round();
    Position {
        lots: vec![Lot {
            lot: None,
            quantity: on_hand,
            expires: None,
        }],
        reserved: 0.0,
        in_transit: 0.0,
        reorder_point: None,
        lead_time: Some(r.gen_range(2.0..15.0f64).round()),
        unit_cost: Some(10.0),
        sales,
    }
}

fn scale_part() {
    let skus: u64 = std::env::var("STOCK_SKUS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let warehouses = 10u64;
    let n = skus * warehouses;
    let as_of: chrono::NaiveDate = "2024-10-28".parse().unwrap();
    let rules = Rules::default();
    let chunk = 250_000u64;
    let run = |assess: bool| -> (f64, BTreeMap<&'static str, u64>) {
        let t = Instant::now();
        let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut start = 0;
        while start < n {
            let end = (start + chunk).min(n);
            let part: BTreeMap<&'static str, u64> = (start..end)
                .into_par_iter()
                .fold(BTreeMap::new, |mut m: BTreeMap<&'static str, u64>, i| {
                    let p = position(i);
                    if assess {
                        let a = policy::assess(&p, as_of, &rules, SEASON);
                        for al in &a.alerts {
                            *m.entry(al.kind.name()).or_default() += 1;
                        }
                        if a.proposal.is_some() {
                            *m.entry("proposals").or_default() += 1;
                        }
                    } else {
                        *m.entry("generated").or_default() += p.sales.len() as u64 / 90;
                    }
                    m
                })
                .reduce(BTreeMap::new, |mut a, b| {
                    for (k, v) in b {
                        *a.entry(k).or_default() += v;
                    }
                    a
                });
            for (k, v) in part {
                *counts.entry(k).or_default() += v;
            }
            start = end;
        }
        (t.elapsed().as_secs_f64(), counts)
    };
    let (gen_secs, _) = run(false);
    let (all_secs, counts) = run(true);
    println!(
        "stock check scale: {skus} SKUs × {warehouses} warehouses = {n} positions, 90 days of sales each, {} threads",
        rayon::current_num_threads()
    );
    println!("  generating the positions alone: {gen_secs:.1} s");
    println!(
        "  generating + assessing (forecast, safety stock, alerts, proposals): {all_secs:.1} s"
    );
    println!(
        "  assessment alone: {:.1} s ({:.2} µs per position)",
        all_secs - gen_secs,
        (all_secs - gen_secs) / n as f64 * 1e6
    );
    println!("  peak resident memory: {:.0} MB", peak_rss_mb());
    println!("  conditions: {counts:?}");
}

fn main() {
    let parts = std::env::var("STOCK_PARTS").unwrap_or_else(|_| "forecast,scale".into());
    if parts.contains("forecast") {
        forecast_part();
    }
    if parts.contains("scale") {
        scale_part();
    }
}
