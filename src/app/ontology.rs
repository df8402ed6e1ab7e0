//! The ontology maintainers' use cases against the live store, once for every face (CLI, HTTP):
//! `plan` says what a new ontology folder changes in the data without writing anything, and
//! `apply` does exactly that in one transaction and records the version.
//!
//! A plan: the files' check (errors refuse an apply), the semantic diff against the loaded
//! ontology, the data moves the change declares or implies — a concept merged into another
//! (`dcterms:isReplacedBy` / `dcterms:replaces`), a brand alias that now names an ontology
//! brand, a category name ingest minted a concept for that the taxonomy now labels — each with
//! the products and reviews it moves, concepts moved under another broader one with the
//! products below them, concepts removed while data still points at them, brand and category
//! labels whose value would resolve differently, mapping terms removed or deprecated, and the
//! SHACL results of the new shapes on the migrated data against today's (new and resolved,
//! counted and sampled). An apply commits that same transaction and records an
//! `st:OntologyVersion` (owl:versionInfo, content hash, who, when, the diff, the previous
//! version) with PROV; old IRIs keep resolving through `dcterms:isReplacedBy`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{App, AppError};
use crate::catalog::ontology::change::{Rewrite, Rewritten, ShaclDelta};
use crate::catalog::ontology::check::{self, index::Index, CheckOptions, Finding, Level};
use crate::catalog::ontology::diff::{self, OntologyDiff};
use crate::catalog::ontology::source::OntologySource;
use crate::catalog::ontology::{refusal, OntologyFiles};
use crate::catalog::vocab::{DCTERMS, PROV, RDF, SKOS, ST};
use crate::catalog::{NamedQuery, Object, Statement, Visibility};
use crate::ingest::graph::Minter;
use crate::privacy::Principal;

/// A concept whose broader concepts change, and the data below it.
#[derive(Debug, Clone, Serialize)]
pub struct HierarchyMove {
    pub concept: String,
    pub before: Vec<String>,
    pub after: Vec<String>,
    /// Products and reviews whose category is the concept or one below it.
    pub subjects: u64,
}

/// Data that would point at something the new ontology no longer has, or a label value that
/// would resolve differently.
#[derive(Debug, Clone, Serialize)]
pub struct Breakage {
    /// `removed-concept`, `label-value`, `mapping-term`.
    pub kind: &'static str,
    pub what: String,
    pub message: String,
    pub count: u64,
}

/// What an ontology change does to the store.
#[derive(Debug, Clone, Serialize)]
pub struct OntologyPlan {
    pub dir: String,
    pub hash: String,
    pub current_hash: Option<String>,
    /// The files are the loaded ontology already.
    pub unchanged: bool,
    pub errors: usize,
    pub warnings: usize,
    /// The check's errors and warnings (at most 100).
    pub findings: Vec<Finding>,
    pub diff: OntologyDiff,
    pub rewrites: Vec<Rewritten>,
    pub hierarchy: Vec<HierarchyMove>,
    pub breakage: Vec<Breakage>,
    /// The shapes' results on the migrated data against today's (absent when the files have
    /// errors: nothing was evaluated).
    pub shacl: Option<ShaclDelta>,
    pub applied: bool,
    /// The version recorded by an apply.
    pub version: Option<String>,
    pub seconds: f64,
}

#[derive(Deserialize)]
struct BrandName {
    brand: String,
    name: String,
}

#[derive(Deserialize)]
struct Minted {
    concept: String,
    label: String,
}

#[derive(Deserialize)]
struct Use {
    concept: String,
    n: u64,
}

#[derive(Deserialize)]
struct LabelValue {
    #[serde(rename = "type")]
    kind: String,
    value: String,
    n: u64,
}

