//! Reads a stock check's input from the product graph: each product's stock in each warehouse
//! as of its latest snapshot (lots of that snapshot, then the movements after it), the daily
//! units sold over the window, and the category rules that apply.
//!
//! A purchase that names the warehouse that shipped it counts there. One that names none is
//! shared evenly among the warehouses that stock the product (the graph cannot say more, and
//! the product's total demand is kept). Purchases of products no warehouse stocks are not
//! stock positions and are left out.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate};
use serde::Serialize;

use super::policy::{Lot, Position};
use super::{rules_for, Rules, StockConfig, StockError};
use crate::catalog::{Catalog, NamedQuery, Visibility};

/// Which position: a product in a warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Key {
    pub product: String,
    pub warehouse: String,
    /// The product's business key and the warehouse's code, for people.
    pub sku: String,
    pub code: String,
    pub category: Option<String>,
}

impl Key {
    /// `sku@warehouse`: the events' location (what alert rules' globs match).
    pub fn location(&self) -> String {
        format!("{}@{}", self.sku, self.code)
    }
}

/// What a check reads.
pub struct Input {
    pub as_of: NaiveDate,
    pub latest_snapshot: Option<String>,
    pub fingerprint: String,
    pub positions: Vec<(Key, Position, Rules)>,
    pub warnings: Vec<String>,
}

fn query(name: &str, text: &str) -> Result<NamedQuery, StockError> {
    Ok(NamedQuery::parse(name, text)?)
}

fn num(v: Option<&str>) -> Option<f64> {
    v.and_then(|s| s.parse::<f64>().ok())
        .filter(|x| x.is_finite())
}

fn day_of(t: &str) -> Option<NaiveDate> {
    DateTime::parse_from_rfc3339(t).ok().map(|t| t.date_naive())
}

