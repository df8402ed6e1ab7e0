//! Differential privacy through the server and the binary: answers over the declared group
//! domain close to the truth at the stated noise, each caller's budget and the dataset's
//! budget enforced (refused past them, persisted in the catalog so a restart does not reset
//! them), bad requests refused with a reason.

use crate::auth::{send, Who};
use crate::util::{admin_update, bin, TestServer};

/// 60 people, 6 products in 3 categories (the third has no interactions), each person with
/// 1–4 views in January 2024 and a purchase for every third person.
fn seed(server: &TestServer) -> [u64; 3] {
    let g = server.catalog.layout().products.as_str().to_owned();
    let mut data = String::new();
    let mut truth = [0u64; 3];
    for p in 0..6 {
        let cat = p / 2;
        data += &format!(
            "<http://ex.org/p{p}> a schema:Product ; schema:category <http://ex.org/c{cat}> ; \
             schema:offers <http://ex.org/p{p}/offer> . <http://ex.org/p{p}/offer> schema:price {}.50 . \
             <http://ex.org/c{cat}> skos:prefLabel \"品类{cat}\" . ",
            10 + p
        );
    }
    let mut n = 0;
    for u in 0..60 {
        for j in 0..(u % 4 + 1) {
            let p = (u + j) % 4; // products 0..3: categories 0 and 1 only
            truth[p / 2] += 1;
            data += &format!(
                "<http://ex.org/i{n}> st:user <http://ex.org/u{u}> ; st:product <http://ex.org/p{p}> ; \
                 st:interactionKind st:viewed ; prov:atTime \"2024-01-{:02}T10:00:00Z\"^^xsd:dateTime . ",
                j + 1
            );
            n += 1;
        }
        if u % 3 == 0 {
            data += &format!(
                "<http://ex.org/i{n}> st:user <http://ex.org/u{u}> ; st:product <http://ex.org/p1> ; \
                 st:interactionKind st:purchased ; prov:atTime \"2024-01-20T10:00:00Z\"^^xsd:dateTime . "
            );
            n += 1;
        }
    }
    admin_update(
        server,
        &format!(
            "PREFIX st: <https://w3id.org/stocktake/ns#> PREFIX schema: <http://schema.org/> \
             PREFIX skos: <http://www.w3.org/2004/02/skos/core#> PREFIX prov: <http://www.w3.org/ns/prov#> \
             PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> INSERT DATA {{ GRAPH <{g}> {{ {data} }} }}"
        ),
    );
    truth
}

fn dp(server: &TestServer, who: Who, query: &str) -> (u16, serde_json::Value) {
    let (status, body) = send(
        server,
        who,
        reqwest::Method::GET,
        &format!("/api/v1/dp/{query}"),
        None,
        None,
    );
    let v = serde_json::from_str(&body).unwrap_or_else(|_| serde_json::json!({ "raw": body }));
    (status, v)
}

#[test]
fn answers_spend_budgets_and_are_refused_past_them() {
    let server = TestServer::start_with(|c| {
        c.privacy.token_epsilon = "3".into();
        c.privacy.dataset_epsilon = "5".into();
        c.privacy.max_per_person = 4;
    });
    let views = seed(&server);

    // A histogram over every category of the catalog, the empty one included.
    let (status, v) = dp(
        &server,
        Who::Reader,
        "interactions?epsilon=1&group_by=category&kind=viewed&purpose=test",
    );
    assert_eq!(status, 200, "{v}");
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3, "the declared domain, not the data's: {v}");
    assert_eq!(v["sensitivity"], 4.0);
    assert_eq!(v["delta"], 0.0);
    for (g, want) in groups.iter().zip(views) {
        let (value, sd) = (
            g["value"].as_f64().unwrap(),
            g["noise_sd"].as_f64().unwrap(),
        );
        assert!((value - want as f64).abs() <= 8.0 * sd, "{g} vs {want}");
    }
    assert!(groups[0]["label"].as_str().unwrap().starts_with("品类"));
    assert_eq!(v["spent_by_you"], 1.0);

    // Orders by month, a mean price with given bounds, people per kind, the top category.
    let (status, v) = dp(
        &server,
        Who::Reader,
        "orders?epsilon=0.5&group_by=month&from=2024-01-01&to=2024-02-29",
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["groups"].as_array().unwrap().len(), 2, "{v}");
    let (status, v) = dp(
        &server,
        Who::Reader,
        "orders?epsilon=0.5&aggregate=mean&value=price&lower=0&upper=100",
    );
    assert_eq!(status, 200, "{v}");
    let mean = v["groups"][0]["value"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&mean), "{v}");
    let (status, v) = dp(&server, Who::Reader, "users?epsilon=0.5&group_by=kind");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["groups"].as_array().unwrap().len(), 3);
    let (status, v) = dp(
        &server,
        Who::Reader,
        "interactions?epsilon=0.5&group_by=category&top=1",
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["groups"].as_array().unwrap().len(), 1);
    assert_eq!(v["spent_by_you"], 3.0);

    // The reader's 3 are spent; the writer has its own, until the dataset's 5 run out.
    let (status, v) = dp(&server, Who::Reader, "interactions?epsilon=0.001");
    assert_eq!(status, 403, "{v}");
    assert!(v.to_string().contains("privacy budget spent"), "{v}");
    let (status, v) = dp(&server, Who::Writer, "interactions?epsilon=2");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["spent_on_dataset"], 5.0);
    let (status, v) = dp(&server, Who::Writer, "interactions?epsilon=0.5");
    assert_eq!(status, 403, "{v}");
    assert!(v.to_string().contains("of the 5 allowed"), "{v}");
    // Another dataset has its own budget.
    let (status, v) = dp(&server, Who::Writer, "reviews?epsilon=0.5");
    assert_eq!(status, 200, "{v}");

    // The ledger is in the catalog: every spend, by whom, with its ε.
    let rows = crate::util::select(
        &server.catalog,
        "PREFIX st: <https://w3id.org/stocktake/ns#> PREFIX prov: <http://www.w3.org/ns/prov#> \
         SELECT ?who ?eps ?ds WHERE { GRAPH ?g { ?s a st:PrivacySpend ; st:epsilonSpent ?eps ; \
         st:dataset ?ds ; prov:wasAssociatedWith ?who } }",
    );
    assert_eq!(rows.len(), 7, "{rows:?}");
    let spent: f64 = rows
        .iter()
        .filter(|r| r["ds"] == "interactions")
        .map(|r| r["eps"].parse::<f64>().unwrap())
        .sum();
    assert!((spent - 5.0).abs() < 1e-9, "{rows:?}");
    assert!(server.audit_log().contains("dp-query"));
}

