//! The inventory report as one self-contained HTML page (inline CSS and SVG, no scripts, no
//! CDN) a manager can read at a glance: the overview, bars of assets by kind and PII columns
//! by type, a null-rate heat map, the tables, and the sections other modules add (stock
//! watch, model watch). `bars` and `esc` are shared with those sections.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::report::{AssetSummary, InventoryReport};

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A horizontal bar chart as inline SVG.
pub(crate) fn bars(title: &str, data: &BTreeMap<String, u64>, colour: &str) -> String {
    let max = data.values().copied().max().unwrap_or(1).max(1) as f64;
    let row = 22;
    let h = 30 + row * data.len().max(1);
    let mut s = format!("<figure><figcaption>{}</figcaption><svg role=\"img\" width=\"460\" height=\"{h}\" viewBox=\"0 0 460 {h}\">", esc(title));
    if data.is_empty() {
        s.push_str("<text x=\"0\" y=\"20\">none</text>");
    }
    for (i, (k, v)) in data.iter().enumerate() {
        let y = 10 + i * row;
        let w = (*v as f64 / max * 260.0).max(2.0);
        let _ = write!(
            s,
            "<text x=\"150\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"158\" y=\"{y}\" width=\"{w:.0}\" height=\"16\" fill=\"{colour}\"/><text x=\"{:.0}\" y=\"{}\">{v}</text>",
            y + 13,
            esc(k),
            158.0 + w + 6.0,
            y + 13
        );
    }
    s.push_str("</svg></figure>");
    s
}

/// A null-rate heat map: one row per asset, one cell per column, darker is emptier.
fn heat_map(assets: &[AssetSummary]) -> String {
    let mut s = String::from("<figure><figcaption>Null rate by column (darker = more empty)</figcaption><div class=\"heat\">");
    for a in assets.iter().take(60) {
        let _ = write!(
            s,
            "<div class=\"hrow\"><span class=\"hname\">{}</span>",
            esc(&a.location)
        );
        for c in a.columns.iter().take(60) {
            let shade = (255.0 - c.null_rate * 200.0) as u8;
            let _ = write!(
                s,
                "<span class=\"cell\" style=\"background:rgb({shade},{shade},255)\" title=\"{}: {:.0}% empty\"></span>",
                esc(&c.name),
                c.null_rate * 100.0
            );
        }
        s.push_str("</div>");
    }
    s.push_str("</div></figure>");
    s
}

fn human_bytes(b: u64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}