/// The stock watch's input fingerprint: counts and latest times of snapshots, movements and
/// interactions, and the settings (a changed rule is a changed check). Blocking.
pub fn fingerprint(
    catalog: &Catalog,
    config: &StockConfig,
    as_of: Option<NaiveDate>,
) -> Result<String, StockError> {
    let graph = catalog.layout().products.as_str().to_owned();
    let mut parts = Vec::new();
    catalog.query_each(
        &query("stock-input", include_str!("queries/stock-input.rq"))?,
        &[("graph", graph.as_str())],
        &Visibility::ADMIN,
        |c| {
            parts.push(
                c.iter()
                    .map(|v| v.unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join("|"),
            )
        },
    )?;
    parts.sort();
    parts.push(serde_json::to_string(config).unwrap_or_default());
    parts.push(as_of.map(|d| d.to_string()).unwrap_or_default());
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    Ok(crate::inventory::record::short_hash(&refs))
}

/// One stock snapshot row.
struct Snap {
    at: String,
    lot: Lot,
    reserved: f64,
    transit: f64,
    rop: Option<f64>,
    lead: Option<f64>,
    cost: Option<f64>,
}

/// Reads the check's input as of `as_of` (default: the day of the latest snapshot or
/// movement). Blocking.
pub fn read(
    catalog: &Catalog,
    config: &StockConfig,
    as_of: Option<NaiveDate>,
) -> Result<Input, StockError> {
    let fingerprint = fingerprint(catalog, config, as_of)?;
    let graph = catalog.layout().products.as_str().to_owned();
    let args = [("graph", graph.as_str())];
    let admin = &Visibility::ADMIN;
    let mut keys: HashMap<(String, String), Key> = HashMap::new();
    let mut snaps: HashMap<(String, String), Vec<Snap>> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    catalog.query_each(
        &query("stock-levels", include_str!("queries/stock-levels.rq"))?,
        &args,
        admin,
        |c| {
            let (Some(s), Some(p), Some(w), Some(at)) = (c[0], c[1], c[2], c[3]) else {
                return;
            };
            // A product in two categories comes back twice: one row per snapshot.
            if !seen.insert(s.to_string()) {
                return;
            }
            let id = (p.to_string(), w.to_string());
            keys.entry(id.clone()).or_insert_with(|| Key {
                product: p.to_string(),
                warehouse: w.to_string(),
                sku: c[13].unwrap_or(p).to_string(),
                code: c[14].unwrap_or(w).to_string(),
                category: c[12].map(str::to_string),
            });
            snaps.entry(id).or_default().push(Snap {
                at: at.to_string(),
                lot: Lot {
                    lot: c[9].map(str::to_string),
                    quantity: num(c[4]).unwrap_or(0.0),
                    expires: c[10].and_then(|d| d.parse().ok()),
                },
                reserved: num(c[5]).unwrap_or(0.0),
                transit: num(c[6]).unwrap_or(0.0),
                rop: num(c[7]),
                lead: num(c[8]),
                cost: num(c[11]),
            });
        },
    )?;
    let mut positions: HashMap<(String, String), (Position, String)> = HashMap::new();
    let mut latest: Option<String> = None;
    for (id, rows) in snaps {
        let at = rows.iter().map(|r| r.at.clone()).max().unwrap_or_default();
        let mut p = Position::default();
        for r in rows.into_iter().filter(|r| r.at == at) {
            p.reserved += r.reserved;
            p.in_transit += r.transit;
            p.reorder_point = p.reorder_point.or(r.rop);
            p.lead_time = p.lead_time.or(r.lead);
            p.unit_cost = p.unit_cost.or(r.cost);
            p.lots.push(r.lot);
        }
        p.lots.sort_by(|a, b| a.lot.cmp(&b.lot));
        if latest.as_ref().is_none_or(|l| at > *l) {
            latest = Some(at.clone());
        }
        positions.insert(id, (p, at));
    }
    let mut moved_latest: Option<String> = None;
    let mut warnings = Vec::new();
    let mut unplaced = 0usize;
    catalog.query_each(
        &query(
            "stock-movements",
            include_str!("queries/stock-movements.rq"),
        )?,
        &args,
        admin,
        |c| {
            let (Some(p), Some(w), Some(q), Some(at)) = (c[1], c[2], num(c[3]), c[4]) else {
                return;
            };
            if moved_latest.as_deref().is_none_or(|l| at > l) {
                moved_latest = Some(at.to_string());
            }
            let Some((pos, snap_at)) = positions.get_mut(&(p.to_string(), w.to_string())) else {
                unplaced += 1;
                return;
            };
            if at <= snap_at.as_str() {
                return; // already counted in the snapshot
            }
            apply(pos, q, c[5]);
        },
    )?;
    if unplaced > 0 {
        warnings.push(format!(
            "{unplaced} movements of a product in a warehouse without a stock snapshot were left out"
        ));
    }
    let last = [latest.as_deref(), moved_latest.as_deref()]
        .into_iter()
        .flatten()
        .filter_map(day_of)
        .max();
    let as_of = as_of
        .or(last)
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let window = i64::from(config.window_days);
    let start = as_of - chrono::Duration::days(window);
    for (p, _) in positions.values_mut() {
        p.sales = vec![0.0; window as usize];
    }
    let mut by_product: HashMap<String, Vec<String>> = HashMap::new();
    for (p, w) in positions.keys() {
        by_product.entry(p.clone()).or_default().push(w.clone());
    }
    let from = format!("{start}T00:00:00Z");
    let mut elsewhere = 0usize;
    catalog.query_each(
        &query("stock-sales", include_str!("queries/stock-sales.rq"))?,
        &[("graph", graph.as_str()), ("from", from.as_str())],
        admin,
        |c| {
            let (Some(p), Some(day)) = (c[0], c[1].and_then(day_of)) else {
                return;
            };
            let Some(warehouses) = by_product.get(p) else {
                return;
            };
            let i = (day - start).num_days();
            if i < 0 || i >= window {
                return;
            }
            let qty = num(c[2]).unwrap_or(1.0);
            match c[3] {
                Some(w) => match positions.get_mut(&(p.to_string(), w.to_string())) {
                    Some((pos, _)) => pos.sales[i as usize] += qty,
                    None => elsewhere += 1,
                },
                None => {
                    let share = qty / warehouses.len() as f64;
                    for w in warehouses {
                        if let Some((pos, _)) = positions.get_mut(&(p.to_string(), w.clone())) {
                            pos.sales[i as usize] += share;
                        }
                    }
                }
            }
        },
    )?;
    if elsewhere > 0 {
        warnings.push(format!(
            "{elsewhere} purchases were shipped from a warehouse with no stock snapshot of the product"
        ));
    }
    let (names, parents) = categories(catalog)?;
    let mut out: Vec<(Key, Position, Rules)> = positions
        .into_iter()
        .map(|(id, (p, _))| {
            let key = keys.remove(&id).unwrap_or_else(|| Key {
                product: id.0.clone(),
                warehouse: id.1.clone(),
                sku: id.0.clone(),
                code: id.1.clone(),
                category: None,
            });
            let rules = rules_for(config, key.category.as_deref(), &names, &parents);
            (key, p, rules)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Input {
        as_of,
        latest_snapshot: latest,
        fingerprint,
        positions: out,
        warnings,
    })
}

/// A movement after the snapshot: into its lot (or the lot-less stock), or, for a shipment
/// that names no lot, out of the lots first to expire.
fn apply(p: &mut Position, qty: f64, lot: Option<&str>) {
    if let Some(name) = lot {
        if let Some(l) = p.lots.iter_mut().find(|l| l.lot.as_deref() == Some(name)) {
            l.quantity = (l.quantity + qty).max(0.0);
            return;
        }
    }
    if qty >= 0.0 || p.lots.is_empty() {
        match p.lots.iter_mut().find(|l| l.lot.as_deref() == lot) {
            Some(l) => l.quantity = (l.quantity + qty).max(0.0),
            None => p.lots.push(Lot {
                lot: lot.map(str::to_string),
                quantity: qty.max(0.0),
                expires: None,
            }),
        }
        return;
    }
    let mut left = -qty;
    let mut order: Vec<usize> = (0..p.lots.len()).collect();
    order.sort_by_key(|&i| (p.lots[i].expires.is_none(), p.lots[i].expires));
    for i in order {
        let take = left.min(p.lots[i].quantity);
        p.lots[i].quantity -= take;
        left -= take;
        if left <= 0.0 {
            break;
        }
    }
}

/// Category IRIs' lower-cased names, and their parents, from the ontology and product graphs.
#[allow(clippy::type_complexity)]
fn categories(
    catalog: &Catalog,
) -> Result<(BTreeMap<String, Vec<String>>, BTreeMap<String, Vec<String>>), StockError> {
    let q = query("category-names", include_str!("queries/category-names.rq"))?;
    let (mut names, mut parents) = (BTreeMap::new(), BTreeMap::new());
    for g in [&catalog.layout().ontology, &catalog.layout().products] {
        catalog.query_each(&q, &[("graph", g.as_str())], &Visibility::ADMIN, |c| {
            let Some(concept) = c[0] else { return };
            if let Some(l) = c[1] {
                names
                    .entry(concept.to_string())
                    .or_insert_with(Vec::new)
                    .push(l.to_lowercase());
            }
            if let Some(p) = c[2] {
                parents
                    .entry(concept.to_string())
                    .or_insert_with(Vec::new)
                    .push(p.to_string());
            }
        })?;
    }
    Ok((names, parents))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn movements_go_to_their_lot_or_leave_first_expiring_first() {
        let d = |s: &str| s.parse::<NaiveDate>().ok();
        let mut p = Position {
            lots: vec![
                Lot {
                    lot: Some("late".into()),
                    quantity: 10.0,
                    expires: d("2025-03-01"),
                },
                Lot {
                    lot: Some("early".into()),
                    quantity: 4.0,
                    expires: d("2025-01-01"),
                },
            ],
            ..Default::default()
        };
        apply(&mut p, -6.0, None);
        assert_eq!((p.lots[0].quantity, p.lots[1].quantity), (8.0, 0.0));
        apply(&mut p, 5.0, Some("late"));
        assert_eq!(p.lots[0].quantity, 13.0);
        apply(&mut p, 7.0, Some("new"));
        assert_eq!(p.on_hand(), 20.0);
        apply(&mut p, -100.0, Some("late"));
        assert_eq!(p.lots[0].quantity, 0.0);
    }
}
