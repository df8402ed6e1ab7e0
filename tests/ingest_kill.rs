//! Crash safety of ingestion: `stocktake ingest` killed with SIGKILL in the middle of a run and
//! then run again ends with exactly the graph an uninterrupted run writes (every commit is
//! atomic, IRIs and run names come from the input, so redoing committed work changes nothing
//! and nothing committed is lost).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::util::bin;
use std::time::Duration;

fn ingest(data: &Path, file: &Path, mapping: &Path) -> Command {
    // Commit points every 20,000 triples (the default is 2,000,000): the 30,000 records below
    // (about 270,000 triples) are committed in many steps, so the kill falls between two.
    let config = data.with_extension("toml");
    std::fs::write(&config, "[ingest]\ncommit_every = 20000\n").unwrap();
    let mut c = bin();
    c.arg("--config")
        .arg(&config)
        .args(["--data", data.to_str().unwrap(), "ingest"])
        .arg(file)
        .arg("--mapping")
        .arg(mapping)
        .arg("--no-label");
    c
}

/// The sorted N-Quads of one graph (none when the graph does not exist yet).
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
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && err.contains("no graph") {
        return Vec::new();
    }
    assert!(out.status.success(), "{err}");
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
    for i in 0..30_000 {
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
        .contains("30000 records in, 29970 accepted, 30 quarantined"));

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
    // Quarantined cells are sealed with a fresh nonce (and each store has its own key): the
    // entries must match with their ciphertexts set aside.
    let unsealed = |lines: Vec<String>| -> Vec<String> {
        lines
            .into_iter()
            .map(|l| match l.find("\"stv1:") {
                Some(i) => format!(
                    "{}\"SEALED{}",
                    &l[..i],
                    &l[l[i + 1..].find('"').unwrap() + i + 1..]
                ),
                None => l,
            })
            .collect()
    };
    let (qa, qb) = (
        unsealed(dump(&clean, "quarantine")),
        unsealed(dump(&killed, "quarantine")),
    );
    assert!(qa.iter().any(|l| l.contains("\"SEALED\"^^")), "{qa:?}");
    assert_eq!(qa, qb);

    // The finished run is the asset's checkpoint: the same input again does nothing, unless
    // forced (and then writes the same graph).
    let out = ingest(&clean, &file, &mapping).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("was already ingested with this mapping") && text.contains("nothing to do"),
        "{text}"
    );
    let out = ingest(&clean, &file, &mapping)
        .arg("--force")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("30000 records in"));
    assert!(
        dump(&clean, "products") == a,
        "a forced rerun writes the same graph"
    );
}

#[test]
fn suggest_prints_a_mapping_that_ingests() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("items.csv");
    std::fs::write(
        &file,
        "商品编号,商品标题,价格,品牌\nA1,华为 Mate 60 Pro 12GB+512GB 雅川青 5G手机,6999元,华为\n\
         A2,小米14 徕卡光学镜头 骁龙8Gen3 16GB+1TB 黑色 手机,4999,小米\n\
         A3,Apple iPhone 15 Pro Max 256GB 原色钛金属 手机,9999.00,Apple\n\
         A4,OPPO Find X7 Ultra 16GB+512GB 海阔天空 5G 拍照手机,5999,OPPO\n",
    )
    .unwrap();
    let out = bin()
        .arg("ingest")
        .arg(&file)
        .arg("--suggest")
        .output()
        .unwrap();
    let toml = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(toml.contains("entity = \"product\""), "{toml}");
    assert!(toml.contains("title = \"商品标题\""), "{toml}");
    let mapping = tmp.path().join("suggested.toml");
    std::fs::write(&mapping, &toml).unwrap();
    let out = ingest(&tmp.path().join("store"), &file, &mapping)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("4 records in, 4 accepted, 0 quarantined"),
        "{text}\n{toml}"
    );

    let odd = tmp.path().join("weather.csv");
    std::fs::write(&odd, "temperature,humidity\n21.5,0.4\n").unwrap();
    let out = bin()
        .arg("ingest")
        .arg(&odd)
        .arg("--suggest")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no entity fits"));
}
