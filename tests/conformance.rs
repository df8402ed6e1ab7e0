//! Conformance of the project's own files: every `queries/*.rq` and every module's own
//! `src/*/queries/*.rq` parses (spargebra) and runs, and every named query returns the known
//! answer of its fixture (`tests/fixtures/named-queries/`);
//! every `ontology/*.ttl` parses; the shapes are well-formed SHACL; the taxonomy covers the
//! required categories in Chinese and English; the ontology reloads on change, never duplicated.

use std::collections::BTreeMap;

use stocktake::catalog::{
    CancelToken, Catalog, GraphLayout, Limits, NamedQuery, OutputFormat, ResultsFormat, Visibility,
};

use crate::util::{client, repo, TestServer, ADMIN, READ};

fn select_csv(catalog: &Catalog, q: &str) -> String {
    let p = catalog
        .prepare_query(
            q,
            None,
            &Default::default(),
            &Visibility::ADMIN,
            false,
            &CancelToken::new(),
        )
        .unwrap();
    let s = catalog
        .execute_query(
            p,
            OutputFormat::Results(ResultsFormat::Csv),
            Limits::unbounded(),
        )
        .unwrap();
    String::from_utf8(s.body).unwrap()
}

fn loaded() -> (tempfile::TempDir, Catalog) {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Catalog::open(
        dir.path(),
        GraphLayout::new("http://stocktake.local/").unwrap(),
    )
    .unwrap();
    catalog.load_ontology(&repo().join("ontology")).unwrap();
    (dir, catalog)
}

#[test]
fn every_named_query_parses_and_runs() {
    let queries = NamedQuery::load_dir(&repo().join("queries")).unwrap();
    assert!(queries.len() >= 5, "ship useful named queries");
    for q in &queries {
        spargebra::SparqlParser::new().parse_query(&q.text).unwrap();
        assert!(!q.description.is_empty(), "{} needs a description", q.name);
    }
    let server = TestServer::start();
    for q in &queries {
        // Required parameters get a value of their type (queries about one thing, e.g. a scan).
        let required: Vec<String> = q
            .params
            .iter()
            .filter(|p| p.default.is_none())
            .map(|p| {
                let v = if p.kind == "iri" {
                    "https%3A%2F%2Fexample.org%2Fnone"
                } else {
                    "1"
                };
                format!("{}={v}", p.name)
            })
            .collect();
        let r = client()
            .get(server.url(&format!("/queries/{}?{}", q.name, required.join("&"))))
            .bearer_auth(READ)
            .send()
            .unwrap();
        let status = r.status().as_u16();
        assert_eq!(status, 200, "{}: {}", q.name, r.text().unwrap());
    }
    // And the ontology-backed ones return rows.
    let (_dir, catalog) = loaded();
    for name in [
        "categories",
        "vocabulary",
        "shapes",
        "asset-kinds",
        "graphs",
    ] {
        let q = queries.iter().find(|q| q.name == name).unwrap();
        let p = catalog
            .prepare_named(
                q,
                &BTreeMap::new(),
                &Visibility::ADMIN,
                false,
                &CancelToken::new(),
            )
            .unwrap();
        let s = catalog
            .execute_query(
                p,
                OutputFormat::Results(ResultsFormat::Csv),
                Limits {
                    max_rows: 10_000,
                    ..Limits::unbounded()
                },
            )
            .unwrap();
        assert!(s.rows > 0, "{name} returned nothing");
    }
}

