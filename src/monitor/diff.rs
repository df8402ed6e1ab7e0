//! The differences between two states of a source, as change events.
//!
//! Pure functions over [`SourceState`]s: assets added and removed; schema changes (a column
//! added, dropped, or its type changed); a row count moving beyond a threshold; a null-rate
//! spike; a distinct-count collapse that the row count does not explain; distribution drift —
//! on numeric columns the population stability index (PSI) over the previous quantile bins and
//! the Kolmogorov–Smirnov distance between the two quantile-interpolated CDFs, on categorical
//! columns the PSI of the top-value shares (the statistics live in [`super::stability`]); and
//! personal data appearing in a column that had none. Profiles are sketches (5 quantiles from a
//! 10,000-value reservoir, top-64 counters), so thresholds are set where sampling noise stays
//! well below them.

use serde::{Deserialize, Serialize};

use super::snapshot::{AssetState, ColumnState, SourceState};
use super::stability::{ks, psi_categories, psi_numeric, Cdf};
use super::Thresholds;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    AssetAdded,
    AssetRemoved,
    ColumnAdded,
    ColumnDropped,
    ColumnTypeChanged,
    RowCountChanged,
    NullRateSpike,
    DistinctCollapse,
    DistributionDrift,
    PiiAppeared,
    /// Stock watch (`crate::stock`): nothing available of a product that sells.
    StockOut,
    /// Stock at or below the reorder point.
    StockLow,
    /// More days of cover than the category allows.
    Overstock,
    /// Stock with no sale for longer than the category allows.
    DeadStock,
    /// A lot expiring within the category's window.
    ExpirySoon,
    /// A lot past its expiry date still on hand.
    Expired,
    /// Model watch: a labelling model's confidences or label shares moved from its reference.
    ModelDrift,
    /// Model watch: the precision estimated from reviewed labels fell.
    ModelPrecisionDrop,
}

impl EventKind {
    pub const ALL: [EventKind; 18] = [
        EventKind::AssetAdded,
        EventKind::AssetRemoved,
        EventKind::ColumnAdded,
        EventKind::ColumnDropped,
        EventKind::ColumnTypeChanged,
        EventKind::RowCountChanged,
        EventKind::NullRateSpike,
        EventKind::DistinctCollapse,
        EventKind::DistributionDrift,
        EventKind::PiiAppeared,
        EventKind::StockOut,
        EventKind::StockLow,
        EventKind::Overstock,
        EventKind::DeadStock,
        EventKind::ExpirySoon,
        EventKind::Expired,
        EventKind::ModelDrift,
        EventKind::ModelPrecisionDrop,
    ];

    /// The kebab-case name used in the catalog, the API and alert rules.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::AssetAdded => "asset-added",
            EventKind::AssetRemoved => "asset-removed",
            EventKind::ColumnAdded => "column-added",
            EventKind::ColumnDropped => "column-dropped",
            EventKind::ColumnTypeChanged => "column-type-changed",
            EventKind::RowCountChanged => "row-count-changed",
            EventKind::NullRateSpike => "null-rate-spike",
            EventKind::DistinctCollapse => "distinct-collapse",
            EventKind::DistributionDrift => "distribution-drift",
            EventKind::PiiAppeared => "pii-appeared",
            EventKind::StockOut => "stock-out",
            EventKind::StockLow => "stock-low",
            EventKind::Overstock => "overstock",
            EventKind::DeadStock => "dead-stock",
            EventKind::ExpirySoon => "expiry-soon",
            EventKind::Expired => "expired",
            EventKind::ModelDrift => "model-drift",
            EventKind::ModelPrecisionDrop => "model-precision-drop",
        }
    }

    /// The stock watch's conditions (`stocktake stock check`), as opposed to scan and model events.
    pub fn is_stock(self) -> bool {
        matches!(
            self,
            EventKind::StockOut
                | EventKind::StockLow
                | EventKind::Overstock
                | EventKind::DeadStock
                | EventKind::ExpirySoon
                | EventKind::Expired
        )
    }

    pub fn from_name(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// How much it matters when no alert rule says otherwise.
    pub fn default_severity(self) -> Severity {
        match self {
            EventKind::AssetAdded
            | EventKind::ColumnAdded
            | EventKind::RowCountChanged
            | EventKind::Overstock => Severity::Info,
            EventKind::PiiAppeared | EventKind::StockOut | EventKind::Expired => Severity::Critical,
            _ => Severity::Warning,
        }
    }
}

