//! `stocktake ontology docs` and the server's `/ontology`: the ontology as a documentation
//! page in the manner of pyLODE/Widoco — metadata, classes and properties with their labels
//! in Chinese and English, definitions, hierarchy, domains and ranges, the concept schemes as
//! trees, the brand alias table, every shape said in words, and (when served) the versions the
//! store has applied. One self-contained HTML file: no script, no external asset.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use oxigraph::model::{Graph, NamedNodeRef, NamedOrBlankNodeRef, TermRef};

use super::check::index::{iri_of, Index, Label, RDFS, SH, SKOS};

/// An applied version, as the catalog records it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct VersionRow {
    pub version: String,
    pub at: String,
    pub by: Option<String>,
    pub info: Option<String>,
    pub added: Option<u64>,
    pub removed: Option<u64>,
    pub changed: Option<u64>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The anchor of a term on the page.
fn anchor(iri: &str) -> String {
    iri.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn pick<'l>(labels: &'l [Label], lang: &str) -> Option<&'l str> {
    labels
        .iter()
        .find(|l| super::check::index::lang_matches(&l.lang, lang))
        .map(|l| l.text.as_str())
}

struct Page<'a> {
    ix: Index<'a>,
    prefixes: Vec<(String, String)>,
    out: String,
}

