//! The W3C SPARQL 1.1 test suites, run against our server over HTTP: the protocol and graph
//! store protocol manifests (requests and expected responses encoded in the manifest), the query
//! and update syntax suites, and the query/update evaluation suites. Manifests are parsed, not
//! hand-copied. Each suite prints a table row (passed, skipped, failed, total); every failure is
//! either fixed or listed in a skip list with its reason, an unexpected failure fails the test,
//! and so does a count of passed or skipped tests other than the one recorded here.
//!
//! Solutions are compared up to a renaming of blank nodes (one bijection for the whole result),
//! as multisets, or as sequences when the query has ORDER BY; graphs by isomorphism.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::{Dataset, Graph, NamedNode, Term};
use oxigraph::sparql::results::{
    QueryResultsFormat, QueryResultsParser, ReaderQueryResultsParserOutput,
};
use oxigraph::sparql::{QueryResults, SparqlEvaluator};
use oxigraph::store::Store;

use crate::util::{client, TestServer, ADMIN, READ};

const W3C_BASE: &str = "http://www.w3.org/2009/sparql/docs/tests/data-sparql11/";

fn suite_dir(data: &Path) -> PathBuf {
    data.join("sparql/w3c-sparql11-tests/sparql/sparql11")
}

/// A manifest loaded into a store, with IRIs under the canonical W3C base.
struct Manifest {
    store: Store,
    local_root: PathBuf,
}

