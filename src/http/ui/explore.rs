//! The graph explorer: `/ui/entity?iri=…`, one page for any IRI the caller may see.
//!
//! Labels in the chosen language (the other one beside it), types, every statement both ways
//! with the linked IRIs' labels, a small navigable graph of the neighbours (server-drawn SVG:
//! no script), the machine labels of a product with model, confidence, run and status, and the
//! served model's predicted links with their scores and the search that answered. An IRI the
//! caller sees nothing about is a 404 whether or not it exists in a restricted graph.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{chrome, page, pick_label, Chrome};
use crate::app::{Exploration, Prediction};
use crate::catalog::vocab::PREFIXES;
use crate::catalog::Fact;
use crate::http::{ApiError, AppQuery, AppState};
use crate::ingest::label::LabelRow;

/// `ex:local` for IRIs under a known prefix, else the IRI.
pub(crate) fn compact(iri: &str) -> String {
    PREFIXES
        .iter()
        .find_map(|(p, ns)| {
            iri.strip_prefix(ns)
                .filter(|l| !l.is_empty() && !l.contains('/'))
                .map(|l| format!("{p}:{l}"))
        })
        .unwrap_or_else(|| iri.to_owned())
}

/// A short name for an IRI without a label: `prefix:local`, else its last path segments
/// (`user/9f3a…`), which say more than the host a long IRI starts with.
pub(crate) fn tail(iri: &str) -> String {
    let c = compact(iri);
    if c != iri {
        return c;
    }
    let parts: Vec<&str> = iri
        .trim_end_matches(['/', '#'])
        .rsplit(['/', '#'])
        .take(2)
        .collect();
    match parts.as_slice() {
        [last, before] if !before.is_empty() && !before.contains(':') => format!("{before}/{last}"),
        [last, ..] => (*last).to_owned(),
        [] => iri.to_owned(),
    }
}

/// A link to the explorer page of `iri`.
pub(crate) fn entity_url(iri: &str) -> String {
    let q: String = form_urlencoded::byte_serialize(iri.as_bytes()).collect();
    format!("/ui/entity?iri={q}")
}

/// One statement as a row.
struct Row {
    predicate: String,
    predicate_iri: String,
    value: String,
    /// The explorer link when the value is an IRI.
    href: Option<String>,
    /// The linked IRI's label, or the literal's language/datatype.
    note: String,
    graph: String,
}

fn row(f: &Fact, ex: &Exploration) -> Row {
    Row {
        predicate: compact(&f.predicate),
        predicate_iri: f.predicate.clone(),
        value: if f.iri {
            compact(&f.value)
        } else {
            f.value.clone()
        },
        href: f.iri.then(|| entity_url(&f.value)),
        note: if f.iri {
            ex.labels.get(&f.value).cloned().unwrap_or_default()
        } else if !f.lang.is_empty() {
            format!("@{}", f.lang)
        } else {
            compact(&f.datatype)
        },
        graph: compact(&f.graph),
    }
}

/// A node of the neighbour graph.
struct Node {
    x: i32,
    y: i32,
    label: String,
    href: String,
    center: bool,
}

/// An edge of the neighbour graph, from the centre or towards it.
struct Edge {
    x1: i32,
    y1: i32,
    x2: i32,
    y2: i32,
    /// Where its label goes: most of the way out, so labels do not pile up at the centre.
    lx: i32,
    ly: i32,
    label: String,
    incoming: bool,
}

/// The most neighbours drawn.
const DRAWN: usize = 14;

fn short(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out
}

