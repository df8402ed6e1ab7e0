//! Anonymised exports through the real binary: the demo users released under the default
//! policy hold no name, e-mail or phone; a linkage attack that knows every user's phone, city
//! and registration day cannot narrow anyone below k released rows (and the same attack on a
//! naive export, k = 1, singles most people out — the test can fail); the export is recorded as
//! PROV in the catalog and in the audit log.

use std::path::Path;

use crate::util::{bin, repo};

fn export(data: &Path, policy: Option<&str>, out: &Path) -> serde_json::Value {
    let mut cmd = bin();
    cmd.args(["--data", data.to_str().unwrap(), "export", "anonymised"])
        .arg(repo().join("demo/data/users.csv"))
        .args(["--out", out.to_str().unwrap(), "--format", "json"]);
    if let Some(p) = policy {
        let file = data.parent().unwrap().join("policy.toml");
        std::fs::write(&file, p).unwrap();
        cmd.arg("--policy").arg(&file);
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// Whether a released value could have come from `source` (the attacker's reading of the
/// published rungs: `*` hides all, `***79` keeps a suffix, `2024-09` a date prefix, a province
/// its cities).
fn compatible(released: &str, source: &str) -> bool {
    if released == "*" || released == source {
        return true;
    }
    if let Some(suffix) = released.strip_prefix('*') {
        let visible = suffix.trim_start_matches('*');
        return released.chars().count() == source.chars().count() && source.ends_with(visible);
    }
    if source.starts_with(released) && source.len() > released.len() {
        return true;
    }
    stocktake::privacy::anon::province_of_city(source) == Some(released)
}

/// For each source user, how many released rows are compatible with what the attacker knows;
/// returns (the smallest non-zero count, the mean re-identification chance 1/count over users
/// with a candidate, users with a candidate).
fn linkage(header: &[String], rows: &[Vec<String>]) -> (usize, f64, usize) {
    let (src_header, src) = read_csv(&repo().join("demo/data/users.csv"));
    let qi: Vec<(usize, usize)> = ["phone", "city", "registered"]
        .iter()
        .filter_map(|q| {
            let e = header.iter().position(|h| h == q)?;
            let s = src_header.iter().position(|h| h == q).unwrap();
            Some((e, s))
        })
        .collect();
    assert!(!qi.is_empty());
    let mut smallest = usize::MAX;
    let mut risk = 0.0;
    let mut linked = 0;
    for s in &src {
        let c = rows
            .iter()
            .filter(|r| qi.iter().all(|&(e, si)| compatible(&r[e], &s[si])))
            .count();
        if c > 0 {
            smallest = smallest.min(c);
            risk += 1.0 / c as f64;
            linked += 1;
        }
    }
    (smallest, risk / linked.max(1) as f64, linked)
}

#[test]
fn demo_users_export_resists_linkage_beyond_k() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let out = dir.path().join("users-anon.csv");
    let report = export(&data, None, &out);
    assert_eq!(report["k"], 5, "{report}");
    assert_eq!(report["rows_in"], 600, "{report}");
    let suppressed = report["rows_suppressed"].as_u64().unwrap();
    assert!(suppressed <= 30, "at most 5% suppressed: {report}");
    assert!(report["smallest_class"].as_u64().unwrap() >= 5, "{report}");

    let (header, rows) = read_csv(&out);
    assert_eq!(
        header,
        ["user_id", "phone", "city", "registered"],
        "{report}"
    );
    assert_eq!(rows.len() as u64, 600 - suppressed);
    let released = std::fs::read_to_string(&out).unwrap();
    let (_, src) = read_csv(&repo().join("demo/data/users.csv"));
    for s in &src {
        for (i, what) in [(0, "id"), (1, "name"), (2, "phone"), (3, "e-mail")] {
            assert!(!released.contains(&s[i]), "{what} {} released", s[i]);
        }
    }

    let (smallest, rate, linked) = linkage(&header, &rows);
    println!(
        "linkage on phone+city+registered, k=5 export: {linked} users linkable, smallest \
         candidate set {smallest}, mean re-identification rate {rate:.4}"
    );
    assert!(smallest >= 5, "someone is narrowed to {smallest} rows");
    assert!(rate <= 0.2, "{rate}");

    // The same attack on a naive export (k = 1: masked phone, exact city and day) works: the
    // measure above is not vacuous.
    let naive = dir.path().join("naive.csv");
    export(&data, Some("name = \"naive\"\nk = 1\n"), &naive);
    let (nh, nrows) = read_csv(&naive);
    let (smallest, naive_rate, _) = linkage(&nh, &nrows);
    println!("same attack, k=1 export: smallest candidate set {smallest}, rate {naive_rate:.4}");
    assert_eq!(smallest, 1);
    assert!(naive_rate > 0.5, "{naive_rate}");

    // Recorded as PROV in the catalog (both exports) and in the audit log.
    let q =
        "PREFIX st: <https://w3id.org/stocktake/ns#> PREFIX prov: <http://www.w3.org/ns/prov#> \
             SELECT ?name ?k ?sup ?hash WHERE { GRAPH ?g { ?e a st:AnonymisedExport ; \
             st:policyName ?name ; st:kAnonymity ?k ; st:rowsSuppressed ?sup ; \
             prov:generated/st:contentHash ?hash } } ORDER BY ?name";
    let o = bin()
        .args([
            "--data",
            data.to_str().unwrap(),
            "query",
            q,
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(
        lines[1],
        format!(
            "default,5,{suppressed},{}",
            report["sha256"].as_str().unwrap()
        )
    );
    assert!(lines[2].starts_with("naive,1,0,"), "{text}");
    let audit = std::fs::read_to_string(data.join("audit.log")).unwrap();
    assert_eq!(audit.matches("export-anonymised").count(), 2, "{audit}");
    assert!(!audit.contains(&src[0][2]), "no phone in the audit log");
}

#[test]
fn bad_policies_and_sources_fail_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let run = |args: &[&str]| {
        let o = bin()
            .args(["--data", data.to_str().unwrap(), "export", "anonymised"])
            .args(args)
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let users = repo().join("demo/data/users.csv");
    let policy = dir.path().join("p.toml");
    std::fs::write(&policy, "[columns]\nshoe_size = \"drop\"\n").unwrap();
    let (ok, err) = run(&[
        users.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("shoe_size") && err.contains("registered"),
        "{err}"
    );
    std::fs::write(&policy, "l = 2\n").unwrap();
    let (ok, err) = run(&[
        users.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("sensitive"), "{err}");
    let (ok, err) = run(&["/no/such/file.csv"]);
    assert!(!ok && err.contains("not a file"), "{err}");
    // Nothing recorded for refused exports.
    assert!(
        !data.join("audit.log").exists()
            || !std::fs::read_to_string(data.join("audit.log"))
                .unwrap()
                .contains("export-anonymised")
    );
}

/// Through the API a writer (files under `[server] file_roots`, granted the asset) gets an
/// anonymised copy, but cannot keep a direct identifier, lower k under `[privacy]
/// export_min_k`, or drop a quasi-identifier; an admin may (audited, recorded).
#[test]
fn writers_cannot_weaken_an_export_policy() {
    use crate::auth::{send, Who};
    let demo = repo().join("demo/data");
    let users = repo().join("demo/data/users.csv");
    // A writer exports only an inventoried asset their token is granted.
    let report = stocktake::inventory::scan(
        &stocktake::inventory::Source::Files(users.clone()),
        &Default::default(),
    )
    .unwrap();
    let base = stocktake::config::Config::default().catalog.base_iri;
    let asset = stocktake::inventory::record::Iris::new(&base, &report).asset(&report.assets[0]);
    let server = crate::util::TestServer::start_with(move |c| {
        c.server.file_roots = vec![demo];
        for t in &mut c.tokens {
            if t.name == "writer" {
                t.assets = vec![asset.clone()];
            }
        }
    });
    stocktake::inventory::record::record(&server.catalog, &report).unwrap();
    let post = |who: Who, policy: &str| {
        send(
            &server,
            who,
            reqwest::Method::POST,
            "/api/v1/exports/anonymised",
            Some("application/json"),
            Some(serde_json::json!({ "source": users, "policy": policy }).to_string()),
        )
    };
    let (status, body) = post(Who::Writer, "");
    assert_eq!(status, 200, "{body}");
    for (policy, needle) in [
        ("[columns]\nemail = \"keep\"", "direct identifier"),
        ("[columns]\nphone = \"keep\"", "direct identifier"),
        ("k = 1", "export_min_k"),
    ] {
        let (status, body) = post(Who::Writer, policy);
        assert_eq!(status, 400, "{policy}: {body}");
        assert!(body.contains(needle), "{policy}: {body}");
    }
    let (status, body) = post(Who::Writer, "quasi_identifiers = []");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        v["smallest_class"].as_u64().unwrap() >= 5,
        "the defaults still hold: {body}"
    );
    let (status, body) = post(Who::Admin, "k = 1\n[columns]\nemail = \"keep\"");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("@example.com"), "an admin may: {body}");
}
