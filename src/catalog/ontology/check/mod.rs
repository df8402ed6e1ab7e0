//! `stocktake ontology check`: the checks an ontology engineer runs before a change lands, in
//! the manner of ROBOT's `report` (labels, definitions, duplicates, deprecated terms in use)
//! and qSKOS (cycles, orphans, label clashes, broken schemes, mapping contradictions), plus
//! what only this product has: the brand alias table and SHACL shapes read as SHACL Core.
//!
//! Every check has a stable id and a level; a finding names the offending terms and where the
//! first one is written (`file:line`). A file that does not parse is an error finding of its
//! own and the other files are still checked. Errors fail the check (a CI of an ontology repo
//! exits non-zero on them); warnings and info are advice. The shipped ontology passes its own
//! check with no finding at all.

pub mod index;
mod shapes;
mod skos;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::source::OntologySource;
use index::{lang_matches, Index, Label, OWL, RDFS, RDF_TYPE, SH, SKOS};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
    Info,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "error" => Some(Level::Error),
            "warning" => Some(Level::Warning),
            "info" => Some(Level::Info),
            _ => None,
        }
    }
}

/// One check: its id, level and what it looks for.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CheckDef {
    pub id: &'static str,
    pub level: Level,
    pub about: &'static str,
}

/// Every check, in report order.
pub const CHECKS: &[CheckDef] = &[
    CheckDef { id: "parse_error", level: Level::Error, about: "a file that does not parse as RDF" },
    CheckDef { id: "undeclared_term", level: Level::Error, about: "a term in one of the ontology's own namespaces used as a predicate, a type or in an axiom but never declared" },
    CheckDef { id: "missing_label", level: Level::Error, about: "a class, property or concept without rdfs:label / skos:prefLabel" },
    CheckDef { id: "missing_language_label", level: Level::Warning, about: "a class, property or concept without a label in one of the required languages" },
    CheckDef { id: "multiple_labels", level: Level::Error, about: "a class or property with more than one rdfs:label in one language" },
    CheckDef { id: "duplicate_label", level: Level::Error, about: "two classes (or two properties) with the same label in one language" },
    CheckDef { id: "missing_definition", level: Level::Warning, about: "a class or property without rdfs:comment / skos:definition / dcterms:description" },
    CheckDef { id: "deprecated_reference", level: Level::Error, about: "a deprecated term still used by a shape, an axiom of a live term or a mapping" },
    CheckDef { id: "skos_cycle", level: Level::Error, about: "a cycle in skos:broader (with skos:narrower turned round)" },
    CheckDef { id: "orphan_concept", level: Level::Warning, about: "a concept with no broader concept that is not a top concept of its scheme" },
    CheckDef { id: "multiple_pref_labels", level: Level::Error, about: "a concept (or any resource) with more than one skos:prefLabel in one language (SKOS S14)" },
    CheckDef { id: "label_clash", level: Level::Error, about: "the same label as prefLabel and altLabel (or hiddenLabel) of one concept or other resource (SKOS S13)" },
    CheckDef { id: "broken_scheme", level: Level::Error, about: "skos:inScheme / topConceptOf / hasTopConcept pointing at no concept scheme, or a top concept with a broader concept in its scheme" },
    CheckDef { id: "exact_match_contradiction", level: Level::Error, about: "concepts linked by skos:exactMatch (transitively) that are also linked by a hierarchical or associative relation (SKOS S46)" },
    CheckDef { id: "related_hierarchical_clash", level: Level::Error, about: "skos:related between concepts also linked by broader/narrower, transitively (SKOS S27), or from a concept to itself" },
    CheckDef { id: "hierarchical_redundancy", level: Level::Info, about: "a broader link implied by a longer broader path" },
    CheckDef { id: "alias_conflict", level: Level::Error, about: "one brand alias (label, case-folded) naming two brands" },
    CheckDef { id: "shacl_invalid", level: Level::Error, about: "a shape that is not valid SHACL Core (missing or extra sh:path, bad counts, unknown sh: terms, bad patterns or lists, dangling sh:node)" },
    CheckDef { id: "shacl_unknown_term", level: Level::Error, about: "a shape targeting or constraining a class or property the ontology does not declare" },
];

/// One thing a check found.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    pub check: &'static str,
    pub level: Level,
    /// The offending terms (IRIs), the first being where the finding is located.
    pub terms: Vec<String>,
    pub message: String,
    /// `file:line` of the first term (or of a parse error).
    pub location: Option<String>,
}

