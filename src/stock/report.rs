//! The stock section of the inventory report (库存预警报告): what is at risk of running out,
//! which lots expire, how much money sits in overstock and dead stock, and the proposals
//! waiting for a decision — as JSON (under `stock` in the report) and as HTML with charts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::proposals::ProposalRecord;
use super::record::Summary;
use crate::inventory::report::{bars, esc};

/// The report's stock section.
#[derive(Debug, Clone, Serialize)]
pub struct StockSection {
    #[serde(flatten)]
    pub summary: Summary,
    /// Proposals waiting for a decision, newest first.
    pub proposals: Vec<ProposalRecord>,
}

fn money(x: f64) -> String {
    let whole = x.round() as i64;
    let digits = whole.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{}{out}", if whole < 0 { "-" } else { "" })
}

/// The section as HTML (cards, a chart of conditions and of forecast methods, the tables).
pub fn html(section: &StockSection) -> String {
    let s = &section.summary;
    let count = |k: &str| s.by_type.get(k).copied().unwrap_or(0);
    let mut h = String::from("<section id=\"stock\"><h2>库存预警 · Stock watch</h2>");
    let _ = write!(
        h,
        "<p class=\"muted\">as of {} (latest snapshot {}), {} positions (product × warehouse)</p>\
         <div class=\"cards\"><div class=\"card\"><b class=\"pii\">{}</b>stock-outs 缺货</div>\
         <div class=\"card\"><b>{}</b>running low 低库存</div><div class=\"card\"><b>{}</b>lots expiring or expired 临期/过期</div>\
         <div class=\"card\"><b>{}</b>overstock value 积压金额 ({} positions)</div>\
         <div class=\"card\"><b>{}</b>dead stock value 滞销金额 ({} positions)</div>\
         <div class=\"card\"><b>{}</b>proposals to decide 待审补货建议</div></div>",
        esc(&s.as_of),
        esc(s.latest_snapshot.as_deref().unwrap_or("none")),
        s.positions,
        count("stock-out"),
        count("stock-low"),
        count("expiry-soon") + count("expired"),
        money(s.overstock_value),
        count("overstock"),
        money(s.dead_stock_value),
        count("dead-stock"),
        section.proposals.len()
    );
    let by_type: BTreeMap<String, u64> = s
        .by_type
        .iter()
        .map(|(k, v)| (k.clone(), *v as u64))
        .collect();
    let methods: BTreeMap<String, u64> = s
        .methods
        .iter()
        .map(|(k, v)| (k.clone(), *v as u64))
        .collect();
    h.push_str("<div class=\"charts\">");
    h.push_str(&bars("Conditions by type 预警类型", &by_type, "#f58518"));
    h.push_str(&bars(
        "Forecast method per position 预测方法",
        &methods,
        "#54a24b",
    ));
    h.push_str("</div>");
    h.push_str("<h3>At risk 缺货风险</h3><table><tr><th>SKU</th><th>warehouse</th><th>available</th><th>in transit</th><th>sells/day</th><th>days of cover</th><th>reorder point</th><th>stock-out risk</th><th>proposal</th></tr>");
    for r in &s.at_risk {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td><td>{:.1}</td><td>{:.0}%</td><td>{}</td></tr>",
            esc(&r.sku),
            esc(&r.warehouse),
            r.available,
            r.in_transit,
            r.rate,
            r.days_of_cover.map(|c| format!("{c:.1}")).unwrap_or("–".into()),
            r.reorder_point,
            r.stockout_risk * 100.0,
            r.proposal.map(|q| format!("+{q}")).unwrap_or_default()
        );
    }
    h.push_str("</table><h3>Expiring lots 临期批次</h3><table><tr><th>SKU</th><th>warehouse</th><th>lot</th><th>days to expiry</th><th>what</th></tr>");
    for l in &s.expiring {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&l.sku),
            esc(&l.warehouse),
            esc(l.lot.as_deref().unwrap_or("")),
            l.days_to_expiry,
            esc(&l.message)
        );
    }
    h.push_str("</table><h3>Replenishment proposals 补货建议 (waiting)</h3><table><tr><th>SKU</th><th>warehouse</th><th>quantity</th><th>confidence</th><th>why</th></tr>");
    for p in &section.proposals {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td></tr>",
            esc(&p.sku),
            esc(&p.code),
            p.quantity,
            p.confidence,
            esc(&p.reason)
        );
    }
    h.push_str("</table>");
    for w in &s.warnings {
        let _ = write!(h, "<p class=\"muted\">{}</p>", esc(w));
    }
    h.push_str("</section>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_groups_thousands() {
        assert_eq!(money(1234567.4), "1,234,567");
        assert_eq!(money(-1000.0), "-1,000");
        assert_eq!(money(12.0), "12");
    }
}
