//! `ontology plan|apply` on the demo's products in an on-disk store: an unchanged folder plans
//! nothing; merging two categories (tablets into computers, declared with
//! `dcterms:isReplacedBy`) moves exactly their products, writes nothing while planned, keeps the
//! old IRI resolving once applied, and the plan's SHACL count equals a full validation after
//! the change; a title-length shape that breaks exactly the 10 longest titles reports exactly
//! those 10; a brand alias moves the products of a minted brand; a folder with errors is
//! refused; HTTP plan/apply are admin-only.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use stocktake::app::{App, IngestJob};
use stocktake::ingest::mapping::Mapping;
use stocktake::privacy::Principal;

use crate::util::{client, repo, select, test_config, TestServer, ADMIN, WRITE};

fn copy_ontology(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(repo().join("ontology")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

fn append(file: &Path, text: &str) {
    let mut s = std::fs::read_to_string(file).unwrap();
    s.push_str(text);
    std::fs::write(file, s).unwrap();
}

fn count(c: &stocktake::catalog::Catalog, q: &str) -> usize {
    select(c, q).len()
}

#[test]
fn plan_and_apply_merge_categories_and_report_exactly_the_broken_products() {
    let onto_dir = tempfile::tempdir().unwrap();
    let onto = onto_dir.path().join("ontology");
    copy_ontology(&onto);
    let o = onto.clone();
    let server = TestServer::start_with(move |c| c.catalog.ontology_dir = o);
    let mut config = test_config(&server.dir.path().join("store"));
    config.catalog.ontology_dir = onto.clone();
    let app = App::with_catalog(Arc::clone(&server.catalog), config);
    let text = std::fs::read_to_string(repo().join("demo/mappings/products.toml")).unwrap();
    let mapping = Mapping::parse(&text).unwrap();
    app.ingest(&IngestJob {
        asset: &repo().join("demo/data/products.csv"),
        mapping: &mapping,
        mapping_text: &text,
        label: false,
        force: false,
        confine: None,
    })
    .unwrap();
    let c = &server.catalog;
    let products = c.layout().products.as_str().to_owned();
    let who = Principal::Local;

    // Unchanged: nothing to do.
    let plan = app.ontology_change(&who, None, None, false).unwrap();
    assert!(plan.unchanged && plan.diff.is_empty(), "{:?}", plan.diff);
    assert!(plan.rewrites.is_empty() && plan.breakage.is_empty());
    let sh = plan.shacl.unwrap();
    assert_eq!((sh.new, sh.resolved), (0, 0));

    // The change: tablets merged into computers, and titles limited to 49 characters.
    let in_cat = |cat: &str| {
        count(
            c,
            &format!(
                "SELECT ?p WHERE {{ GRAPH <{products}> {{ ?p schema:category <https://w3id.org/stocktake/category/{cat}> }} }}"
            ),
        )
    };
    let (tablets, computers) = (in_cat("tablets"), in_cat("computers"));
    assert!(tablets > 100 && computers > 100, "{tablets} {computers}");
    append(
        &onto.join("taxonomy.ttl"),
        "\n<https://w3id.org/stocktake/category/tablets> <http://www.w3.org/2002/07/owl#deprecated> true ;\n    \
         <http://purl.org/dc/terms/isReplacedBy> <https://w3id.org/stocktake/category/computers> .\n",
    );
    append(
        &onto.join("shapes.ttl"),
        "\nshapes:TitleLengthShape a sh:NodeShape ;\n    sh:targetClass schema:Product ;\n    \
         sh:property [ sh:path schema:name ; sh:maxLength 49 ] .\n",
    );
    let long: BTreeSet<String> = select(
        c,
        &format!(
            "SELECT ?p WHERE {{ GRAPH <{products}> {{ ?p a schema:Product ; schema:name ?n FILTER(STRLEN(?n) > 49) }} }}"
        ),
    )
    .into_iter()
    .map(|r| r["p"].clone())
    .collect();
    assert_eq!(long.len(), 10, "{long:?}");
    let plan = app.ontology_change(&who, None, None, false).unwrap();
    assert!(
        !plan.unchanged && !plan.applied && plan.errors == 0,
        "{:?}",
        plan.findings
    );
    let merge = plan
        .rewrites
        .iter()
        .find(|r| r.rewrite.kind == "merge")
        .expect("the merge");
    assert_eq!(merge.subjects, tablets, "{merge:?}");
    let sh = plan.shacl.clone().unwrap();
    assert_eq!(sh.new, 10, "{sh:?}");
    let broken: BTreeSet<String> = sh
        .new_samples
        .iter()
        .map(|r| r.focus.trim_matches(['<', '>']).to_owned())
        .collect();
    assert_eq!(broken, long);
    // The concept's move is reported with what is below it; nothing was written.
    assert_eq!(in_cat("tablets"), tablets);
    assert!(plan
        .diff
        .changed
        .iter()
        .any(|t| t.iri.ends_with("category/tablets")));

    // Apply: the same transaction, committed.
    let applied = app.ontology_change(&who, None, None, true).unwrap();
    assert!(applied.applied && applied.version.is_some());
    assert_eq!(
        (in_cat("tablets"), in_cat("computers")),
        (0, tablets + computers)
    );
    // The old IRI keeps resolving: it says what replaced it, and the ontology still has it.
    assert_eq!(
        count(
            c,
            &format!(
                "SELECT ?x WHERE {{ GRAPH <{products}> {{ <https://w3id.org/stocktake/category/tablets> <http://purl.org/dc/terms/isReplacedBy> ?x }} }}"
            )
        ),
        1
    );
    let r = client()
        .get(server.url("/ui/entity?iri=https%3A%2F%2Fw3id.org%2Fstocktake%2Fcategory%2Ftablets"))
        .bearer_auth(ADMIN)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // The plan's SHACL count is a full validation's after the change.
    let full = c.validate(&c.layout().products.clone()).unwrap();
    assert_eq!(full.total, applied.shacl.unwrap().after);
    // The version is recorded with PROV, and the next start has nothing to do.
    let v = applied.version.unwrap();
    let catalog_graph = c.layout().catalog.as_str().to_owned();
    assert_eq!(
        count(
            c,
            &format!(
                "SELECT ?h WHERE {{ GRAPH <{catalog_graph}> {{ <{v}> a st:OntologyVersion ; st:contentHash ?h ; <http://www.w3.org/ns/prov#generatedAtTime> ?t ; st:diffSummary ?d }} }}"
            )
        ),
        1
    );
    let again = app.ontology_change(&who, None, None, false).unwrap();
    assert!(again.unchanged);

    // A brand alias: a brand ingest minted for a name the table did not know (`Penguin`)
    // becomes an ontology brand's, and its products follow.
    let minted = "http://stocktake.local/id/brand/penguin";
    let of_brand = |b: &str| {
        count(
            c,
            &format!("SELECT ?p WHERE {{ GRAPH <{products}> {{ ?p schema:brand <{b}> }} }}"),
        )
    };
    let penguin = of_brand(minted);
    assert!(penguin > 0, "no product of the minted brand {minted}");
    append(
        &onto.join("brands.ttl"),
        "\nbrand:penguin-books a schema:Brand ; skos:prefLabel \"Penguin Books\"@en , \"企鹅出版\"@zh ; skos:altLabel \"Penguin\"@en .\n",
    );
    let plan = app.ontology_change(&who, None, None, true).unwrap();
    let alias = plan
        .rewrites
        .iter()
        .find(|r| r.rewrite.kind == "brand-alias")
        .expect("the alias move");
    assert_eq!(
        (alias.rewrite.from.as_str(), alias.subjects),
        (minted, penguin)
    );
    assert_eq!(
        of_brand("https://w3id.org/stocktake/brand/penguin-books"),
        penguin
    );

    // Errors refuse an apply and change nothing.
    std::fs::copy(
        repo().join("tests/fixtures/ontology/defects/skos_cycle.ttl"),
        onto.join("zz-cycle.ttl"),
    )
    .unwrap();
    let err = app
        .ontology_change(&who, None, None, true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("[skos_cycle]"), "{err}");
    let plan = app.ontology_change(&who, None, None, false).unwrap();
    // The cycle, and the fixture's scheme that this ontology does not have (x and y).
    assert_eq!(plan.errors, 3, "{:?}", plan.findings);
    assert!(plan.findings.iter().any(|f| f.check == "skos_cycle"));
    assert!(plan.shacl.is_none() && !plan.applied);

    // Over HTTP: admins only.
    std::fs::remove_file(onto.join("zz-cycle.ttl")).unwrap();
    for (token, want) in [(WRITE, 403), (ADMIN, 200)] {
        for path in ["/api/v1/ontology/plan", "/api/v1/ontology/apply"] {
            let r = client()
                .post(server.url(path))
                .bearer_auth(token)
                .send()
                .unwrap();
            assert_eq!(r.status().as_u16(), want, "{path}");
        }
    }
    let r = client()
        .post(server.url("/api/v1/ontology/plan"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}
