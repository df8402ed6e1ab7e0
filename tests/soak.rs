//! Soak: the real binary under a bounded mixed load — readers querying, writers updating their
//! own graph and being refused on system graphs, ingests of a growing file, bad requests and
//! string bombs — answers every request with a designed status (no 5xx but 503 when busy or
//! past the deadline), and its memory does not keep growing once warm.

use std::io::BufRead;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::util::client;
use stocktake::privacy::hash_token;

const W: &str = "soak-writer";
const A: &str = "soak-admin";

struct Server {
    child: std::process::Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

fn start(dir: &std::path::Path) -> Server {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let config = dir.join("stocktake.toml");
    std::fs::write(
        &config,
        format!(
            "data = {:?}\n[server]\nquery_timeout_secs = 2\nmax_concurrent_queries = 4\n\
             file_roots = [{:?}]\n[ingest]\ntitle_model = \"\"\nreview_model = \"\"\n\
             [[tokens]]\nname = \"w\"\nrole = \"write\"\nsha256 = \"{}\"\n\
             [[tokens]]\nname = \"a\"\nrole = \"admin\"\nsha256 = \"{}\"\n",
            dir.join("store"),
            input,
            hash_token(W),
            hash_token(A)
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stocktake"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "serve",
            "--bind",
            "127.0.0.1:0",
        ])
        .current_dir(crate::util::repo())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let base = loop {
        let line = lines.next().expect("server exited").unwrap();
        if let Some(rest) = line.strip_prefix("stocktake listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    Server { child, base }
}

#[test]
fn mixed_load_gets_only_designed_answers_and_memory_settles() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(start(dir.path()));
    let base = server.base.clone();
    let products = dir.path().join("in/products.csv");
    std::fs::write(&products, "sku,title,price\nS0,Item 0,1.00\n").unwrap();
    let statuses = Arc::new(Mutex::new(
        std::collections::BTreeMap::<(String, u16), usize>::new(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (base, statuses, stop, requests) = (
                base.clone(),
                Arc::clone(&statuses),
                Arc::clone(&stop),
                Arc::clone(&requests),
            );
            let products = products.clone();
            std::thread::spawn(move || {
                let c = client();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let (kind, r) = match (w + i as usize) % 7 {
                        0 => ("query", c.post(format!("{base}/sparql")).bearer_auth(W)
                            .header("content-type", "application/sparql-query")
                            .body("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
                            .send()),
                        1 => ("update", c.post(format!("{base}/sparql")).bearer_auth(W)
                            .header("content-type", "application/sparql-update")
                            .body(format!("INSERT DATA {{ GRAPH <http://example.org/soak/{w}> {{ <http://e/{i}> <http://e/p> \"{i}\" }} }}"))
                            .send()),
                        2 => ("refused-update", c.post(format!("{base}/sparql")).bearer_auth(W)
                            .header("content-type", "application/sparql-update")
                            .body("DROP GRAPH <http://stocktake.local/graph/catalog>")
                            .send()),
                        3 => {
                            // The file grows; each run ingests what is new.
                            let line = format!("S{w}x{i},Item {i},{}.50\n", i % 90 + 1);
                            {
                                use std::io::Write;
                                let mut f = std::fs::OpenOptions::new().append(true).open(&products).unwrap();
                                f.write_all(line.as_bytes()).unwrap();
                            }
                            ("ingest", c.post(format!("{base}/api/v1/ingest")).bearer_auth(W)
                                .json(&serde_json::json!({
                                    "asset": products,
                                    "mapping": "entity = \"product\"\nnamespace = \"soak\"\n[columns]\nid = \"sku\"\ntitle = \"title\"\nprice = \"price\"\n",
                                    "label": false,
                                }))
                                .send())
                        }
                        4 => ("bad-query", c.get(format!("{base}/sparql?query=SELEC%20nope")).bearer_auth(W).send()),
                        5 => ("bomb", c.post(format!("{base}/sparql")).bearer_auth(W)
                            .header("content-type", "application/sparql-query")
                            .body(bomb())
                            .send()),
                        _ => ("read", c.get(format!("{base}/api/v1/report")).bearer_auth(A).send()),
                    };
                    let status = r.map(|r| r.status().as_u16()).unwrap_or(0);
                    requests.fetch_add(1, Ordering::Relaxed);
                    *statuses
                        .lock()
                        .unwrap()
                        .entry((kind.to_owned(), status))
                        .or_default() += 1;
                }
            })
        })
        .collect();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let mut samples = Vec::new();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        samples.push(server.rss_kib());
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let statuses = statuses.lock().unwrap().clone();
    println!(
        "soak: {} requests in {secs} s; (kind, status) -> count: {statuses:?}; RSS KiB: {samples:?}",
        requests.load(Ordering::Relaxed)
    );
    for ((kind, status), n) in &statuses {
        let designed = match kind.as_str() {
            "query" | "update" | "read" => matches!(status, 200 | 204 | 503),
            "refused-update" => *status == 403,
            "ingest" => matches!(status, 202 | 409),
            "bad-query" => *status == 400,
            "bomb" => matches!(status, 422 | 503),
            _ => false,
        };
        assert!(designed, "{n} × {kind} answered {status}: {statuses:?}");
    }
    for kind in ["query", "update", "refused-update", "ingest", "bomb"] {
        assert!(
            statuses.keys().any(|(k, _)| k == kind),
            "no {kind} request completed: {statuses:?}"
        );
    }
    // Memory settles: the second half of the run grows by less than 25% over the first half's
    // peak (allocator arenas and caches warm up first).
    let half = samples.len() / 2;
    let first = *samples[..half].iter().max().unwrap();
    let last = *samples[half..].iter().max().unwrap();
    assert!(
        last <= first + first / 4,
        "RSS kept growing: first half peak {first} KiB, second half peak {last} KiB ({samples:?})"
    );
    // And it still answers.
    let r = client()
        .get(format!("{base}/sparql?query=ASK%7B%7D"))
        .bearer_auth(W)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

/// A string doubling past the bounds (422) unless it waits past the deadline for a slot (503).
fn bomb() -> String {
    let mut q =
        String::from("SELECT (STRLEN(?v30) AS ?n) WHERE { BIND(\"0123456789abcdef\" AS ?v0) ");
    for i in 1..=30 {
        q.push_str(&format!("BIND(CONCAT(?v{p}, ?v{p}) AS ?v{i}) ", p = i - 1));
    }
    q.push('}');
    q
}
