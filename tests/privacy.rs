//! Privacy promises, each tried by an attacker: planted personal values never appear in
//! plaintext in the store's files, dumps, debug logs, error messages or any endpoint's answer
//! to a read token; only an audited admin decryption opens them; an altered ciphertext fails
//! loudly; rotation re-encrypts everything (resumably); the server serves without a key; the
//! audit log's chain catches edits.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::util::{bin, client, ADMIN, READ, WRITE};

const PHONE: &str = "13987654321";
const EMAIL: &str = "plant.victim@example.com";
const NAME: &str = "欧阳娜娜";
const ADDRESS: &str = "幸福路88号";
/// Stored in the clear on purpose (a product title): proves the file search can see text.
const CONTROL: &str = "ZQXCONTROL";

const USERS: &str = "entity = \"user\"\n[columns]\nid = \"uid\"\nname = \"name\"\nphone = \"phone\"\nemail = \"email\"\naddress = \"address\"\n[keep]\nname = \"encrypted\"\nphone = \"encrypted\"\nemail = \"encrypted\"\naddress = \"encrypted\"\n";
const PRODUCTS: &str =
    "entity = \"product\"\nnamespace = \"shop\"\n[columns]\nid = \"sku\"\ntitle = \"title\"\n";
const REVIEWS: &str = "entity = \"review\"\nproduct_namespace = \"shop\"\n[columns]\nproduct = \"item\"\nuser = \"uid\"\ntext = \"body\"\n";

