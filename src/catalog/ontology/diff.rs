//! `stocktake ontology diff OLD NEW`: what changed between two versions of an ontology as
//! ontology terms, not lines — classes, properties, concepts, schemes, shapes and brands added,
//! removed or changed, with labels, parents and aliases spelled out. A term's description is
//! its own triples with blank nodes (property shapes, lists, paths) written out in place, so a
//! shape whose blank nodes were renumbered is unchanged and an edited property shape shows as
//! the one constraint that moved.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use oxigraph::model::{Graph, NamedOrBlankNodeRef, TermRef};
use serde::Serialize;

use super::check::index::{Index, RDFS, SH, SKOS};
use super::source::OntologySource;

/// A term added or removed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TermEntry {
    pub iri: String,
    pub kind: &'static str,
    /// Its labels, as `"text"@lang`.
    pub labels: Vec<String>,
}

/// A term present in both versions whose description differs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TermChange {
    pub iri: String,
    pub kind: &'static str,
    /// What changed, for people ("label "手机"@zh → "移动电话"@zh", "broader: + cat:x").
    pub summary: Vec<String>,
    /// Statements (predicate, object) only the new version has.
    pub added: Vec<(String, String)>,
    /// Statements only the old version has.
    pub removed: Vec<(String, String)>,
}

/// A brand alias that appeared or went (brand, alias).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AliasChange {
    pub brand: String,
    pub alias: String,
}

/// The semantic difference of two ontologies.
#[derive(Debug, Clone, Serialize, Default)]
pub struct OntologyDiff {
    pub added: Vec<TermEntry>,
    pub removed: Vec<TermEntry>,
    pub changed: Vec<TermChange>,
    pub aliases_added: Vec<AliasChange>,
    pub aliases_removed: Vec<AliasChange>,
    /// Per kind: (added, removed, changed).
    pub counts: BTreeMap<&'static str, (usize, usize, usize)>,
    #[serde(skip)]
    prefixes: Vec<(String, String)>,
}

const KINDS: &[&str] = &[
    "class", "property", "concept", "scheme", "shape", "brand", "other",
];

