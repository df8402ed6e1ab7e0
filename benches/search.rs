//! Search (issue 23): `/api/v1/search` against the SPARQL a user would write today
//! (`FILTER(CONTAINS(LCASE(?title), "…"))`, and `REGEX(…, "i")`) on the same server, over
//! HTTP, on the demo store and on 1,000,000 product titles; and the workbench's pages on the
//! demo store.
//!
//! Titles: the 11,487 real product titles of the two Chinese e-commerce NER sets in
//! `../shared/data/ner` (Taobao, Jie et al. 2019; Ding et al. 2019), recombined to the size
//! asked: title i is real title i mod 11,487, a fragment (3–12 characters) of another real
//! title, and a model code (`AB-123`). Loaded into the products graph with `stocktake load`;
//! `stocktake serve` builds the index at start (timed, with the server's memory).
//!
//! Queries: substrings of 2–3 characters drawn from the titles at random (so frequent and rare
//! ones both occur), Latin words of 3+ letters from the titles, and a few fixed everyday ones.
//! Each runs as a search (first page of 20, ranked, with the total) `SEARCH_REPS` times, as
//! the SPARQL first page (`LIMIT 20`, unranked, no total) and as the full SPARQL answer (what
//! a ranked page with a total needs), CONTAINS and REGEX. Recall: the search's full answer
//! (paged through the API, 100 at a time, no cap) against the exact CONTAINS answer.
//!
//! Environment: SEARCH_PARTS (demo,million,pages), SEARCH_N (1000000), SEARCH_QUERIES (40),
//! SEARCH_REPS (20), SEARCH_SEED (11), SEARCH_NER (../shared/data/ner),
//! SEARCH_DEMO_DATA (a store made by `stocktake demo --no-serve`; else one is made).

mod common;

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::env;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

const READ: &str = "st_bench_read_token";

/// Reads the NER sets' sentences (one character per line, a blank line between titles).
fn real_titles(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for f in [
        "taobao-ner-jie2019/train.txt",
        "taobao-ner-jie2019/dev.txt",
        "ecommerce-ner-ding2019/train.txt.bieos",
        "ecommerce-ner-ding2019/dev.txt.bieos",
    ] {
        let text = std::fs::read_to_string(dir.join(f))
            .unwrap_or_else(|e| panic!("{}: {e} (set SEARCH_NER)", dir.join(f).display()));
        let mut cur = String::new();
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            match line.chars().next() {
                None => {
                    if !cur.trim().is_empty() {
                        out.push(std::mem::take(&mut cur).trim().to_owned());
                    }
                    cur.clear();
                }
                Some(c) => cur.push(c),
            }
        }
        if !cur.trim().is_empty() {
            out.push(cur.trim().to_owned());
        }
    }
    out
}

fn fragment(rng: &mut StdRng, s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let len = rng.gen_range(3..=12).min(chars.len());
    let start = rng.gen_range(0..=chars.len() - len);
    chars[start..start + len].iter().collect()
}

/// `n` titles recombined from the real ones (see the module doc).
fn titles(real: &[String], n: usize, seed: u64) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let other = &real[rng.gen_range(0..real.len())];
            let code = format!(
                "{}{}-{}",
                (b'A' + rng.gen_range(0..26)) as char,
                (b'A' + rng.gen_range(0..26)) as char,
                rng.gen_range(100..1000)
            );
            format!(
                "{} {} {code}",
                real[i % real.len()],
                fragment(&mut rng, other)
            )
        })
        .collect()
}

fn nt_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Queries drawn from `titles`: CJK substrings of 2–3 characters, Latin words, fixed ones.
fn queries(titles: &[String], n: usize, seed: u64) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let is_cjk = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
    let mut out: Vec<String> = vec!["手机".into(), "包邮".into(), "男士".into()];
    let mut seen: HashSet<String> = out.iter().cloned().collect();
    let latin_wanted = n / 4;
    let mut latin = 0;
    let mut guard = 0;
    while out.len() < n && guard < 1_000_000 {
        guard += 1;
        let t: Vec<char> = titles[rng.gen_range(0..titles.len())].chars().collect();
        let q: String = if latin < latin_wanted && rng.gen_bool(0.5) {
            let words: Vec<String> = t
                .iter()
                .collect::<String>()
                .split(|c: char| !c.is_ascii_alphabetic())
                .filter(|w| w.len() >= 3)
                .map(str::to_lowercase)
                .collect();
            if words.is_empty() {
                continue;
            }
            latin += 1;
            words[rng.gen_range(0..words.len())].clone()
        } else {
            let len = rng.gen_range(2..=3);
            if t.len() < len {
                continue;
            }
            let s = rng.gen_range(0..=t.len() - len);
            let q: String = t[s..s + len].iter().collect();
            if !q.chars().all(is_cjk) {
                continue;
            }
            q
        };
        if seen.insert(q.clone()) {
            out.push(q);
        }
    }
    out
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        common::stop(&mut self.child);
    }
}