/// Lower-cased labels → the resource, as ingest resolves a brand (pref/alt labels of
/// `schema:Brand`s) or a category (pref/alt labels and notations of concepts).
fn resolver(ix: &Index<'_>, brands: bool) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let (set, props): (&BTreeSet<String>, &[&str]) = if brands {
        (&ix.brands, &["prefLabel", "altLabel"])
    } else {
        (&ix.concepts, &["prefLabel", "altLabel", "notation"])
    };
    for r in set {
        for p in props {
            for l in ix.labels(r, &format!("{SKOS}{p}")) {
                out.insert(l.text.to_lowercase(), r.clone());
            }
        }
    }
    out
}

impl App {
    /// Plans (and with `apply`, applies) the ontology in `dir` (default: the configured
    /// folder) against the store; `mappings` names a folder of ingest mappings whose terms must
    /// survive. Blocking.
    pub fn ontology_change(
        &self,
        who: &Principal,
        dir: Option<&Path>,
        mappings: Option<&Path>,
        apply: bool,
    ) -> Result<OntologyPlan, AppError> {
        let started = std::time::Instant::now();
        let dir: PathBuf = dir
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.config.catalog.ontology_dir.clone());
        if !dir.is_dir() {
            return Err(AppError::Invalid(format!(
                "ontology folder {} not found",
                dir.display()
            )));
        }
        let files = OntologyFiles::read(&dir)?;
        let new = OntologySource::read(std::slice::from_ref(&dir))?;
        let mut opts = CheckOptions::default();
        let mapped = match mappings {
            Some(m) => mapped_terms(m)?,
            None => BTreeMap::new(),
        };
        opts.mapped_terms = mapped.clone();
        let report = check::check(&new, &opts);
        if apply && report.fails(Level::Error) {
            return Err(refusal(&dir, &report).into());
        }
        let current_hash = self.catalog.ontology_hash()?;
        let old = OntologySource::from_graph("store", self.catalog.ontology_graph()?);
        let d = diff::diff(&old, &new);
        let (old_graph, new_graph) = (old.union(), new.union());
        let (io, inew) = (Index::new(&old_graph), Index::new(&new_graph));
        let products = self.catalog.layout().products.clone();
        let mut rewrites = merges(&inew);
        // Brands: each brand node's names resolved through the new alias table.
        let base = self.catalog.layout().base().to_owned();
        let minter = Minter::new(&base, b"");
        let (old_alias, new_alias) = (resolver(&io, true), resolver(&inew, true));
        let names: Vec<BrandName> = self.data_rows(
            "ontology-brand-names",
            include_str!("queries/ontology-brand-names.rq"),
            &[],
        )?;
        let mut by_brand: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for n in names {
            let target = new_alias
                .get(&n.name.to_lowercase())
                .cloned()
                .unwrap_or_else(|| minter.brand(&n.name));
            by_brand.entry(n.brand).or_default().insert(target);
        }
        for (brand, targets) in by_brand {
            if targets.len() == 1 && !targets.contains(&brand) {
                let to = targets.into_iter().next().unwrap_or_default();
                if rewrites.iter().any(|r| r.from == brand) {
                    continue;
                }
                rewrites.push(Rewrite {
                    why: format!("the alias table now resolves its name to {to}"),
                    from: brand,
                    to,
                    kind: "brand-alias",
                });
            }
        }
        // Categories ingest minted for names the new taxonomy labels.
        let new_categories = resolver(&inew, false);
        let minted: Vec<Minted> = self.data_rows(
            "ontology-minted-categories",
            include_str!("queries/ontology-minted-categories.rq"),
            &[("prefix", &format!("{base}id/category/"))],
        )?;
        for m in minted {
            if let Some(c) = new_categories.get(&m.label.to_lowercase()) {
                if !rewrites.iter().any(|r| r.from == m.concept) {
                    rewrites.push(Rewrite {
                        why: format!("the taxonomy now labels {:?}", m.label),
                        from: m.concept,
                        to: c.clone(),
                        kind: "category-label",
                    });
                }
            }
        }
        // Use of concepts in the data: moves below a concept, concepts that go away.
        let uses: Vec<Use> = self.data_rows(
            "ontology-category-use",
            include_str!("queries/ontology-category-use.rq"),
            &[],
        )?;
        let use_of: HashMap<&str, u64> = uses.iter().map(|u| (u.concept.as_str(), u.n)).collect();
        let hierarchy = hierarchy_moves(&io, &inew, &use_of);
        let mut breakage = Vec::new();
        for c in io.concepts.difference(&inew.concepts) {
            let n = use_of.get(c.as_str()).copied().unwrap_or(0);
            if n > 0 && !rewrites.iter().any(|r| &r.from == c) {
                breakage.push(Breakage {
                    kind: "removed-concept",
                    what: c.clone(),
                    message: format!(
                        "{n} products/reviews point at {c}, which the new ontology removes without a replacement (declare one with dcterms:isReplacedBy)"
                    ),
                    count: n,
                });
            }
        }
        let old_categories = resolver(&io, false);
        let label_values: Vec<LabelValue> = self.data_rows(
            "ontology-label-values",
            include_str!("queries/ontology-label-values.rq"),
            &[],
        )?;
        for lv in label_values {
            let key = lv.value.to_lowercase();
            let (before, after) = if lv.kind == "brand" {
                (old_alias.get(&key), new_alias.get(&key))
            } else {
                (old_categories.get(&key), new_categories.get(&key))
            };
            if before != after {
                breakage.push(Breakage {
                    kind: "label-value",
                    what: format!("{} {:?}", lv.kind, lv.value),
                    message: format!(
                        "{} {} labels with the value {:?} resolved to {}, and would resolve to {}",
                        lv.n,
                        lv.kind,
                        lv.value,
                        before.map(String::as_str).unwrap_or("a minted node"),
                        after.map(String::as_str).unwrap_or("a minted node")
                    ),
                    count: lv.n,
                });
            }
        }
        for (mapping, terms) in &mapped {
            for t in terms {
                let removed = io.declared.contains(t) && !inew.declared.contains(t);
                if removed || inew.deprecated.contains(t) {
                    breakage.push(Breakage {
                        kind: "mapping-term",
                        what: format!("{mapping}: {t}"),
                        message: format!(
                            "mapping {mapping} writes {t}, which the new ontology {}",
                            if removed { "removes" } else { "deprecates" }
                        ),
                        count: 1,
                    });
                }
            }
        }
        let unchanged = current_hash.as_deref() == Some(files.hash.as_str());
        let mut plan = OntologyPlan {
            dir: dir.display().to_string(),
            hash: files.hash.clone(),
            current_hash: current_hash.clone(),
            unchanged,
            errors: report.errors,
            warnings: report.warnings,
            findings: report
                .findings
                .iter()
                .filter(|f| f.level != Level::Info)
                .take(100)
                .cloned()
                .collect(),
            diff: d,
            rewrites: Vec::new(),
            hierarchy,
            breakage,
            shacl: None,
            applied: false,
            version: None,
            seconds: 0.0,
        };
        if report.fails(Level::Error) {
            plan.rewrites = rewrites
                .into_iter()
                .map(|r| Rewritten {
                    rewrite: r,
                    statements: 0,
                    subjects: 0,
                    sample: Vec::new(),
                })
                .collect();
            plan.seconds = started.elapsed().as_secs_f64();
            return Ok(plan);
        }
        let version_iri = format!("{base}ontology/version/{}", &files.hash[..16]);
        // An apply of the loaded files records no new version; it still commits data moves
        // the ontology implies for data ingested since (a rare case: ingest resolves them).
        let commit = apply && (!unchanged || !rewrites.is_empty());
        let record = apply && !unchanged;
        let statements = if record {
            version_statements(
                &version_iri,
                &new_graph,
                &files,
                who,
                current_hash.as_deref(),
                &base,
                &plan.diff,
            )
        } else {
            Vec::new()
        };
        let outcome =
            self.catalog
                .change_ontology(&files, &rewrites, &products, &statements, commit)?;
        plan.rewrites = outcome.rewritten;
        plan.shacl = Some(outcome.shacl);
        plan.applied = outcome.committed;
        if record {
            plan.version = Some(version_iri.clone());
            self.audit()?.record(
                who.name(),
                &who.role().to_string(),
                "ontology-apply",
                &version_iri,
                &format!(
                    "{} added, {} removed, {} changed terms; {} rewrites",
                    plan.diff.added.len(),
                    plan.diff.removed.len(),
                    plan.diff.changed.len(),
                    plan.rewrites.len()
                ),
                0,
            );
        }
        plan.seconds = started.elapsed().as_secs_f64();
        Ok(plan)
    }
}