/// A check's count in the report.
#[derive(Debug, Clone, Serialize)]
pub struct CheckCount {
    pub id: &'static str,
    pub level: Level,
    pub about: &'static str,
    pub found: usize,
}

/// What the ontology holds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub files: usize,
    pub triples: usize,
    pub classes: usize,
    pub properties: usize,
    pub concepts: usize,
    pub schemes: usize,
    pub shapes: usize,
    pub brands: usize,
}

/// The outcome of `ontology check`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub files: Vec<String>,
    pub counts: Counts,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    pub checks: Vec<CheckCount>,
    pub findings: Vec<Finding>,
    pub seconds: f64,
}

/// What a check is asked to hold the ontology to.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Languages every class, property and concept is labelled in (`zh`, `en`).
    pub languages: Vec<String>,
    /// Check ids not to run.
    pub skip: Vec<String>,
    /// Terms the mappings write (their deprecation is an error).
    pub mapped_terms: BTreeMap<String, Vec<String>>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            languages: vec!["zh".into(), "en".into()],
            skip: Vec::new(),
            mapped_terms: BTreeMap::new(),
        }
    }
}

/// Collects findings; each is located at its first term.
pub(crate) struct Findings<'s> {
    src: &'s OntologySource,
    out: Vec<Finding>,
    skip: BTreeSet<String>,
}

impl Findings<'_> {
    pub(crate) fn add(&mut self, check: &'static str, terms: Vec<String>, message: String) {
        if self.skip.contains(check) {
            return;
        }
        let level = CHECKS
            .iter()
            .find(|c| c.id == check)
            .map(|c| c.level)
            .unwrap_or(Level::Error);
        let location = terms.first().and_then(|t| self.src.locate(t));
        self.out.push(Finding {
            check,
            level,
            terms,
            message,
            location,
        });
    }
}