fn config_text(data: &Path) -> String {
    format!(
        "data = {:?}\n\n[[tokens]]\nname = \"bench\"\nrole = \"read\"\nsha256 = \"{}\"\n",
        data,
        stocktake::privacy::hash_token(READ)
    )
}

fn serve(bin: &Path, work: &Path, data: &Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = work.join("serve.toml");
    std::fs::write(&config, config_text(data)).unwrap();
    let child = Command::new(bin)
        .args(["--config", config.to_str().unwrap(), "serve", "--bind"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start stocktake serve");
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap()
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// GET `path`, timed; panics on a failure.
fn get(c: &reqwest::blocking::Client, base: &str, path: &str, accept: &str) -> (Duration, String) {
    let started = Instant::now();
    let r = c
        .get(format!("{base}{path}"))
        .bearer_auth(READ)
        .header("accept", accept)
        .send()
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = r.status();
    let body = r.text().unwrap();
    let took = started.elapsed();
    assert!(status.is_success(), "{path}: {status}: {body}");
    (took, body)
}

/// Waits until the server answers and its search index has caught up; the time it took.
fn wait_ready(c: &reqwest::blocking::Client, base: &str) -> Duration {
    let started = Instant::now();
    loop {
        if let Ok(r) = c
            .get(format!("{base}/api/v1/search?q=x&limit=1"))
            .bearer_auth(READ)
            .send()
        {
            if let Ok(v) = r.json::<Value>() {
                if v["stale"] == false {
                    return started.elapsed();
                }
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "server not ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn sparql(q: &str, how: &str, limit: Option<usize>) -> String {
    let filter = match how {
        "contains" => format!("FILTER(CONTAINS(LCASE(?t), \"{}\"))", nt_escape(q)),
        _ => format!("FILTER(REGEX(?t, \"{}\", \"i\"))", nt_escape(q)),
    };
    let mut s = format!(
        "PREFIX schema: <http://schema.org/> SELECT ?p WHERE {{ GRAPH ?g {{ ?p a schema:Product ; schema:name ?t {filter} }} }}"
    );
    if let Some(n) = limit {
        s.push_str(&format!(" LIMIT {n}"));
    }
    s
}

fn iris_of(json: &str) -> HashSet<String> {
    let v: Value = serde_json::from_str(json).unwrap();
    v["results"]["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["p"]["value"].as_str().unwrap().to_owned())
        .collect()
}

/// The search's whole answer, paged through the API.
fn search_all(c: &reqwest::blocking::Client, base: &str, q: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut offset = 0;
    loop {
        let (_, body) = get(
            c,
            base,
            &format!(
                "/api/v1/search?q={}&kind=product&limit=100&offset={offset}",
                enc(q)
            ),
            "application/json",
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        let hits = v["hits"].as_array().unwrap();
        for h in hits {
            out.insert(h["iri"].as_str().unwrap().to_owned());
        }
        offset += 100;
        if hits.is_empty() || offset >= v["total"].as_u64().unwrap() as usize {
            return out;
        }
    }
}

/// Times the search and the SPARQL side by side for every query; prints the table.
fn compare(name: &str, base: &str, queries: &[String], reps: usize) {
    let c = client();
    let (mut ours, mut page, mut full, mut regex) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut recalls = Vec::new();
    let mut totals = Vec::new();
    let json = "application/sparql-results+json";
    for q in queries {
        for _ in 0..reps {
            let (t, _) = get(
                &c,
                base,
                &format!("/api/v1/search?q={}&kind=product&limit=20", enc(q)),
                "application/json",
            );
            ours.push(ms(t));
        }
        for _ in 0..3 {
            let (t, _) = get(
                &c,
                base,
                &format!("/sparql?query={}", enc(&sparql(q, "contains", Some(20)))),
                json,
            );
            page.push(ms(t));
        }
        let (t, body) = get(
            &c,
            base,
            &format!("/sparql?query={}", enc(&sparql(q, "contains", None))),
            json,
        );
        full.push(ms(t));
        let exact = iris_of(&body);
        let (t, _) = get(
            &c,
            base,
            &format!("/sparql?query={}", enc(&sparql(q, "regex", None))),
            json,
        );
        regex.push(ms(t));
        let found = search_all(&c, base, q);
        let hit = exact.iter().filter(|i| found.contains(*i)).count();
        let recall = if exact.is_empty() {
            1.0
        } else {
            hit as f64 / exact.len() as f64
        };
        recalls.push(recall);
        totals.push(exact.len());
        if recall < 0.99 {
            println!(
                "  recall {recall:.3} for {q:?}: {} exact, {} found",
                exact.len(),
                found.len()
            );
        }
    }
    let (o50, o95) = (pct(&mut ours, 0.5), pct(&mut ours, 0.95));
    let (p50, p95) = (pct(&mut page, 0.5), pct(&mut page, 0.95));
    let (f50, f95) = (pct(&mut full, 0.5), pct(&mut full, 0.95));
    let (r50, r95) = (pct(&mut regex, 0.5), pct(&mut regex, 0.95));
    totals.sort_unstable();
    let min_recall = recalls.iter().cloned().fold(1.0, f64::min);
    let mean_recall = recalls.iter().sum::<f64>() / recalls.len() as f64;
    println!(
        "\n### {name}: {} queries (exact answers per query: min {}, median {}, max {})",
        queries.len(),
        totals[0],
        totals[totals.len() / 2],
        totals[totals.len() - 1]
    );
    println!("| side | p50 ms | p95 ms | p95 ratio (SPARQL / search) |");
    println!("|---|---|---|---|");
    println!("| search `/api/v1/search` (first page of 20, ranked, total) x{reps} | {o50:.2} | {o95:.2} | 1 |");
    println!("| SPARQL CONTAINS(LCASE) first page (LIMIT 20, unranked, no total) | {p50:.1} | {p95:.1} | {:.0}x |", p95 / o95);
    println!(
        "| SPARQL CONTAINS(LCASE) full answer | {f50:.1} | {f95:.1} | {:.0}x |",
        f95 / o95
    );
    println!(
        "| SPARQL REGEX(\"i\") full answer | {r50:.1} | {r95:.1} | {:.0}x |",
        r95 / o95
    );
    println!("recall of the exact CONTAINS answers: min {min_recall:.4}, mean {mean_recall:.4}");
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
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

fn demo_store(bin: &Path, work: &Path) -> PathBuf {
    if let Ok(d) = std::env::var("SEARCH_DEMO_DATA") {
        return PathBuf::from(d);
    }
    let data = work.join("demo-store");
    run_ok(
        Command::new(bin).args(["--data", data.to_str().unwrap(), "demo", "--no-serve"]),
        "stocktake demo --no-serve",
    );
    data
}

/// The workbench's pages and their API calls on the demo store: p50/p95 of each.
fn pages(base: &str, reps: usize) {
    let c = client();
    let json = "application/json";
    let html = "text/html";
    let (_, body) = get(&c, base, &format!("/sparql?query={}", enc("PREFIX schema: <http://schema.org/> SELECT ?p WHERE { GRAPH ?g { ?p schema:productID \"P00000\" } }")), "application/sparql-results+json");
    let product = iris_of(&body)
        .into_iter()
        .next()
        .expect("the demo's first product");
    let (_, body) = get(&c, base, "/api/v1/report", json);
    let report: Value = serde_json::from_str(&body).unwrap();
    let asset = report["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "users.csv")
        .expect("users.csv")["iri"]
        .as_str()
        .unwrap()
        .to_owned();
    let routes: Vec<(String, &str)> = vec![
        ("/".into(), html),
        ("/ui/catalog".into(), html),
        (format!("/ui/asset?iri={}", enc(&asset)), html),
        (format!("/ui/search?q={}", enc("热水器")), html),
        (format!("/api/v1/search?q={}", enc("热水器")), json),
        (format!("/api/v1/search?q={}", enc("penguin")), json),
        (format!("/ui/entity?iri={}", enc(&product)), html),
        ("/ui/taxonomy".into(), html),
        ("/ui/review".into(), html),
        ("/api/v1/labels?status=review&limit=200".into(), json),
        ("/ui/changes".into(), html),
        ("/ui/models".into(), html),
        ("/ui/ontology".into(), html),
        ("/sparql".into(), html),
        ("/api/v1/vocabulary".into(), json),
        (
            format!(
                "/sparql?query={}",
                enc("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } } LIMIT 10")
            ),
            "application/sparql-results+json",
        ),
    ];
    println!("\n### Workbench pages and their API calls on the demo store ({reps} requests each, read token)");
    println!("| request | p50 ms | p95 ms | body KB |");
    println!("|---|---|---|---|");
    for (path, accept) in routes {
        get(&c, base, &path, accept);
        let mut t = Vec::new();
        let mut size = 0;
        for _ in 0..reps {
            let (d, body) = get(&c, base, &path, accept);
            t.push(ms(d));
            size = body.len();
        }
        let shown: String = path.chars().take(70).collect();
        println!(
            "| `{shown}` | {:.1} | {:.1} | {:.1} |",
            pct(&mut t, 0.5),
            pct(&mut t, 0.95),
            size as f64 / 1024.0
        );
    }
}

fn main() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_stocktake"));
    let parts: String = env("SEARCH_PARTS", "demo,pages,million".to_string());
    let n: usize = env("SEARCH_N", 1_000_000);
    let nq: usize = env("SEARCH_QUERIES", 40);
    let reps: usize = env("SEARCH_REPS", 20);
    let seed: u64 = env("SEARCH_SEED", 11);
    let ner = PathBuf::from(env("SEARCH_NER", "../shared/data/ner".to_string()));
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    println!("search bench: parts {parts}, {} cores", common::cores());

    if parts.contains("demo") || parts.contains("pages") {
        let data = demo_store(&bin, w);
        let server = serve(&bin, w, &data);
        let c = client();
        let ready = wait_ready(&c, &server.base);
        println!(
            "demo store: server up and index built in {:.2} s",
            ready.as_secs_f64()
        );
        if parts.contains("demo") {
            let (_, body) = get(&c, &server.base, &format!("/sparql?query={}", enc("PREFIX schema: <http://schema.org/> SELECT ?t WHERE { GRAPH ?g { ?p a schema:Product ; schema:name ?t } }")), "application/sparql-results+json");
            let v: Value = serde_json::from_str(&body).unwrap();
            let titles: Vec<String> = v["results"]["bindings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["t"]["value"].as_str().unwrap().to_owned())
                .collect();
            let qs = queries(&titles, nq, seed);
            compare(
                &format!("demo store ({} product titles)", titles.len()),
                &server.base,
                &qs,
                reps,
            );
        }
        if parts.contains("pages") {
            pages(&server.base, 50);
        }
    }

    if parts.contains("million") {
        let real = real_titles(&ner);
        let started = Instant::now();
        let all = titles(&real, n, seed);
        let nt = w.join("titles.nt");
        {
            let mut f = BufWriter::new(std::fs::File::create(&nt).unwrap());
            for (i, t) in all.iter().enumerate() {
                writeln!(f, "<https://example.org/shop/p/{i}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://schema.org/Product> .").unwrap();
                writeln!(
                    f,
                    "<https://example.org/shop/p/{i}> <http://schema.org/name> \"{}\" .",
                    nt_escape(t)
                )
                .unwrap();
            }
        }
        println!(
            "\n{n} titles from {} real ones written in {:.1} s",
            real.len(),
            started.elapsed().as_secs_f64()
        );
        let data = w.join("million-store");
        let config = w.join("load.toml");
        std::fs::write(&config, config_text(&data)).unwrap();
        run_ok(
            Command::new(&bin)
                .args([
                    "--config",
                    config.to_str().unwrap(),
                    "load",
                    "--graph",
                    "products",
                ])
                .arg(&nt),
            "stocktake load (2 triples per title)",
        );
        let server = serve(&bin, w, &data);
        let c = client();
        let ready = wait_ready(&c, &server.base);
        println!(
            "server up and search index of {n} titles built in {:.1} s; server RSS {:.0} MB",
            ready.as_secs_f64(),
            rss_mb(server.child.id())
        );
        let qs = queries(&all, nq, seed);
        compare(&format!("{n} product titles"), &server.base, &qs, reps);
        println!(
            "server RSS after the queries: {:.0} MB",
            rss_mb(server.child.id())
        );
    }
}