/// Every named query gives a known answer on its own fixture: `tests/fixtures/named-queries/
/// <name>.ru` (an INSERT DATA with rows that must match and decoys that must not) is loaded
/// into an empty store, the query runs over HTTP with `<name>.params`, and its CSV must equal
/// `<name>.csv` row for row (every named query orders its results). A query without a
/// fixture, or a fixture without a query, fails the test.
#[test]
fn every_named_query_answers_its_fixture() {
    let dir = repo().join("tests/fixtures/named-queries");
    let queries = NamedQuery::load_dir(&repo().join("queries")).unwrap();
    let server = TestServer::start_with(|c| {
        c.catalog.ontology_dir = std::path::PathBuf::from("/nonexistent-ontology")
    });
    let update = |text: String| {
        let r = client()
            .post(server.url("/sparql"))
            .bearer_auth(ADMIN)
            .header("content-type", "application/sparql-update")
            .body(text)
            .send()
            .unwrap();
        let status = r.status();
        assert!(status.is_success(), "{status}: {}", r.text().unwrap());
    };
    let rows = |csv_text: &str| -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(csv_text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    };
    let mut failures = Vec::new();
    for q in &queries {
        let fixture = dir.join(format!("{}.ru", q.name));
        let Ok(data) = std::fs::read_to_string(&fixture) else {
            failures.push(format!("{}: no fixture {}", q.name, fixture.display()));
            continue;
        };
        assert!(
            q.text.contains("ORDER BY"),
            "{}: results need an order",
            q.name
        );
        update("DROP SILENT ALL".into());
        update(data);
        let params =
            std::fs::read_to_string(dir.join(format!("{}.params", q.name))).unwrap_or_default();
        let r = client()
            .get(server.url(&format!("/queries/{}?{}", q.name, params.trim())))
            .bearer_auth(ADMIN)
            .header("accept", "text/csv")
            .send()
            .unwrap();
        let status = r.status().as_u16();
        let got = r.text().unwrap();
        if status != 200 {
            failures.push(format!("{}: status {status}: {got}", q.name));
            continue;
        }
        let want = std::fs::read_to_string(dir.join(format!("{}.csv", q.name))).unwrap();
        if rows(&got) != rows(&want) {
            failures.push(format!("{}:\n got:\n{got}\nwant:\n{want}", q.name));
        }
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        if !queries.iter().any(|q| q.name == stem) {
            failures.push(format!("{}: a fixture for no query", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The `.rq` files the modules read the graph with (`src/*/queries/`), found wherever they are.
fn internal_queries(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            internal_queries(&path, out);
        } else if path.extension().is_some_and(|e| e == "rq") {
            out.push(path);
        }
    }
}

#[test]
fn every_internal_query_parses_and_runs() {
    let mut files = Vec::new();
    internal_queries(&repo().join("src"), &mut files);
    assert!(
        files.len() >= 6,
        "the modules' queries live in .rq files: {files:?}"
    );
    let (_dir, catalog) = loaded();
    for path in &files {
        let name = path.file_stem().unwrap().to_str().unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let q =
            NamedQuery::parse(name, &text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            !q.description.is_empty(),
            "{} needs a description",
            path.display()
        );
        spargebra::SparqlParser::new()
            .parse_query(&q.text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let args: BTreeMap<String, String> = q
            .params
            .iter()
            .filter(|p| p.default.is_none())
            .map(|p| {
                let v = if p.kind == "iri" {
                    "https://example.org/none"
                } else {
                    "1"
                };
                (p.name.clone(), v.to_owned())
            })
            .collect();
        for vis in [Visibility::ADMIN, Visibility::PUBLIC] {
            let p = catalog
                .prepare_named(&q, &args, &vis, false, &CancelToken::new())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            catalog
                .execute_query(
                    p,
                    OutputFormat::Results(ResultsFormat::Csv),
                    Limits::unbounded(),
                )
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

#[test]
fn every_ontology_file_parses() {
    for entry in std::fs::read_dir(repo().join("ontology")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ttl") {
            let dir = tempfile::tempdir().unwrap();
            std::fs::copy(&path, dir.path().join("x.ttl")).unwrap();
            let catalog = Catalog::in_memory(GraphLayout::new("http://s.local/").unwrap()).unwrap();
            let report = catalog
                .load_ontology(dir.path())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(report.triples > 10, "{}", path.display());
        }
    }
}

#[test]
fn shapes_are_well_formed_shacl() {
    let (_dir, catalog) = loaded();
    // Structural rules from the SHACL spec (a subset of shacl-shacl): every node shape has a
    // target; every property shape has exactly one IRI path; counts are non-negative integers;
    // sh:datatype and sh:class are IRIs; sh:pattern is a string.
    let violations = select_csv(
        &catalog,
        "PREFIX sh: <http://www.w3.org/ns/shacl#>
         PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
         SELECT ?shape ?problem WHERE { GRAPH ?g {
           { ?shape a sh:NodeShape FILTER NOT EXISTS { ?shape sh:targetClass|sh:targetNode|sh:targetSubjectsOf|sh:targetObjectsOf ?t }
             BIND(\"node shape without target\" AS ?problem) }
           UNION { ?s sh:property ?shape FILTER NOT EXISTS { ?shape sh:path ?p } BIND(\"property without path\" AS ?problem) }
           UNION { ?s sh:property ?shape . ?shape sh:path ?p1, ?p2 FILTER(?p1 != ?p2) BIND(\"several paths\" AS ?problem) }
           UNION { ?shape sh:minCount|sh:maxCount ?c FILTER(DATATYPE(?c) != xsd:integer || ?c < 0) BIND(\"bad count\" AS ?problem) }
           UNION { ?shape sh:datatype|sh:class|sh:targetClass ?c FILTER(!isIRI(?c)) BIND(\"non-IRI class or datatype\" AS ?problem) }
           UNION { ?shape sh:pattern ?r FILTER(DATATYPE(?r) != xsd:string) BIND(\"pattern not a string\" AS ?problem) }
         } }",
    );
    assert_eq!(
        violations.lines().count(),
        1,
        "SHACL problems:\n{violations}"
    );
    // Every constraint the shapes use is one the validator checks (none silently skipped).
    let report = catalog.validate(&catalog.layout().products).unwrap();
    assert!(report.unsupported.is_empty(), "{:?}", report.unsupported);
    assert!(report.shapes >= 9, "{report:?}");
    let shapes = select_csv(
        &catalog,
        "PREFIX sh: <http://www.w3.org/ns/shacl#> SELECT ?s { GRAPH ?g { ?s a sh:NodeShape } }",
    );
    assert!(shapes.lines().count() >= 8, "{shapes}");
}

#[test]
fn taxonomy_covers_required_categories_in_both_languages() {
    let (_dir, catalog) = loaded();
    let seed = [
        "电子产品",
        "服饰鞋包",
        "家居用品",
        "食品饮料",
        "图书文具",
        "化妆品",
        "运动户外",
        "个人护理",
        "家庭娱乐",
        "数码配件",
    ];
    let reviews = [
        "书籍",
        "平板",
        "手机",
        "水果",
        "洗发水",
        "热水器",
        "蒙牛",
        "衣服",
        "计算机",
        "酒店",
    ];
    for label in seed {
        let csv = select_csv(
            &catalog,
            &format!("PREFIX skos: <http://www.w3.org/2004/02/skos/core#> SELECT ?en {{ GRAPH ?g {{ ?c skos:prefLabel \"{label}\"@zh ; skos:prefLabel ?en FILTER(LANG(?en) = \"en\") }} }}"),
        );
        assert_eq!(csv.lines().count(), 2, "{label}: {csv}");
    }
    for notation in reviews {
        let csv = select_csv(
            &catalog,
            &format!("PREFIX skos: <http://www.w3.org/2004/02/skos/core#> SELECT ?en ?zh ?parent {{ GRAPH ?g {{ ?c skos:notation \"{notation}\" ; skos:broader ?parent ; skos:prefLabel ?en, ?zh FILTER(LANG(?en) = \"en\" && LANG(?zh) = \"zh\") }} }}"),
        );
        assert_eq!(csv.lines().count(), 2, "{notation}: {csv}");
    }
}

#[test]
fn ontology_reloads_on_change_and_never_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let onto = dir.path().join("onto");
    std::fs::create_dir(&onto).unwrap();
    std::fs::write(onto.join("a.ttl"), "<http://a> <http://b> <http://c> .\n").unwrap();
    let layout = GraphLayout::new("http://s.local/").unwrap();
    {
        let c = Catalog::open(&dir.path().join("store"), layout.clone()).unwrap();
        let r = c.load_ontology(&onto).unwrap();
        assert!(r.reloaded);
        assert_eq!(r.triples, 1);
    }
    {
        let c = Catalog::open(&dir.path().join("store"), layout.clone()).unwrap();
        let r = c.load_ontology(&onto).unwrap();
        assert!(!r.reloaded, "unchanged ontology is not reloaded");
        assert_eq!(r.triples, 1);
    }
    std::fs::write(
        onto.join("a.ttl"),
        "<http://a> <http://b> <http://d> .\n<http://a> <http://b> <http://e> .\n",
    )
    .unwrap();
    let c = Catalog::open(&dir.path().join("store"), layout).unwrap();
    let r = c.load_ontology(&onto).unwrap();
    assert!(r.reloaded);
    assert_eq!(r.triples, 2, "old content replaced, not added to");
    let csv = select_csv(
        &c,
        "SELECT ?h { GRAPH ?g { ?s <https://w3id.org/stocktake/ns#contentHash> ?h } }",
    );
    assert_eq!(csv.lines().count(), 2, "exactly one stored hash: {csv}");
}

#[test]
fn the_readme_example_configuration_parses() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let block = readme
        .split("```toml")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("[server]") && b.contains("[ingest]"))
        .expect("the README has the example stocktake.toml");
    let config = stocktake::config::Config::from_toml(block)
        .unwrap_or_else(|e| panic!("README example config: {e}"));
    assert_eq!(config.ingest.review_model, "review-classifier");
    assert!(config.server.file_roots.is_empty());
}

#[test]
fn the_openapi_document_names_every_endpoint_and_only_served_ones() {
    let server = TestServer::start();
    let r = client()
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "no token needed");
    let spec: serde_json::Value = r.json().unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    assert_eq!(spec["info"]["version"], env!("CARGO_PKG_VERSION"));
    let paths = spec["paths"].as_object().unwrap();
    // Every documented path and method is routed (the fallback answers unrouted paths with
    // "no such endpoint", a wrong method gets 405).
    for (path, item) in paths {
        let concrete = path
            .replace("{name}", "scans")
            .replace("{job}", "nope")
            .replace("{id}", "00")
            .replace("{decision}", "accept")
            .replace("{path}", "some/graph")
            .replace("{dataset}", "interactions");
        for method in ["get", "post", "put", "delete", "head"] {
            if item.get(method).is_none() {
                continue;
            }
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = client()
                .request(m, server.url(&concrete))
                .bearer_auth(READ)
                .send()
                .unwrap();
            let status = r.status().as_u16();
            let body = r.text().unwrap_or_default();
            assert!(
                status != 405 && !body.contains("no such endpoint"),
                "{method} {path} is documented but not served: {status} {body}"
            );
        }
    }
    // And every endpoint the index lists is documented.
    let index: serde_json::Value = client()
        .get(server.url("/"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    for listed in index["endpoints"].as_object().unwrap().keys() {
        assert!(
            paths.contains_key(listed),
            "{listed} is served but not in openapi.json"
        );
    }
}
