//! Stock records as product-graph statements: snapshots of what a warehouse holds of a product
//! (and of which lot), and the movements after them. The stock watch (`crate::stock`) reads
//! them back beside the purchases to forecast demand and raise stock alerts.
//!
//! A snapshot is `st:StockLevel` keyed by product, warehouse, lot and snapshot time, so the
//! history of snapshots stays queryable and a late file of old snapshots never overwrites a
//! newer one: the watch takes, per product and warehouse, the lots of the latest snapshot.
//! The level follows schema.org (`schema:inventoryLevel` with `schema:value` and the
//! UN/CEFACT unit `C62`, on an `st:InventoryLevel` node: a quantitative value that may be zero,
//! unlike a product's measures; `schema:productionDate`); what schema.org has no term for — reserved and in-transit
//! quantities, reorder point, lead time, lot, expiry, unit cost — is `st:`. A movement is
//! `st:StockMovement`: a signed quantity (receipts and returns in, shipments out, adjustments
//! either way) at a time. Quantities that cannot be (negative stock, a lot that expires
//! before it was made, a lead time of years) are reasons to quarantine, like any bad cell.

use chrono::{NaiveDate, Utc};

use super::clean;
use super::graph::{checked, content_key, rdf_type, rfc3339, schema, st, Built, Record};
use crate::catalog::Object;

/// Largest quantity accepted in one cell (beyond it the export is broken, not the stock).
const MAX_QUANTITY: f64 = 1e9;
/// Longest lead time accepted, in days.
const MAX_LEAD_DAYS: f64 = 365.0;

/// A quantity cell: a finite number up to [`MAX_QUANTITY`], negative only where `signed`.
pub fn quantity(name: &str, raw: &str, signed: bool) -> Result<f64, String> {
    let s = clean::text(raw).replace(',', "");
    let v: f64 = s
        .trim_end_matches(['件', '个', '箱', '台'])
        .trim()
        .parse()
        .map_err(|_| format!("{name} {raw:?} is not a number"))?;
    if !v.is_finite() || v.abs() > MAX_QUANTITY {
        return Err(format!("{name} {raw:?} is not a plausible quantity"));
    }
    if v < 0.0 && !signed {
        return Err(format!("{name} {raw:?} is negative"));
    }
    Ok(v)
}

/// A movement kind and the sign it gives an unsigned quantity (`adjustment` keeps the sign).
pub fn movement_kind(raw: &str) -> Result<(&'static str, f64), String> {
    let k = clean::text(raw).to_lowercase();
    Ok(match k.as_str() {
        "receipt" | "in" | "inbound" | "入库" | "收货" => ("receipt", 1.0),
        "return" | "returned" | "退货" => ("return", 1.0),
        "shipment" | "out" | "outbound" | "ship" | "出库" | "发货" => ("shipment", -1.0),
        "adjustment" | "adjust" | "count" | "盘点" | "调整" => ("adjustment", 0.0),
        _ => {
            return Err(format!(
                "movement kind {raw:?} is not one of receipt, return, shipment, adjustment"
            ))
        }
    })
}

/// A calendar date (`2024-10-28`, `2024/10/28`, `2024年10月28日`, or a timestamp's day).
fn date(name: &str, raw: &str) -> Result<NaiveDate, String> {
    let s = clean::text(raw);
    let s = s.replace(['年', '月', '/'], "-").replace('日', "");
    if let Ok(d) = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        return Ok(d);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s.trim(), "%Y%m%d") {
        return Ok(d);
    }
    // A full timestamp: its day (UTC). Far-future dates are legal here (expiry), so the
    // "not in the future" check of record times does not apply.
    clean::timestamp(&s, Utc::now() + chrono::Duration::days(365 * 100))
        .map(|t| t.date_naive())
        .map_err(|_| format!("{name} {raw:?} is not a date"))
}

/// A warehouse's IRI (one node per code, shared by stock, movements and purchases).
pub(super) fn warehouse_iri(rec: &Record<'_>, code: &str) -> String {
    rec.ctx.minter.entity("warehouse", "warehouses", code)
}

/// The product (SKU) and warehouse every stock record needs; a missing one is a reason.
fn keys(rec: &Record<'_>, reasons: &mut Vec<String>) -> (Option<String>, Option<String>) {
    let (product, warehouse) = (rec.get("product"), rec.get("warehouse"));
    if product.is_none() {
        reasons.push("product (SKU) is empty".to_string());
    }
    if warehouse.is_none() {
        reasons.push("warehouse is empty".to_string());
    }
    (product, warehouse)
}

