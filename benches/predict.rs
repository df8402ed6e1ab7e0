//! Link prediction at 1M entities over HTTP (issue 28): the real `stocktake serve` answering
//! `/api/v1/predict/tails` and `/api/v1/recommend` for a read-role token, so every answer goes
//! through the known-link exclusion, the visibility filter (items of a restricted graph hidden)
//! and, for `recommend`, the range constraint (`st:purchased` → `schema:Product`, 390,000
//! members) — on a trained model and on random embeddings of the same shape.
//!
//! The graph is a synthetic shop of 1,000,000 entities (600,000 users, 390,000 items, 9,000
//! brands, 1,000 categories): items belong to a category (skewed) and one of its brands, users
//! buy mostly from two favourite categories. It is loaded into the catalog (products graph, plus
//! 1% of the items described in a restricted graph) and trained with `stocktake train`
//! (softmax cross-entropy over 32 negatives, 5 epochs); the random model is the trained file with its tables replaced by
//! random unit rows. Each model is served twice — with the index `serve` picks at this size
//! (`auto`: PQ4 with exact re-ranking) and with `search = "exact"` — and the same queries go to
//! both, so recall@10 of the served index against exact search is measured through the API.
//! One purchase of every query user is held out of training and of the catalog: the share found
//! in the user's top 10 (`recommend`) shows whether the model learnt anything.
//!
//! Every answer is checked: 10 results, none a known link of the query, none a hidden item, all
//! products for `recommend`; the bench fails on any violation or failed request.
//!
//! Environment: PRED_USERS (600000), PRED_ITEMS (390000), PRED_EPOCHS (5), PRED_CLIENTS (8),
//! PRED_QUERIES (100 per client and round), PRED_ROUNDS (3), PRED_SEED (7), PRED_MODELS
//! (trained,random), PRED_SEARCHES (exact,auto), PRED_ROUTES (tails,recommend), PRED_RERANK
//! (`[embed] rerank` values to serve the index with, e.g. 40,100; empty: the default).
//!
//! Client and server share this machine's cores: the last column splits the CPU time per query
//! between the server process and this one (8 HTTP clients parsing JSON).

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::env;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

const ST: &str = "https://w3id.org/stocktake/ns#";
const SCHEMA: &str = "http://schema.org/";
const EX: &str = "https://example.org/shop/";
const PRIVATE: &str = "https://example.org/graph/private";
const READ: &str = "st_bench_read_token";
const BRANDS_PER_CATEGORY: usize = 9;
const CATEGORIES: usize = 1_000;

/// The synthetic shop.
struct Shop {
    users: usize,
    items: usize,
    item_category: Vec<u32>,
    item_brand: Vec<u32>,
    /// Training purchases per user.
    bought: Vec<Vec<u32>>,
    /// The held-out purchase of each query user.
    held_out: HashMap<u32, u32>,
    /// Query users, in the order the clients ask.
    queries: Vec<u32>,
}

fn user(u: u32) -> String {
    format!("{EX}user/{u}")
}
fn item(i: u32) -> String {
    format!("{EX}item/{i}")
}
fn brand(b: u32) -> String {
    format!("{EX}brand/{b}")
}
fn category(c: u32) -> String {
    format!("{EX}category/{c}")
}
/// Items of a restricted graph: 1 in 100.
fn hidden_item(i: u32) -> bool {
    i % 100 == 7
}