/// How much an event matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One difference between two scans of a source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeEvent {
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub severity: Severity,
    /// Location of the asset in its source.
    pub location: String,
    pub column: Option<String>,
    /// What happened, in a sentence.
    pub message: String,
    pub old: Option<String>,
    pub new: Option<String>,
    /// The statistic that triggered it.
    pub metric: Option<Metric>,
}

/// A statistic with its value (`psi`, `ks`, `relative-change`, `null-rate-rise`,
/// `distinct-ratio`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    pub name: String,
    pub value: f64,
}

fn event(kind: EventKind, location: &str, column: Option<&str>, message: String) -> ChangeEvent {
    ChangeEvent {
        kind,
        severity: kind.default_severity(),
        location: location.to_string(),
        column: column.map(str::to_string),
        message,
        old: None,
        new: None,
        metric: None,
    }
}

impl ChangeEvent {
    fn values(mut self, old: impl ToString, new: impl ToString) -> Self {
        self.old = Some(old.to_string());
        self.new = Some(new.to_string());
        self
    }
    fn metric(mut self, name: &str, value: f64) -> Self {
        self.metric = Some(Metric {
            name: name.to_string(),
            value,
        });
        self
    }
}

/// Every event between `before` and `after` (in a stable order: by asset, then column).
pub fn diff(before: &SourceState, after: &SourceState, t: &Thresholds) -> Vec<ChangeEvent> {
    let mut out = Vec::new();
    if before.scan.is_none() {
        // The first scan of a source is its baseline: everything is "added", nothing changed.
        return out;
    }
    for (loc, b) in &before.assets {
        if !after.assets.contains_key(loc) {
            out.push(
                event(
                    EventKind::AssetRemoved,
                    loc,
                    None,
                    format!("{loc} is gone ({} rows at the previous scan)", b.rows),
                )
                .values(b.rows, 0),
            );
        }
    }
    for (loc, a) in &after.assets {
        match before.assets.get(loc) {
            None => {
                let pii: Vec<&str> = a
                    .columns
                    .iter()
                    .filter(|c| c.pii.is_some())
                    .map(|c| c.name.as_str())
                    .collect();
                let mut m = format!(
                    "{loc} appeared ({} rows, {} columns)",
                    a.rows,
                    a.columns.len()
                );
                if !pii.is_empty() {
                    m.push_str(&format!("; personal data in {}", pii.join(", ")));
                }
                out.push(event(EventKind::AssetAdded, loc, None, m).values(0, a.rows));
            }
            Some(b) => asset_diff(b, a, t, &mut out),
        }
    }
    out.sort_by(|x, y| (&x.location, &x.column, x.kind).cmp(&(&y.location, &y.column, y.kind)));
    out
}

fn asset_diff(b: &AssetState, a: &AssetState, t: &Thresholds, out: &mut Vec<ChangeEvent>) {
    let loc = a.location.as_str();
    // A table about people, before or after: its columns' values are restricted detail.
    let personal = a.columns.iter().chain(&b.columns).any(|c| c.pii.is_some());
    if b.rows != a.rows {
        let rel = (a.rows as f64 - b.rows as f64).abs() / (b.rows.max(1) as f64);
        if rel >= t.row_count_change {
            out.push(
                event(
                    EventKind::RowCountChanged,
                    loc,
                    None,
                    format!(
                        "{loc}: {} → {} rows ({:+.1}%)",
                        b.rows,
                        a.rows,
                        signed_pct(b.rows, a.rows)
                    ),
                )
                .values(b.rows, a.rows)
                .metric("relative-change", rel),
            );
        }
    }
    for bc in &b.columns {
        if !a.columns.iter().any(|c| c.name == bc.name) {
            out.push(
                event(
                    EventKind::ColumnDropped,
                    loc,
                    Some(&bc.name),
                    format!("{loc}: column {} ({}) was dropped", bc.name, bc.type_name()),
                )
                .values(bc.type_name(), ""),
            );
        }
    }
    for ac in &a.columns {
        let Some(bc) = b.columns.iter().find(|c| c.name == ac.name) else {
            out.push(
                event(
                    EventKind::ColumnAdded,
                    loc,
                    Some(&ac.name),
                    format!("{loc}: column {} ({}) was added", ac.name, ac.type_name()),
                )
                .values("", ac.type_name()),
            );
            if let Some(p) = &ac.pii {
                out.push(pii_event(loc, ac, p, true));
            }
            continue;
        };
        column_diff(loc, bc, ac, b.rows, a.rows, t, personal, out);
    }
}