/// The centre and up to [`DRAWN`] IRI neighbours on a circle (out-links first).
fn neighbour_graph(ex: &Exploration, title: &str) -> (Vec<Node>, Vec<Edge>) {
    let (cx, cy, r) = (330.0_f64, 170.0_f64, 135.0_f64);
    let mut picked: Vec<(&Fact, bool)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let rdf_type = format!("{}type", crate::catalog::vocab::RDF);
    for (f, incoming) in ex
        .facts
        .out
        .iter()
        .map(|f| (f, false))
        .chain(ex.facts.incoming.iter().map(|f| (f, true)))
    {
        if f.iri && f.predicate != rdf_type && seen.insert(f.value.as_str()) {
            picked.push((f, incoming));
        }
        if picked.len() == DRAWN {
            break;
        }
    }
    let mut nodes = vec![Node {
        x: cx as i32,
        y: cy as i32,
        label: short(title, 18),
        href: entity_url(&ex.facts.iri),
        center: true,
    }];
    let mut edges = Vec::new();
    let n = picked.len().max(1) as f64;
    for (i, (f, incoming)) in picked.iter().enumerate() {
        let a = std::f64::consts::TAU * i as f64 / n - std::f64::consts::FRAC_PI_2;
        let (x, y) = ((cx + 1.9 * r * a.cos()) as i32, (cy + r * a.sin()) as i32);
        let label = ex
            .labels
            .get(&f.value)
            .cloned()
            .unwrap_or_else(|| tail(&f.value));
        nodes.push(Node {
            x,
            y,
            label: short(&label, 16),
            href: entity_url(&f.value),
            center: false,
        });
        edges.push(Edge {
            x1: cx as i32,
            y1: cy as i32,
            x2: x,
            y2: y,
            lx: (cx + 0.6 * (x as f64 - cx)) as i32,
            ly: (cy + 0.6 * (y as f64 - cy)) as i32 - 3,
            label: short(&compact(&f.predicate), 20),
            incoming: *incoming,
        });
    }
    (nodes, edges)
}

/// A machine label with its span in the title.
pub(super) struct LabelView {
    pub row: LabelRow,
    pub before: String,
    pub span: String,
    pub after: String,
    pub model: String,
    pub confidence: String,
}

/// Splits a label's title around its span (by characters, as the labeller counts them; the
/// first occurrence of the value when the span is missing or does not fit).
pub(super) fn label_view(row: LabelRow) -> LabelView {
    let title = row.title.clone().unwrap_or_default();
    let chars: Vec<char> = title.chars().collect();
    let (start, end) = match (row.start, row.end) {
        (Some(s), Some(e)) if s < e && e <= chars.len() => (s, e),
        _ => match title.find(&row.value) {
            Some(b) => {
                let s = title[..b].chars().count();
                (s, s + row.value.chars().count())
            }
            None => (chars.len(), chars.len()),
        },
    };
    LabelView {
        before: chars[..start].iter().collect(),
        span: chars[start..end].iter().collect(),
        after: chars[end..].iter().collect(),
        // `…/model/review-classifier/8fa6…`: the name and version are what a reviewer reads.
        model: row
            .model
            .split_once("/model/")
            .map_or_else(|| compact(&row.model), |(_, m)| m.to_owned()),
        confidence: row
            .confidence
            .map(|c| format!("{c:.3}"))
            .unwrap_or_default(),
        row,
    }
}

/// A list of predicted links as the page shows it.
struct PredictionView {
    what: String,
    error: Option<String>,
    search: String,
    model: String,
    hits: Vec<(String, String, String)>,
}

fn prediction_view(p: &Prediction) -> PredictionView {
    match &p.answer {
        Ok(a) => PredictionView {
            what: compact(&p.what),
            error: None,
            search: a.search.to_owned(),
            model: a.model_id.clone(),
            hits: a
                .results
                .iter()
                .map(|h| {
                    (
                        entity_url(&h.entity),
                        h.label.clone().unwrap_or_else(|| compact(&h.entity)),
                        format!("{:.3}", h.score),
                    )
                })
                .collect(),
        },
        Err(e) => PredictionView {
            what: compact(&p.what),
            error: Some(e.clone()),
            search: String::new(),
            model: String::new(),
            hits: Vec::new(),
        },
    }
}

