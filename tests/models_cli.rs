//! `stocktake models list|run|eval` and model registration, through the real binary with the
//! tiny fixture models (tests/fixtures/models).

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

fn stocktake(args: &[&str], stdin: &str) -> (bool, String, String) {
    let repo = crate::util::repo();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stocktake"))
        .current_dir(&repo)
        .arg("--models")
        .arg(repo.join("tests/fixtures/models"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run stocktake");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn run_prints_one_json_object_per_line_in_the_contract_shape() {
    let (ok, out, err) = stocktake(&["models", "run", "tiny-ner"], "华为 Mate60\n\n😀x１２\n");
    assert!(ok, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["text"], "华为 Mate60");
    let e = &lines[0]["entities"][0];
    assert_eq!(
        (e["start"].as_u64(), e["end"].as_u64(), e["label"].as_str()),
        (Some(7), Some(9), Some("num"))
    );
    assert!(e["score"].as_f64().unwrap() > 0.5);
    assert_eq!(lines[1]["entities"].as_array().unwrap().len(), 0);
    assert_eq!(lines[2]["entities"][0]["start"], 2);
    assert_eq!(lines[2]["entities"][0]["end"], 4);

    let (ok, out, err) = stocktake(
        &["models", "run", "tiny-cls", "--top-k", "1"],
        "茶杯\n茶杯9\n",
    );
    assert!(ok, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["labels"]["kind"].as_array().unwrap().len(), 1);
    assert_eq!(lines[0]["labels"]["kind"][0]["label"], "text");
    assert_eq!(lines[1]["labels"]["kind"][0]["label"], "number");
}

#[test]
fn eval_list_and_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("gold.jsonl");
    std::fs::write(
        &data,
        "{\"text\": \"ab12 c345\", \"entities\": [{\"start\": 2, \"end\": 4, \"label\": \"num\"}, {\"start\": 6, \"end\": 9, \"label\": \"num\"}]}\n\
         {\"text\": \"x9\", \"entities\": [{\"start\": 0, \"end\": 2, \"label\": \"num\"}]}\n",
    )
    .unwrap();
    let (ok, out, err) = stocktake(
        &[
            "models",
            "eval",
            "tiny-ner",
            "--data",
            data.to_str().unwrap(),
            "--format",
            "json",
        ],
        "",
    );
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    // Predicted: (2,4), (6,9), (1,2); gold: (2,4), (6,9), (0,2) → P = R = 2/3.
    assert!(
        (v["micro"]["precision"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9,
        "{v}"
    );
    assert!((v["per_type"]["num"]["f1"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);

    let csv = tmp.path().join("cls.csv");
    std::fs::write(&csv, "kind,text\nnumber,茶杯1\ntext,茶杯\nnumber,abc\n").unwrap();
    let (ok, out, err) = stocktake(
        &[
            "models",
            "eval",
            "tiny-cls",
            "--data",
            csv.to_str().unwrap(),
            "--format",
            "json",
        ],
        "",
    );
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        (v["accuracy"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9,
        "{v}"
    );
    assert!(v["macro_f1"].as_f64().is_some());

    let (ok, out, err) = stocktake(&["models", "list", "--format", "json"], "");
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    for n in ["tiny-cls", "tiny-ner", "tiny-ner-argmax", "tiny-hf-ner"] {
        assert!(names.contains(&n), "{names:?}");
    }
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["model_card"] == true));

    let (ok, _, err) = stocktake(&["models", "run", "no-such-model"], "");
    assert!(!ok);
    assert!(
        err.contains("no model named \"no-such-model\"") && err.contains("tiny-ner"),
        "{err}"
    );
    let bad = tmp.path().join("bad.txt");
    std::fs::write(&bad, "a B-num\nb Q-num\n").unwrap();
    let (ok, _, err) = stocktake(
        &[
            "models",
            "eval",
            "tiny-ner",
            "--data",
            bad.to_str().unwrap(),
        ],
        "",
    );
    assert!(!ok);
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn models_are_described_in_the_models_graph() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("store");
    let (ok, out, err) = stocktake(
        &["--data", data.to_str().unwrap(), "demo", "--no-serve"],
        "",
    );
    assert!(ok, "{err}");
    assert!(out.contains("models: 5 packages"), "{out}");
    let q = "PREFIX st: <https://w3id.org/stocktake/ns#> SELECT ?m ?hash WHERE { GRAPH ?g { ?m a st:Model ; st:contentHash ?hash FILTER(CONTAINS(STR(?m), \"/model/tiny-\")) } }";
    let (ok, out, err) = stocktake(
        &[
            "--data",
            data.to_str().unwrap(),
            "query",
            q,
            "--format",
            "csv",
        ],
        "",
    );
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 6, "{out}");
    // Running again describes the same versions without duplicating them.
    let (ok, _, err) = stocktake(
        &["--data", data.to_str().unwrap(), "demo", "--no-serve"],
        "",
    );
    assert!(ok, "{err}");
    let (_, out2, _) = stocktake(
        &[
            "--data",
            data.to_str().unwrap(),
            "query",
            q,
            "--format",
            "csv",
        ],
        "",
    );
    assert_eq!(out2.lines().count(), 6, "{out2}");
}
