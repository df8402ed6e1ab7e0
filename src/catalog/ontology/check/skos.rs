//! The SKOS checks (qSKOS' and the SKOS reference's integrity conditions that matter for a
//! category taxonomy) and the brand alias table's: cycles, orphans, labels per language and
//! their clashes, schemes, mapping contradictions, related-vs-hierarchy clashes, redundant
//! broader links, aliases naming two brands.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::index::{Index, Label, SKOS};
use super::{short, CheckOptions, Findings};

pub(super) fn check(ix: &Index<'_>, _opts: &CheckOptions, f: &mut Findings<'_>) {
    let up = ix.broader();
    cycles(&up, f);
    orphans(ix, &up, f);
    labels(ix, f);
    schemes(ix, &up, f);
    let ancestors = ancestors(&up);
    mappings(ix, &up, f);
    related(ix, &ancestors, f);
    redundancy(&up, &ancestors, f);
    aliases(ix, f);
}

/// Strongly connected components of more than one node (or a self-loop) in `broader`: Tarjan's
/// algorithm, iterative so a deep taxonomy cannot overflow the stack.
fn cycles(up: &BTreeMap<&str, BTreeSet<&str>>, f: &mut Findings<'_>) {
    let nodes: Vec<&str> = up
        .iter()
        .flat_map(|(k, v)| std::iter::once(*k).chain(v.iter().copied()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let id: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let succ: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            up.get(n)
                .map(|s| s.iter().map(|m| id[m]).collect())
                .unwrap_or_default()
        })
        .collect();
    let n = nodes.len();
    let (mut index, mut low, mut on) = (vec![usize::MAX; n], vec![0; n], vec![false; n]);
    let (mut stack, mut next) = (Vec::new(), 0);
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work = vec![(root, 0usize)];
        while let Some(&mut (v, ref mut i)) = work.last_mut() {
            if *i == 0 {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on[v] = true;
            }
            if *i < succ[v].len() {
                let w = succ[v][*i];
                *i += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 || succ[v].contains(&v) {
                    let mut terms: Vec<String> =
                        comp.iter().map(|c| nodes[*c].to_owned()).collect();
                    terms.sort();
                    let names: Vec<&str> = terms.iter().map(|t| short(t)).collect();
                    f.add(
                        "skos_cycle",
                        terms.clone(),
                        format!("skos:broader cycle through {}", names.join(" → ")),
                    );
                }
            }
        }
    }
}

fn orphans(ix: &Index<'_>, up: &BTreeMap<&str, BTreeSet<&str>>, f: &mut Findings<'_>) {
    let mut top: BTreeSet<&str> = ix
        .pairs(&format!("{SKOS}topConceptOf"))
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    top.extend(
        ix.pairs(&format!("{SKOS}hasTopConcept"))
            .into_iter()
            .map(|(_, o)| o),
    );
    for c in &ix.concepts {
        if !top.contains(c.as_str()) && up.get(c.as_str()).is_none_or(BTreeSet::is_empty) {
            f.add(
                "orphan_concept",
                vec![c.clone()],
                format!(
                    "concept {} has no broader concept and is not a top concept",
                    short(c)
                ),
            );
        }
    }
}