/// A stock snapshot: product, warehouse (and its name), lot, quantities, dates, unit cost.
pub(super) fn level(rec: &Record<'_>, b: &mut Built) -> Result<String, Vec<String>> {
    let mut reasons = Vec::new();
    let (product, warehouse) = keys(rec, &mut reasons);
    let on_hand = match rec.get("on_hand") {
        Some(v) => checked(Some(quantity("on hand", &v, false)), &mut reasons),
        None => {
            reasons.push("on hand is empty".to_string());
            None
        }
    };
    let mut count = |field: &str, name: &str| {
        checked(
            rec.get(field).map(|v| quantity(name, &v, false)),
            &mut reasons,
        )
    };
    let reserved = count("reserved", "reserved");
    let in_transit = count("in_transit", "in transit");
    let reorder_point = count("reorder_point", "reorder point");
    let lead_time = count("lead_time", "lead time");
    let cost = count("cost", "unit cost");
    if let Some(l) = lead_time.filter(|l| *l > MAX_LEAD_DAYS) {
        reasons.push(format!("lead time {l} days is longer than a year"));
    }
    let produced = checked(
        rec.get("produced").map(|d| date("production date", &d)),
        &mut reasons,
    );
    let expires = checked(
        rec.get("expires").map(|d| date("expiry date", &d)),
        &mut reasons,
    );
    let time = checked(
        rec.get("time").map(|t| clean::timestamp(&t, rec.ctx.now)),
        &mut reasons,
    )
    .unwrap_or(rec.ctx.now);
    if let (Some(p), Some(e)) = (produced, expires) {
        if e < p {
            reasons.push(format!("expiry date {e} is before production date {p}"));
        }
    }
    if let Some(p) = produced.filter(|p| *p > time.date_naive()) {
        reasons.push(format!(
            "production date {p} is after the snapshot ({})",
            time.date_naive()
        ));
    }
    if let (Some(r), Some(h)) = (reserved, on_hand) {
        if r > h {
            reasons.push(format!("reserved {r} is more than on hand {h}"));
        }
    }
    let (Some(product), Some(warehouse), Some(on_hand)) = (product, warehouse, on_hand) else {
        return Err(reasons);
    };
    if !reasons.is_empty() {
        return Err(reasons);
    }
    let lot = rec.get("lot");
    let when = rfc3339(time);
    let key = format!(
        "{product}@{warehouse}@{}@{}",
        lot.as_deref().unwrap_or(""),
        time.timestamp()
    );
    let s = rec.ctx.minter.entity("stock", rec.ctx.namespace, &key);
    let p = rec
        .ctx
        .minter
        .entity("product", rec.product_namespace(), &product);
    b.references.push((product.clone(), p.clone()));
    let w = warehouse_iri(rec, &warehouse);
    b.add(&w, rdf_type(), Object::iri(st("Warehouse")));
    b.add(&w, schema("identifier"), Object::string(&warehouse));
    if let Some(n) = rec.get("warehouse_name") {
        b.add(&w, schema("name"), Object::string(n));
    }
    b.add(&s, rdf_type(), Object::iri(st("StockLevel")));
    b.add(&s, st("product"), Object::iri(&p));
    b.add(&s, st("warehouse"), Object::iri(&w));
    b.add(
        &s,
        format!("{}atTime", crate::catalog::vocab::PROV),
        Object::datetime(when),
    );
    let level = format!("{s}/level");
    b.add(&s, schema("inventoryLevel"), Object::iri(&level));
    b.add(&level, rdf_type(), Object::iri(st("InventoryLevel")));
    b.add(&level, schema("value"), Object::decimal(on_hand));
    b.add(&level, schema("unitCode"), Object::string("C62"));
    b.owned.push(level);
    for (value, property) in [
        (reserved, "reserved"),
        (in_transit, "inTransit"),
        (reorder_point, "reorderPoint"),
        (lead_time, "leadTimeDays"),
    ] {
        if let Some(v) = value {
            b.add(&s, st(property), Object::decimal(v));
        }
    }
    if let Some(c) = cost {
        b.add(&s, st("unitCost"), Object::decimal(c));
    }
    if let Some(l) = lot {
        b.add(&s, st("lot"), Object::string(l));
    }
    if let Some(d) = produced {
        b.add(&s, schema("productionDate"), Object::date(d.to_string()));
    }
    if let Some(d) = expires {
        b.add(&s, st("expiryDate"), Object::date(d.to_string()));
    }
    Ok(s)
}