impl Shop {
    fn generate(users: usize, items: usize, queries: usize, seed: u64) -> Shop {
        let mut rng = StdRng::seed_from_u64(seed);
        // Skewed categories: u² puts most items in the first categories.
        let item_category: Vec<u32> = (0..items)
            .map(|_| {
                let u: f64 = rng.gen();
                ((u * u) * CATEGORIES as f64) as u32
            })
            .collect();
        let item_brand: Vec<u32> = item_category
            .iter()
            .map(|&c| c + CATEGORIES as u32 * rng.gen_range(0..BRANDS_PER_CATEGORY as u32))
            .collect();
        let mut by_category: Vec<Vec<u32>> = vec![Vec::new(); CATEGORIES];
        for (i, &c) in item_category.iter().enumerate() {
            by_category[c as usize].push(i as u32);
        }
        let occupied: Vec<usize> = (0..CATEGORIES)
            .filter(|&c| by_category[c].len() >= 20)
            .collect();
        let mut bought = Vec::with_capacity(users);
        for _ in 0..users {
            let favourites = [
                occupied[rng.gen_range(0..occupied.len())],
                occupied[rng.gen_range(0..occupied.len())],
            ];
            let n = rng.gen_range(2..=6);
            let mut mine: Vec<u32> = Vec::with_capacity(n);
            while mine.len() < n {
                let pick = if rng.gen_bool(0.85) {
                    let pool = &by_category[favourites[rng.gen_range(0..2)]];
                    // Popular items first within a category.
                    let u: f64 = rng.gen();
                    pool[((u * u * u) * pool.len() as f64) as usize]
                } else {
                    rng.gen_range(0..items as u32)
                };
                if !mine.contains(&pick) {
                    mine.push(pick);
                }
            }
            bought.push(mine);
        }
        // Query users: distinct, visible; one purchase (of a visible item) held out.
        let mut held_out = HashMap::new();
        let mut order = Vec::with_capacity(queries);
        while order.len() < queries {
            let u = rng.gen_range(0..users as u32);
            if held_out.contains_key(&u) {
                continue;
            }
            let mine = &mut bought[u as usize];
            if let Some(pos) = mine.iter().position(|&i| !hidden_item(i)) {
                held_out.insert(u, mine.swap_remove(pos));
                order.push(u);
            }
        }
        Shop {
            users,
            items,
            item_category,
            item_brand,
            bought,
            held_out,
            queries: order,
        }
    }

    /// Share of the answered items whose category the user bought from in training: what a model
    /// that learnt the shop's structure puts first (random embeddings: about the categories'
    /// share of items).
    fn in_bought_categories(&self, answers: &HashMap<u32, Vec<u32>>) -> f64 {
        let (mut inside, mut total) = (0usize, 0usize);
        for (u, items) in answers {
            let cats: HashSet<u32> = self.bought[*u as usize]
                .iter()
                .map(|&i| self.item_category[i as usize])
                .collect();
            for &i in items.iter().filter(|&&i| i != u32::MAX) {
                total += 1;
                inside += usize::from(cats.contains(&self.item_category[i as usize]));
            }
        }
        inside as f64 / total.max(1) as f64
    }

    fn entities(&self) -> usize {
        self.users + self.items + CATEGORIES * (1 + BRANDS_PER_CATEGORY)
    }

    /// train.txt for `stocktake train` and the catalog's N-Triples (products and private).
    fn write(&self, dir: &Path) -> std::io::Result<(PathBuf, PathBuf, PathBuf)> {
        let tsv = dir.join("tsv");
        std::fs::create_dir_all(&tsv)?;
        let (train_path, products_path, private_path) = (
            tsv.join("train.txt"),
            dir.join("products.nt"),
            dir.join("private.nt"),
        );
        let mut train = BufWriter::new(std::fs::File::create(&train_path)?);
        let mut nt = BufWriter::new(std::fs::File::create(&products_path)?);
        let mut private = BufWriter::new(std::fs::File::create(&private_path)?);
        let (purchased, has_brand, has_category) = (
            format!("{ST}purchased"),
            format!("{SCHEMA}brand"),
            format!("{SCHEMA}category"),
        );
        for i in 0..self.items as u32 {
            let (it, b, c) = (
                item(i),
                brand(self.item_brand[i as usize]),
                category(self.item_category[i as usize]),
            );
            writeln!(train, "{it}\t{has_brand}\t{b}\n{it}\t{has_category}\t{c}")?;
            writeln!(
                nt,
                "<{it}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{SCHEMA}Product> .\n\
                 <{it}> <{has_brand}> <{b}> .\n<{it}> <{has_category}> <{c}> .\n\
                 <{it}> <http://www.w3.org/2000/01/rdf-schema#label> \"item {i}\"@en ."
            )?;
            if hidden_item(i) {
                writeln!(private, "<{it}> <{ST}note> \"withheld by its seller\" .")?;
            }
        }
        for (u, mine) in self.bought.iter().enumerate() {
            let us = user(u as u32);
            for &i in mine {
                let it = item(i);
                writeln!(train, "{us}\t{purchased}\t{it}")?;
                writeln!(nt, "<{us}> <{purchased}> <{it}> .")?;
            }
        }
        train.flush()?;
        nt.flush()?;
        private.flush()?;
        Ok((tsv, products_path, private_path))
    }
}

