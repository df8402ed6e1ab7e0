//! BSBM explore benchmark: Stocktake's `/sparql` against `oxigraph serve` (the same Oxigraph
//! version as our crate), same data, same client, same query mixes, 1 and 4 concurrent clients,
//! alternating runs; plus bulk-load time `stocktake load` against `oxigraph load`.
//!
//! Query mixes follow `queries/explore/querymix.txt` (minus `ignoreQueries.txt`); parameters are
//! drawn afresh for every round (from a fixed seed, the same mixes for both servers within a
//! round) from the generator's parameter pools in `td_data_pc1000.tgz` (product
//! type hierarchy with features, product/offer/review counts and their producer/vendor/site
//! ranges, the current date and the label dictionary), as the BSBM test driver does. Before a
//! round is timed, every one of its queries is asked of both servers and the answers must be
//! the same (solutions as multisets, graphs as sets of triples): both sides do the same work.
//!
//! Run: `./scripts/install-peers && cargo bench --bench bsbm` (env: `BSBM_MIXES`, default 40 per
//! run; `BSBM_LOAD_ROUNDS`, default 3; `BSBM_ROUNDS`, default 4 alternating query rounds;
//! `BSBM_NO_QUARANTINE` to leave out the restricted record; `BSBM_UNION` to load the data into a
//! named graph and query the union of the graphs on both servers, which puts our read-only user
//! on the explicit-dataset path while the restricted graph is present; `STOCKTAKE_SHARED_DATA`). Skips with a message when the data or the peer is missing.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod answers;
#[path = "../common/mod.rs"]
mod common;

use answers::compare_answers;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const INST: &str = "http://www4.wiwiss.fu-berlin.de/bizer/bsbm/v01/instances/";
const SEED: u64 = 808_080;

struct Pools {
    /// Leaf product types: (nr, features of the type and its ancestors).
    leaves: Vec<(i32, Vec<i32>)>,
    producer_of_product: Vec<i32>,
    vendor_of_offer: Vec<i32>,
    site_of_review: Vec<i32>,
    product_count: i32,
    review_count: i32,
    offer_count: i32,
    current_date: String,
    words: Vec<String>,
}

fn int_array(v: &jaded::Value) -> Vec<i32> {
    v.array()
        .unwrap_or_default()
        .iter()
        .filter_map(|x| match x {
            jaded::Value::Object(o) => match o.get_field("value") {
                Some(jaded::Value::Primitive(jaded::PrimitiveType::Int(i))) => Some(*i),
                _ => None,
            },
            jaded::Value::Primitive(jaded::PrimitiveType::Int(i)) => Some(*i),
            _ => None,
        })
        .collect()
}

fn int_field(o: &jaded::ObjectData, name: &str) -> i32 {
    match o.get_field(name) {
        Some(jaded::Value::Primitive(jaded::PrimitiveType::Int(i))) => *i,
        other => panic!("field {name}: {other:?}"),
    }
}