/// The report as one self-contained HTML page.
pub fn html(r: &InventoryReport) -> String {
    let t = &r.totals;
    let mut s = String::from("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>盘点报告 · Stocktake inventory report</title><style>\
body{font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;margin:2rem;color:#222}\
h1{margin-bottom:.2rem}.muted{color:#666}.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}\
.card{border:1px solid #ddd;border-radius:8px;padding:.8rem 1.2rem;min-width:8rem}.card b{display:block;font-size:1.6rem}\
.charts{display:flex;gap:2rem;flex-wrap:wrap}svg text{font-size:12px}table{border-collapse:collapse;margin:1rem 0;width:100%}\
th,td{border-bottom:1px solid #eee;padding:.3rem .5rem;text-align:left;font-size:.9rem}th{background:#f6f6f6}\
.pii{color:#b00020;font-weight:600}.heat{font-size:11px}.hrow{display:flex;align-items:center;gap:1px;margin:1px 0}\
.hname{width:16rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}.cell{display:inline-block;width:12px;height:12px;border:1px solid #eee}\
</style></head><body>");
    let _ = write!(
        s,
        "<h1>盘点报告 · Inventory report</h1><p class=\"muted\">generated {}</p><div class=\"cards\">\
         <div class=\"card\"><b>{}</b>sources 数据源</div><div class=\"card\"><b>{}</b>assets 资产</div>\
         <div class=\"card\"><b>{}</b>rows 行</div><div class=\"card\"><b>{}</b>on disk</div>\
         <div class=\"card\"><b class=\"pii\">{}</b>PII columns 个人信息字段</div><div class=\"card\"><b>{}</b>assets with PII</div>\
         <div class=\"card\"><b>{}</b>quality issues 质量问题</div><div class=\"card\"><b>{}</b>failed parts</div></div>",
        esc(&r.generated),
        t.sources,
        t.assets,
        t.rows,
        human_bytes(t.bytes),
        t.pii_columns,
        t.assets_with_pii,
        r.issues.len(),
        t.failed_parts
    );
    s.push_str("<div class=\"charts\">");
    s.push_str(&bars(
        "Assets by kind 资产类别",
        &r.assets_by_kind,
        "#4c78a8",
    ));
    s.push_str(&bars(
        "PII columns by type 个人信息类型",
        &r.pii_columns_by_type,
        "#e45756",
    ));
    s.push_str("</div>");
    s.push_str(&heat_map(&r.assets));
    s.push_str("<h2>Sources 数据源</h2><table><tr><th>source</th><th>kind</th><th>last scan</th><th>assets</th><th>failed</th></tr>");
    for src in &r.sources {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&src.title),
            esc(&src.kind),
            esc(&src.scanned_at),
            src.assets,
            src.failed
        );
    }
    s.push_str("</table><h2>Assets 资产</h2><table><tr><th>asset</th><th>format</th><th>kind</th><th>rows</th><th>change</th><th>size</th><th>PII columns</th></tr>");
    for a in &r.assets {
        let pii: Vec<String> = a
            .columns
            .iter()
            .filter_map(|c| c.pii_type.as_ref().map(|t| format!("{} ({t})", c.name)))
            .collect();
        let change = match (a.new, a.previous_rows) {
            (true, _) => "new".to_string(),
            (_, Some(p)) if p != a.rows => format!("{:+}", a.rows as i64 - p as i64),
            (_, Some(_)) => "unchanged".into(),
            _ => String::new(),
        };
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{} <span class=\"muted\">{:.2}</span></td><td>{}</td><td>{}</td><td>{}</td><td class=\"pii\">{}</td></tr>",
            esc(&a.location),
            esc(&a.format),
            esc(&a.kind),
            a.kind_confidence,
            if a.withheld {
                "withheld".to_string()
            } else {
                a.rows.to_string()
            },
            esc(&change),
            a.bytes.map(human_bytes).unwrap_or_default(),
            esc(&pii.join(", "))
        );
    }
    s.push_str("</table><h2>Quality issues 质量问题</h2><table><tr><th>asset</th><th>column</th><th>issue</th></tr>");
    for i in &r.issues {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&i.asset),
            esc(i.column.as_deref().unwrap_or("")),
            esc(&i.issue)
        );
    }
    s.push_str("</table>");
    if !r.removed.is_empty() {
        let _ = write!(
            s,
            "<h2>Removed since the previous scan</h2><p>{} assets</p>",
            r.removed.len()
        );
    }
    for section in &r.section_html {
        s.push_str(section);
    }
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::report::Totals;

    #[test]
    fn html_escapes_and_draws_charts() {
        let mut kinds = BTreeMap::new();
        kinds.insert("orders".to_string(), 3);
        kinds.insert("<script>".to_string(), 1);
        let r = InventoryReport {
            generated: "now".into(),
            sources: vec![],
            assets: vec![],
            totals: Totals::default(),
            assets_by_kind: kinds,
            pii_columns_by_type: BTreeMap::new(),
            issues: vec![],
            removed: vec![],
            sections: BTreeMap::new(),
            section_html: vec![],
        };
        let page = html(&r);
        assert!(page.contains("&lt;script&gt;") && !page.contains("<script>"));
        assert!(page.contains("<svg") && page.contains("盘点报告"));
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "no external resources"
        );
        assert_eq!(human_bytes(1536), "1.5 KB");
    }
}