fn signed_pct(b: u64, a: u64) -> f64 {
    (a as f64 - b as f64) / (b.max(1) as f64) * 100.0
}

fn pii_event(loc: &str, c: &ColumnState, pii: &str, new_column: bool) -> ChangeEvent {
    let what = if new_column { "new column" } else { "column" };
    event(
        EventKind::PiiAppeared,
        loc,
        Some(&c.name),
        format!("{loc}: {what} {} now holds personal data ({pii})", c.name),
    )
    .values("none", pii)
}

#[allow(clippy::too_many_arguments)]
fn column_diff(
    loc: &str,
    bc: &ColumnState,
    ac: &ColumnState,
    b_rows: u64,
    a_rows: u64,
    t: &Thresholds,
    personal: bool,
    out: &mut Vec<ChangeEvent>,
) {
    let name = ac.name.as_str();
    // An empty column has no physical type to speak of: filling it is not a type change.
    let typed = |c: &ColumnState| c.declared.is_some() || c.physical != "empty";
    if bc.type_name() != ac.type_name() && typed(bc) && typed(ac) {
        out.push(
            event(
                EventKind::ColumnTypeChanged,
                loc,
                Some(name),
                format!(
                    "{loc}: column {name} changed type {} → {}",
                    bc.type_name(),
                    ac.type_name()
                ),
            )
            .values(bc.type_name(), ac.type_name()),
        );
    }
    if let (None, Some(p)) = (&bc.pii, &ac.pii) {
        out.push(pii_event(loc, ac, p, false));
    }
    if a_rows < t.min_rows || b_rows < t.min_rows {
        return;
    }
    let rise = ac.null_rate - bc.null_rate;
    if rise >= t.null_rate_rise && ac.null_rate >= 2.0 * bc.null_rate {
        out.push(
            event(
                EventKind::NullRateSpike,
                loc,
                Some(name),
                format!(
                    "{loc}: column {name} is {:.1}% empty, was {:.1}%",
                    ac.null_rate * 100.0,
                    bc.null_rate * 100.0
                ),
            )
            .values(
                format!("{:.4}", bc.null_rate),
                format!("{:.4}", ac.null_rate),
            )
            .metric("null-rate-rise", rise),
        );
    }
    // Fewer rows explain fewer distinct values: compare with what the row count allows.
    let b_filled = b_rows as f64 * (1.0 - bc.null_rate);
    let a_filled = a_rows as f64 * (1.0 - ac.null_rate);
    let scale = if b_filled > 0.0 {
        (a_filled / b_filled).min(1.0)
    } else {
        1.0
    };
    if bc.distinct >= 3 && (ac.distinct as f64) < bc.distinct as f64 * scale * t.distinct_collapse {
        out.push(
            event(
                EventKind::DistinctCollapse,
                loc,
                Some(name),
                format!(
                    "{loc}: column {name} has {} distinct values, was {}",
                    ac.distinct, bc.distinct
                ),
            )
            .values(bc.distinct, ac.distinct)
            .metric("distinct-ratio", ac.distinct as f64 / bc.distinct as f64),
        );
    }
    if let Some(e) = drift(loc, bc, ac, t, personal) {
        out.push(e);
    }
}