impl Page<'_> {
    fn compact(&self, iri: &str) -> String {
        self.prefixes
            .iter()
            .filter(|(_, ns)| iri.starts_with(ns.as_str()) && iri.len() > ns.len())
            .max_by_key(|(_, ns)| ns.len())
            .map(|(p, ns)| format!("{p}:{}", &iri[ns.len()..]))
            .unwrap_or_else(|| iri.to_owned())
    }

    /// A term as a link: to its section when the page has one, else to the IRI.
    fn link(&self, iri: &str) -> String {
        let ix = &self.ix;
        let local = ix.classes.contains(iri)
            || ix.properties.contains(iri)
            || ix.concepts.contains(iri)
            || ix.schemes.contains(iri);
        let name = esc(&self.compact(iri));
        if local {
            format!("<a href=\"#{}\"><code>{name}</code></a>", anchor(iri))
        } else {
            format!("<a href=\"{}\"><code>{name}</code></a>", esc(iri))
        }
    }

    /// "中文 / English" labels of a term.
    fn names(&self, iri: &str) -> String {
        let names = self.ix.names(iri);
        let zh = pick(&names, "zh");
        let en = pick(&names, "en").or_else(|| pick(&names, ""));
        match (zh, en) {
            (Some(z), Some(e)) => format!("{} / {}", esc(z), esc(e)),
            (Some(x), None) | (None, Some(x)) => esc(x),
            (None, None) => esc(&self.compact(iri)),
        }
    }

    fn definition(&self, iri: &str) -> Option<String> {
        for p in [
            format!("{RDFS}comment"),
            format!("{SKOS}definition"),
            "http://purl.org/dc/terms/description".to_owned(),
        ] {
            let ls = self.ix.labels(iri, &p);
            if let Some(t) = pick(&ls, "en")
                .or_else(|| pick(&ls, "zh"))
                .or(ls.first().map(|l| l.text.as_str()))
            {
                return Some(esc(t));
            }
        }
        None
    }

    /// `<div>what: a, b</div>`, or nothing for no terms.
    fn row(&self, what: &str, iris: &[&str]) -> String {
        if iris.is_empty() {
            String::new()
        } else {
            format!("<div>{what}: {}</div>", self.list(iris))
        }
    }

    fn list(&self, iris: &[&str]) -> String {
        iris.iter()
            .map(|i| self.link(i))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The page for an ontology graph (and the versions the store applied, newest first).
pub fn render(graph: &Graph, prefixes: &[(String, String)], versions: &[VersionRow]) -> String {
    let mut p = Page {
        ix: Index::new(graph),
        prefixes: prefixes.to_vec(),
        out: String::new(),
    };
    let ix_onto: Vec<&str> = p.ix.subjects(
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#type",
        "http://www.w3.org/2002/07/owl#Ontology",
    );
    let title = ix_onto
        .first()
        .map(|o| {
            let t = p.ix.labels(o, "http://purl.org/dc/terms/title");
            let zh = pick(&t, "zh").map(str::to_owned);
            let en = pick(&t, "en").map(str::to_owned);
            match (zh, en) {
                (Some(z), Some(e)) => format!("{e} · {z}"),
                (a, b) => a.or(b).unwrap_or_else(|| "Ontology".into()),
            }
        })
        .unwrap_or_else(|| "Ontology".into());
    let _ = write!(
        p.out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>\
         body{{font:15px/1.5 system-ui,'Noto Sans CJK SC',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}\
         h2{{border-bottom:2px solid #2c5282;padding-bottom:.2em;margin-top:2em}}h3{{margin:1.4em 0 .2em}}\
         .term{{border-left:3px solid #cbd5e0;padding:.2em .8em;margin:.8em 0}}.iri{{color:#555;font-size:90%}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}}\
         code{{font-size:90%}}ul.tree{{margin:.2em 0}}nav a{{margin-right:1em}}</style></head><body>\
         <h1>{t}</h1>",
        t = esc(&title)
    );
    if let Some(o) = ix_onto.first() {
        let info = p.ix.labels(o, "http://www.w3.org/2002/07/owl#versionInfo");
        let desc = p.ix.labels(o, "http://purl.org/dc/terms/description");
        let _ = write!(
            p.out,
            "<p class=\"iri\"><code>{}</code>{}</p>{}",
            esc(o),
            info.first()
                .map(|v| format!(" · version {}", esc(&v.text)))
                .unwrap_or_default(),
            desc.first()
                .map(|d| format!("<p>{}</p>", esc(&d.text)))
                .unwrap_or_default()
        );
    }
    let ix = &p.ix;
    let _ = write!(
        p.out,
        "<nav><a href=\"#classes\">Classes 类 ({})</a><a href=\"#properties\">Properties 属性 ({})</a>\
         <a href=\"#schemes\">Concept schemes 概念体系 ({})</a><a href=\"#brands\">Brands 品牌 ({})</a>\
         <a href=\"#shapes\">Shapes 约束</a><a href=\"#versions\">Versions 版本 ({})</a></nav>",
        ix.classes.len(),
        ix.properties.len(),
        ix.schemes.len(),
        ix.brands.len(),
        versions.len()
    );
    classes(&mut p);
    properties(&mut p);
    schemes(&mut p);
    brands(&mut p);
    shapes(&mut p, graph);
    let _ = write!(p.out, "<h2 id=\"versions\">Versions 版本</h2>");
    if versions.is_empty() {
        p.out.push_str("<p>No version applied in this store yet (<code>stocktake ontology apply</code> records one).</p>");
    } else {
        p.out.push_str("<table><tr><th>version</th><th>applied</th><th>by</th><th>owl:versionInfo</th><th>terms +/−/~</th></tr>");
        for v in versions {
            let _ = write!(
                p.out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{} / {} / {}</td></tr>",
                esc(v.version.rsplit('/').next().unwrap_or(&v.version)),
                esc(&v.at),
                esc(v.by.as_deref().unwrap_or("")),
                esc(v.info.as_deref().unwrap_or("")),
                v.added.unwrap_or(0),
                v.removed.unwrap_or(0),
                v.changed.unwrap_or(0)
            );
        }
        p.out.push_str("</table>");
    }
    p.out.push_str("</body></html>\n");
    p.out
}

fn classes(p: &mut Page<'_>) {
    let mut h = String::from("<h2 id=\"classes\">Classes 类</h2>");
    let sub = format!("{RDFS}subClassOf");
    for c in &p.ix.classes {
        let supers = p.ix.objects(c, &sub);
        let subs = p.ix.subjects(&sub, c);
        let props: Vec<&str> = p.ix.subjects(&format!("{RDFS}domain"), c);
        let _ = write!(
            h,
            "<div class=\"term\" id=\"{}\"><h3>{}</h3><div class=\"iri\"><code>{}</code></div>{}{}{}{}</div>",
            anchor(c),
            p.names(c),
            esc(c),
            p.definition(c).map(|d| format!("<p>{d}</p>")).unwrap_or_default(),
            p.row("subclass of 上位类", &supers),
            p.row("subclasses 下位类", &subs),
            p.row("properties 属性", &props)
        );
    }
    p.out.push_str(&h);
}

fn properties(p: &mut Page<'_>) {
    let mut h = String::from("<h2 id=\"properties\">Properties 属性</h2>");
    for prop in &p.ix.properties {
        let kind: Vec<&str> =
            p.ix.objects(prop, "http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
                .into_iter()
                .map(|t| t.rsplit(['#', '/']).next().unwrap_or(t))
                .collect();
        let domain = p.ix.objects(prop, &format!("{RDFS}domain"));
        let range = p.ix.objects(prop, &format!("{RDFS}range"));
        let _ = write!(
            h,
            "<div class=\"term\" id=\"{}\"><h3>{}</h3><div class=\"iri\"><code>{}</code> · {}</div>{}{}{}</div>",
            anchor(prop),
            p.names(prop),
            esc(prop),
            esc(&kind.join(", ")),
            p.definition(prop).map(|d| format!("<p>{d}</p>")).unwrap_or_default(),
            p.row("domain 定义域", &domain),
            p.row("range 值域", &range)
        );
    }
    p.out.push_str(&h);
}

fn schemes(p: &mut Page<'_>) {
    let mut h = String::from("<h2 id=\"schemes\">Concept schemes 概念体系</h2>");
    let up = p.ix.broader();
    let mut down: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (c, ups) in &up {
        for u in ups {
            down.entry(u).or_default().insert(c);
        }
    }
    for s in &p.ix.schemes {
        let mut tops: BTreeSet<&str> =
            p.ix.subjects(&format!("{SKOS}topConceptOf"), s)
                .into_iter()
                .collect();
        tops.extend(p.ix.objects(s, &format!("{SKOS}hasTopConcept")));
        // Concepts of the scheme with no broader concept are roots too.
        for c in p.ix.subjects(&format!("{SKOS}inScheme"), s) {
            if up.get(c).is_none_or(BTreeSet::is_empty) {
                tops.insert(c);
            }
        }
        let _ = write!(
            h,
            "<h3 id=\"{}\">{}</h3><div class=\"iri\"><code>{}</code></div>",
            anchor(s),
            p.names(s),
            esc(s)
        );
        let mut seen = BTreeSet::new();
        tree(p, &down, &tops, &mut seen, &mut h, 0);
    }
    p.out.push_str(&h);
}

fn tree<'a>(
    p: &Page<'_>,
    down: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    nodes: &BTreeSet<&'a str>,
    seen: &mut BTreeSet<&'a str>,
    h: &mut String,
    depth: usize,
) {
    if nodes.is_empty() || depth > 12 {
        return;
    }
    h.push_str("<ul class=\"tree\">");
    for n in nodes {
        let notation = p.ix.labels(n, &format!("{SKOS}notation"));
        let _ = write!(
            h,
            "<li id=\"{}\">{} <span class=\"iri\"><code>{}</code>{}</span>",
            anchor(n),
            p.names(n),
            esc(&p.compact(n)),
            notation
                .first()
                .map(|l| format!(" · notation {}", esc(&l.text)))
                .unwrap_or_default()
        );
        if seen.insert(n) {
            if let Some(children) = down.get(n) {
                tree(p, down, children, seen, h, depth + 1);
            }
        }
        h.push_str("</li>");
    }
    h.push_str("</ul>");
}

fn brands(p: &mut Page<'_>) {
    let mut h = String::from("<h2 id=\"brands\">Brands 品牌 (alias table 别名表)</h2><table><tr><th>brand</th><th>labels</th><th>aliases</th></tr>");
    for b in &p.ix.brands {
        let fmt = |ls: Vec<Label>| {
            ls.iter()
                .map(|l| {
                    if l.lang.is_empty() {
                        esc(&l.text)
                    } else {
                        format!("{}@{}", esc(&l.text), esc(&l.lang))
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(&p.compact(b)),
            fmt(p.ix.labels(b, &format!("{SKOS}prefLabel"))),
            fmt(p.ix.labels(b, &format!("{SKOS}altLabel")))
        );
    }
    h.push_str("</table>");
    p.out.push_str(&h);
}

/// Every node shape in words: what each focus node must have.
fn shapes(p: &mut Page<'_>, g: &Graph) {
    let mut h = String::from("<h2 id=\"shapes\">Shapes 约束 (SHACL)</h2>");
    let node = |s: &str| NamedNodeRef::new_unchecked(s).into_owned();
    let target = node(&format!("{SH}targetClass"));
    let mut shapes: Vec<(NamedOrBlankNodeRef<'_>, &str)> = g
        .triples_for_predicate(&target)
        .filter_map(|t| iri_of(t.object).map(|c| (t.subject, c)))
        .collect();
    shapes.sort_by_key(|(s, _)| s.to_string());
    for (shape, class) in shapes {
        let _ = write!(
            h,
            "<div class=\"term\"><h3>Every {} ({}) has</h3><div class=\"iri\"><code>{}</code></div><ul>",
            p.link(class),
            p.names(class),
            esc(&shape.to_string())
        );
        for ps in g.objects_for_subject_predicate(shape, &node(&format!("{SH}property"))) {
            let s = match ps {
                TermRef::NamedNode(n) => NamedOrBlankNodeRef::NamedNode(n),
                TermRef::BlankNode(b) => NamedOrBlankNodeRef::BlankNode(b),
                _ => continue,
            };
            let one =
                |local: &str| g.object_for_subject_predicate(s, &node(&format!("{SH}{local}")));
            let path = one("path")
                .and_then(iri_of)
                .map(|x| p.link(x))
                .unwrap_or_else(|| "(a path)".into());
            let mut rules = Vec::new();
            let lit = |t: Option<TermRef<'_>>| match t {
                Some(TermRef::Literal(l)) => Some(l.value().to_owned()),
                _ => None,
            };
            match (lit(one("minCount")), lit(one("maxCount"))) {
                (Some(a), Some(b)) if a == b => rules.push(format!("exactly {a}")),
                (Some(a), Some(b)) => rules.push(format!("between {a} and {b}")),
                (Some(a), None) => rules.push(format!("at least {a}")),
                (None, Some(b)) => rules.push(format!("at most {b}")),
                _ => {}
            }
            if let Some(d) = one("datatype").and_then(iri_of) {
                rules.push(format!("of datatype {}", p.link(d)));
            }
            if let Some(c) = one("class").and_then(iri_of) {
                rules.push(format!("each a {}", p.link(c)));
            }
            if let Some(n) = one("node").and_then(iri_of) {
                rules.push(format!(
                    "each conforming to <code>{}</code>",
                    esc(&p.compact(n))
                ));
            }
            for (k, word) in [
                ("minInclusive", "≥"),
                ("minExclusive", ">"),
                ("maxInclusive", "≤"),
                ("maxExclusive", "<"),
            ] {
                if let Some(v) = lit(one(k)) {
                    rules.push(format!("{word} {}", esc(&v)));
                }
            }
            if let Some(v) = lit(one("minLength")) {
                rules.push(format!("at least {} characters long", esc(&v)));
            }
            if let Some(v) = lit(one("maxLength")) {
                rules.push(format!("at most {} characters long", esc(&v)));
            }
            if let Some(v) = lit(one("pattern")) {
                rules.push(format!("matching <code>{}</code>", esc(&v)));
            }
            if one("in").is_some() {
                rules.push("one of a fixed list".into());
            }
            let severity = one("severity")
                .and_then(iri_of)
                .and_then(|s| s.strip_prefix(SH))
                .filter(|s| *s != "Violation")
                .map(|s| format!(" <em>({})</em>", s.to_lowercase()))
                .unwrap_or_default();
            let message = lit(one("message"))
                .map(|m| format!(" — {}", esc(&m)))
                .unwrap_or_default();
            let _ = write!(
                h,
                "<li>{path}: {}{severity}{message}</li>",
                if rules.is_empty() {
                    "any value".to_owned()
                } else {
                    rules.join(", ")
                }
            );
        }
        h.push_str("</ul></div>");
    }
    p.out.push_str(&h);
}