fn config_file(dir: &Path, extra: &str) -> std::path::PathBuf {
    let tokens: String = [
        ("reader", "read", READ),
        ("writer", "write", WRITE),
        ("root", "admin", ADMIN),
    ]
    .iter()
    .map(|(n, r, t)| {
        format!(
            "[[tokens]]\nname = \"{n}\"\nrole = \"{r}\"\nsha256 = \"{}\"\n",
            stocktake::privacy::hash_token(t)
        )
    })
    .collect();
    let path = dir.join("stocktake.toml");
    let repo = crate::util::repo();
    std::fs::write(
        &path,
        format!(
            "[catalog]\nontology_dir = {:?}\nqueries_dir = {:?}\n{extra}\n{tokens}",
            repo.join("ontology"),
            repo.join("queries")
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

/// Runs the real binary with debug logging; returns (ok, stdout, stderr).
fn run(data: &Path, config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = bin()
        .env("RUST_LOG", "debug")
        .args([
            "--data",
            data.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn serve(data: &Path, config: &Path, log: &Path) -> (Child, String) {
    let mut child = bin()
        .env("RUST_LOG", "debug")
        .args([
            "--data",
            data.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in '{line}'"))
        .to_owned();
    (child, addr)
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// Every planted value found in `bytes` (as UTF-8).
fn planted_in(bytes: &[u8]) -> Vec<&'static str> {
    [PHONE, EMAIL, NAME, ADDRESS]
        .into_iter()
        .filter(|p| bytes.windows(p.len()).any(|w| w == p.as_bytes()))
        .collect()
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn get(addr: &str, token: &str, path: &str) -> (u16, String) {
    let r = client()
        .get(format!("{addr}{path}"))
        .bearer_auth(token)
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

fn post_json(addr: &str, token: &str, path: &str, body: serde_json::Value) -> (u16, String) {
    let r = client()
        .post(format!("{addr}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

fn sparql(addr: &str, token: &str, q: &str) -> (u16, String) {
    let r = client()
        .post(format!("{addr}/sparql"))
        .bearer_auth(token)
        .header("content-type", "application/sparql-query")
        .header(
            "accept",
            "application/sparql-results+json, application/n-triples;q=0.9",
        )
        .body(q.to_owned())
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

#[test]
fn planted_personal_data_never_leaks_and_only_an_audited_decryption_opens_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("store");
    let inbox = tmp.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let config = config_file(tmp.path(), "");
    let w = |name: &str, text: &str| {
        let p = inbox.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let products = w("shop.csv", &format!("sku,title\nA1,{CONTROL} 手机\n"));
    // The second user has no id: quarantined, with a copy of its (personal) cells.
    let users = w(
        "users.csv",
        &format!(
            "uid,name,phone,email,address\nU1,{NAME},{PHONE},{EMAIL},上海市{ADDRESS}\n,{NAME},{PHONE},{EMAIL},上海市{ADDRESS}\n"
        ),
    );
    // A review naming the phone in its text, and one of an unknown product (quarantined).
    let reviews = w(
        "reviews.csv",
        &format!("item,uid,body\nA1,U1,很好 电话{PHONE} 邮箱{EMAIL}\nA9,U1,差 {PHONE}\n"),
    );
    let mut logs = String::new();
    for (file, mapping) in [(&products, PRODUCTS), (&users, USERS), (&reviews, REVIEWS)] {
        let m = tmp.path().join("m.toml");
        std::fs::write(&m, mapping).unwrap();
        let (ok, out, err) = run(
            &data,
            &config,
            &[
                "ingest",
                file.to_str().unwrap(),
                "--mapping",
                m.to_str().unwrap(),
                "--no-label",
            ],
        );
        assert!(ok, "{out}\n{err}");
        logs.push_str(&out);
        logs.push_str(&err);
    }
    // The inventory scans the same files (column profiles of personal columns).
    let (ok, out, err) = run(&data, &config, &["scan", inbox.to_str().unwrap()]);
    assert!(ok, "{out}\n{err}");
    logs.push_str(&out);
    logs.push_str(&err);

    // A mapping that maps a personal field without keeping it sealed is refused, clearly.
    let m = tmp.path().join("bad.toml");
    std::fs::write(&m, USERS.split("[keep]").next().unwrap()).unwrap();
    let (ok, _, err) = run(
        &data,
        &config,
        &[
            "ingest",
            users.to_str().unwrap(),
            "--mapping",
            m.to_str().unwrap(),
        ],
    );
    assert!(
        !ok && err.contains("personal data") && err.contains("encrypted"),
        "{err}"
    );
    assert!(
        planted_in(err.as_bytes()).is_empty(),
        "error message: {err}"
    );

    // The pseudonym key is sealed, and the key file lives beside the store, not in it.
    let pk = std::fs::read_to_string(data.join("pseudonym.key")).unwrap();
    assert!(pk.starts_with("stv1:"), "{pk}");
    assert!(tmp.path().join("store.keys/keyring").is_file());

    // Serve at debug level and try every way a read token could get the values out.
    let log = tmp.path().join("serve.log");
    let (child, addr) = serve(&data, &config, &log);
    let mut answers = String::new();
    for q in [
        "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }",
        "SELECT * WHERE { ?s ?p ?o }",
        "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }",
        "DESCRIBE ?u WHERE { GRAPH ?g { ?u a <https://w3id.org/stocktake/ns#User> } }",
    ] {
        let (s, b) = sparql(&addr, READ, q);
        assert_eq!(s, 200, "{q}: {b}");
        answers.push_str(&b);
    }
    for path in [
        "/store",
        "/report",
        "/api/v1/report",
        "/api/v1/labels?limit=1000",
        "/api/v1/changes",
        "/queries",
        "/queries/pii-columns",
        "/queries/quarantine",
        "/api/v1/search?q=%E6%AC%A7%E9%98%B3",
        // (Substrings: the answer echoes the query, and a hit would show the whole value.)
        "/api/v1/search?q=98765432",
        "/ui/catalog",
        "/ui/search?q=%E6%AC%A7%E9%98%B3",
        "/api/v1/decrypt",
        "/api/v1/keys",
        // Differentially private aggregates and the shareable report (ε from the reader's
        // budget: 0.6 of 3).
        "/api/v1/dp/interactions?epsilon=0.1&group_by=category",
        "/api/v1/dp/users?epsilon=0.1&group_by=kind",
        "/api/v1/dp/reviews?epsilon=0.1&group_by=category",
        "/report?shareable=true&epsilon=0.3",
    ] {
        let (status, b) = get(&addr, READ, path);
        if path.contains("epsilon") {
            assert_eq!(status, 200, "{path}: {b}");
        }
        answers.push_str(&b);
    }
    // An anonymised export of the planted users, even by an admin with the default policy,
    // releases none of the values (two people cannot make a class of five: all suppressed).
    let (s, b) = post_json(
        &addr,
        ADMIN,
        "/api/v1/exports/anonymised",
        serde_json::json!({ "source": users }),
    );
    assert_eq!(s, 200, "{b}");
    assert!(b.contains("\"rows_suppressed\":2"), "{b}");
    answers.push_str(&b);
    let (s, b) = post_json(
        &addr,
        READ,
        "/api/v1/exports/anonymised",
        serde_json::json!({ "source": users }),
    );
    assert_eq!(s, 403, "{b}");
    let (s, b) = post_json(
        &addr,
        READ,
        "/api/v1/decrypt",
        serde_json::json!({"subject": "x", "reason": "curious"}),
    );
    assert_eq!(s, 403, "{b}");
    answers.push_str(&b);
    assert!(
        planted_in(answers.as_bytes()).is_empty(),
        "read answers leak: {:?}",
        planted_in(answers.as_bytes())
    );
    assert!(answers.contains(CONTROL), "the control value is served");

    // The admin's dump holds ciphertext only.
    let (s, dump) = get(&addr, ADMIN, "/store");
    assert_eq!(s, 200);
    assert!(
        planted_in(dump.as_bytes()).is_empty(),
        "dump leaks {:?}",
        planted_in(dump.as_bytes())
    );
    assert!(dump.contains("stv1:") && dump.contains(CONTROL));

    // An admin decrypts the quarantined user record and the kept fields, giving a reason.
    let (_, rows) = sparql(
        &addr,
        ADMIN,
        "SELECT ?s WHERE { GRAPH ?g { ?s <https://w3id.org/stocktake/ns#rawRecord> ?r ; <https://w3id.org/stocktake/ns#entityType> \"user\" } }",
    );
    let rows: serde_json::Value = serde_json::from_str(&rows).unwrap();
    let record = rows["results"]["bindings"][0]["s"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, b) = post_json(
        &addr,
        ADMIN,
        "/api/v1/decrypt",
        serde_json::json!({"subject": record, "reason": "x"}),
    );
    assert_eq!(s, 400, "a reason is required: {b}");
    let (s, b) = post_json(
        &addr,
        ADMIN,
        "/api/v1/decrypt",
        serde_json::json!({"subject": record, "reason": "ticket DS-42: repair the record"}),
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(planted_in(b.as_bytes()).len(), 4, "opened: {b}");
    let (_, users_rows) = sparql(
        &addr,
        ADMIN,
        "SELECT ?u WHERE { GRAPH ?g { ?u a <https://w3id.org/stocktake/ns#User> ; <http://schema.org/telephone> ?t } }",
    );
    let users_rows: serde_json::Value = serde_json::from_str(&users_rows).unwrap();
    let user = users_rows["results"]["bindings"][0]["u"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, b) = post_json(
        &addr,
        ADMIN,
        "/api/v1/decrypt",
        serde_json::json!({"subject": user, "reason": "subject access request #7"}),
    );
    assert_eq!(s, 200, "{b}");
    let opened: serde_json::Value = serde_json::from_str(&b).unwrap();
    let by_predicate: std::collections::HashMap<&str, &str> = opened["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["predicate"].as_str().unwrap(),
                v["value"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(by_predicate["http://schema.org/telephone"], PHONE);
    assert_eq!(by_predicate["http://schema.org/name"], NAME);

    // Tamper with a ciphertext in the store (an admin's update, as a compromised disk would):
    // opening it fails loudly and nothing is returned.
    let (_, t) = sparql(
        &addr,
        ADMIN,
        &format!("SELECT ?v WHERE {{ GRAPH ?g {{ <{user}> <http://schema.org/email> ?v }} }}"),
    );
    let t: serde_json::Value = serde_json::from_str(&t).unwrap();
    let sealed = t["results"]["bindings"][0]["v"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let flipped = {
        let mut c: Vec<char> = sealed.chars().collect();
        let i = c.len() - 5;
        c[i] = if c[i] == 'A' { 'B' } else { 'A' };
        c.into_iter().collect::<String>()
    };
    let update = format!(
        "DELETE DATA {{ GRAPH <https://example.org/st/graph/products> {{ <{user}> <http://schema.org/email> \"{sealed}\"^^<https://w3id.org/stocktake/ns#sealed> }} }} ;
         INSERT DATA {{ GRAPH <https://example.org/st/graph/products> {{ <{user}> <http://schema.org/email> \"{flipped}\"^^<https://w3id.org/stocktake/ns#sealed> }} }}"
    );
    let r = client()
        .post(format!("{addr}/sparql"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/sparql-update")
        .body(update)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap());
    let (s, b) = post_json(
        &addr,
        ADMIN,
        "/api/v1/decrypt",
        serde_json::json!({"subject": user, "reason": "after tampering"}),
    );
    assert_eq!(s, 500, "{b}");
    assert!(b.contains("failed authentication"), "{b}");
    assert!(planted_in(b.as_bytes()).is_empty(), "{b}");
    stop(child);

    // Every decryption (and the failed one) is in the audit log — with the reason, never the
    // values — and the chain verifies.
    let audit = std::fs::read_to_string(data.join("audit.log")).unwrap();
    let decrypts: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("\"decrypt\""))
        .collect();
    assert_eq!(decrypts.len(), 3, "{audit}");
    assert!(decrypts.iter().any(|l| l.contains("ticket DS-42")));
    assert!(decrypts.iter().any(|l| l.contains("failed")));
    let (ok, out, _) = run(&data, &config, &["audit", "verify"]);
    assert!(ok && out.contains("intact"), "{out}");

    // Nothing planted in the store's files (RocksDB tables, logs, WAL), the pseudonym key,
    // the CLI's dump, the audit log, or any log line at debug level; the control is found.
    let (ok, dump, err) = run(&data, &config, &["dump"]);
    assert!(ok, "{err}");
    assert!(planted_in(dump.as_bytes()).is_empty(), "CLI dump leaks");
    logs.push_str(&err);
    logs.push_str(&std::fs::read_to_string(&log).unwrap());
    assert!(
        planted_in(logs.as_bytes()).is_empty(),
        "logs leak {:?}",
        planted_in(logs.as_bytes())
    );
    let mut files = Vec::new();
    files_under(&data, &mut files);
    let mut control_seen = false;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        control_seen |= bytes
            .windows(CONTROL.len())
            .any(|w| w == CONTROL.as_bytes());
        assert!(
            planted_in(&bytes).is_empty(),
            "{} holds {:?} in plaintext",
            f.display(),
            planted_in(&bytes)
        );
    }
    assert!(
        control_seen,
        "the search of the store's files finds plaintext where there is some"
    );
}

#[test]
fn rotation_reencrypts_everything_resumably_and_the_server_serves_without_a_key() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("store");
    let config = config_file(tmp.path(), "");
    let users = tmp.path().join("users.csv");
    let mut csv = String::from("uid,phone\n");
    for i in 0..30 {
        csv.push_str(&format!("U{i},1390000{i:04}\n"));
    }
    std::fs::write(&users, csv).unwrap();
    let m = tmp.path().join("m.toml");
    std::fs::write(
        &m,
        "entity = \"user\"\n[columns]\nid = \"uid\"\nphone = \"phone\"\n[keep]\nphone = \"encrypted\"\n",
    )
    .unwrap();
    let (ok, _, err) = run(
        &data,
        &config,
        &[
            "ingest",
            users.to_str().unwrap(),
            "--mapping",
            m.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let (ok, status, _) = run(&data, &config, &["keys", "status"]);
    assert!(
        ok && status.contains("(current): 31 sealed values"),
        "{status}"
    );
    let first = status
        .lines()
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .trim()
        .replace(" (current)", "");

    // A rotation interrupted after one value: the rerun finishes the other 29.
    let keyring = tmp.path().join("store.keys/keyring");
    let new_id = stocktake::vault::add_key(&keyring).unwrap();
    {
        let mut c = crate::util::test_config(&data);
        c.vault.key_file = Some(keyring.clone());
        let app = stocktake::app::App::open(c).unwrap();
        let ring = app.keyring().unwrap();
        let (batch, total) = app.catalog().sealed_with_other_keys(&new_id, 1).unwrap();
        assert_eq!((batch.len(), total), (1, 30));
        let v = &batch[0];
        let context = stocktake::vault::field_context(&v.subject, &v.predicate);
        let resealed = ring.seal(&ring.open(&v.value, &context).unwrap(), &context);
        assert_eq!(
            app.catalog()
                .replace_sealed(&[(v.clone(), resealed)])
                .unwrap(),
            1
        );
    }
    let (ok, out, err) = run(&data, &config, &["keys", "rotate", "--reencrypt-only"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("re-encrypted 29 of 30 sealed values and the pseudonym key"),
        "{out}"
    );
    let (_, status, _) = run(&data, &config, &["keys", "status"]);
    assert!(
        status.contains(&format!("{new_id} (current): 31 sealed values")),
        "{status}"
    );
    assert!(
        status.contains(&format!("{first}: 0 sealed values")),
        "{status}"
    );
    // A full rotation with a fresh key; then the old keys can go and everything still opens.
    let (ok, out, _) = run(&data, &config, &["keys", "rotate"]);
    assert!(ok && out.contains("re-encrypted 30 of 30"), "{out}");
    let text = std::fs::read_to_string(&keyring).unwrap();
    let last = text.lines().last().unwrap().to_string();
    std::fs::write(&keyring, format!("{last}\n")).unwrap();
    let (ok, out, err) = run(
        &data,
        &config,
        &[
            "keys",
            "decrypt",
            "https://example.org/st/id/user/x",
            "--reason",
            "check",
        ],
    );
    assert!(ok, "{out} {err}");
    let user = {
        let (_, q, _) = run(
            &data,
            &config,
            &[
                "query",
                "SELECT ?u WHERE { GRAPH ?g { ?u <http://schema.org/telephone> ?t } } LIMIT 1",
                "--format",
                "tsv",
            ],
        );
        q.lines()
            .nth(1)
            .unwrap()
            .trim()
            .trim_matches(|c| c == '<' || c == '>')
            .to_string()
    };
    let (ok, out, err) = run(
        &data,
        &config,
        &["keys", "decrypt", &user, "--reason", "after rotation"],
    );
    assert!(ok && out.contains("1390000"), "{out} {err}");

    // Without any key (the KMS is down): everything else is served; decrypting and ingesting
    // say why they cannot.
    let broken = config_file(
        tmp.path(),
        "[vault]\nkey_command = \"echo kms unreachable >&2; exit 7\"\n",
    );
    let log = tmp.path().join("serve.log");
    let (child, addr) = serve(&data, &broken, &log);
    let (s, _) = sparql(
        &addr,
        READ,
        "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }",
    );
    assert_eq!(s, 200);
    let (s, _) = get(&addr, READ, "/report");
    assert_eq!(s, 200);
    let (s, b) = post_json(
        &addr,
        ADMIN,
        "/api/v1/decrypt",
        serde_json::json!({"subject": user, "reason": "while the KMS is down"}),
    );
    assert_eq!(s, 503, "{b}");
    // The command's own message goes to the operator's log, never into an answer.
    assert!(
        b.contains("key command") && !b.contains("kms unreachable"),
        "{b}"
    );
    // (A new file: an asset ingested before with the same mapping is skipped without a key.)
    let more = tmp.path().join("more-users.csv");
    std::fs::write(&more, "uid,phone\nV1,13900009999\n").unwrap();
    let (s, b) = post_json(
        &addr,
        ADMIN,
        "/api/v1/ingest",
        serde_json::json!({"asset": more, "mapping": std::fs::read_to_string(&m).unwrap()}),
    );
    // Accepted as a job or refused at once: either way the job ends with the reason.
    if s == 202 {
        let job: serde_json::Value = serde_json::from_str(&b).unwrap();
        let href = job["href"].as_str().unwrap().to_string();
        let mut last = String::new();
        for _ in 0..100 {
            last = get(&addr, ADMIN, &href).1;
            if !last.contains("\"running\"") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(
            last.contains("key command") && !last.contains("kms unreachable"),
            "{last}"
        );
    } else {
        assert_eq!(s, 503, "{b}");
    }
    stop(child);
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("kms unreachable"));
}