/// Runs every check on the source.
pub fn check(src: &OntologySource, opts: &CheckOptions) -> CheckReport {
    let started = std::time::Instant::now();
    let graph = src.union();
    let ix = Index::new(&graph);
    let mut f = Findings {
        src,
        out: Vec::new(),
        skip: opts.skip.iter().cloned().collect(),
    };
    for p in &src.problems {
        if !f.skip.contains("parse_error") {
            f.out.push(Finding {
                check: "parse_error",
                level: Level::Error,
                terms: Vec::new(),
                message: p.message.clone(),
                location: Some(match (p.line, p.column) {
                    (Some(l), Some(c)) => format!("{}:{l}:{c}", p.file),
                    _ => p.file.clone(),
                }),
            });
        }
    }
    terms(&ix, opts, &mut f);
    skos::check(&ix, opts, &mut f);
    let shapes = shapes::check(&ix, &mut f);
    let mut findings = f.out;
    let order = |id: &str| CHECKS.iter().position(|c| c.id == id).unwrap_or(usize::MAX);
    findings.sort_by(|a, b| {
        (a.level, order(a.check), &a.terms, &a.message).cmp(&(
            b.level,
            order(b.check),
            &b.terms,
            &b.message,
        ))
    });
    let count = |l: Level| findings.iter().filter(|x| x.level == l).count();
    let files: Vec<String> = src
        .files
        .iter()
        .map(|f| f.path.display().to_string())
        .chain(src.problems.iter().map(|p| p.file.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    CheckReport {
        files: files.clone(),
        counts: Counts {
            files: files.len(),
            triples: graph.len(),
            classes: ix.classes.len(),
            properties: ix.properties.len(),
            concepts: ix.concepts.len(),
            schemes: ix.schemes.len(),
            shapes,
            brands: ix.brands.len(),
        },
        errors: count(Level::Error),
        warnings: count(Level::Warning),
        infos: count(Level::Info),
        checks: CHECKS
            .iter()
            .filter(|c| !opts.skip.iter().any(|s| s == c.id))
            .map(|c| CheckCount {
                id: c.id,
                level: c.level,
                about: c.about,
                found: findings.iter().filter(|x| x.check == c.id).count(),
            })
            .collect(),
        findings,
        seconds: started.elapsed().as_secs_f64(),
    }
}

impl CheckReport {
    /// Whether a finding at `level` or worse exists (what makes the command exit non-zero).
    pub fn fails(&self, level: Level) -> bool {
        self.findings.iter().any(|f| f.level <= level)
    }

    /// The report for people: a summary, then one line per finding, then the checks' counts.
    pub fn text(&self, limit_per_check: usize) -> String {
        let c = &self.counts;
        let mut s = format!(
            "ontology check: {} files, {} triples ({} classes, {} properties, {} concepts in {} schemes, {} shapes, {} brands) in {:.2} s\n",
            c.files, c.triples, c.classes, c.properties, c.concepts, c.schemes, c.shapes, c.brands, self.seconds
        );
        let mut shown: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &self.findings {
            let n = shown.entry(f.check).or_default();
            *n += 1;
            if *n > limit_per_check {
                continue;
            }
            let _ = writeln!(
                s,
                "{}: {} [{}] {}",
                f.location.as_deref().unwrap_or("-"),
                f.level.name(),
                f.check,
                f.message
            );
        }
        for (check, n) in shown {
            if n > limit_per_check {
                let _ = writeln!(
                    s,
                    "… and {} more [{check}] (--format json lists all)",
                    n - limit_per_check
                );
            }
        }
        let _ = writeln!(
            s,
            "{} errors, {} warnings, {} info",
            self.errors, self.warnings, self.infos
        );
        for k in &self.checks {
            if k.found > 0 {
                let _ = writeln!(s, "  {:<27} {:>7} {}", k.id, k.found, k.level.name());
            }
        }
        s
    }
}

/// A term for messages: its local name after `#` or the last `/`.
pub(crate) fn short(iri: &str) -> &str {
    let local = &iri[index::namespace(iri).len()..];
    if local.is_empty() {
        iri
    } else {
        local
    }
}

/// The checks on declared terms: declarations, labels, definitions, deprecation.
fn terms(ix: &Index<'_>, opts: &CheckOptions, f: &mut Findings<'_>) {
    // Terms used but never declared: predicates, types, and the terms axioms name.
    let mut used: BTreeMap<&str, &'static str> = BTreeMap::new();
    let axioms = [
        "subClassOf",
        "subPropertyOf",
        "domain",
        "range",
        "equivalentClass",
        "equivalentProperty",
        "inverseOf",
    ];
    for t in ix.graph.iter() {
        let p = t.predicate.as_str();
        if !p.starts_with(SH) {
            used.entry(p).or_insert("as a predicate");
        }
        let what = if p == RDF_TYPE {
            Some("as a type")
        } else if axioms
            .iter()
            .any(|a| p == format!("{RDFS}{a}") || p == format!("{OWL}{a}"))
        {
            Some("in an axiom")
        } else {
            None
        };
        if let (Some(what), Some(o)) = (what, index::iri_of(t.object)) {
            used.entry(o).or_insert(what);
        }
    }
    for (term, how) in used {
        if ix.undeclared(term) {
            f.add(
                "undeclared_term",
                vec![term.to_owned()],
                format!("{} is used {how} but not declared", short(term)),
            );
        }
    }
    // Labels.
    let labelled: Vec<(&String, &str)> = ix
        .classes
        .iter()
        .map(|c| (c, "class"))
        .chain(ix.properties.iter().map(|p| (p, "property")))
        .chain(ix.concepts.iter().map(|c| (c, "concept")))
        .collect();
    for (term, kind) in &labelled {
        let names = ix.names(term);
        if names.is_empty() {
            f.add(
                "missing_label",
                vec![(*term).clone()],
                format!("{kind} {} has no label", short(term)),
            );
            continue;
        }
        let missing: Vec<&str> = opts
            .languages
            .iter()
            .filter(|l| !names.iter().any(|n| lang_matches(&n.lang, l)))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            f.add(
                "missing_language_label",
                vec![(*term).clone()],
                format!(
                    "{kind} {} has no label in {}",
                    short(term),
                    missing.join(", ")
                ),
            );
        }
    }
    // More than one label in a language (two declarations of a term drifting apart).
    for (term, kind) in labelled.iter().filter(|(_, k)| *k != "concept") {
        let all = ix.labels(term, &format!("{RDFS}label"));
        for (lang, texts) in index::by_language(&all)
            .into_iter()
            .filter(|(_, t)| t.len() > 1)
        {
            f.add(
                "multiple_labels",
                vec![(*term).clone()],
                format!(
                    "{kind} {} has {} rdfs:labels{}: {}",
                    short(term),
                    texts.len(),
                    if lang.is_empty() {
                        String::new()
                    } else {
                        format!(" @{lang}")
                    },
                    texts.join(" | ")
                ),
            );
        }
    }
    // The same label on two terms of a kind.
    for (set, kind) in [(&ix.classes, "classes"), (&ix.properties, "properties")] {
        let mut by: BTreeMap<Label, BTreeSet<&str>> = BTreeMap::new();
        for t in set.iter() {
            for l in ix.labels(t, &format!("{RDFS}label")) {
                let key = Label {
                    text: l.text.trim().to_lowercase(),
                    lang: l.lang.to_ascii_lowercase(),
                };
                by.entry(key).or_default().insert(t);
            }
        }
        for (l, terms) in by {
            if terms.len() > 1 {
                let list: Vec<String> = terms.iter().map(|t| t.to_string()).collect();
                let names: Vec<&str> = terms.iter().map(|t| short(t)).collect();
                f.add(
                    "duplicate_label",
                    list,
                    format!(
                        "{kind} {} share the label {:?}{}",
                        names.join(", "),
                        l.text,
                        if l.lang.is_empty() {
                            String::new()
                        } else {
                            format!("@{}", l.lang)
                        }
                    ),
                );
            }
        }
    }
    // Definitions.
    let defs = [
        format!("{RDFS}comment"),
        format!("{SKOS}definition"),
        "http://purl.org/dc/terms/description".to_string(),
        "http://schema.org/description".to_string(),
    ];
    for (term, kind) in labelled.iter().filter(|(_, k)| *k != "concept") {
        if ix.own.contains(index::namespace(term)) && !defs.iter().any(|d| ix.has(term, d)) {
            f.add(
                "missing_definition",
                vec![(*term).clone()],
                format!("{kind} {} has no definition", short(term)),
            );
        }
    }
    deprecated(ix, opts, f);
}

/// Deprecated terms still in use: by shapes, by axioms of terms that are not deprecated
/// themselves, by mappings.
fn deprecated(ix: &Index<'_>, opts: &CheckOptions, f: &mut Findings<'_>) {
    if ix.deprecated.is_empty() {
        return;
    }
    let mut uses: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let shape_refs = [
        "targetClass",
        "class",
        "path",
        "targetSubjectsOf",
        "targetObjectsOf",
    ];
    let property =
        oxigraph::model::NamedNodeRef::new_unchecked("http://www.w3.org/ns/shacl#property");
    for r in shape_refs {
        let p = format!("{SH}{r}");
        for t in ix.graph.triples_for_predicate(Index::node(&p)) {
            let Some(o) = index::iri_of(t.object) else {
                continue;
            };
            if !ix.deprecated.contains(o) {
                continue;
            }
            // A blank property shape is named by the node shape holding it.
            let shape = match t.subject {
                oxigraph::model::NamedOrBlankNodeRef::NamedNode(n) => n.as_str().to_owned(),
                b => ix
                    .graph
                    .subjects_for_predicate_object(property, b)
                    .next()
                    .map(|s| match s {
                        oxigraph::model::NamedOrBlankNodeRef::NamedNode(n) => n.as_str().to_owned(),
                        other => other.to_string(),
                    })
                    .unwrap_or_else(|| b.to_string()),
            };
            uses.entry(o)
                .or_default()
                .insert(format!("shape {} (sh:{r})", short(&shape)));
        }
    }
    for a in ["subClassOf", "subPropertyOf", "domain", "range"] {
        for (s, o) in ix.pairs(&format!("{RDFS}{a}")) {
            if ix.deprecated.contains(o) && !ix.deprecated.contains(s) {
                uses.entry(o)
                    .or_default()
                    .insert(format!("{} (rdfs:{a})", short(s)));
            }
        }
    }
    for (mapping, terms) in &opts.mapped_terms {
        for t in terms {
            if let Some(d) = ix.deprecated.get(t.as_str()) {
                uses.entry(d.as_str())
                    .or_default()
                    .insert(format!("mapping {mapping}"));
            }
        }
    }
    for (term, by) in uses {
        let replaced = ix.objects(term, "http://purl.org/dc/terms/isReplacedBy");
        f.add(
            "deprecated_reference",
            vec![term.to_owned()],
            format!(
                "{} is deprecated but used by {}{}",
                short(term),
                by.into_iter().collect::<Vec<_>>().join(", "),
                replaced
                    .first()
                    .map(|r| format!("; use {} instead", short(r)))
                    .unwrap_or_default()
            ),
        );
    }
}
