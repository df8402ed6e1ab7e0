//! TransE side by side with PyKEEN 1.11.1, and link-prediction latency at 1M entities.
//!
//! `cargo bench --bench kge` runs, in one process tree on the same machine:
//! 1. training: Stocktake and PyKEEN (runtime/peers/pykeen, from `scripts/install-peers --pykeen`)
//!    on the same dataset with the same hyperparameters and thread count; prints positive
//!    triples/s of both and the ratio, and both filtered test MRRs (same protocol: realistic
//!    ranks, both directions, train + valid + test filtered, unseen test triples dropped);
//! 2. evaluation: the time each takes for that filtered test evaluation, and the ratio;
//! 3. quality (`KGE_PARTS=quality`): time to equal validation MRR at 128 negatives with the
//!    softmax cross-entropy loss, both sides evaluated on validation every few epochs;
//! 4. latency: top-10 tails over 1,000,000 random entities × 100 dimensions, 8 concurrent
//!    clients, p50 and p99: exact search, then the SQ8 index (`embed::index`) and the PQ4
//!    fast-scan indexes (`embed::pq`), each with its recall@10 measured against exact search.
//!
//! Environment: KGE_DATA (default ../shared/data/kg/fb15k-237/FB15k-237.tar.gz), KGE_EPOCHS (20),
//! KGE_DIM (100), KGE_NORM (l1), KGE_MARGIN (1), KGE_NEGATIVES (1), KGE_BATCH (1024),
//! KGE_OPTIMIZER (adagrad), KGE_LR (0.05), KGE_SAMPLER (bernoulli), KGE_THREADS (2),
//! KGE_PARTS (train,latency), KGE_PEER (1; 0 skips PyKEEN), KGE_LATENCY_ENTITIES (1000000),
//! KGE_LATENCY_QUERIES (400 per client), KGE_LATENCY_NORMS (l1; e.g. l1,l2), KGE_RERANK (100, the SQ8 index),
//! KGE_PQ_SUBS (2: dimensions per group of the PQ4 indexes to measure, e.g. 2,4; empty: none),
//! KGE_PQ_RERANK (400, what serving uses for k = 10; a list measures each), KGE_LATENCY_BASELINES (1; 0 skips the exact and SQ8 latency runs, the
//! recall of the PQ4 indexes is still measured against exact search), KGE_RECALL_PROBES (500),
//! KGE_LATENCY_ROUNDS (1; more repeats each PQ4 client run and prints the median p99);
//! quality part: KGE_Q_DATA (../shared/data/kg/codex-s), KGE_Q_EPOCHS (100), KGE_Q_EVERY (10),
//! KGE_Q_PEER_EPOCHS (KGE_Q_EPOCHS), KGE_Q_NEGATIVES (128), KGE_Q_DIM (128), KGE_Q_BATCH (512), KGE_Q_LR (0.05).

mod common;
use common::env;

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use stocktake::embed::predict::{predict, Direction};
use stocktake::embed::{self, Loss, Norm, Optimizer, Sampler, TrainConfig, Trainer, TransE};
use stocktake::kg::{Dataset, KnownTriples, UnseenPolicy};

fn main() -> anyhow::Result<()> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let parts: String = env("KGE_PARTS", "train,latency".to_string());
    if parts.contains("train") {
        train_part(&repo)?;
    }
    if parts.contains("quality") {
        quality_part(&repo)?;
    }
    if parts.contains("latency") {
        latency_part()?;
    }
    Ok(())
}

