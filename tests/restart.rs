//! The real binary: data written over HTTP survives SIGTERM and a restart on the same directory,
//! and the CLI's load/query/dump/token commands work end to end.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::util::{bin, client};

fn start(data: &Path, config: &Path) -> (Child, String) {
    let mut child = bin()
        .args([
            "--data",
            data.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in '{line}'"))
        .to_owned();
    (child, addr)
}

fn sigterm(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
}

fn token(config: &Path, name: &str, role: &str) -> String {
    let out = bin()
        .args([
            "--config",
            config.to_str().unwrap(),
            "token",
            "add",
            name,
            "--role",
            role,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn data_survives_sigterm_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let config = dir.path().join("stocktake.toml");
    let admin = token(&config, "ops", "admin");
    assert!(
        !std::fs::read_to_string(&config).unwrap().contains(&admin),
        "only the hash is stored"
    );

    let (mut child, base) = start(&data, &config);
    let r = client()
        .post(format!("{base}/sparql"))
        .bearer_auth(&admin)
        .header("content-type", "application/sparql-update")
        .body("INSERT DATA { GRAPH <http://example.org/g> { <http://example.org/s> <http://example.org/p> \"kept\" } }")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    sigterm(&mut child);

    let (mut child, base) = start(&data, &config);
    let r = client()
        .get(format!("{base}/store?graph=http%3A%2F%2Fexample.org%2Fg"))
        .bearer_auth(&admin)
        .header("accept", "application/n-triples")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().unwrap().contains("\"kept\""));
    // The ontology was not loaded twice, and one version (the first start's) is recorded.
    let r = client()
        .get(format!("{base}/sparql"))
        // Model cards and ontology versions carry content hashes too; count the ontology
        // graph's bookkeeping only, then the versions.
        .query(&[(
            "query",
            "PREFIX st: <https://w3id.org/stocktake/ns#> SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s st:contentHash ?h FILTER NOT EXISTS { ?s a st:Model } FILTER NOT EXISTS { ?s a st:OntologyVersion } } }",
        )])
        .bearer_auth(&admin)
        .header("accept", "text/csv")
        .send()
        .unwrap();
    let body = r.text().unwrap();
    assert_eq!(body.lines().nth(1), Some("1"), "{body}");
    let r = client()
        .get(format!("{base}/sparql"))
        .query(&[(
            "query",
            "PREFIX st: <https://w3id.org/stocktake/ns#> SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?v a st:OntologyVersion } }",
        )])
        .bearer_auth(&admin)
        .header("accept", "text/csv")
        .send()
        .unwrap();
    let body = r.text().unwrap();
    assert_eq!(body.lines().nth(1), Some("1"), "{body}");
    sigterm(&mut child);

    // Revoked tokens stop working.
    let out = bin()
        .args([
            "--config",
            config.to_str().unwrap(),
            "token",
            "revoke",
            "ops",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (mut child, base) = start(&data, &config);
    let r = client()
        .get(format!("{base}/sparql?query=ASK%7B%7D"))
        .bearer_auth(&admin)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    sigterm(&mut child);
}

#[test]
fn cli_load_query_dump() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let nt = dir.path().join("x.nt.gz");
    {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&nt).unwrap(),
            flate2::Compression::fast(),
        );
        for i in 0..100 {
            writeln!(gz, "<http://e/s{i}> <http://e/p> \"{i}\" .").unwrap();
        }
        gz.finish().unwrap();
    }
    let d = data.to_str().unwrap();
    let out = bin()
        .args([
            "--data",
            d,
            "load",
            nt.to_str().unwrap(),
            "--graph",
            "http://e/g",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = bin()
        .args([
            "--data",
            d,
            "query",
            "SELECT (COUNT(*) AS ?n) { GRAPH <http://e/g> { ?s ?p ?o } }",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().nth(1),
        Some("100")
    );
    let qf = dir.path().join("q.rq");
    std::fs::write(
        &qf,
        "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH <http://e/g> { ?s ?p ?o } }",
    )
    .unwrap();
    let out = bin()
        .args([
            "--data",
            d,
            "query",
            &format!("@{}", qf.display()),
            "--format",
            "ntriples",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 100);
    let out = bin()
        .args(["--data", d, "dump", "--graph", "http://e/g"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 100);
    let out = bin()
        .args(["--data", d, "query", "SELECT * {"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("syntax error"));
    let out = bin()
        .args(["--data", d, "load", "/nonexistent.ttl"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