/// A distribution drift event. In a table about people (`personal`) the quantiles and top
/// values are the column's restricted detail: the event, which every reader of the changes
/// graph sees, names the statistic but not the values.
fn drift(
    loc: &str,
    bc: &ColumnState,
    ac: &ColumnState,
    t: &Thresholds,
    personal: bool,
) -> Option<ChangeEvent> {
    let name = ac.name.as_str();
    if bc.identifier || ac.identifier {
        return None;
    }
    if let (Some(bq), Some(aq)) = (bc.quantiles, ac.quantiles) {
        let old = Cdf::new(bq, bc.range);
        let new = Cdf::new(aq, ac.range);
        let psi = psi_numeric(&old, &new);
        let ks = ks(&old, &new);
        if psi >= t.psi || ks >= t.ks {
            let e = if personal {
                let m = format!(
                    "{loc}: column {name} drifted (PSI {psi:.3}, KS {ks:.3}); values withheld \
                     (a table about people: see the column's detail)"
                );
                event(EventKind::DistributionDrift, loc, Some(name), m)
            } else {
                let m = format!(
                    "{loc}: column {name} drifted (PSI {psi:.3}, KS {ks:.3}); median {} → {}",
                    fmt_num(bq[2]),
                    fmt_num(aq[2])
                );
                event(EventKind::DistributionDrift, loc, Some(name), m)
                    .values(fmt_quantiles(&bq), fmt_quantiles(&aq))
            };
            return Some(if psi >= t.psi {
                e.metric("psi", psi)
            } else {
                e.metric("ks", ks)
            });
        }
        return None;
    }
    let psi = psi_categories(&bc.top, &ac.top)?;
    (psi >= t.psi).then(|| {
        let e = event(
            EventKind::DistributionDrift,
            loc,
            Some(name),
            format!("{loc}: the shares of column {name}'s values shifted (PSI {psi:.3})"),
        );
        let e = if personal {
            e
        } else {
            e.values(fmt_top(&bc.top), fmt_top(&ac.top))
        };
        e.metric("psi", psi)
    })
}

fn fmt_num(x: f64) -> String {
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn fmt_quantiles(q: &[f64; 5]) -> String {
    let v: Vec<String> = q.iter().map(|x| fmt_num(*x)).collect();
    format!("p5/p25/p50/p75/p95 = {}", v.join("/"))
}

fn fmt_top(top: &[(String, u64)]) -> String {
    top.iter()
        .take(5)
        .map(|(v, n)| format!("{v}:{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::stability::tests::normal_quantiles;

    #[test]
    fn drift_in_a_table_about_people_withholds_the_values() {
        let col = |mean: f64, top: &[(&str, u64)]| ColumnState {
            name: "x".into(),
            physical: "decimal".into(),
            quantiles: Some(normal_quantiles(mean, 10.0)),
            top: top.iter().map(|(v, n)| ((*v).to_owned(), *n)).collect(),
            ..ColumnState::default()
        };
        let t = Thresholds::default();
        let (b, a) = (col(100.0, &[]), col(130.0, &[]));
        let open = drift("t.csv", &b, &a, &t, false).expect("drift");
        assert!(open.old.is_some() && open.message.contains("median"));
        let kept = drift("t.csv", &b, &a, &t, true).expect("drift");
        assert!(kept.old.is_none() && kept.new.is_none(), "{kept:?}");
        assert!(!kept.message.contains("130"), "{}", kept.message);
        let cat = |top: &[(&str, u64)]| ColumnState {
            quantiles: None,
            ..col(0.0, top)
        };
        let (b, a) = (
            cat(&[("北京", 90), ("上海", 10)]),
            cat(&[("北京", 10), ("上海", 90)]),
        );
        let kept = drift("t.csv", &b, &a, &t, true).expect("drift");
        assert!(kept.old.is_none() && !format!("{kept:?}").contains("北京"));
        assert!(drift("t.csv", &b, &a, &t, false)
            .unwrap()
            .old
            .unwrap()
            .contains("北京"));
    }
}