fn features_of(pt: &jaded::ObjectData) -> Vec<i32> {
    let mut out = Vec::new();
    let mut node = Some(pt);
    while let Some(n) = node {
        if let Some(jaded::Value::Object(vector)) = n.get_field("features") {
            let count = int_field(vector, "elementCount") as usize;
            let items = int_array(vector.get_field("elementData").expect("elementData"));
            out.extend(items.into_iter().take(count));
        }
        node = n.get_field("parent").and_then(|p| p.object_data());
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn read_pools(tgz: &Path) -> Pools {
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(tgz).unwrap(),
    ));
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry
            .path()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let mut buf = Vec::new();
        entry.read_to_end(&mut buf).unwrap();
        files.insert(name, buf);
    }
    let parser =
        |name: &str| jaded::Parser::new(std::io::Cursor::new(files[name].clone())).unwrap();

    let mut pth = parser("pth.dat");
    let leaves_content = pth.read().unwrap();
    let leaves = leaves_content
        .value()
        .and_then(|v| v.array())
        .unwrap()
        .iter()
        .filter_map(|v| v.object_data())
        .map(|pt| (int_field(pt, "nr"), features_of(pt)))
        .collect();

    let first_array = |name: &str| {
        let mut p = parser(name);
        let c = p.read().unwrap();
        int_array(c.value().unwrap())
    };
    let producer_of_product = first_array("pp.dat");
    let vendor_of_offer = first_array("vo.dat");
    let site_of_review = first_array("rr.dat");

    let mut cdlw = parser("cdlw.dat");
    let mut ints = Vec::new();
    let mut date_ms = None;
    let mut words = Vec::new();
    while let Ok(content) = cdlw.read() {
        match content {
            jaded::Content::Block(bytes) => {
                for chunk in bytes.chunks_exact(4) {
                    ints.push(i32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
                }
            }
            jaded::Content::Object(jaded::Value::Object(o))
                if o.class_name().contains("Calendar") =>
            {
                if let Some(jaded::Value::Primitive(jaded::PrimitiveType::Long(ms))) =
                    o.get_field("time")
                {
                    date_ms = Some(*ms);
                }
            }
            jaded::Content::Object(jaded::Value::Object(o))
                if o.class_name().contains("HashMap") =>
            {
                let mut it = o.get_annotation(0).expect("HashMap data");
                let _buckets = it.read_i32().unwrap();
                let size = it.read_i32().unwrap();
                for _ in 0..size {
                    let key = it.read_object().unwrap();
                    let _value = it.read_object().unwrap();
                    if let Some(s) = key.string() {
                        words.push(s.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    words.sort();
    let date = chrono::DateTime::from_timestamp_millis(date_ms.expect("current date")).unwrap();
    Pools {
        leaves,
        producer_of_product,
        vendor_of_offer,
        site_of_review,
        product_count: ints[0],
        review_count: ints[1],
        offer_count: ints[2],
        current_date: format!(
            "\"{}\"^^<http://www.w3.org/2001/XMLSchema#dateTime>",
            date.format("%Y-%m-%dT00:00:00")
        ),
        words,
    }
}

/// Index of the first cumulative bound ≥ nr (Java's `Arrays.binarySearch` insertion point).
fn owner(bounds: &[i32], nr: i32) -> usize {
    bounds.partition_point(|b| *b < nr)
}

struct Template {
    text: String,
    params: Vec<(String, String)>,
}

fn templates(dir: &Path) -> HashMap<u32, Template> {
    let mut out = HashMap::new();
    for i in 1..=12 {
        let text = std::fs::read_to_string(dir.join(format!("query{i}.txt"))).unwrap();
        let desc = std::fs::read_to_string(dir.join(format!("query{i}desc.txt"))).unwrap();
        let params = desc
            .lines()
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| *k != "QueryType")
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        out.insert(i, Template { text, params });
    }
    out
}

fn instantiate(t: &Template, pools: &Pools, rng: &mut StdRng) -> String {
    let mut text = t.text.clone();
    let (pt_nr, features) = &pools.leaves[rng.gen_range(0..pools.leaves.len())];
    let mut feature_pool = features.clone();
    for (name, kind) in &t.params {
        let value = match kind.as_str() {
            "ProductTypeURI" => format!("<{INST}ProductType{pt_nr}>"),
            "ProductFeatureURI" => {
                let i = rng.gen_range(0..feature_pool.len());
                format!("<{INST}ProductFeature{}>", feature_pool.swap_remove(i))
            }
            "ProductPropertyNumericValue" => rng.gen_range(1..=500).to_string(),
            "ProductURI" => {
                let nr = rng.gen_range(1..=pools.product_count);
                let producer = owner(&pools.producer_of_product, nr);
                format!("<{INST}dataFromProducer{producer}/Product{nr}>")
            }
            "OfferURI" => {
                let nr = rng.gen_range(1..=pools.offer_count);
                let vendor = owner(&pools.vendor_of_offer, nr);
                format!("<{INST}dataFromVendor{vendor}/Offer{nr}>")
            }
            "ReviewURI" => {
                let nr = rng.gen_range(1..=pools.review_count);
                let site = owner(&pools.site_of_review, nr);
                format!("<{INST}dataFromRatingSite{site}/Review{nr}>")
            }
            "CurrentDate" => pools.current_date.clone(),
            "Dictionary1" => pools.words[rng.gen_range(0..pools.words.len())].clone(),
            "CountryURI" => continue,
            other => panic!("unknown parameter type {other}"),
        };
        text = text.replace(&format!("%{name}%"), &value);
    }
    text
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_ready(url: &str) {
    let client = reqwest::blocking::Client::new();
    for _ in 0..300 {
        if client.get(url).send().is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{url} did not come up");
}

struct Server {
    child: Child,
    endpoint: String,
    token: Option<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        common::stop(&mut self.child);
    }
}

/// Runs `mixes` (queries per mix) with `clients` threads; returns wall time and failed requests.
fn run_mixes(server: &Server, mixes: &[Vec<String>], clients: usize) -> (Duration, usize) {
    let started = Instant::now();
    let chunks: Vec<Vec<Vec<String>>> = (0..clients)
        .map(|c| mixes.iter().skip(c).step_by(clients).cloned().collect())
        .collect();
    let failures: usize = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let endpoint = server.endpoint.clone();
                let token = server.token.clone();
                s.spawn(move || {
                    let client = reqwest::blocking::Client::new();
                    let mut failures = 0;
                    for mix in chunk {
                        for q in mix {
                            let mut req = client
                                .post(&endpoint)
                                .header("content-type", "application/sparql-query")
                                .header(
                                    "accept",
                                    "application/sparql-results+json, application/n-triples;q=0.9",
                                )
                                .body(q);
                            if let Some(t) = &token {
                                req = req.bearer_auth(t);
                            }
                            match req
                                .send()
                                .and_then(|r| r.error_for_status())
                                .and_then(|r| r.bytes())
                            {
                                Ok(_) => {}
                                Err(_) => failures += 1,
                            }
                        }
                    }
                    failures
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    (started.elapsed(), failures)
}

/// The named graph the data goes into under `BSBM_UNION`.
const BSBM_GRAPH: &str = "http://example.org/bsbm";

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let data = std::env::var_os("STOCKTAKE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let bsbm = data.join("rdf/bsbm");
    let peer = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("runtime/peers/oxigraph");
    if !bsbm.is_dir() || !peer.exists() {
        eprintln!(
            "SKIPPED: needs {} and {} (run ./scripts/install-peers)",
            bsbm.display(),
            peer.display()
        );
        return;
    }
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_stocktake"));
    let nt = bsbm.join("bsbm_pc1000.nt.gz");
    // BSBM_UNION: the data goes into a named graph and both servers query the union of the graphs
    // (`[catalog] union_default_graph`, `oxigraph serve --union-default-graph`). With the
    // restricted quarantine graph present, every query of our read-only user then takes the
    // explicit-dataset path (the default graph plus each visible named graph) instead of
    // Oxigraph's default dataset.
    let union = std::env::var_os("BSBM_UNION").is_some();
    let per_run: usize = std::env::var("BSBM_MIXES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let work = tempfile::tempdir().unwrap();

    // --- Bulk load, alternating, fresh directories each round.
    let load_rounds: usize = std::env::var("BSBM_LOAD_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut load_ours = Vec::new();
    let mut load_peer = Vec::new();
    for round in 0..load_rounds {
        // One timed `load` of the BSBM file, into the named graph under BSBM_UNION.
        let timed = |program: &Path, args: &[&str]| {
            let t = Instant::now();
            let st = Command::new(program)
                .args(args)
                .args(
                    union
                        .then_some(["--graph", BSBM_GRAPH])
                        .into_iter()
                        .flatten(),
                )
                .stderr(Stdio::null())
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(st.success(), "{} load failed", program.display());
            t.elapsed()
        };
        let file = nt.to_str().unwrap();
        let run_ours = |dir: &Path| timed(&ours, &["--data", dir.to_str().unwrap(), "load", file]);
        let run_peer = |dir: &Path| {
            timed(
                &peer,
                &["load", "--location", dir.to_str().unwrap(), "--file", file],
            )
        };
        let (a, b) = (
            work.path().join(format!("ours{round}")),
            work.path().join(format!("peer{round}")),
        );
        if round % 2 == 0 {
            load_ours.push(run_ours(&a));
            load_peer.push(run_peer(&b));
        } else {
            load_peer.push(run_peer(&b));
            load_ours.push(run_ours(&a));
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (lo, lp) = (median(&mut load_ours), median(&mut load_peer));
    println!(
        "bulk load bsbm_pc1000 (371,911 triples), median of {load_rounds}: stocktake {:.2} s, oxigraph {:.2} s, ratio (oxigraph time / ours) {:.3}",
        lo.as_secs_f64(),
        lp.as_secs_f64(),
        lp.as_secs_f64() / lo.as_secs_f64()
    );

    // A deployed catalog has restricted data (the quarantine graph); put one record there so our
    // server runs its visibility policy as it would in production.
    let with_quarantine = std::env::var_os("BSBM_NO_QUARANTINE").is_none();
    let quarantined = work.path().join("quarantined.nt");
    std::fs::write(
        &quarantined,
        "<http://example.org/rec1> <http://example.org/reason> \"bad price\" .\n",
    )
    .unwrap();
    if with_quarantine {
        let st = Command::new(&ours)
            .args([
                "--data",
                work.path().join("ours0").to_str().unwrap(),
                "load",
                quarantined.to_str().unwrap(),
                "--graph",
                "quarantine",
            ])
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        // The same record goes into the peer's store, so both serve identical data.
        let st = Command::new(&peer)
            .args([
                "load",
                "--location",
                work.path().join("peer0").to_str().unwrap(),
                "--file",
                quarantined.to_str().unwrap(),
            ])
            .args(["--graph", "http://stocktake.local/graph/quarantine"])
            .stderr(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
    }

    // --- Servers on the round-0 stores. Ours with a read token (the normal, policy-checked path).
    let token = "st_bench_read_token";
    let config = work.path().join("stocktake.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nquery_timeout_secs = 60\n\n[catalog]\nunion_default_graph = {union}\n\n[[tokens]]\nname = \"bench\"\nrole = \"read\"\nsha256 = \"{}\"\n",
            stocktake::privacy::hash_token(token)
        ),
    )
    .unwrap();
    let (p1, p2) = (free_port(), free_port());
    let ours_server = Server {
        child: Command::new(&ours)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "--data",
                work.path().join("ours0").to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
            ])
            .args(["serve", "--bind", &format!("127.0.0.1:{p1}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        endpoint: format!("http://127.0.0.1:{p1}/sparql"),
        token: Some(token.into()),
    };
    let peer_server = Server {
        child: Command::new(&peer)
            .args([
                "serve",
                "--location",
                work.path().join("peer0").to_str().unwrap(),
                "--bind",
                &format!("127.0.0.1:{p2}"),
            ])
            .args(union.then_some("--union-default-graph"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        endpoint: format!("http://127.0.0.1:{p2}/query"),
        token: None,
    };
    wait_ready(&format!("http://127.0.0.1:{p1}/healthz"));
    wait_ready(&format!("http://127.0.0.1:{p2}/"));

    // --- Query mixes.
    let explore = bsbm.join("queries/explore");
    let templates = templates(&explore);
    let mix: Vec<u32> = std::fs::read_to_string(explore.join("querymix.txt"))
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let ignored: Vec<u32> = std::fs::read_to_string(explore.join("ignoreQueries.txt"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    let pools = read_pools(&bsbm.join("td_data_pc1000.tgz"));
    let mut rng = StdRng::seed_from_u64(SEED);
    let make = |n: usize, rng: &mut StdRng| -> Vec<Vec<String>> {
        (0..n)
            .map(|_| {
                mix.iter()
                    .filter(|q| !ignored.contains(q))
                    .map(|q| instantiate(&templates[q], &pools, rng))
                    .collect()
            })
            .collect()
    };
    let warmup = make(10, &mut rng);
    let measured = make(per_run, &mut rng);
    println!(
        "query mix: {} queries per mix ({} ignored), {} mixes per run, seed {SEED}",
        measured[0].len(),
        ignored.len(),
        per_run
    );
    for server in [&ours_server, &peer_server] {
        let (_, failures) = run_mixes(server, &warmup, 4);
        assert_eq!(failures, 0, "warm-up failures on {}", server.endpoint);
    }
    // Same work on both sides: every warm-up and measured query must get the same answer from
    // both servers (solutions as multisets, graphs as sets of triples).
    let (mut asked, mut differ) = compare_answers(&ours_server, &peer_server, &warmup);
    let (a, d) = compare_answers(&ours_server, &peer_server, &measured);
    (asked, differ) = (asked + a, differ + d);
    println!("answers compared on {asked} queries: {differ} differ");
    assert_eq!(differ, 0, "the two servers answered differently");
    // Rounds alternate which server goes first; each round's pair of runs gives one ratio, and
    // the spread of those ratios shows how much of a difference is noise.
    let rounds: usize = std::env::var("BSBM_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    for clients in [1usize, 4] {
        let (mut t_ours, mut t_peer) = (Duration::ZERO, Duration::ZERO);
        let mut ratios = Vec::new();
        for round in 0..rounds {
            let (mut r_ours, mut r_peer) = (Duration::ZERO, Duration::ZERO);
            // Fresh parameters every round (as the BSBM driver draws them), the same for both
            // servers within the round; the first round uses `measured`, checked above.
            let fresh;
            let measured = if round == 0 {
                &measured
            } else {
                fresh = make(per_run, &mut rng);
                let (asked, differ) = compare_answers(&ours_server, &peer_server, &fresh);
                assert_eq!(
                    differ, 0,
                    "round {round}: {differ} of {asked} answers differ"
                );
                &fresh
            };
            let order: [(&Server, bool); 2] = if round % 2 == 0 {
                [(&ours_server, true), (&peer_server, false)]
            } else {
                [(&peer_server, false), (&ours_server, true)]
            };
            for (server, is_ours) in order {
                let (t, failures) = run_mixes(server, measured, clients);
                assert_eq!(failures, 0, "failed requests on {}", server.endpoint);
                if is_ours {
                    r_ours += t;
                } else {
                    r_peer += t;
                }
            }
            ratios.push(r_peer.as_secs_f64() / r_ours.as_secs_f64());
            t_ours += r_ours;
            t_peer += r_peer;
        }
        let qmph = |t: Duration| (rounds * per_run) as f64 * 3600.0 / t.as_secs_f64();
        ratios.sort_by(f64::total_cmp);
        println!(
            "{clients} client(s): stocktake {:.0} QMpH, oxigraph serve {:.0} QMpH, ratio {:.3}; \
             per-round ratios: median {:.3}, min {:.3}, max {:.3} ({rounds} rounds)",
            qmph(t_ours),
            qmph(t_peer),
            qmph(t_ours) / qmph(t_peer),
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1]
        );
    }
}
