//! The shareable report (`/report?shareable=true&epsilon=…`, `stocktake report --shareable`):
//! the inventory report as it may leave the data team. Exact counts over people's records are
//! withheld (rows and distinct values of user-level assets), and the activity figures are
//! differentially private — interactions per category, people per kind of interaction,
//! reviews per category — each at a third of the ε asked for, spent from the caller's budget
//! like any DP query, all three together or none.

use serde::Serialize;

use super::{ledger, DpAnswer, DpRequest};
use crate::app::{App, AppError};
use crate::inventory::report::InventoryReport;
use crate::privacy::Principal;

/// The report with its DP figures.
#[derive(Debug, Clone, Serialize)]
pub struct ShareableReport {
    #[serde(flatten)]
    pub inventory: InventoryReport,
    /// Assets whose exact counts were withheld.
    pub withheld: Vec<String>,
    /// The ε the figures spent together.
    pub epsilon: f64,
    pub figures: Vec<DpAnswer>,
}

impl ShareableReport {
    /// The report page (self-contained HTML) with the DP figures after the inventory.
    pub fn html(&self) -> String {
        crate::inventory::report::html(&self.inventory).replace(
            "</body></html>",
            &format!("{}</body></html>", dp_section(self)),
        )
    }
}

/// The shareable report's differentially private figures, as an HTML section.
fn dp_section(r: &ShareableReport) -> String {
    use std::fmt::Write as _;
    let esc = crate::inventory::report::esc;
    let mut s = format!(
        "<h2>Activity 活动 · differentially private (ε = {})</h2><p class=\"muted\">Each figure \
         carries discrete Laplace noise (± is one standard deviation of it); at most {} rows per \
         person count. Exact counts over people's records are withheld from this report{}.</p>",
        r.epsilon,
        r.figures.first().map(|f| f.max_per_person).unwrap_or(0),
        if r.withheld.is_empty() {
            String::new()
        } else {
            format!(": {}", esc(&r.withheld.join(", ")))
        }
    );
    for f in &r.figures {
        let title = match (f.dataset.as_str(), f.group_by.as_str()) {
            ("interactions", _) => "Interactions per category 品类互动 (top 10)",
            ("users", _) => "People per kind of interaction 各类行为人数",
            _ => "Reviews per category 品类评价 (top 10)",
        };
        let _ = write!(
            s,
            "<h3>{title}</h3><table><tr><th>group</th><th>value</th><th>± noise</th></tr>"
        );
        for g in &f.groups {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{:.0}</td><td>{:.1}</td></tr>",
                esc(&g.label),
                g.value,
                g.noise_sd
            );
        }
        s.push_str("</table>");
    }
    s
}

impl App {
    /// The shareable report for `caller`, spending `epsilon`. Blocking.
    pub fn shareable_report(
        &self,
        caller: &Principal,
        epsilon: &str,
    ) -> Result<ShareableReport, AppError> {
        let total =
            crate::privacy::dp::epsilon(epsilon).map_err(|e| AppError::Invalid(e.to_string()))?;
        let third = ledger::micro(total) / 3;
        if third < 1_000 {
            return Err(AppError::Invalid(
                "the shareable report splits ε in three figures: give at least 0.003".into(),
            ));
        }
        let part = ledger::decimal(third);
        // Interactions carry two figures, reviews one: check both budgets before spending.
        self.dp_can_spend(caller, "interactions", 2 * third)?;
        self.dp_can_spend(caller, "reviews", third)?;
        let mut inventory = self.report(&caller.visibility())?;
        let withheld = inventory.withhold_personal_counts();
        let ask = |dataset: &str, group_by: &str| DpRequest {
            dataset: dataset.into(),
            group_by: Some(group_by.into()),
            epsilon: part.clone(),
            top: (group_by == "category").then_some(10),
            purpose: Some("shareable report".into()),
            ..Default::default()
        };
        // Computed first, spent together: all three figures or none.
        let pending = vec![
            self.dp_prepare(caller, &ask("interactions", "category"))?,
            self.dp_prepare(caller, &ask("users", "kind"))?,
            self.dp_prepare(caller, &ask("reviews", "category"))?,
        ];
        let figures = self.dp_commit(caller, pending)?;
        Ok(ShareableReport {
            inventory,
            withheld,
            epsilon: 3.0 * third as f64 / 1e6,
            figures,
        })
    }
}
