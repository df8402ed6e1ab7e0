//! `stocktake ontology check|diff`: every check finds its planted defect (and nothing else) in
//! the fixtures, the shipped ontology passes its own check with no finding, the CLI's exit
//! codes and formats, the semantic diff, and the real thesauri of `../shared/data/ontology`
//! against the counts their README tables.

use std::collections::BTreeSet;
use std::path::PathBuf;

use stocktake::catalog::ontology::check::{check, CheckOptions, CHECKS};
use stocktake::catalog::ontology::diff::diff;
use stocktake::catalog::ontology::source::OntologySource;

use crate::util::{bin, repo};

fn fixtures() -> PathBuf {
    repo().join("tests/fixtures/ontology")
}

fn read(paths: &[PathBuf]) -> OntologySource {
    OntologySource::read(paths).unwrap()
}

#[test]
fn each_planted_defect_is_found_by_its_check_alone() {
    let base = fixtures().join("base.ttl");
    let clean = check(&read(std::slice::from_ref(&base)), &CheckOptions::default());
    assert!(clean.findings.is_empty(), "{}", clean.text(50));
    assert!(clean.counts.shapes == 3 && clean.counts.concepts == 3 && clean.counts.brands == 2);
    let mut planted = BTreeSet::new();
    for c in CHECKS {
        let defect = fixtures().join(format!("defects/{}.ttl", c.id));
        assert!(defect.is_file(), "no fixture for check {}", c.id);
        let report = check(
            &read(&[base.clone(), defect.clone()]),
            &CheckOptions::default(),
        );
        let found: BTreeSet<&str> = report.findings.iter().map(|f| f.check).collect();
        assert_eq!(
            found,
            BTreeSet::from([c.id]),
            "{}: {}",
            c.id,
            report.text(50)
        );
        // Located in the defect's own file, at a line.
        let f = &report.findings[0];
        let at = f.location.as_deref().unwrap_or("");
        let file = defect.display().to_string();
        let base_file = base.display().to_string();
        assert!(
            at.starts_with(&format!("{file}:")) || at.starts_with(&format!("{base_file}:")),
            "{}: located at {at:?}",
            c.id
        );
        assert!(report.fails(c.level), "{}", c.id);
        planted.insert(c.id);
    }
    assert_eq!(planted.len(), CHECKS.len());
    // A few findings read as a maintainer needs them.
    let one = |id: &str| {
        let r = check(
            &read(&[base.clone(), fixtures().join(format!("defects/{id}.ttl"))]),
            &CheckOptions::default(),
        );
        r.findings[0].clone()
    };
    let p = one("parse_error");
    assert!(
        p.location
            .as_deref()
            .unwrap()
            .ends_with("parse_error.ttl:12:16"),
        "{p:?}"
    );
    let cyc = one("skos_cycle");
    assert_eq!(
        cyc.terms,
        vec!["https://example.org/cat/x", "https://example.org/cat/y"]
    );
    assert!(cyc.location.unwrap().ends_with("skos_cycle.ttl:11"));
    let dep = one("deprecated_reference");
    assert!(
        dep.message.contains("shape ProductShape (sh:path)"),
        "{dep:?}"
    );
    let alias = one("alias_conflict");
    assert!(
        alias.message.contains("\"华为\"") && alias.terms.len() == 2,
        "{alias:?}"
    );
    let shape = one("shacl_invalid");
    assert!(
        shape
            .message
            .contains("sh:minCount 2 is above sh:maxCount 1"),
        "{shape:?}"
    );
}

#[test]
fn the_shipped_ontology_passes_its_own_check() {
    let report = check(&read(&[repo().join("ontology")]), &CheckOptions::default());
    assert!(report.findings.is_empty(), "{}", report.text(100));
    assert!(
        report.counts.classes > 20 && report.counts.concepts > 30,
        "{:?}",
        report.counts
    );
    assert!(
        report.counts.shapes >= 5 && report.counts.brands >= 15,
        "{:?}",
        report.counts
    );
}