impl Manifest {
    fn load(root: &Path, rel: &str) -> Self {
        let store = Store::new().unwrap();
        let path = root.join(rel);
        let base = format!("{W3C_BASE}{rel}");
        store
            .load_from_reader(
                RdfParser::from_format(RdfFormat::Turtle)
                    .with_base_iri(&base)
                    .unwrap(),
                std::fs::read(&path).unwrap().as_slice(),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Self {
            store,
            local_root: root.to_path_buf(),
        }
    }

    fn select(&self, q: &str) -> Vec<HashMap<String, Term>> {
        self.run(q, None)
    }

    /// Runs a SELECT about one node: `?this` in the query is that node (which may be a blank
    /// node, so it cannot be written into the query text).
    fn about(&self, this: &Term, q: &str) -> Vec<HashMap<String, Term>> {
        self.run(&q.replacen("SELECT ", "SELECT ?this ", 1), Some(this))
    }

    fn run(&self, q: &str, this: Option<&Term>) -> Vec<HashMap<String, Term>> {
        let prefixes = include_str!("prefixes.rq");
        let mut prepared = SparqlEvaluator::new()
            .parse_query(&format!("{prefixes}{q}"))
            .unwrap_or_else(|e| panic!("{e}: {q}"));
        if let Some(this) = this {
            prepared = prepared.substitute_variable(
                oxigraph::model::Variable::new_unchecked("this"),
                this.clone(),
            );
        }
        let QueryResults::Solutions(solutions) = prepared.on_store(&self.store).execute().unwrap()
        else {
            panic!("not a select")
        };
        solutions
            .map(|s| {
                let s = s.unwrap();
                s.iter()
                    .map(|(v, t)| (v.as_str().to_owned(), t.clone()))
                    .collect()
            })
            .collect()
    }

    /// Items of an RDF list, in order.
    fn list(&self, head: &Term) -> Vec<Term> {
        let mut out = Vec::new();
        let mut node = head.clone();
        let first = NamedNode::new_unchecked("http://www.w3.org/1999/02/22-rdf-syntax-ns#first");
        let rest = NamedNode::new_unchecked("http://www.w3.org/1999/02/22-rdf-syntax-ns#rest");
        loop {
            let subject: oxigraph::model::NamedOrBlankNode = match &node {
                Term::NamedNode(n) => n.clone().into(),
                Term::BlankNode(b) => b.clone().into(),
                _ => break,
            };
            let obj = |p: &NamedNode| {
                self.store
                    .quads_for_pattern(Some((&subject).into()), Some(p.as_ref()), None, None)
                    .next()
                    .map(|q| q.unwrap().object)
            };
            match obj(&first) {
                Some(item) => out.push(item),
                None => break,
            }
            match obj(&rest) {
                Some(next) => node = next,
                None => break,
            }
        }
        out
    }

    /// Ordered test IRIs of the manifest's mf:entries.
    fn entries(&self) -> Vec<Term> {
        let heads = self.select("SELECT ?l WHERE { ?m mf:entries ?l }");
        let entries: Vec<Term> = heads.iter().flat_map(|h| self.list(&h["l"])).collect();
        assert!(!entries.is_empty(), "a manifest without entries");
        entries
    }

    fn local(&self, iri: &Term) -> PathBuf {
        let Term::NamedNode(n) = iri else {
            panic!("not an IRI: {iri}")
        };
        let rel = n
            .as_str()
            .strip_prefix(W3C_BASE)
            .unwrap_or_else(|| panic!("outside suite: {n}"));
        self.local_root.join(rel)
    }
}

fn iri(t: &Term) -> String {
    match t {
        Term::NamedNode(n) => n.as_str().to_owned(),
        other => other.to_string(),
    }
}

fn lit(t: &Term) -> String {
    match t {
        Term::Literal(l) => l.value().to_owned(),
        other => other.to_string(),
    }
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

struct Tally {
    suite: &'static str,
    passed: usize,
    skipped: Vec<(String, &'static str)>,
    failed: Vec<(String, String)>,
}

impl Tally {
    fn new(suite: &'static str) -> Self {
        Self {
            suite,
            passed: 0,
            skipped: Vec::new(),
            failed: Vec::new(),
        }
    }

    /// Prints the suite's line and its skips, then asserts: something ran, nothing failed,
    /// and exactly the expected numbers passed and were skipped (a suite that silently runs
    /// fewer tests — a manifest moved, a test type no longer recognised — fails here).
    fn finish(self, expected_passed: usize, expected_skipped: usize) {
        let total = self.passed + self.failed.len() + self.skipped.len();
        println!(
            "| W3C {} | {} | {} | {} | {} |",
            self.suite,
            self.passed,
            self.skipped.len(),
            self.failed.len(),
            total
        );
        for (t, why) in &self.skipped {
            println!("  skipped {t}: {why}");
        }
        assert!(total > 0, "{}: no test ran", self.suite);
        assert!(
            self.failed.is_empty(),
            "{} unexpected failures in {}:\n{}",
            self.failed.len(),
            self.suite,
            self.failed
                .iter()
                .map(|(t, e)| format!("- {t}: {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert_eq!(
            (self.passed, self.skipped.len()),
            (expected_passed, expected_skipped),
            "{}: (passed, skipped) differ from what this harness is known to run",
            self.suite
        );
    }
}

/// Solutions, each a sorted list of (variable, normalised term); blank nodes as `_:label`.
type Rows = Vec<Vec<(String, String)>>;

/// Whether two solution sequences are equal up to a renaming of blank nodes (one bijection
/// for the whole result, as the SPARQL test suites compare them); as multisets unless
/// `ordered`. Backtracking over rows that agree on everything but their blank nodes.
fn isomorphic(got: &Rows, want: &Rows, ordered: bool) -> bool {
    if got.len() != want.len() {
        return false;
    }
    let is_blank = |v: &str| v.starts_with("_:");
    let shape = |r: &[(String, String)]| -> Vec<(String, String)> {
        r.iter()
            .map(|(k, v)| (k.clone(), if is_blank(v) { "_:".into() } else { v.clone() }))
            .collect()
    };
    if !got.iter().chain(want).flatten().any(|(_, v)| is_blank(v)) {
        let (mut g, mut w) = (got.clone(), want.clone());
        if !ordered {
            g.sort();
            w.sort();
        }
        return g == w;
    }
    type Map = HashMap<String, String>;
    /// Extends the bijection so that row `g` maps onto row `w`, or says it cannot.
    fn unify(
        g: &[(String, String)],
        w: &[(String, String)],
        fwd: &mut Map,
        back: &mut Map,
    ) -> bool {
        if g.len() != w.len() {
            return false;
        }
        for ((gk, gv), (wk, wv)) in g.iter().zip(w) {
            if gk != wk {
                return false;
            }
            match (gv.starts_with("_:"), wv.starts_with("_:")) {
                (false, false) if gv == wv => {}
                (true, true) => {
                    match (fwd.get(gv), back.get(wv)) {
                        (Some(x), _) if x != wv => return false,
                        (_, Some(y)) if y != gv => return false,
                        _ => {}
                    }
                    fwd.insert(gv.clone(), wv.clone());
                    back.insert(wv.clone(), gv.clone());
                }
                _ => return false,
            }
        }
        true
    }
    fn search(
        i: usize,
        got: &Rows,
        want: &Rows,
        candidates: &[Vec<usize>],
        used: &mut Vec<bool>,
        fwd: &Map,
        back: &Map,
    ) -> bool {
        if i == got.len() {
            return true;
        }
        for &j in &candidates[i] {
            if used[j] {
                continue;
            }
            let (mut f, mut b) = (fwd.clone(), back.clone());
            if unify(&got[i], &want[j], &mut f, &mut b) {
                used[j] = true;
                if search(i + 1, got, want, candidates, used, &f, &b) {
                    return true;
                }
                used[j] = false;
            }
        }
        false
    }
    let candidates: Vec<Vec<usize>> = got
        .iter()
        .enumerate()
        .map(|(i, g)| {
            if ordered {
                vec![i]
            } else {
                let s = shape(g);
                (0..want.len()).filter(|&j| shape(&want[j]) == s).collect()
            }
        })
        .collect();
    let mut used = vec![false; want.len()];
    search(
        0,
        got,
        want,
        &candidates,
        &mut used,
        &Map::new(),
        &Map::new(),
    )
}

fn empty_server() -> TestServer {
    TestServer::start_with(|c| c.catalog.ontology_dir = PathBuf::from("/nonexistent-ontology"))
}

fn parse_graph(body: &[u8], content_type: &str, base: &str) -> Result<Graph, String> {
    let format = RdfFormat::from_media_type(content_type)
        .ok_or_else(|| format!("not an RDF media type: {content_type}"))?;
    let mut g = Graph::new();
    for q in RdfParser::from_format(format)
        .with_base_iri(base)
        .unwrap()
        .for_reader(body)
    {
        let q = q.map_err(|e| e.to_string())?;
        g.insert(q.as_ref());
    }
    g.canonicalize(oxigraph::model::dataset::CanonicalizationAlgorithm::Unstable);
    Ok(g)
}

fn parse_boolean(body: &[u8], ct: &str) -> Result<bool, String> {
    let format =
        QueryResultsFormat::from_media_type(ct).ok_or(format!("not a results type: {ct}"))?;
    match QueryResultsParser::from_format(format)
        .for_reader(body)
        .map_err(|e| e.to_string())?
    {
        ReaderQueryResultsParserOutput::Boolean(b) => Ok(b),
        _ => Err("solutions where a boolean was expected".into()),
    }
}

mod protocol;
mod results;
mod suites;