/// S13 and S14 hold for any resource with SKOS labels (concepts, schemes, collections, brands).
fn labels(ix: &Index<'_>, f: &mut Findings<'_>) {
    let mut labelled: BTreeSet<&str> = BTreeSet::new();
    for p in ["prefLabel", "altLabel", "hiddenLabel"] {
        labelled.extend(ix.pairs_any(&format!("{SKOS}{p}")));
    }
    for c in labelled {
        let what = if ix.concepts.contains(c) {
            "concept"
        } else {
            "resource"
        };
        let c = &c.to_owned();
        let pref = ix.labels(c, &format!("{SKOS}prefLabel"));
        for (lang, texts) in super::index::by_language(&pref) {
            if texts.len() > 1 {
                f.add(
                    "multiple_pref_labels",
                    vec![c.clone()],
                    format!(
                        "{what} {} has {} prefLabels{}: {}",
                        short(c),
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
        let alt = ix.labels(c, &format!("{SKOS}altLabel"));
        let hidden = ix.labels(c, &format!("{SKOS}hiddenLabel"));
        let sets = [
            ("prefLabel", &pref),
            ("altLabel", &alt),
            ("hiddenLabel", &hidden),
        ];
        for (i, (a, la)) in sets.iter().enumerate() {
            for (b, lb) in &sets[i + 1..] {
                for l in la.iter().filter(|l| lb.contains(l)) {
                    f.add(
                        "label_clash",
                        vec![c.clone()],
                        format!(
                            "{what} {}: {:?}{} is both its {a} and its {b}",
                            short(c),
                            l.text,
                            lang_suffix(l)
                        ),
                    );
                }
            }
        }
    }
}

fn lang_suffix(l: &Label) -> String {
    if l.lang.is_empty() {
        String::new()
    } else {
        format!("@{}", l.lang)
    }
}

fn schemes(ix: &Index<'_>, up: &BTreeMap<&str, BTreeSet<&str>>, f: &mut Findings<'_>) {
    for (p, concept_is_subject) in [
        ("inScheme", true),
        ("topConceptOf", true),
        ("hasTopConcept", false),
    ] {
        for (s, o) in ix.pairs(&format!("{SKOS}{p}")) {
            let (concept, scheme) = if concept_is_subject { (s, o) } else { (o, s) };
            if !ix.schemes.contains(scheme) {
                f.add(
                    "broken_scheme",
                    vec![concept.to_owned(), scheme.to_owned()],
                    format!(
                        "{} skos:{p} {}, which is not a skos:ConceptScheme",
                        short(s),
                        short(o)
                    ),
                );
            }
        }
    }
    // A top concept of a scheme with a broader concept in the same scheme.
    for (c, scheme) in ix.pairs(&format!("{SKOS}topConceptOf")) {
        for b in up.get(c).into_iter().flatten() {
            if ix.objects(b, &format!("{SKOS}inScheme")).contains(&scheme) {
                f.add(
                    "broken_scheme",
                    vec![c.to_owned(), (*b).to_owned()],
                    format!(
                        "{} is a top concept of {} but has the broader concept {} in it",
                        short(c),
                        short(scheme),
                        short(b)
                    ),
                );
            }
        }
    }
}

/// Each concept's transitive broader concepts (cycles are cut where they close).
fn ancestors<'a>(up: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> HashMap<&'a str, BTreeSet<&'a str>> {
    let mut out: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for &c in up.keys() {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&str> = up[c].iter().copied().collect();
        while let Some(x) = todo.pop() {
            if x != c && seen.insert(x) {
                todo.extend(up.get(x).into_iter().flatten().copied());
            }
        }
        out.insert(c, seen);
    }
    out
}

/// `exactMatch` is transitive and symmetric (S44, S45) and disjoint with `broadMatch` and
/// `relatedMatch` (S46); concepts it joins must not be linked hierarchically or associatively.
fn mappings(ix: &Index<'_>, up: &BTreeMap<&str, BTreeSet<&str>>, f: &mut Findings<'_>) {
    // Union-find over exactMatch.
    let mut parent: HashMap<&str, &str> = HashMap::new();
    fn find<'a>(p: &mut HashMap<&'a str, &'a str>, x: &'a str) -> &'a str {
        let mut r = x;
        while let Some(&n) = p.get(r) {
            if n == r {
                break;
            }
            r = n;
        }
        p.insert(x, r);
        r
    }
    let exact = ix.pairs(&format!("{SKOS}exactMatch"));
    if exact.is_empty() {
        return;
    }
    for (a, b) in &exact {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            parent.insert(ra, rb);
        }
    }
    let mut others: Vec<(&str, &str, &str)> = Vec::new();
    for p in ["broadMatch", "narrowMatch", "relatedMatch", "related"] {
        for (a, b) in ix.pairs(&format!("{SKOS}{p}")) {
            others.push((a, b, p));
        }
    }
    for (c, bs) in up {
        for b in bs {
            others.push((c, b, "broader"));
        }
    }
    let mut seen = BTreeSet::new();
    for (a, b, p) in others {
        if !parent.contains_key(a) || !parent.contains_key(b) {
            continue;
        }
        if find(&mut parent, a) == find(&mut parent, b) && seen.insert((a.min(b), a.max(b))) {
            f.add(
                "exact_match_contradiction",
                vec![a.to_owned(), b.to_owned()],
                format!(
                    "{} and {} are the same concept by skos:exactMatch but also linked by skos:{p}",
                    short(a),
                    short(b)
                ),
            );
        }
    }
}

/// `skos:related` is disjoint with `skos:broaderTransitive` (S27).
fn related(ix: &Index<'_>, anc: &HashMap<&str, BTreeSet<&str>>, f: &mut Findings<'_>) {
    let mut seen = BTreeSet::new();
    for (a, b) in ix.pairs(&format!("{SKOS}related")) {
        if a == b {
            f.add(
                "related_hierarchical_clash",
                vec![a.to_owned()],
                format!("{} is skos:related to itself", short(a)),
            );
            continue;
        }
        let linked =
            anc.get(a).is_some_and(|s| s.contains(b)) || anc.get(b).is_some_and(|s| s.contains(a));
        if linked && seen.insert((a.min(b), a.max(b))) {
            f.add(
                "related_hierarchical_clash",
                vec![a.to_owned(), b.to_owned()],
                format!(
                    "{} skos:related {}, which is also among its broader or narrower concepts",
                    short(a),
                    short(b)
                ),
            );
        }
    }
}

/// `a broader c` when `a broader b` and `b broader+ c` already say it.
fn redundancy(
    up: &BTreeMap<&str, BTreeSet<&str>>,
    anc: &HashMap<&str, BTreeSet<&str>>,
    f: &mut Findings<'_>,
) {
    for (c, direct) in up {
        for target in direct {
            let via = direct
                .iter()
                .find(|b| *b != target && anc.get(*b).is_some_and(|s| s.contains(target)));
            if let Some(via) = via {
                f.add(
                    "hierarchical_redundancy",
                    vec![(*c).to_owned(), (*target).to_owned()],
                    format!(
                        "{} skos:broader {} is implied by its broader concept {}",
                        short(c),
                        short(target),
                        short(via)
                    ),
                );
            }
        }
    }
}

/// A brand alias (any pref/alt/hidden label, case-folded, whatever its language) must name one
/// brand: ingest resolves a brand written in a record by it.
fn aliases(ix: &Index<'_>, f: &mut Findings<'_>) {
    let mut by: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for b in &ix.brands {
        for p in ["prefLabel", "altLabel", "hiddenLabel"] {
            for l in ix.labels(b, &format!("{SKOS}{p}")) {
                by.entry(l.text.trim().to_lowercase())
                    .or_default()
                    .insert(b.as_str());
            }
        }
    }
    for (alias, brands) in by {
        if brands.len() > 1 {
            let names: Vec<&str> = brands.iter().map(|b| short(b)).collect();
            f.add(
                "alias_conflict",
                brands.iter().map(|b| b.to_string()).collect(),
                format!(
                    "the alias {alias:?} names {} brands: {}",
                    brands.len(),
                    names.join(", ")
                ),
            );
        }
    }
}
