//! The graph explorer as a use case: one IRI with everything the workbench shows about it,
//! read through the caller's visibility.
//!
//! Facts both ways come from the catalog; the IRIs they name get display labels; products get
//! their machine labels (with a person's decision counted at once); and where a model is
//! served, its predictions: related entities for anything in the model, items for a user
//! (along the configured relation), and the likeliest brand and category of a product. A
//! prediction that cannot be made (no model, the entity not in it) is said, not an error: the
//! rest of the page still answers.

use std::collections::HashMap;

use super::{App, AppError};
use crate::catalog::vocab::{RDF, SCHEMA, SKOS, ST};
use crate::catalog::Visibility;
use crate::catalog::{EntityFacts, Fact};
use crate::ingest::label::LabelRow;
use crate::recommend::Answer;

/// How many statements each way a page shows.
pub const FACT_LIMIT: usize = 200;
/// How many predictions per list.
const K: usize = 5;

/// One list of predicted links.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Prediction {
    /// What was asked: `similar`, `recommend`, or the predicted relation's IRI.
    pub what: String,
    /// The answer, or why there is none.
    pub answer: Result<Answer, String>,
}

/// Everything the explorer shows of one IRI.
#[derive(Debug, Clone)]
pub struct Exploration {
    pub facts: EntityFacts,
    /// Names and labels with their language tags.
    pub names: Vec<(String, String)>,
    pub types: Vec<String>,
    /// Display labels of the IRIs the facts name.
    pub labels: HashMap<String, String>,
    pub machine_labels: Vec<LabelRow>,
    pub predictions: Vec<Prediction>,
}

const NAME_PREDICATES: [(&str, &str); 4] = [
    (SCHEMA, "name"),
    (SKOS, "prefLabel"),
    ("http://www.w3.org/2000/01/rdf-schema#", "label"),
    ("http://purl.org/dc/terms/", "title"),
];

fn is_name(f: &Fact) -> bool {
    NAME_PREDICATES
        .iter()
        .any(|(ns, l)| f.predicate.len() == ns.len() + l.len() && f.predicate == format!("{ns}{l}"))
}

impl App {
    /// The explorer's view of `iri`; `None` when the caller sees no statement about it.
    /// Blocking.
    pub fn explore(&self, iri: &str, vis: &Visibility) -> Result<Option<Exploration>, AppError> {
        let Some(facts) = self.catalog.entity_facts(iri, vis, FACT_LIMIT)? else {
            return Ok(None);
        };
        let names: Vec<(String, String)> = facts
            .out
            .iter()
            .filter(|f| is_name(f))
            .map(|f| (f.value.clone(), f.lang.clone()))
            .collect();
        let rdf_type = format!("{RDF}type");
        let types: Vec<String> = facts
            .out
            .iter()
            .filter(|f| f.predicate == rdf_type && f.iri)
            .map(|f| f.value.clone())
            .collect();
        let mut linked: Vec<&str> = facts
            .out
            .iter()
            .chain(&facts.incoming)
            .filter(|f| f.iri)
            .map(|f| f.value.as_str())
            .collect();
        linked.sort_unstable();
        linked.dedup();
        let labels = self.catalog.labels(&linked, vis)?;
        let is_a = |local: &str, ns: &str| types.iter().any(|t| *t == format!("{ns}{local}"));
        // Products and reviews carry labels; anything else simply has none.
        let machine_labels = self.labels(None, Some(iri), 100, vis)?;
        let mut predictions = Vec::new();
        if let Some(service) = &self.recommend {
            let said =
                |r: Result<Answer, crate::recommend::RecommendError>| r.map_err(|e| e.to_string());
            if is_a("User", ST) {
                predictions.push(Prediction {
                    what: "recommend".into(),
                    answer: said(service.recommend(iri, K, vis)),
                });
            }
            if is_a("Product", SCHEMA) {
                for rel in [format!("{SCHEMA}category"), format!("{SCHEMA}brand")] {
                    predictions.push(Prediction {
                        answer: said(service.tails(iri, &rel, K, true, vis)),
                        what: rel,
                    });
                }
            }
            predictions.push(Prediction {
                what: "similar".into(),
                answer: said(service.similar(iri, K, vis)),
            });
        }
        Ok(Some(Exploration {
            facts,
            names,
            types,
            labels,
            machine_labels,
            predictions,
        }))
    }
}