fn run_ok(cmd: &mut Command, what: &str) {
    let started = Instant::now();
    let out = cmd.output().expect("spawn stocktake");
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{what}: {:.1} s", started.elapsed().as_secs_f64());
}

/// The trained file with its tables replaced by random unit rows (as `TransE::init` makes them).
fn randomise(trained: &Path, out: &Path, seed: u64) {
    use stocktake::kg::{Checkpoint, Data};
    let mut ckpt = Checkpoint::load(trained).expect("load trained model");
    let mut rng = StdRng::seed_from_u64(seed);
    for t in &mut ckpt.tensors {
        if t.name != "entities" && t.name != "relations" {
            continue;
        }
        let dim = *t.shape.last().unwrap();
        let Data::F32(values) = &mut t.data else {
            panic!("{} is not f32", t.name)
        };
        for row in values.chunks_mut(dim) {
            row.iter_mut()
                .for_each(|v| *v = rng.gen_range(-1.0f32..1.0));
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            row.iter_mut().for_each(|v| *v /= norm);
        }
    }
    ckpt.save(out).expect("save random model");
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    /// CPU seconds (user + system) the server process has used so far.
    fn cpu_seconds(&self) -> f64 {
        common::cpu_seconds_of(&self.child.id().to_string())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        common::stop(&mut self.child);
    }
}