fn train_part(repo: &Path) -> anyhow::Result<()> {
    let data_path: PathBuf = env(
        "KGE_DATA",
        repo.join("../shared/data/kg/fb15k-237/FB15k-237.tar.gz"),
    );
    if !data_path.exists() {
        println!("SKIPPED training part: {} not found", data_path.display());
        return Ok(());
    }
    let threads: usize = env("KGE_THREADS", 2);
    let config = TrainConfig {
        dim: env("KGE_DIM", 100),
        norm: env("KGE_NORM", Norm::L1),
        margin: env("KGE_MARGIN", 1.0),
        negatives: env("KGE_NEGATIVES", 1),
        sampler: env("KGE_SAMPLER", Sampler::Bernoulli),
        batch_size: env("KGE_BATCH", 1024),
        epochs: env("KGE_EPOCHS", 20),
        optimizer: env("KGE_OPTIMIZER", Optimizer::Adagrad),
        lr: env("KGE_LR", 0.05),
        eval_every: 0,
        ..TrainConfig::default()
    };
    // PyKEEN drops test triples with entities unseen in training; do the same so both rank the
    // same triples.
    let data = Dataset::load(&data_path, UnseenPolicy::Drop)?;
    println!(
        "dataset {}: {} entities, {} relations, {} train / {} valid / {} test triples",
        data_path.display(),
        data.num_entities(),
        data.num_relations(),
        data.train.len(),
        data.valid.len(),
        data.test.len()
    );
    println!("hyperparameters: {}", serde_json::to_string(&config)?);

    let (ours_seconds, ours_eval_seconds, ours) = embed::with_threads(threads, || {
        let mut trainer = Trainer::new(
            config.clone(),
            &data.train,
            data.num_entities(),
            data.num_relations(),
        )
        .expect("valid config");
        let t0 = Instant::now();
        trainer.run(&data.train, None, |_, _| ControlFlow::Continue(()));
        let train_s = t0.elapsed().as_secs_f64();
        let known = KnownTriples::new([&data.train[..], &data.valid[..], &data.test[..]]);
        let t0 = Instant::now();
        let ev = embed::evaluate(&trainer.model, &data.test, &known);
        (train_s, t0.elapsed().as_secs_f64(), ev)
    })?;
    let ours_tps = (config.epochs * data.train.len()) as f64 / ours_seconds;
    println!(
        "stocktake: {:.0} positive triples/s ({} epochs in {:.1}s), test MRR {:.4}, Hits@10 {:.4}, eval {:.2}s",
        ours_tps, config.epochs, ours_seconds, ours.both.mrr, ours.both.hits_at_10, ours_eval_seconds
    );

    let python = repo.join("runtime/peers/pykeen/bin/python");
    if env("KGE_PEER", 1) == 0 {
        return Ok(());
    }
    if !python.exists() {
        println!("SKIPPED PyKEEN: run scripts/install-peers --pykeen first");
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let job = serde_json::json!({
        "threads": threads, "seed": config.seed,
        "dim": config.dim, "norm": if config.norm == Norm::L1 { "l1" } else { "l2" },
        "margin": config.margin, "negatives": config.negatives,
        "sampler": if config.sampler == Sampler::Bernoulli { "bernoulli" } else { "uniform" },
        "batch_size": config.batch_size, "epochs": config.epochs,
        "optimizer": format!("{:?}", config.optimizer).to_lowercase(), "lr": config.lr,
    });
    let peer = run_peer(&python, repo, &data, tmp.path(), job)?;
    let peer_tps = peer["triples_per_s"].as_f64().unwrap_or(f64::NAN);
    let peer_eval = peer["eval_seconds"].as_f64().unwrap_or(f64::NAN);
    println!(
        "pykeen:    {:.0} positive triples/s ({} epochs in {:.1}s), test MRR {:.4}, Hits@10 {:.4}, eval {:.2}s",
        peer_tps,
        config.epochs,
        peer["train_seconds"].as_f64().unwrap_or(f64::NAN),
        peer["mrr"].as_f64().unwrap_or(f64::NAN),
        peer["hits@10"].as_f64().unwrap_or(f64::NAN),
        peer_eval
    );
    println!(
        "RATIO training throughput stocktake/pykeen = {:.2}x; evaluation speed = {:.2}x; MRR {:.4} vs {:.4}",
        ours_tps / peer_tps,
        peer_eval / ours_eval_seconds,
        ours.both.mrr,
        peer["mrr"].as_f64().unwrap_or(f64::NAN)
    );
    Ok(())
}

/// Time to equal validation MRR in the configuration that reaches published quality (softmax
/// cross-entropy over 128 Bernoulli negatives, dim 128, L1, Adagrad 0.05, batch 512): both sides
/// train with the same settings and threads, are evaluated on the validation split (filtered by
/// train + valid, both directions, realistic ranks) every KGE_Q_EVERY epochs, and report training
/// seconds (evaluation excluded) at each point. The target is the lower of the two best
/// validation MRRs, so both reach it; the ratio is the peer's time to it over ours.
fn quality_part(repo: &Path) -> anyhow::Result<()> {
    let data_path: PathBuf = env("KGE_Q_DATA", repo.join("../shared/data/kg/codex-s"));
    if !data_path.exists() {
        println!("SKIPPED quality part: {} not found", data_path.display());
        return Ok(());
    }
    let threads: usize = env("KGE_THREADS", 2);
    let every: usize = env("KGE_Q_EVERY", 10usize).max(1);
    let config = TrainConfig {
        dim: env("KGE_Q_DIM", 128),
        norm: Norm::L1,
        loss: Loss::Softmax,
        negatives: env("KGE_Q_NEGATIVES", 128),
        sampler: Sampler::Bernoulli,
        batch_size: env("KGE_Q_BATCH", 512),
        epochs: env("KGE_Q_EPOCHS", 100),
        optimizer: Optimizer::Adagrad,
        lr: env("KGE_Q_LR", 0.05),
        eval_every: 0,
        ..TrainConfig::default()
    };
    let data = Dataset::load(&data_path, UnseenPolicy::Drop)?;
    println!(
        "quality: {} ({} entities, {} train / {} valid triples), validation every {every} epochs",
        data_path.display(),
        data.num_entities(),
        data.train.len(),
        data.valid.len()
    );
    println!("hyperparameters: {}", serde_json::to_string(&config)?);
    let known = KnownTriples::new([&data.train[..], &data.valid[..]]);
    // (epoch, training seconds so far, validation MRR)
    let ours: Vec<(usize, f64, f64)> = embed::with_threads(threads, || {
        let mut trainer = Trainer::new(
            config.clone(),
            &data.train,
            data.num_entities(),
            data.num_relations(),
        )
        .expect("valid config");
        let (mut curve, mut seconds) = (Vec::new(), 0.0);
        trainer.run(&data.train, None, |t, rec| {
            seconds += rec.seconds;
            if rec.epoch % every == 0 {
                let mrr = t.evaluate(&data.valid, &known).both.mrr;
                println!(
                    "  stocktake epoch {:>4}  {seconds:>8.1} s  valid MRR {mrr:.4}",
                    rec.epoch
                );
                curve.push((rec.epoch, seconds, mrr));
            }
            ControlFlow::Continue(())
        });
        curve
    })?;
    let python = repo.join("runtime/peers/pykeen/bin/python");
    if env("KGE_PEER", 1) == 0 || !python.exists() {
        println!("SKIPPED PyKEEN: run scripts/install-peers --pykeen first");
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let job = serde_json::json!({
        "threads": threads, "seed": config.seed, "dim": config.dim, "norm": "l1",
        "loss": "softmax", "margin": config.margin, "negatives": config.negatives,
        "sampler": "bernoulli", "batch_size": config.batch_size,
        "epochs": env("KGE_Q_PEER_EPOCHS", config.epochs),
        "optimizer": "adagrad", "lr": config.lr, "eval_every": every,
    });
    let peer = run_peer(&python, repo, &data, tmp.path(), job)?;
    let theirs: Vec<(usize, f64, f64)> = peer["curve"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|p| {
                    (
                        p["epoch"].as_u64().unwrap_or(0) as usize,
                        p["train_seconds"].as_f64().unwrap_or(f64::NAN),
                        p["valid_mrr"].as_f64().unwrap_or(f64::NAN),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    anyhow::ensure!(
        !theirs.is_empty(),
        "PyKEEN returned no validation curve: {peer}"
    );
    println!("| epoch | Stocktake s | Stocktake valid MRR | PyKEEN s | PyKEEN valid MRR |");
    println!("|---|---|---|---|---|");
    for i in 0..ours.len().max(theirs.len()) {
        let cell = |c: &[(usize, f64, f64)]| {
            c.get(i)
                .map_or(" | ".to_string(), |p| format!("{:.1} | {:.4}", p.1, p.2))
        };
        let epoch = ours.get(i).or(theirs.get(i)).map_or(0, |p| p.0);
        println!("| {epoch} | {} | {} |", cell(&ours), cell(&theirs));
    }
    let best = |c: &[(usize, f64, f64)]| c.iter().map(|p| p.2).fold(f64::NAN, f64::max);
    let target = best(&ours).min(best(&theirs));
    let reach = |c: &[(usize, f64, f64)]| c.iter().find(|p| p.2 >= target).copied().unwrap();
    let (a, b) = (reach(&ours), reach(&theirs));
    println!(
        "best valid MRR: stocktake {:.4}, pykeen {:.4}; target {target:.4} reached by stocktake at epoch {} after {:.1} s, by pykeen at epoch {} after {:.1} s",
        best(&ours),
        best(&theirs),
        a.0,
        a.1,
        b.0,
        b.1
    );
    println!(
        "RATIO time to equal validation MRR pykeen/stocktake = {:.2}x; per-epoch training time = {:.2}x",
        b.1 / a.1,
        (theirs.last().unwrap().1 / theirs.last().unwrap().0 as f64)
            / (ours.last().unwrap().1 / ours.last().unwrap().0 as f64)
    );
    Ok(())
}

/// Writes the dataset's splits as TSV into `dir`, runs `benches/kge_peer.py` on `job` (the split
/// paths added) with `threads` for torch, and returns the JSON line it prints last.
fn run_peer(
    python: &Path,
    repo: &Path,
    data: &Dataset,
    dir: &Path,
    mut job: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    for (name, split) in [
        ("train", &data.train),
        ("valid", &data.valid),
        ("test", &data.test),
    ] {
        let path = dir.join(format!("{name}.txt"));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        for t in split.iter() {
            writeln!(
                f,
                "{}\t{}\t{}",
                data.ids.entities.name(t.h).unwrap(),
                data.ids.relations.name(t.r).unwrap(),
                data.ids.entities.name(t.t).unwrap()
            )?;
        }
        f.flush()?;
        job[name] = serde_json::json!(path);
    }
    let threads = job["threads"].as_u64().unwrap_or(2).to_string();
    let job_path = dir.join("job.json");
    std::fs::write(&job_path, serde_json::to_vec(&job)?)?;
    let out = std::process::Command::new(python)
        .arg(repo.join("benches/kge_peer.py"))
        .arg(&job_path)
        .env("OMP_NUM_THREADS", &threads)
        .env("MKL_NUM_THREADS", &threads)
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        anyhow::bail!("PyKEEN failed (exit {})", out.status);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    Ok(serde_json::from_str(stdout.lines().last().unwrap_or("{}"))?)
}

fn latency_part() -> anyhow::Result<()> {
    use rand::SeedableRng;
    use stocktake::embed::index::Sq8Index;
    use stocktake::embed::pq::Pq4Index;
    let n: usize = env("KGE_LATENCY_ENTITIES", 1_000_000);
    let per_client: usize = env("KGE_LATENCY_QUERIES", 400);
    let rerank: usize = env("KGE_RERANK", 100);
    let norms: String = env("KGE_LATENCY_NORMS", "l1".to_string());
    let pq_subs: String = env("KGE_PQ_SUBS", "2".to_string());
    let pq_reranks: String = env("KGE_PQ_RERANK", "400".to_string());
    let baselines = env("KGE_LATENCY_BASELINES", 1usize) != 0;
    let rounds: usize = env("KGE_LATENCY_ROUNDS", 1usize).max(1);
    for norm in norms
        .split(',')
        .map(|s| s.parse::<Norm>().map_err(anyhow::Error::msg))
    {
        let norm = norm?;
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
        let model = TransE::init(n, 10, 100, norm, &mut rng);
        let all = |_: u32| true;
        let everything: stocktake::embed::index::Filter = std::sync::Arc::new(all);
        let exact = |h: u32, r: u32| predict(&model, Direction::Tails, h, r, 10, &[], &all);
        let probes: usize = env("KGE_RECALL_PROBES", 500).max(1);
        if baselines {
            let stats = run_clients(n, per_client, &exact);
            println!(
                "latency ({norm:?}): top-10 tails, {n} entities x 100 dims, exact, {} clients x {per_client} queries: {stats}",
                CLIENTS
            );
            let t = Instant::now();
            let index = Sq8Index::build(&model);
            let build = t.elapsed().as_secs_f64();
            let approx = |h: u32, r: u32| {
                let q = model.tail_query(h, r);
                index.search(&model, &q, 10, rerank, &[], &all)
            };
            let stats = run_clients(n, per_client, &approx);
            let recall10 = mean_recall(n, probes, &exact, &approx);
            println!(
                "latency ({norm:?}): top-10 tails, SQ8 index (rerank {rerank}, built in {build:.1} s, {} MB), {} clients x {per_client} queries: {stats}; recall@10 vs exact over {probes} queries: {:.4}",
                index.bytes() / 1_000_000,
                CLIENTS,
                recall10
            );
        }
        for sub in pq_subs.split(',').filter(|s| !s.is_empty()) {
            let sub: usize = sub.trim().parse()?;
            let t = Instant::now();
            let index = Pq4Index::build(&model, sub, 1);
            let build = t.elapsed().as_secs_f64();
            for pq_rerank in pq_reranks.split(',').filter(|s| !s.is_empty()) {
                let pq_rerank: usize = pq_rerank.trim().parse()?;
                let approx = |h: u32, r: u32| {
                    let q = model.tail_query(h, r);
                    index.search(&model, &q, 10, pq_rerank, &[], &everything)
                };
                let stats = run_clients(n, per_client, &approx);
                // Further rounds of the same clients: the tail of one round moves with whatever
                // else the machine does, so the median p99 over rounds is printed too.
                let mut p99s = vec![stats.p99];
                let mut pooled = stats.all.clone();
                for round in 2..=rounds {
                    let more = run_clients(n, per_client, &approx);
                    println!("latency ({norm:?}): PQ4 (groups of {sub}) round {round}: {more}");
                    p99s.push(more.p99);
                    pooled.extend(&more.all);
                }
                p99s.sort_by(f64::total_cmp);
                pooled.sort_by(f64::total_cmp);
                let pooled_p99 =
                    pooled[((pooled.len() as f64 * 0.99) as usize).min(pooled.len() - 1)];
                let recall10 = mean_recall(n, probes, &exact, &approx);
                println!(
                "latency ({norm:?}): top-10 tails, PQ4 index (groups of {sub}, rerank {pq_rerank}, built in {build:.1} s, {:.1} MB), {} clients x {per_client} queries: {stats}; recall@10 vs exact over {probes} queries: {:.4}",
                index.bytes() as f64 / 1e6,
                CLIENTS,
                recall10
            );
                if rounds > 1 {
                    println!(
                    "latency ({norm:?}): PQ4 (groups of {sub}) p99 over {rounds} rounds: median {:.2} ms, min {:.2} ms, max {:.2} ms; p99 of all {} queries pooled {pooled_p99:.2} ms",
                    p99s[p99s.len() / 2],
                    p99s[0],
                    p99s[p99s.len() - 1],
                    pooled.len()
                );
                }
            }
        }
    }
    Ok(())
}

const CLIENTS: usize = 8;

type Search<'a> = &'a (dyn Fn(u32, u32) -> Vec<embed::predict::Candidate> + Sync);

/// Mean recall@10 of `approx` against `exact` over `probes` fresh random tail queries (the same
/// queries for every index: a fixed seed).
fn mean_recall(n: usize, probes: usize, exact: Search, approx: Search) -> f64 {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
    let total: f64 = (0..probes)
        .map(|_| {
            let (h, r) = (rng.gen_range(0..n as u32), rng.gen_range(0..10));
            stocktake::embed::index::recall(&exact(h, r), &approx(h, r))
        })
        .sum();
    total / probes as f64
}

/// One round of clients: its p99 and the printed summary.
struct Latency {
    p99: f64,
    /// Every query's latency (ms), sorted.
    all: Vec<f64>,
    text: String,
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Runs `CLIENTS` threads of `per_client` random tail queries each; p50, p99 and throughput.
fn run_clients(
    n: usize,
    per_client: usize,
    query: &(dyn Fn(u32, u32) -> Vec<embed::predict::Candidate> + Sync),
) -> Latency {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
    for _ in 0..20 {
        query(rng.gen_range(0..n as u32), 0);
    }
    let t0 = Instant::now();
    let mut lat: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|c| {
                s.spawn(move || {
                    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(100 + c as u64);
                    (0..per_client)
                        .map(|_| {
                            let h = rng.gen_range(0..n as u32);
                            let r = rng.gen_range(0..10);
                            let t = Instant::now();
                            let got = query(h, r);
                            assert_eq!(got.len(), 10);
                            t.elapsed().as_secs_f64() * 1e3
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let wall = t0.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    Latency {
        p99: q(0.99),
        all: lat.clone(),
        text: format!(
            "p50 {:.2} ms, p99 {:.2} ms, {:.0} queries/s (p90 {:.2} ms, p95 {:.2} ms, max {:.2} ms)",
            q(0.50),
            q(0.99),
            lat.len() as f64 / wall,
            q(0.90),
            q(0.95),
            lat[lat.len() - 1]
        ),
    }
}
