//! Differential privacy: error against OpenDP at equal ε, and the time of a DP query over a
//! million interactions.
//!
//! `error`: the demo's behaviour log (19,647 views and purchases of 600 users, grouped by the
//! category of the product — the report "interactions per category"), each user's rows bounded
//! to DP_MAX (default 10). The same bounded counts are released DP_REPS times (default 2,000)
//! at each ε by Stocktake's mechanism (`privacy::dp::release`: exact discrete Laplace, scale
//! DP_MAX/ε) and by OpenDP (`benches/dp_peer.py`: `vector_domain(atom_domain(T=int)) >>
//! then_laplace(scale)`, OpenDP's own exact discrete Laplace for integers, its privacy map
//! checked to give the same ε). Printed: RMSE per group of each, the ratio (goal ≤ 1.0 within
//! sampling error), and the theoretical noise sd. OpenDP does the bounding in neither run: both
//! release the same bounded counts, so the comparison is of the mechanisms' error.
//!
//! `scale`: DP_ROWS interactions (default 1,000,000) of DP_USERS users (default 50,000) on the
//! demo's 3,015 products, bulk-loaded into a fresh on-disk store; then the first DP query
//! (it builds the snapshot of the product graph), and DP_QUERIES warm queries (default 20), each
//! a category histogram with ε = 0.01 through `App::dp_query` (ledger write and audit included).
//! Goal: a warm query ≤ 1 s. Then one write, and queries every half second until one is
//! `current` again: how slow a query gets while the snapshot is re-read in the background.
//!
//! `cargo bench --profile dev --bench dp` (DP_PARTS=error,scale; DP_DIR, default target/dp-bench;
//! the dev profile builds our crate at opt-level 3, as the other benches here)

mod common;
use common::{env, peak_rss_mb};

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use stocktake::privacy::dp::{self, Aggregate, Query, Row};

fn read(path: &Path) -> anyhow::Result<Vec<csv::StringRecord>> {
    let mut r = csv::Reader::from_path(path)?;
    Ok(r.records().collect::<Result<_, _>>()?)
}

/// The demo's interactions as (user, category) rows and the category names.
fn demo_rows(repo: &Path) -> anyhow::Result<(Vec<Row>, Vec<String>)> {
    let products = read(&repo.join("demo/data/products.csv"))?;
    let mut categories: Vec<String> = Vec::new();
    let mut cat_of: HashMap<String, u32> = HashMap::new();
    for p in &products {
        let c = p[4].to_string();
        let idx = match categories.iter().position(|x| *x == c) {
            Some(i) => i,
            None => {
                categories.push(c);
                categories.len() - 1
            }
        };
        cat_of.insert(p[0].to_string(), idx as u32);
    }
    let mut users: HashMap<String, u32> = HashMap::new();
    let mut rows = Vec::new();
    for b in read(&repo.join("demo/data/behaviour.csv"))? {
        let Some(&group) = cat_of.get(&b[1]) else {
            continue;
        };
        let next = users.len() as u32;
        let person = *users.entry(b[0].to_string()).or_insert(next);
        rows.push(Row {
            person,
            group,
            value: 0,
        });
    }
    Ok((rows, categories))
}

