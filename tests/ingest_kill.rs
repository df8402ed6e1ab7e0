//! Crash safety of ingestion: `stocktake ingest` killed with SIGKILL in the middle of a run and
//! then run again ends with exactly the graph an uninterrupted run writes (batches are
//! transactions, IRIs and run names come from the input, so redoing committed batches changes
//! nothing and nothing committed is lost).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stocktake"));
    c.current_dir(crate::util::repo());
    c
}

fn ingest(data: &Path, file: &Path, mapping: &Path) -> Command {
    let mut c = bin();
    c.args(["--data", data.to_str().unwrap(), "ingest"])
        .arg(file)
        .arg("--mapping")
        .arg(mapping)
        .arg("--no-label");
    c
}

/// The sorted N-Quads of one graph.
fn dump(data: &Path, graph: &str) -> Vec<String> {
    let out = bin()
        .args([
            "--data",
            data.to_str().unwrap(),
            "dump",
            "--graph",
            graph,
            "--format",
            "nquads",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

#[test]
fn an_ingest_killed_mid_run_and_rerun_equals_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("products.csv");
    let mut csv = String::from("sku,title,price,brand,category\n");
    for i in 0..15_000 {
        let price = if i % 1000 == 999 {
            "n/a".to_string()
        } else {
            format!("{}.{:02}", 10 + i % 900, i % 100)
        };
        csv.push_str(&format!(
            "K{i:06},测试商品 {i} 号 型号{},{price},品牌{},手机\n",
            i % 37,
            i % 13
        ));
    }
    std::fs::write(&file, csv).unwrap();
    let mapping = tmp.path().join("m.toml");
    std::fs::write(
        &mapping,
        "entity = \"product\"\nnamespace = \"k\"\n[columns]\nid = \"sku\"\ntitle = \"title\"\nprice = \"price\"\nbrand = \"brand\"\ncategory = \"category\"\n",
    )
    .unwrap();

    let clean = tmp.path().join("clean");
    let out = ingest(&clean, &file, &mapping).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("15000 records in, 14985 accepted, 15 quarantined"));

    let killed = tmp.path().join("killed");
    let mut child = ingest(&killed, &file, &mapping)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run finished before it could be killed; the test needs a larger input"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = dump(&killed, "products").len();
    let out = ingest(&killed, &file, &mapping).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (a, b) = (dump(&clean, "products"), dump(&killed, "products"));
    println!("killed with {partial} of {} quads written", a.len());
    assert!(
        partial < a.len(),
        "the kill left a partial graph ({partial} of {} quads)",
        a.len()
    );
    assert_eq!(a.len(), b.len());
    assert!(a == b, "the rerun graph differs from the uninterrupted one");
    assert_eq!(dump(&clean, "quarantine"), dump(&killed, "quarantine"));
}