#[test]
fn bad_dp_requests_say_why() {
    let server = TestServer::start();
    seed(&server);
    for (query, needle) in [
        ("interactions?epsilon=0", "epsilon"),
        ("interactions?epsilon=20", "epsilon"),
        ("interactions", "epsilon"),
        ("interactions?epsilon=1&group_by=day", "from and to"),
        (
            "orders?epsilon=1&aggregate=sum&value=price",
            "lower and upper",
        ),
        ("interactions?epsilon=1&aggregate=sum", "value"),
        ("people?epsilon=1", "unknown dataset"),
        ("reviews?epsilon=1&group_by=kind", "cannot group"),
        ("interactions?epsilon=1&kind=liked", "unknown kind"),
        (
            "interactions?epsilon=1&from=2024-02-01&to=2024-01-01",
            "after",
        ),
        (
            "interactions?epsilon=1&group_by=month&from=-262000-01-01&to=%2B262000-01-01",
            "between 1900-01-01 and 2199-12-31",
        ),
        (
            "orders?epsilon=0.123457&aggregate=sum&value=price&lower=0&upper=897425898.57&max_per_person=5961",
            "too large",
        ),
    ] {
        let (status, v) = dp(&server, Who::Reader, query);
        assert_eq!(status, 400, "{query}: {v}");
        assert!(v.to_string().contains(needle), "{query}: {v}");
    }
    let (status, _) = dp(&server, Who::Anonymous, "interactions?epsilon=1");
    assert_eq!(status, 401);
    // Nothing was spent by refused requests.
    let rows = crate::util::select(
        &server.catalog,
        "PREFIX st: <https://w3id.org/stocktake/ns#> SELECT ?s WHERE { GRAPH ?g { ?s a st:PrivacySpend } }",
    );
    assert!(rows.is_empty(), "{rows:?}");
}

/// The ledger outlives the process: a spent dataset stays spent for the command line too.
#[test]
fn budgets_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let config = dir.path().join("stocktake.toml");
    std::fs::write(&config, "[privacy]\ndataset_epsilon = \"1.5\"\n").unwrap();
    let run = |eps: &str| {
        let o = bin()
            .args([
                "--data",
                data.to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
            ])
            .args(["dp", "interactions", "--epsilon", eps, "--format", "json"])
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    assert!(run("1").0);
    let (ok, err) = run("1");
    assert!(!ok && err.contains("privacy budget spent"), "{err}");
    assert!(run("0.5").0, "exactly the rest of the budget");
}