#[test]
fn the_cli_exits_non_zero_on_errors_and_speaks_json() {
    let base = fixtures().join("base.ttl");
    let out = bin()
        .args(["ontology", "check"])
        .arg(&base)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 errors, 0 warnings, 0 info"), "{text}");
    // An error fails; a warning fails only with --fail-on warning.
    let out = bin()
        .args(["ontology", "check", "--format", "json"])
        .arg(&base)
        .arg(fixtures().join("defects/skos_cycle.ttl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errors"], 1, "{v}");
    assert_eq!(v["findings"][0]["check"], "skos_cycle");
    let orphan = fixtures().join("defects/orphan_concept.ttl");
    let out = bin()
        .args(["ontology", "check"])
        .arg(&base)
        .arg(&orphan)
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = bin()
        .args(["ontology", "check", "--fail-on", "warning"])
        .arg(&base)
        .arg(&orphan)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // A path that does not exist is 2; an unknown check to skip is an error naming the list.
    let out = bin()
        .args(["ontology", "check", "/nonexistent/ontology"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin()
        .args(["ontology", "check", "--skip", "no_such_check"])
        .arg(&base)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--list"));
    // Deprecating a term the demo's mappings write is an error naming the mapping.
    let dir = tempfile::tempdir().unwrap();
    let dep = dir.path().join("deprecate.ttl");
    std::fs::write(
        &dep,
        "<http://schema.org/name> <http://www.w3.org/2002/07/owl#deprecated> true .\n",
    )
    .unwrap();
    let out = bin()
        .args(["ontology", "check", "--skip", "missing_label"])
        .arg(repo().join("ontology"))
        .arg(&dep)
        .arg("--mappings")
        .arg(repo().join("demo/mappings"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("[deprecated_reference] name is deprecated but used by")
            && text.contains("mapping products.toml"),
        "{text}"
    );
}

#[test]
fn diff_names_terms_not_lines() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(fixtures().join("base.ttl")).unwrap();
    // The new version: a label changed, a concept moved and one added, a brand alias added, a
    // shape constraint tightened, a class removed, the whole file reordered by blank lines.
    let new = base
        .replace("\"Tablets\"@en", "\"Tablet computers\"@en")
        .replace(
            "cat:phones a skos:Concept ; skos:inScheme cat:scheme ; skos:broader cat:electronics ;",
            "cat:phones a skos:Concept ; skos:inScheme cat:scheme ; skos:broader cat:tablets ;",
        )
        .replace(
            "skos:prefLabel \"HUAWEI\"@en , \"华为\"@zh .",
            "skos:prefLabel \"HUAWEI\"@en , \"华为\"@zh ; skos:altLabel \"华为技术\"@zh .",
        )
        .replace("sh:maxCount 1 ;", "sh:maxCount 2 ;")
        .replace("\n\n", "\n\n\n")
        + "\ncat:watches a skos:Concept ; skos:inScheme cat:scheme ; skos:broader cat:electronics ;\n    skos:prefLabel \"Watches\"@en , \"手表\"@zh .\n";
    let new = new.replace(
        "ex:Brand a owl:Class ;\n    rdfs:label \"brand\"@en , \"品牌\"@zh ;\n    rdfs:comment \"The maker's name a product is sold under.\"@en .\n",
        "",
    );
    let newf = dir.path().join("new.ttl");
    std::fs::write(&newf, new).unwrap();
    let d = diff(&read(&[fixtures().join("base.ttl")]), &read(&[newf]));
    let added: Vec<&str> = d.added.iter().map(|t| t.iri.as_str()).collect();
    let removed: Vec<&str> = d.removed.iter().map(|t| t.iri.as_str()).collect();
    assert_eq!(added, vec!["https://example.org/cat/watches"]);
    assert_eq!(removed, vec!["https://example.org/ns#Brand"]);
    assert_eq!(d.removed[0].kind, "class");
    let changed: BTreeSet<&str> = d.changed.iter().map(|t| t.iri.as_str()).collect();
    assert_eq!(
        changed,
        BTreeSet::from([
            "https://example.org/cat/phones",
            "https://example.org/cat/tablets",
            "https://example.org/brand/huawei",
            "https://example.org/ns#ProductShape",
        ])
    );
    let md = d.markdown();
    assert!(
        md.contains("label \"Tablets\"@en → \"Tablet computers\"@en"),
        "{md}"
    );
    assert!(
        md.contains("+ skos:broader cat:tablets; - skos:broader cat:electronics"),
        "{md}"
    );
    assert!(
        md.contains("`brand:huawei` now also answers to \"华为技术\""),
        "{md}"
    );
    assert!(md.contains("| concept | 1 | 0 | 2 |"), "{md}");
    assert_eq!(d.aliases_added.len(), 1);
    // The same files: no change, whatever the blank node labels.
    let same = diff(
        &read(&[fixtures().join("base.ttl")]),
        &read(&[fixtures().join("base.ttl")]),
    );
    assert!(same.is_empty(), "{:?}", same.changed);
    // The CLI prints JSON too.
    let out = bin()
        .args(["ontology", "diff", "--format", "json"])
        .arg(fixtures().join("base.ttl"))
        .arg(dir.path().join("new.ttl"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["added"][0]["kind"], "concept");
}

/// The real thesauri in `../shared/data/ontology` against the counts its LICENSES.md tables
/// (computed there with rdflib): the SKOS findings agree. (Their speed, and agreement with
/// skosify, are measured by `benches/ontology.rs`.)
#[test]
fn real_thesauri_match_their_published_properties() {
    let shared = need_shared_data!();
    let dir = shared.join("ontology");
    let count = |r: &stocktake::catalog::ontology::check::CheckReport, id: &str| {
        r.findings.iter().filter(|f| f.check == id).count()
    };
    // Google's product taxonomy as SKOS, zh/en: 5,595 concepts, no cycles, 21 top concepts
    // (so no orphans), 2,373 without a Chinese label.
    let gpt = read(&[dir.join("google-product-taxonomy/gpt-2021-09-21-skos-en-zh.ttl")]);
    let r = check(&gpt, &CheckOptions::default());
    assert_eq!(r.counts.concepts, 5595);
    assert_eq!(count(&r, "skos_cycle"), 0);
    assert_eq!(count(&r, "orphan_concept"), 0);
    assert_eq!(count(&r, "multiple_pref_labels"), 0);
    assert_eq!(count(&r, "label_clash"), 0);
    assert_eq!(count(&r, "missing_language_label"), 2373);
    // UNESCO in five languages: 4,482 concepts, polyhierarchy but no cycle, two concepts and a
    // collection with a prefLabel equal to an altLabel (ar), 39 + 6 concepts missing ru / ar
    // labels.
    let unesco = read(&[dir.join("unesco-thesaurus/unesco-thesaurus.ttl")]);
    let opts = CheckOptions {
        languages: ["en", "es", "fr", "ar", "ru"].map(String::from).to_vec(),
        ..CheckOptions::default()
    };
    let r = check(&unesco, &opts);
    assert_eq!(r.counts.concepts, 4482);
    assert_eq!(count(&r, "skos_cycle"), 0);
    assert_eq!(count(&r, "orphan_concept"), 0);
    assert_eq!(count(&r, "multiple_pref_labels"), 0);
    // One concept is skos:related to itself (the README's table counts pairs of two).
    let related: Vec<&str> = r
        .findings
        .iter()
        .filter(|f| f.check == "related_hierarchical_clash")
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(related, vec!["concept11393 is skos:related to itself"]);
    let clashes: BTreeSet<&str> = r
        .findings
        .iter()
        .filter(|f| f.check == "label_clash")
        .map(|f| f.terms[0].rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        clashes,
        BTreeSet::from(["concept3325", "concept12872", "mt7.10"])
    );
    let missing = count(&r, "missing_language_label");
    assert!((39..=45).contains(&missing), "{missing}");
    // schema.org 30.0 with its shapes (the http namespace of both). The shapes file has IRIs
    // that are not IRIs (`…validation#ValidSchemahttp://rdfs.org/ns/void#Dataset`, a second
    // `#`): each is a parse error at its line, and the file is still read leniently and checked.
    let schema = read(&[
        dir.join("schemaorg/schemaorg-current-http.ttl"),
        dir.join("schemaorg/schemaorg-shapes.shacl"),
    ]);
    let r = check(&schema, &CheckOptions::default());
    assert_eq!(
        (r.counts.classes, r.counts.properties),
        (1010, 1676),
        "{:?}",
        r.counts
    );
    let parse: Vec<&str> = r
        .findings
        .iter()
        .filter(|f| f.check == "parse_error")
        .map(|f| f.location.as_deref().unwrap())
        .collect();
    assert_eq!(parse.len(), 1, "{parse:?}");
    assert!(
        parse[0].ends_with("schemaorg-shapes.shacl:3785:1"),
        "{parse:?}"
    );
    assert!(r.counts.shapes > 1000, "{:?}", r.counts);
    eprintln!("schema.org: {}", r.text(5));
}

/// A start with a changed ontology refuses one with errors, says why, and keeps the version
/// the store has; the fixed files load.
#[test]
fn a_changed_ontology_with_errors_is_refused_and_the_loaded_one_kept() {
    use stocktake::catalog::{Catalog, GraphLayout};
    let dir = tempfile::tempdir().unwrap();
    let onto = dir.path().join("ontology");
    std::fs::create_dir(&onto).unwrap();
    std::fs::copy(fixtures().join("base.ttl"), onto.join("base.ttl")).unwrap();
    let catalog = Catalog::open(
        &dir.path().join("store"),
        GraphLayout::new("https://example.org/st/").unwrap(),
    )
    .unwrap();
    let first = catalog.load_ontology(&onto).unwrap();
    assert!(first.reloaded);
    let triples = first.triples;
    std::fs::copy(
        fixtures().join("defects/skos_cycle.ttl"),
        onto.join("cycle.ttl"),
    )
    .unwrap();
    let err = catalog.load_ontology(&onto).unwrap_err().to_string();
    assert!(
        err.contains("has 1 errors, so it is not loaded")
            && err.contains("cycle.ttl:11: [skos_cycle]"),
        "{err}"
    );
    // The store kept the first version: without the new file the ontology is as loaded.
    let cycle = std::fs::read_to_string(onto.join("cycle.ttl")).unwrap();
    std::fs::remove_file(onto.join("cycle.ttl")).unwrap();
    let same = catalog.load_ontology(&onto).unwrap();
    assert!(!same.reloaded && same.triples == triples);
    std::fs::write(onto.join("cycle.ttl"), cycle).unwrap();
    // Fixed (the cycle broken): it loads.
    let fixed = std::fs::read_to_string(onto.join("cycle.ttl"))
        .unwrap()
        .replace("skos:broader cat:x .", "skos:broader cat:electronics .")
        .replace("skos:broader cat:y .", "skos:broader cat:electronics .");
    std::fs::write(onto.join("cycle.ttl"), fixed).unwrap();
    let again = catalog.load_ontology(&onto).unwrap();
    assert!(again.reloaded && again.triples > triples);
}

/// The documentation: from the files (`ontology docs --out`), and served at `/ontology` — a
/// page for browsers (looked at in Chromium), the graph for RDF clients (303 to the graph
/// store), refused to non-admins once the ontology graph is restricted.
#[test]
fn ontology_docs_for_people_and_rdf_for_clients() {
    use crate::util::{admin_update, client, TestServer, ADMIN, READ};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("docs.html");
    let run = bin()
        .args(["ontology", "docs", "--out"])
        .arg(&out)
        .arg(repo().join("ontology"))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let html = std::fs::read_to_string(&out).unwrap();
    for want in [
        "Stocktake vocabulary",
        "数据资产 / data asset",
        "手机 / Mobile phones",
        "id=\"classes\"",
        "Every <a href=\"http://schema.org/Product\">",
        "at least 1",
        "苹果公司",
    ] {
        assert!(html.contains(want), "docs lack {want:?}");
    }
    let server = TestServer::start_with(|c| c.server.anonymous_read = true);
    let r = client()
        .get(server.url("/ontology"))
        .bearer_auth(READ)
        .header("accept", "text/html,application/xhtml+xml;q=0.9")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().unwrap();
    assert!(page.contains("手机 / Mobile phones") && page.contains("Versions 版本"));
    let r = client()
        .get(server.url("/ontology"))
        .bearer_auth(READ)
        .header("accept", "text/turtle")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/turtle"));
    let ttl = r.text().unwrap();
    assert!(
        ttl.contains("st:Asset") || ttl.contains("<https://w3id.org/stocktake/ns#Asset>"),
        "{}",
        &ttl[..ttl.len().min(500)]
    );
    // In a browser.
    if let Some(browser) = crate::workbench::browser() {
        let tab = browser.new_tab().unwrap();
        crate::workbench::go(&tab, &server.url("/ontology"));
        let text = crate::workbench::text(&tab);
        assert!(
            text.contains("Concept schemes") && text.contains("数据资产"),
            "{text}"
        );
        crate::workbench::screenshot(&tab, "ontology-docs");
        crate::workbench::go(&tab, &server.url("/ui/ontology"));
        assert!(
            crate::workbench::text(&tab).contains("The full ontology documentation")
                || crate::workbench::text(&tab).contains("完整的本体文档")
        );
    }
    // Restricted: readers are refused, admins read it.
    let catalog_graph = server.catalog.layout().catalog.as_str().to_owned();
    let onto = server.catalog.layout().ontology.as_str().to_owned();
    admin_update(
        &server,
        &format!("INSERT DATA {{ GRAPH <{catalog_graph}> {{ <{onto}> <https://w3id.org/stocktake/ns#restricted> true }} }}"),
    );
    let status = |token: &str| {
        client()
            .get(server.url("/ontology"))
            .bearer_auth(token)
            .header("accept", "text/html")
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!((status(READ), status(ADMIN)), (403, 200));
}