impl App {
    /// The documentation page of the ontology as loaded, with the versions this store applied,
    /// read through the caller's visibility (403 when the ontology graph is restricted from
    /// them; versions only when the catalog graph is visible). Blocking.
    pub fn ontology_docs(&self, vis: &Visibility) -> Result<String, AppError> {
        let layout = self.catalog.layout();
        if !self.catalog.sees(vis, &layout.ontology)? {
            return Err(AppError::Forbidden(
                "the ontology graph is restricted by the access policy".into(),
            ));
        }
        let versions: Vec<crate::catalog::ontology::docs::VersionRow> =
            if self.catalog.sees(vis, &layout.catalog)? {
                self.catalog.query_rows(
                    &NamedQuery::parse(
                        "ontology-versions",
                        include_str!("queries/ontology-versions.rq"),
                    )?,
                    &[("graph", layout.catalog.as_str())],
                    vis,
                )?
            } else {
                Vec::new()
            };
        Ok(crate::catalog::ontology::docs::render(
            &self.catalog.ontology_graph()?,
            &docs_prefixes(),
            &versions,
        ))
    }

    /// Rows of a query over the product graph (admin visibility: a plan sees all the data).
    fn data_rows<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        text: &str,
        extra: &[(&str, &str)],
    ) -> Result<Vec<T>, AppError> {
        let graph = self.catalog.layout().products.as_str().to_owned();
        let mut args = vec![("graph", graph.as_str())];
        args.extend_from_slice(extra);
        Ok(self
            .catalog
            .query_rows(&NamedQuery::parse(name, text)?, &args, &Visibility::ADMIN)?)
    }
}