fn error_part(repo: &Path, dir: &Path) -> anyhow::Result<()> {
    let (rows, categories) = demo_rows(repo)?;
    let m: u32 = env("DP_MAX", 10);
    let reps: usize = env("DP_REPS", 2000);
    let epsilons = ["0.1", "0.25", "0.5", "1", "2"];
    // The bounded counts, without noise (a zero-noise source through the same code path).
    struct Zero;
    impl dp::Noise for Zero {
        fn draw(&mut self, _: dp::Ratio) -> i64 {
            0
        }
    }
    let q = |eps: &str| Query {
        aggregate: Aggregate::Count,
        groups: categories.len(),
        max_per_person: m,
        epsilon: dp::epsilon(eps).expect("valid"),
    };
    let truth: Vec<f64> = dp::release(&rows, &q("1"), &mut Zero)?
        .groups
        .iter()
        .map(|g| g.value)
        .collect();
    println!(
        "error: {} interactions, {} categories, at most {m} rows per user, {reps} releases per ε",
        rows.len(),
        categories.len()
    );
    let input = dir.join("dp-peer-input.json");
    std::fs::write(
        &input,
        serde_json::to_vec(&serde_json::json!({
            "counts": truth.iter().map(|c| *c as i64).collect::<Vec<_>>(),
            "sensitivity": m, "epsilons": epsilons, "reps": reps,
        }))?,
    )?;
    let peer = std::process::Command::new("python3")
        .arg(repo.join("benches/dp_peer.py"))
        .arg(&input)
        .output()?;
    anyhow::ensure!(
        peer.status.success(),
        "OpenDP peer failed (pip install opendp): {}",
        String::from_utf8_lossy(&peer.stderr)
    );
    let peer: serde_json::Value = serde_json::from_slice(&peer.stdout)?;
    println!(
        "{:>6} {:>12} {:>12} {:>8} {:>10} {:>10} {:>10}",
        "ε", "ours RMSE", "OpenDP RMSE", "ratio", "theory sd", "ours s", "OpenDP s"
    );
    for eps in epsilons {
        let query = q(eps);
        let mut noise = dp::secure();
        let t = Instant::now();
        let mut se = 0.0;
        for _ in 0..reps {
            let r = dp::release(&rows, &query, &mut noise)?;
            for (g, t) in r.groups.iter().zip(&truth) {
                se += (g.value - t).powi(2);
            }
        }
        let secs = t.elapsed().as_secs_f64();
        let ours = (se / (reps * truth.len()) as f64).sqrt();
        let theirs = peer[eps]["rmse"].as_f64().unwrap_or(f64::NAN);
        let theory = dp::discrete_laplace_sd(f64::from(m) / dp::epsilon(eps)?.as_f64());
        println!(
            "{eps:>6} {ours:>12.3} {theirs:>12.3} {:>8.3} {theory:>10.3} {secs:>10.3} {:>10.3}",
            ours / theirs,
            peer[eps]["seconds"].as_f64().unwrap_or(f64::NAN)
        );
    }
    println!("(ours clamps released counts at 0; OpenDP's raw releases are not clamped)");
    Ok(())
}