/// `/report?shareable=true`: user-level assets' exact counts withheld, three DP figures at a
/// third of ε each, spent from the caller's budget; without budget, refused before spending.
#[test]
fn the_shareable_report_withholds_counts_and_spends_the_budget() {
    let server = TestServer::start_with(|c| c.privacy.token_epsilon = "1".into());
    seed(&server);
    let users = crate::util::repo().join("demo/data/users.csv");
    let (status, body) = send(
        &server,
        Who::Admin,
        reqwest::Method::POST,
        "/api/v1/sources",
        Some("application/json"),
        Some(serde_json::json!({ "source": users }).to_string()),
    );
    assert_eq!(status, 201, "{body}");
    let (status, plain) = send(
        &server,
        Who::Reader,
        reqwest::Method::GET,
        "/report?format=json",
        None,
        None,
    );
    assert_eq!(status, 200);
    assert!(plain.contains("\"rows\":600"), "{plain}");

    let (status, page) = send(
        &server,
        Who::Reader,
        reqwest::Method::GET,
        "/report?shareable=true&epsilon=0.9",
        None,
        None,
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("differentially private (ε = 0.9)"), "{page}");
    assert!(page.contains("<td>withheld</td>"), "{page}");
    assert!(page.contains("品类0"), "{page}");
    let (status, json) = send(
        &server,
        Who::Writer,
        reqwest::Method::GET,
        "/report?shareable=true&epsilon=0.3&format=json",
        None,
        None,
    );
    assert_eq!(status, 200, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["figures"].as_array().unwrap().len(), 3);
    assert_eq!(v["withheld"].as_array().unwrap().len(), 1);
    assert!(!json.contains("\"rows\":600"), "{json}");
    // The reader has 0.1 left of 1: another shareable report at 0.9 is refused, and spends
    // nothing (the ledger holds the six figures of the two reports).
    let (status, body) = send(
        &server,
        Who::Reader,
        reqwest::Method::GET,
        "/report?shareable=true&epsilon=0.9",
        None,
        None,
    );
    assert_eq!(status, 403, "{body}");
    let rows = crate::util::select(
        &server.catalog,
        "PREFIX st: <https://w3id.org/stocktake/ns#> SELECT ?s WHERE { GRAPH ?g { ?s a st:PrivacySpend } }",
    );
    assert_eq!(rows.len(), 6);
    let (status, _) = send(
        &server,
        Who::Reader,
        reqwest::Method::GET,
        "/report?epsilon=1",
        None,
        None,
    );
    assert_eq!(status, 400, "epsilon without shareable");
}

/// A token's DP budget and expiry come from its grant, and change without a restart: the
/// server follows the configuration file (`stocktake token grant` edits it, audited).
#[test]
fn token_grants_and_expiry_apply_without_restart() {
    use stocktake::config::{grant_token, store_token, GrantChange};
    use stocktake::privacy::{hash_token, Role, TokenEntry};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stocktake.toml");
    let analyst = TokenEntry {
        dp_epsilon: Some("0.2".into()),
        ..TokenEntry::new("analyst", Role::Read, hash_token("st_analyst"))
    };
    store_token(&file, &analyst).unwrap();
    let path = file.clone();
    let initial = analyst.clone();
    let server = TestServer::start_with(move |c| {
        c.tokens = vec![initial];
        c.loaded_from = Some(path);
    });
    let ask = |eps: &str| {
        let r = crate::util::client()
            .get(server.url(&format!("/api/v1/dp/interactions?epsilon={eps}")))
            .bearer_auth("st_analyst")
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    let (status, body) = ask("0.2");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"budget_for_you\":0.2"), "{body}");
    let (status, body) = ask("0.1");
    assert_eq!(status, 403, "the grant is 0.2: {body}");

    // More budget through the CLI, picked up by the running server.
    let o = bin()
        .args([
            "--config",
            file.to_str().unwrap(),
            "--data",
            dir.path().join("d").to_str().unwrap(),
        ])
        .args(["token", "grant", "analyst", "--dp-epsilon", "1"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let audit = std::fs::read_to_string(dir.path().join("d/audit.log")).unwrap();
    assert!(
        audit.contains("token-grant") && audit.contains("analyst"),
        "{audit}"
    );
    let t = std::time::Instant::now();
    while ask("0.1").0 != 200 {
        assert!(
            t.elapsed().as_secs() < 10,
            "the new grant was not picked up"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let o = bin()
        .args(["--config", file.to_str().unwrap(), "token", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&o.stdout);
    assert!(
        listed.contains("analyst\tread\tno expiry\tdp ε 1"),
        "{listed}"
    );
    assert!(
        !listed.contains(&hash_token("st_analyst")),
        "no hashes listed"
    );

    // An expiry in the past: refused (401, saying so) within a second or two.
    grant_token(
        &file,
        "analyst",
        GrantChange {
            expires: Some(Some("2020-01-01".into())),
            ..GrantChange::default()
        },
    )
    .unwrap();
    let t = std::time::Instant::now();
    loop {
        let (status, body) = ask("0.001");
        if status == 401 {
            assert!(body.contains("expired"), "{body}");
            break;
        }
        assert!(
            t.elapsed().as_secs() < 10,
            "the expired token still works: {body}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