/// Merges the new ontology declares: `old dcterms:isReplacedBy new`, `new dcterms:replaces old`.
fn merges(ix: &Index<'_>) -> Vec<Rewrite> {
    let mut out: Vec<Rewrite> = Vec::new();
    let mut add = |from: &str, to: &str| {
        if from != to && !out.iter().any(|r| r.from == from) {
            out.push(Rewrite {
                from: from.to_owned(),
                to: to.to_owned(),
                kind: "merge",
                why: format!("{from} is replaced by {to}"),
            });
        }
    };
    for (old, new) in ix.pairs(&format!("{DCTERMS}isReplacedBy")) {
        add(old, new);
    }
    for (new, old) in ix.pairs(&format!("{DCTERMS}replaces")) {
        add(old, new);
    }
    out
}

/// Concepts whose broader set changes, with the data at or below them (new hierarchy).
fn hierarchy_moves(
    io: &Index<'_>,
    inew: &Index<'_>,
    use_of: &HashMap<&str, u64>,
) -> Vec<HierarchyMove> {
    let (up_old, up_new) = (io.broader(), inew.broader());
    let mut down: HashMap<&str, Vec<&str>> = HashMap::new();
    for (c, ups) in &up_new {
        for u in ups {
            down.entry(u).or_default().push(c);
        }
    }
    let mut out = Vec::new();
    for c in inew.concepts.iter().filter(|c| io.concepts.contains(*c)) {
        let before: Vec<String> = up_old
            .get(c.as_str())
            .map(|s| s.iter().map(|x| x.to_string()).collect())
            .unwrap_or_default();
        let after: Vec<String> = up_new
            .get(c.as_str())
            .map(|s| s.iter().map(|x| x.to_string()).collect())
            .unwrap_or_default();
        if before == after {
            continue;
        }
        let mut seen = BTreeSet::new();
        let mut todo = vec![c.as_str()];
        while let Some(x) = todo.pop() {
            if seen.insert(x) {
                todo.extend(down.get(x).into_iter().flatten().copied());
            }
        }
        let subjects = seen
            .iter()
            .map(|x| use_of.get(x).copied().unwrap_or(0))
            .sum();
        out.push(HierarchyMove {
            concept: c.clone(),
            before,
            after,
            subjects,
        });
    }
    out
}