fn serve(bin: &Path, work: &Path, model: &Path, search: &str, rerank: Option<usize>) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = work.join(format!("serve-{search}.toml"));
    let mut text = config_text(work, Some((model, search)));
    if let Some(r) = rerank {
        text.push_str(&format!("rerank = {r}\n"));
    }
    std::fs::write(&config, text).unwrap();
    let child = Command::new(bin)
        .args(["--config", config.to_str().unwrap(), "serve", "--bind"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start stocktake serve");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    // Up, and the model loaded (with its index) before anything is timed.
    let client = reqwest::blocking::Client::new();
    let started = Instant::now();
    loop {
        let r = client
            .get(format!("{}/api/v1/predict/model", server.base))
            .bearer_auth(READ)
            .send();
        if r.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "server did not load the model"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "  serve ({search}): model loaded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    server
}

fn config_text(work: &Path, embed: Option<(&Path, &str)>) -> String {
    let mut text = format!(
        "data = {:?}\n\n[access]\nrestricted_graphs = [{PRIVATE:?}]\n\n[[tokens]]\nname = \"bench\"\nrole = \"read\"\nsha256 = \"{}\"\n",
        work.join("store"),
        stocktake::privacy::hash_token(READ)
    );
    if let Some((model, search)) = embed {
        text.push_str(&format!(
            "\n[embed]\nmodel = {model:?}\nsearch = {search:?}\nretrain_fraction = 0.0\n"
        ));
    }
    text
}

#[derive(Clone, Copy, PartialEq)]
enum Route {
    Tails,
    Recommend,
}

impl Route {
    fn name(self) -> &'static str {
        match self {
            Route::Tails => "predict/tails",
            Route::Recommend => "recommend",
        }
    }
    fn path(self, u: u32) -> String {
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        match self {
            Route::Tails => format!(
                "/api/v1/predict/tails?head={}&relation={}&k=10",
                enc(&user(u)),
                enc(&format!("{ST}purchased"))
            ),
            Route::Recommend => format!("/api/v1/recommend?user={}&k=10", enc(&user(u))),
        }
    }
}

/// One round: every client asks its share of `queries`; latencies and answers (item numbers).
fn round(
    server: &Server,
    route: Route,
    queries: &[u32],
    clients: usize,
) -> (
    Vec<Duration>,
    HashMap<u32, Vec<u32>>,
    &'static str,
    Duration,
) {
    let started = Instant::now();
    let results: Vec<Vec<(u32, Duration, Value)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let mine: Vec<u32> = queries.iter().skip(c).step_by(clients).copied().collect();
                let base = server.base.clone();
                s.spawn(move || {
                    let client = reqwest::blocking::Client::new();
                    mine.into_iter()
                        .map(|u| {
                            let t = Instant::now();
                            let resp = client
                                .get(format!("{base}{}", route.path(u)))
                                .bearer_auth(READ)
                                .send()
                                .expect("request");
                            let status = resp.status();
                            let body: Value = resp.json().expect("JSON answer");
                            let took = t.elapsed();
                            assert!(status.is_success(), "{} {u}: {status} {body}", route.name());
                            (u, took, body)
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wall = started.elapsed();
    let mut latencies = Vec::new();
    let mut answers = HashMap::new();
    let mut search = "";
    for (u, took, body) in results.into_iter().flatten() {
        latencies.push(took);
        search = match body["search"].as_str() {
            Some("pq4") => "pq4",
            Some("sq8") => "sq8",
            Some("exact") => "exact",
            other => panic!("answer names no search: {other:?}"),
        };
        let items: Vec<u32> = body["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| {
                let e = r["entity"].as_str().unwrap();
                e.strip_prefix(&format!("{EX}item/"))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(u32::MAX)
            })
            .collect();
        answers.insert(u, items);
    }
    (latencies, answers, search, wall)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

/// Checks every answer: 10 results, no known link, no hidden item; items only for `recommend`.
fn check(shop: &Shop, route: Route, answers: &HashMap<u32, Vec<u32>>) {
    for (u, items) in answers {
        assert_eq!(items.len(), 10, "user {u}: {} results", items.len());
        let known: HashSet<u32> = shop.bought[*u as usize].iter().copied().collect();
        for &i in items {
            if route == Route::Recommend {
                assert!(i != u32::MAX, "recommend for user {u} answered a non-item");
            }
            if i != u32::MAX {
                assert!(
                    !known.contains(&i),
                    "user {u}: known purchase item {i} answered"
                );
                assert!(
                    !hidden_item(i),
                    "user {u}: hidden item {i} answered to a read user"
                );
            }
        }
    }
}

fn main() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_stocktake"));
    let users: usize = env("PRED_USERS", 600_000);
    let items: usize = env("PRED_ITEMS", 390_000);
    let epochs: usize = env("PRED_EPOCHS", 5);
    let clients: usize = env("PRED_CLIENTS", 8);
    let per_client: usize = env("PRED_QUERIES", 100);
    let rounds: usize = env("PRED_ROUNDS", 3).max(1);
    let seed: u64 = env("PRED_SEED", 7);

    let mut work = tempfile::tempdir().expect("temp dir");
    if std::env::var_os("PRED_KEEP").is_some() {
        work.disable_cleanup(true);
        println!("keeping {}", work.path().display());
    }
    let w = work.path();
    let started = Instant::now();
    let shop = Shop::generate(users, items, clients * per_client, seed);
    let (tsv, products, private) = shop.write(w).expect("write the shop");
    let lines = |p: &Path| std::fs::read_to_string(p).unwrap().lines().count();
    println!(
        "shop: {} entities, {} training triples, {} hidden items, {} query users; written in {:.1} s",
        shop.entities(),
        lines(&tsv.join("train.txt")),
        (0..items as u32).filter(|&i| hidden_item(i)).count(),
        shop.queries.len(),
        started.elapsed().as_secs_f64()
    );

    let config = w.join("load.toml");
    std::fs::write(&config, config_text(w, None)).unwrap();
    let cfg = config.to_str().unwrap();
    for (file, graph, what) in [
        (&products, "products", "load products graph"),
        (&private, PRIVATE, "load restricted graph"),
    ] {
        run_ok(
            Command::new(&bin)
                .args(["--config", cfg, "load", "--graph", graph])
                .arg(file),
            what,
        );
    }
    let trained = w.join("trained.stk");
    let epochs_arg = epochs.to_string();
    run_ok(
        Command::new(&bin).args([
            "--config",
            cfg,
            "train",
            "--tsv",
            tsv.to_str().unwrap(),
            "--out",
            trained.to_str().unwrap(),
            "--no-catalog",
            "--epochs",
            &epochs_arg,
            "--eval-every",
            "0",
            // The margin loss with one negative drives its loss to ~0 here without learning
            // anything that generalises (validation MRR 0.0007 on a 100,000-entity shop after
            // 30 epochs); cross-entropy over negatives does (0.05 with 64 negatives).
            "--loss",
            "softmax",
            "--negatives",
            "32",
            "--batch-size",
            "512",
        ]),
        "train (dim 100, L1, softmax cross-entropy over 32 negatives, Adagrad 0.05)",
    );
    let random = w.join("random.stk");
    randomise(&trained, &random, seed);

    println!(
        "\n{clients} clients x {per_client} queries per round, {rounds} rounds, read token (exclusion + visibility on)"
    );
    println!("| model | route | search | p50 ms | p95 ms | p99 ms (pooled) | median p99 of rounds | queries/s | recall@10 vs exact | held-out hit@10 | top-10 items in the user's categories | CPU ms per query, server / client |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let models: String = env("PRED_MODELS", "trained,random".to_string());
    let searches: String = env("PRED_SEARCHES", "exact,auto".to_string());
    let routes: String = env("PRED_ROUTES", "tails,recommend".to_string());
    // Re-ranking budgets per result for the index (`[embed] rerank`); empty: the default.
    let reranks: Vec<Option<usize>> = match env("PRED_RERANK", String::new()).as_str() {
        "" => vec![None],
        list => list.split(',').map(|r| r.trim().parse().ok()).collect(),
    };
    for (model_name, model) in [("trained", &trained), ("random", &random)] {
        if !models.contains(model_name) {
            continue;
        }
        let mut exact_answers: HashMap<&str, HashMap<u32, Vec<u32>>> = HashMap::new();
        let runs = ["exact", "auto"]
            .into_iter()
            .filter(|s| searches.contains(s))
            .flat_map(|s| match s {
                "auto" => reranks.iter().map(|&r| (s, r)).collect::<Vec<_>>(),
                _ => vec![(s, None)],
            });
        for (search, rerank) in runs {
            let server = serve(&bin, w, model, search, rerank);
            for route in [Route::Tails, Route::Recommend]
                .into_iter()
                .filter(|r| routes.contains(r.name().trim_start_matches("predict/")))
            {
                // Warm-up: the range members of `recommend` are computed on first use.
                round(&server, route, &shop.queries[..clients], clients);
                let mut all = Vec::new();
                let mut p99s = Vec::new();
                let mut qps = Vec::new();
                let mut first = None;
                let mut used = "";
                let (cpu_server, cpu_client) = (server.cpu_seconds(), common::cpu_seconds());
                for r in 0..rounds {
                    let (mut lat, answers, s, wall) = round(&server, route, &shop.queries, clients);
                    check(&shop, route, &answers);
                    lat.sort();
                    p99s.push(pct(&lat, 0.99));
                    qps.push(lat.len() as f64 / wall.as_secs_f64());
                    all.extend(lat);
                    used = s;
                    if r == 0 {
                        first = Some(answers);
                    }
                }
                let queries = (rounds * shop.queries.len()) as f64;
                let cpu = format!(
                    "{:.2} / {:.2}",
                    (server.cpu_seconds() - cpu_server) * 1e3 / queries,
                    (common::cpu_seconds() - cpu_client) * 1e3 / queries
                );
                let answers = first.unwrap();
                all.sort();
                p99s.sort_by(f64::total_cmp);
                let hits = answers
                    .iter()
                    .filter(|(u, items)| items.contains(&shop.held_out[u]))
                    .count() as f64
                    / answers.len() as f64;
                let in_categories = shop.in_bought_categories(&answers);
                let recall = match exact_answers
                    .get(route.name())
                    .filter(|_| search != "exact")
                {
                    Some(exact) => {
                        let found: usize = answers
                            .iter()
                            .map(|(u, items)| items.iter().filter(|i| exact[u].contains(i)).count())
                            .sum();
                        format!("{:.4}", found as f64 / (10 * answers.len()) as f64)
                    }
                    None if search == "exact" => {
                        exact_answers.insert(route.name(), answers);
                        "1 (is exact)".into()
                    }
                    None => "not measured".into(),
                };
                println!(
                    "| {model_name} | {} | {used}{} | {:.2} | {:.2} | {:.2} | {:.2} ({:.2}-{:.2}) | {:.0}-{:.0} | {recall} | {hits:.3} | {in_categories:.3} | {cpu} |",
                    route.name(),
                    rerank.map_or(String::new(), |r| format!(" (rerank {r})")),
                    pct(&all, 0.50),
                    pct(&all, 0.95),
                    pct(&all, 0.99),
                    p99s[p99s.len() / 2],
                    p99s[0],
                    p99s[p99s.len() - 1],
                    qps.iter().copied().fold(f64::INFINITY, f64::min),
                    qps.iter().copied().fold(0.0, f64::max),
                );
            }
        }
    }
}