#[derive(Template)]
#[template(path = "entity.html")]
struct EntityPage {
    chrome: Chrome,
    iri: String,
    title: String,
    other_title: String,
    types: Vec<(String, String)>,
    out: Vec<Row>,
    out_total: usize,
    incoming: Vec<Row>,
    in_total: usize,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    labels: Vec<LabelView>,
    predictions: Vec<PredictionView>,
    can_write: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntityQuery {
    iri: String,
}

/// `GET /ui/entity?iri=…`.
pub(crate) async fn entity_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    q: Result<AppQuery<EntityQuery>, ApiError>,
) -> Response {
    let (chrome, who) = match chrome(&state, &headers, &uri, "explore") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let iri = match q {
        Ok(AppQuery(q)) => q.iri,
        Err(e) => return e.into_response(),
    };
    let app = std::sync::Arc::clone(state.app());
    let vis = who.visibility();
    let target = iri.clone();
    let ex = match state
        .run_blocking(None, move || app.explore(&target, &vis))
        .await
    {
        Ok(Some(ex)) => ex,
        Ok(None) => {
            return ApiError::NotFound(format!("nothing you can see is known about <{iri}>"))
                .into_response()
        }
        Err(e) => return e.into_response(),
    };
    let (title, other) = pick_label(&ex.names, chrome.lang);
    let title = title.unwrap_or_else(|| compact(&iri));
    let (nodes, edges) = neighbour_graph(&ex, &title);
    let view = EntityPage {
        iri: iri.clone(),
        other_title: other.unwrap_or_default(),
        types: ex
            .types
            .iter()
            .map(|t| (entity_url(t), compact(t)))
            .collect(),
        out: ex.facts.out.iter().map(|f| row(f, &ex)).collect(),
        incoming: ex.facts.incoming.iter().map(|f| row(f, &ex)).collect(),
        out_total: ex.facts.out_total,
        in_total: ex.facts.in_total,
        nodes,
        edges,
        labels: ex
            .machine_labels
            .clone()
            .into_iter()
            .map(label_view)
            .collect(),
        predictions: ex.predictions.iter().map(prediction_view).collect(),
        can_write: who.role() >= crate::privacy::Role::Write,
        title,
        chrome,
    };
    page(StatusCode::OK, &view)
}

/// One category row of the taxonomy page.
struct CategoryView {
    href: String,
    label: String,
    other: String,
    /// Indentation in rem.
    indent: usize,
    own: u64,
    total: u64,
}

#[derive(Template)]
#[template(path = "taxonomy.html")]
struct TaxonomyPage {
    chrome: Chrome,
    categories: Vec<CategoryView>,
}

/// `GET /ui/taxonomy`: the SKOS category tree with product counts.
pub(crate) async fn taxonomy_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (chrome, who) = match chrome(&state, &headers, &uri, "taxonomy") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let app = std::sync::Arc::clone(state.app());
    let vis = who.visibility();
    let tree = match state.run_blocking(None, move || app.taxonomy(&vis)).await {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let categories = tree
        .into_iter()
        .map(|n| {
            let (label, other) = pick_label(&n.names, chrome.lang);
            CategoryView {
                label: label.unwrap_or_else(|| compact(&n.iri)),
                other: other.unwrap_or_default(),
                href: entity_url(&n.iri),
                indent: n.depth.min(12) * 2,
                own: n.own,
                total: n.total,
            }
        })
        .collect();
    page(StatusCode::OK, &TaxonomyPage { chrome, categories })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_names_known_namespaces_only() {
        assert_eq!(compact("http://schema.org/name"), "schema:name");
        assert_eq!(compact("https://example.org/x"), "https://example.org/x");
        assert_eq!(compact("http://schema.org/"), "http://schema.org/");
        assert_eq!(tail("http://x.org/id/user/9f3a"), "user/9f3a");
        assert_eq!(tail("http://schema.org/brand"), "schema:brand");
        assert_eq!(tail("urn:x"), "urn:x");
    }

    #[test]
    fn spans_split_by_characters_and_fall_back_to_the_value() {
        let row = |start, end| LabelRow {
            id: "1".into(),
            iri: "l".into(),
            product: "p".into(),
            kind: "brand".into(),
            value: "华为".into(),
            confidence: Some(0.5),
            model: "m".into(),
            status: "review".into(),
            title: Some("新款华为手机".into()),
            start,
            end,
            run: None,
            decided_by: None,
        };
        let v = label_view(row(Some(2), Some(4)));
        assert_eq!(
            (v.before.as_str(), v.span.as_str(), v.after.as_str()),
            ("新款", "华为", "手机")
        );
        let v = label_view(row(None, None));
        assert_eq!(v.span, "华为");
        let v = label_view(row(Some(5), Some(99)));
        assert_eq!(v.span, "华为", "a span past the end falls back");
    }
}