/// A movement: signed quantity of a product into (+) or out of (−) a warehouse at a time.
pub(super) fn movement(rec: &Record<'_>, b: &mut Built) -> Result<String, Vec<String>> {
    let mut reasons = Vec::new();
    let (product, warehouse) = keys(rec, &mut reasons);
    let kind = match (rec.get("kind"), rec.ctx.mapping.defaults.kind.as_deref()) {
        (Some(k), _) => checked(Some(movement_kind(&k)), &mut reasons),
        (None, Some(d)) => checked(Some(movement_kind(d)), &mut reasons),
        (None, None) => Some(("adjustment", 0.0)),
    };
    let qty = match rec.get("quantity") {
        Some(q) => checked(Some(quantity("quantity", &q, true)), &mut reasons),
        None => {
            reasons.push("quantity is empty".to_string());
            None
        }
    };
    if let (Some((k, sign)), Some(q)) = (kind, qty) {
        if sign != 0.0 && q < 0.0 {
            reasons.push(format!(
                "a {k} of {q} is negative (its kind gives the sign)"
            ));
        }
    }
    let time = match rec.get("time") {
        Some(t) => checked(Some(clean::timestamp(&t, rec.ctx.now)), &mut reasons),
        None => {
            reasons.push("time is empty".to_string());
            None
        }
    };
    let (Some(product), Some(warehouse), Some((kind, sign)), Some(qty), Some(time)) =
        (product, warehouse, kind, qty, time)
    else {
        return Err(reasons);
    };
    if !reasons.is_empty() {
        return Err(reasons);
    }
    let signed = if sign == 0.0 { qty } else { sign * qty };
    let lot = rec.get("lot");
    let when = rfc3339(time);
    let key = rec.get("id").unwrap_or_else(|| {
        content_key(&[
            &product,
            &warehouse,
            kind,
            &qty.to_string(),
            &when,
            lot.as_deref().unwrap_or(""),
        ])
    });
    let m = rec.ctx.minter.entity("movement", rec.ctx.namespace, &key);
    let p = rec
        .ctx
        .minter
        .entity("product", rec.product_namespace(), &product);
    b.references.push((product.clone(), p.clone()));
    let w = warehouse_iri(rec, &warehouse);
    b.add(&w, rdf_type(), Object::iri(st("Warehouse")));
    b.add(&w, schema("identifier"), Object::string(&warehouse));
    b.add(&m, rdf_type(), Object::iri(st("StockMovement")));
    b.add(&m, st("product"), Object::iri(&p));
    b.add(&m, st("warehouse"), Object::iri(&w));
    b.add(&m, st("movementKind"), Object::string(kind));
    b.add(&m, st("quantity"), Object::decimal(signed));
    b.add(
        &m,
        format!("{}atTime", crate::catalog::vocab::PROV),
        Object::datetime(when),
    );
    if let Some(l) = lot {
        b.add(&m, st("lot"), Object::string(l));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_and_dates_are_checked() {
        assert_eq!(quantity("on hand", "1,200件", false), Ok(1200.0));
        assert!(quantity("on hand", "-5", false)
            .unwrap_err()
            .contains("negative"));
        assert_eq!(quantity("quantity", "-5", true), Ok(-5.0));
        assert!(quantity("on hand", "lots", false)
            .unwrap_err()
            .contains("not a number"));
        assert!(quantity("on hand", "1e12", false)
            .unwrap_err()
            .contains("plausible"));
        assert_eq!(
            date("expiry date", "2025年3月1日").unwrap(),
            NaiveDate::from_ymd_opt(2025, 3, 1).unwrap()
        );
        assert_eq!(
            date("expiry date", "20250301").unwrap(),
            NaiveDate::from_ymd_opt(2025, 3, 1).unwrap()
        );
        assert!(date("expiry date", "soon").is_err());
        assert_eq!(movement_kind("出库"), Ok(("shipment", -1.0)));
        assert!(movement_kind("teleport").is_err());
    }
}