/// The version record: what, from which files, by whom, when, after which version, the diff.
fn version_statements(
    iri: &str,
    graph: &oxigraph::model::Graph,
    files: &OntologyFiles,
    who: &Principal,
    previous: Option<&str>,
    base: &str,
    d: &OntologyDiff,
) -> Vec<Statement> {
    let ix = Index::new(graph);
    let owl_version = ix
        .pairs_any(&format!("{}versionInfo", "http://www.w3.org/2002/07/owl#"))
        .into_iter()
        .flat_map(|s| ix.labels(s, "http://www.w3.org/2002/07/owl#versionInfo"))
        .map(|l| l.text)
        .next();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut s = vec![
        Statement::new(
            iri,
            format!("{RDF}type"),
            Object::iri(format!("{ST}OntologyVersion")),
        ),
        Statement::new(
            iri,
            format!("{RDF}type"),
            Object::iri(format!("{PROV}Entity")),
        ),
        Statement::new(iri, format!("{ST}contentHash"), Object::string(&files.hash)),
        Statement::new(
            iri,
            format!("{PROV}generatedAtTime"),
            Object::datetime(&now),
        ),
        Statement::new(
            iri,
            format!("{PROV}wasAttributedTo"),
            Object::string(who.name()),
        ),
        Statement::new(
            iri,
            format!("{ST}diffSummary"),
            Object::string(d.markdown()),
        ),
        Statement::new(
            iri,
            format!("{ST}termsAdded"),
            Object::integer(d.added.len() as u64),
        ),
        Statement::new(
            iri,
            format!("{ST}termsRemoved"),
            Object::integer(d.removed.len() as u64),
        ),
        Statement::new(
            iri,
            format!("{ST}termsChanged"),
            Object::integer(d.changed.len() as u64),
        ),
    ];
    if let Some(v) = owl_version {
        s.push(Statement::new(
            iri,
            "http://www.w3.org/2002/07/owl#versionInfo",
            Object::string(v),
        ));
    }
    if let Some(p) = previous {
        s.push(Statement::new(
            iri,
            format!("{PROV}wasRevisionOf"),
            Object::iri(format!("{base}ontology/version/{}", &p[..16.min(p.len())])),
        ));
    }
    for f in &files.files {
        s.push(Statement::new(
            iri,
            format!("{ST}file"),
            Object::string(f.file_name().unwrap_or_default().to_string_lossy()),
        ));
    }
    s
}

/// Mapping file name → the terms its records write (`Mapping::terms_written`), for every
/// `*.toml` mapping in `dir`.
pub fn mapped_terms(dir: &Path) -> Result<BTreeMap<String, Vec<String>>, AppError> {
    Ok(crate::ingest::mapping::terms_of_folder(dir)?)
}

/// The prefixes the documentation compacts IRIs with: the server's and the ontology's own.
pub fn docs_prefixes() -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = crate::catalog::vocab::PREFIXES
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    for (a, b) in [
        ("owl", "http://www.w3.org/2002/07/owl#"),
        ("cat", "https://w3id.org/stocktake/category/"),
        ("brand", "https://w3id.org/stocktake/brand/"),
        ("kind", "https://w3id.org/stocktake/asset-kind/"),
        ("sem", "https://w3id.org/stocktake/semantic-type/"),
        ("shapes", "https://w3id.org/stocktake/shapes#"),
    ] {
        p.push((a.to_owned(), b.to_owned()));
    }
    p
}