/// One category of the taxonomy tree, in depth-first order.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CategoryNode {
    pub iri: String,
    pub depth: usize,
    pub names: Vec<(String, String)>,
    /// Products whose category is this one.
    pub own: u64,
    /// Products in this category or any below it (a product under two parents of a
    /// polyhierarchy counts under both).
    pub total: u64,
}

#[derive(serde::Deserialize)]
struct CategoryRow {
    category: String,
    parent: Option<String>,
    labels: Option<String>,
    products: Option<u64>,
}

impl App {
    /// The SKOS category tree with product counts, roots first, children by total (largest
    /// first), through the caller's visibility. Blocking.
    pub fn taxonomy(&self, vis: &Visibility) -> Result<Vec<CategoryNode>, AppError> {
        let q = crate::catalog::NamedQuery::parse(
            "category-tree",
            include_str!("queries/category-tree.rq"),
        )?;
        let rows: Vec<CategoryRow> = self.catalog.query_rows(&q, &[], vis)?;
        let mut names: HashMap<String, Vec<(String, String)>> = HashMap::new();
        let mut own: HashMap<String, u64> = HashMap::new();
        let mut children: HashMap<String, Vec<String>> = HashMap::new();
        let mut parents: Vec<(String, String)> = Vec::new();
        for r in &rows {
            names.entry(r.category.clone()).or_insert_with(|| {
                r.labels
                    .as_deref()
                    .unwrap_or("")
                    .split('\u{1E}')
                    .filter(|l| !l.is_empty())
                    .map(|l| {
                        let (v, lang) = l.split_once('\u{1F}').unwrap_or((l, ""));
                        (v.to_owned(), lang.to_owned())
                    })
                    .collect()
            });
            own.insert(r.category.clone(), r.products.unwrap_or(0));
            if let Some(p) = &r.parent {
                children
                    .entry(p.clone())
                    .or_default()
                    .push(r.category.clone());
                parents.push((r.category.clone(), p.clone()));
            }
        }
        fn total(
            c: &str,
            own: &HashMap<String, u64>,
            children: &HashMap<String, Vec<String>>,
            memo: &mut HashMap<String, u64>,
            path: &mut Vec<String>,
        ) -> u64 {
            if let Some(t) = memo.get(c) {
                return *t;
            }
            if path.iter().any(|p| p == c) {
                return 0; // a cycle in broader: count each concept once on the path
            }
            path.push(c.to_owned());
            let mut t = own.get(c).copied().unwrap_or(0);
            for k in children.get(c).map(Vec::as_slice).unwrap_or(&[]) {
                t += total(k, own, children, memo, path);
            }
            path.pop();
            memo.insert(c.to_owned(), t);
            t
        }
        let mut memo = HashMap::new();
        let all: Vec<String> = own.keys().cloned().collect();
        for c in &all {
            total(c, &own, &children, &mut memo, &mut Vec::new());
        }
        // Roots: concepts with no parent among the concepts the caller sees.
        let placed: std::collections::HashSet<&String> = parents
            .iter()
            .filter(|(_, p)| own.contains_key(p))
            .map(|(c, _)| c)
            .collect();
        let mut roots: Vec<&String> = all.iter().filter(|c| !placed.contains(c)).collect();
        let by_total =
            |a: &&String, b: &&String| memo.get(*b).cmp(&memo.get(*a)).then_with(|| a.cmp(b));
        roots.sort_by(by_total);
        let mut out = Vec::new();
        let mut stack: Vec<(String, usize, Vec<String>)> = roots
            .into_iter()
            .rev()
            .map(|r| (r.clone(), 0, Vec::new()))
            .collect();
        while let Some((c, depth, path)) = stack.pop() {
            out.push(CategoryNode {
                iri: c.clone(),
                depth,
                names: names.get(&c).cloned().unwrap_or_default(),
                own: own.get(&c).copied().unwrap_or(0),
                total: memo.get(&c).copied().unwrap_or(0),
            });
            let mut kids: Vec<&String> = children
                .get(&c)
                .map(|v| {
                    v.iter()
                        .filter(|k| !path.contains(*k) && **k != c)
                        .collect()
                })
                .unwrap_or_default();
            kids.sort_by(by_total);
            kids.dedup();
            let mut next_path = path.clone();
            next_path.push(c.clone());
            for k in kids.into_iter().rev() {
                stack.push((k.clone(), depth + 1, next_path.clone()));
            }
        }
        Ok(out)
    }
}