fn scale_part(repo: &Path, dir: &Path) -> anyhow::Result<()> {
    use stocktake::app::{App, DpRequest};
    use stocktake::catalog::{GraphFormat, GraphTarget};
    let rows: usize = env("DP_ROWS", 1_000_000);
    let users: usize = env("DP_USERS", 50_000);
    let queries: usize = env("DP_QUERIES", 20);
    let data = dir.join("store");
    if data.exists() {
        std::fs::remove_dir_all(&data)?;
    }
    let mut config = stocktake::config::Config {
        data: data.clone(),
        ..Default::default()
    };
    config.catalog.ontology_dir = repo.join("ontology");
    config.privacy.dataset_epsilon = "1000000".into();
    config.privacy.token_epsilon = "1000000".into();
    let app = App::open(config)?;
    // Products with categories and prices, then the interactions, as N-Triples.
    let nt = dir.join("interactions.nt");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&nt)?);
        let products = read(&repo.join("demo/data/products.csv"))?;
        let st = "https://w3id.org/stocktake/ns#";
        let schema = "http://schema.org/";
        for (i, p) in products.iter().enumerate() {
            let cat: String = p[4].chars().filter(|c| c.is_alphanumeric()).collect();
            writeln!(w, "<http://b.org/p{i}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{schema}Product> .")?;
            writeln!(
                w,
                "<http://b.org/p{i}> <{schema}category> <http://b.org/c/{}> .",
                percent(&cat)
            )?;
        }
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let kinds = ["viewed", "viewed", "viewed", "purchased", "rated"];
        for i in 0..rows {
            let (u, p, k) = (
                next() as usize % users,
                next() as usize % products.len(),
                kinds[next() as usize % kinds.len()],
            );
            let day = 1 + next() % 28;
            writeln!(w, "<http://b.org/i{i}> <{st}user> <http://b.org/u{u}> .")?;
            writeln!(w, "<http://b.org/i{i}> <{st}product> <http://b.org/p{p}> .")?;
            writeln!(w, "<http://b.org/i{i}> <{st}interactionKind> <{st}{k}> .")?;
            writeln!(
                w,
                "<http://b.org/i{i}> <http://www.w3.org/ns/prov#atTime> \"2024-03-{day:02}T12:00:00Z\"^^<http://www.w3.org/2001/XMLSchema#dateTime> ."
            )?;
        }
    }
    let t = Instant::now();
    let products = app.catalog().layout().products.as_str().to_owned();
    app.catalog().bulk_load(
        std::fs::File::open(&nt)?,
        GraphFormat::NTriples,
        Some(&GraphTarget::Named(products)),
        None,
        |_| {},
    )?;
    println!(
        "scale: loaded {rows} interactions of {users} users in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let who = stocktake::privacy::Principal::User {
        name: "bench".into(),
        role: stocktake::privacy::Role::Read,
        grants: Default::default(),
    };
    let req = DpRequest {
        dataset: "interactions".into(),
        group_by: Some("category".into()),
        epsilon: "0.01".into(),
        ..Default::default()
    };
    let t = Instant::now();
    let first = app.dp_query(&who, &req)?;
    let cold = t.elapsed().as_secs_f64();
    let mut warm = Vec::new();
    for _ in 0..queries {
        let t = Instant::now();
        app.dp_query(&who, &req)?;
        warm.push(t.elapsed().as_secs_f64());
    }
    warm.sort_by(f64::total_cmp);
    let total: f64 = first.groups.iter().map(|g| g.value).sum();
    println!(
        "first query (builds the snapshot): {cold:.2} s; warm: median {:.4} s, max {:.4} s over {queries}; \
         {} groups, total ≈ {total:.0}; peak RSS {:.0} MB",
        warm[warm.len() / 2],
        warm[warm.len() - 1],
        first.groups.len(),
        peak_rss_mb()
    );
    // After a change of the product graph: queries keep answering (from the previous reading,
    // `current: false`, after waiting [privacy] dp_snapshot_wait_ms) while it is read again.
    app.catalog().add_to_graph(
        &GraphTarget::Named(app.catalog().layout().products.as_str().to_owned()),
        b"<http://b.org/i-new> <https://w3id.org/stocktake/ns#user> <http://b.org/u0> .",
        GraphFormat::NTriples,
        None,
        &stocktake::catalog::Visibility::ADMIN,
    )?;
    let changed = Instant::now();
    let mut during = Vec::new();
    loop {
        let t = Instant::now();
        let a = app.dp_query(&who, &req)?;
        during.push(t.elapsed().as_secs_f64());
        if a.current {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let caught_up = changed.elapsed().as_secs_f64();
    let worst = during.iter().copied().fold(0.0, f64::max);
    println!(
        "after a change: {} queries answered while the snapshot was re-read, slowest {worst:.3} s \
         (wait {} ms); current again after {caught_up:.1} s",
        during.len(),
        app.config().privacy.dp_snapshot_wait_ms
    );
    Ok(())
}

fn percent(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn main() -> anyhow::Result<()> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir: PathBuf = env("DP_DIR", repo.join("target/dp-bench"));
    std::fs::create_dir_all(&dir)?;
    let parts: String = env("DP_PARTS", "error,scale".to_string());
    if parts.contains("error") {
        error_part(&repo, &dir)?;
    }
    if parts.contains("scale") {
        scale_part(&repo, &dir)?;
    }
    Ok(())
}