fn kind_of(ix: &Index<'_>, iri: &str) -> &'static str {
    if ix.classes.contains(iri) {
        "class"
    } else if ix.properties.contains(iri) {
        "property"
    } else if ix.concepts.contains(iri) {
        "concept"
    } else if ix.schemes.contains(iri) {
        "scheme"
    } else if ix.brands.contains(iri) {
        "brand"
    } else if ix.has(iri, &format!("{SH}targetClass"))
        || ix.has(iri, &format!("{SH}property"))
        || ix
            .objects(iri, "http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
            .iter()
            .any(|t| t.starts_with(SH))
    {
        "shape"
    } else {
        "other"
    }
}

/// A term as N-Triples-like text, blank nodes written out as `[ p o ; … ]` (sorted), up to a
/// depth (lists and shapes are shallow; a cycle of blank nodes stops there).
fn canon(g: &Graph, t: TermRef<'_>, depth: usize) -> String {
    match t {
        TermRef::BlankNode(b) if depth < 8 => {
            let mut parts: Vec<String> = g
                .triples_for_subject(NamedOrBlankNodeRef::BlankNode(b))
                .map(|tr| {
                    format!(
                        "<{}> {}",
                        tr.predicate.as_str(),
                        canon(g, tr.object, depth + 1)
                    )
                })
                .collect();
            parts.sort();
            format!("[ {} ]", parts.join(" ; "))
        }
        TermRef::BlankNode(_) => "[]".into(),
        other => other.to_string(),
    }
}

/// Each named subject's description: (predicate, canonical object).
fn descriptions(g: &Graph) -> BTreeMap<String, BTreeSet<(String, String)>> {
    let mut out: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for t in g.iter() {
        if let NamedOrBlankNodeRef::NamedNode(s) = t.subject {
            out.entry(s.as_str().to_owned())
                .or_default()
                .insert((t.predicate.as_str().to_owned(), canon(g, t.object, 0)));
        }
    }
    out
}

fn labels(ix: &Index<'_>, iri: &str) -> Vec<String> {
    ix.names(iri)
        .into_iter()
        .map(|l| {
            if l.lang.is_empty() {
                format!("{:?}", l.text)
            } else {
                format!("{:?}@{}", l.text, l.lang)
            }
        })
        .collect()
}

/// The brand aliases (case-folded pref/alt/hidden labels) per brand.
fn aliases(ix: &Index<'_>) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for b in &ix.brands {
        for p in ["prefLabel", "altLabel", "hiddenLabel"] {
            for l in ix.labels(b, &format!("{SKOS}{p}")) {
                out.insert((b.clone(), l.text.trim().to_lowercase()));
            }
        }
    }
    out
}

/// Compares two ontologies.
pub fn diff(old: &OntologySource, new: &OntologySource) -> OntologyDiff {
    let (go, gn) = (old.union(), new.union());
    let (io, inew) = (Index::new(&go), Index::new(&gn));
    let (dold, dnew) = (descriptions(&go), descriptions(&gn));
    let mut d = OntologyDiff {
        prefixes: new.prefixes(),
        ..OntologyDiff::default()
    };
    for k in KINDS {
        d.counts.insert(k, (0, 0, 0));
    }
    let label_preds = [format!("{RDFS}label"), format!("{SKOS}prefLabel")];
    for (iri, after) in &dnew {
        let kind = kind_of(&inew, iri);
        match dold.get(iri) {
            None => {
                if let Some(c) = d.counts.get_mut(kind) {
                    c.0 += 1;
                }
                d.added.push(TermEntry {
                    iri: iri.clone(),
                    kind,
                    labels: labels(&inew, iri),
                });
            }
            Some(before) if before != after => {
                let added: Vec<(String, String)> = after.difference(before).cloned().collect();
                let removed: Vec<(String, String)> = before.difference(after).cloned().collect();
                let mut summary = Vec::new();
                // Labels replaced in one language read as one change.
                for p in &label_preds {
                    for (_, o) in removed.iter().filter(|(q, _)| q == p) {
                        let lang = o.rsplit_once('@').map(|(_, l)| l.to_owned());
                        let now = added.iter().find(|(q, n)| {
                            q == p && n.rsplit_once('@').map(|(_, l)| l.to_owned()) == lang
                        });
                        match now {
                            Some((_, n)) => summary.push(format!("label {o} → {n}")),
                            None => summary.push(format!("label {o} removed")),
                        }
                    }
                }
                for (p, o) in &added {
                    if label_preds.contains(p) {
                        let lang = o.rsplit_once('@').map(|(_, l)| l.to_owned());
                        let replaced = removed.iter().any(|(q, r)| {
                            q == p && r.rsplit_once('@').map(|(_, l)| l.to_owned()) == lang
                        });
                        if !replaced {
                            summary.push(format!("label {o} added"));
                        }
                    } else {
                        summary.push(format!("+ {} {}", d.compact(p), d.compact_term(o)));
                    }
                }
                for (p, o) in &removed {
                    if !label_preds.contains(p) {
                        summary.push(format!("- {} {}", d.compact(p), d.compact_term(o)));
                    }
                }
                if let Some(c) = d.counts.get_mut(kind) {
                    c.2 += 1;
                }
                d.changed.push(TermChange {
                    iri: iri.clone(),
                    kind,
                    summary,
                    added,
                    removed,
                });
            }
            Some(_) => {}
        }
    }
    for iri in dold.keys().filter(|k| !dnew.contains_key(*k)) {
        let kind = kind_of(&io, iri);
        if let Some(c) = d.counts.get_mut(kind) {
            c.1 += 1;
        }
        d.removed.push(TermEntry {
            iri: iri.clone(),
            kind,
            labels: labels(&io, iri),
        });
    }
    let (ao, an) = (aliases(&io), aliases(&inew));
    let change = |(b, a): &(String, String)| AliasChange {
        brand: b.clone(),
        alias: a.clone(),
    };
    d.aliases_added = an.difference(&ao).map(change).collect();
    d.aliases_removed = ao.difference(&an).map(change).collect();
    d
}

impl OntologyDiff {
    /// Whether the two versions describe the same terms.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    /// An IRI as a prefixed name when a prefix of the new version covers it.
    pub fn compact(&self, iri: &str) -> String {
        self.prefixes
            .iter()
            .filter(|(_, ns)| iri.starts_with(ns.as_str()) && iri.len() > ns.len())
            .max_by_key(|(_, ns)| ns.len())
            .map(|(p, ns)| format!("{p}:{}", &iri[ns.len()..]))
            .unwrap_or_else(|| format!("<{iri}>"))
    }

    /// An object as text, IRIs compacted.
    fn compact_term(&self, o: &str) -> String {
        match o.strip_prefix('<').and_then(|x| x.strip_suffix('>')) {
            Some(iri) if !iri.contains('>') => self.compact(iri),
            _ => o.to_owned(),
        }
    }

    /// The diff as Markdown, for a pull request or a changelog.
    pub fn markdown(&self) -> String {
        let mut s = String::from("# Ontology diff\n\n");
        if self.is_empty() && self.aliases_added.is_empty() && self.aliases_removed.is_empty() {
            s.push_str("No change in terms.\n");
            return s;
        }
        s.push_str("| terms | added | removed | changed |\n|---|---:|---:|---:|\n");
        for (k, (a, r, c)) in &self.counts {
            if a + r + c > 0 {
                let _ = writeln!(s, "| {k} | {a} | {r} | {c} |");
            }
        }
        for kind in KINDS {
            let added: Vec<&TermEntry> = self.added.iter().filter(|t| t.kind == *kind).collect();
            let removed: Vec<&TermEntry> =
                self.removed.iter().filter(|t| t.kind == *kind).collect();
            let changed: Vec<&TermChange> =
                self.changed.iter().filter(|t| t.kind == *kind).collect();
            if added.is_empty() && removed.is_empty() && changed.is_empty() {
                continue;
            }
            let _ = writeln!(s, "\n## {kind}\n");
            for t in added {
                let _ = writeln!(
                    s,
                    "- added `{}` {}",
                    self.compact(&t.iri),
                    t.labels.join(", ")
                );
            }
            for t in removed {
                let _ = writeln!(
                    s,
                    "- removed `{}` {}",
                    self.compact(&t.iri),
                    t.labels.join(", ")
                );
            }
            for t in changed {
                let _ = writeln!(
                    s,
                    "- changed `{}`: {}",
                    self.compact(&t.iri),
                    t.summary.join("; ")
                );
            }
        }
        if !self.aliases_added.is_empty() || !self.aliases_removed.is_empty() {
            s.push_str("\n## brand aliases\n\n");
            for a in &self.aliases_added {
                let _ = writeln!(
                    s,
                    "- `{}` now also answers to {:?}",
                    self.compact(&a.brand),
                    a.alias
                );
            }
            for a in &self.aliases_removed {
                let _ = writeln!(
                    s,
                    "- `{}` no longer answers to {:?}",
                    self.compact(&a.brand),
                    a.alias
                );
            }
        }
        s
    }
}
