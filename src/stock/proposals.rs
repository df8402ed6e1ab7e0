//! Replenishment proposals are data a person decides on, like labels: the stock watch proposes
//! (quantity, warehouse, reason, confidence), a writer accepts or rejects with a note, and only
//! an accepted proposal goes anywhere — POSTed to the purchasing system's webhook when one is
//! configured, the delivery's outcome recorded beside the decision. Nothing is ever ordered
//! silently, and a decision is final (a second one is refused with the first one's author).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{StockConfig, StockError};
use crate::catalog::vocab::ST;
use crate::catalog::{Catalog, NamedQuery, Object, Statement, Visibility};
use crate::monitor::{Delivery, DeliveryConfig};

/// A proposal as the API and CLI show it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProposalRecord {
    /// The last segment of the IRI (what `/api/v1/stock/proposals/{id}/…` takes).
    #[serde(skip_deserializing)]
    pub id: String,
    #[serde(rename(deserialize = "p"))]
    pub iri: String,
    pub product: String,
    pub sku: String,
    pub warehouse: String,
    pub code: String,
    pub quantity: f64,
    pub reason: String,
    pub confidence: f64,
    /// `proposed`, `accepted`, `rejected` or `withdrawn` (stock recovered before a decision).
    pub status: String,
    pub created: String,
    pub event: Option<String>,
    pub by: Option<String>,
    pub decided: Option<String>,
    pub note: Option<String>,
}

/// Every proposal, newest first, optionally only those with `status`. Blocking.
pub fn list(catalog: &Catalog, status: Option<&str>) -> Result<Vec<ProposalRecord>, StockError> {
    let rows: Vec<ProposalRecord> = catalog.query_rows(
        &NamedQuery::parse("proposals", include_str!("queries/proposals.rq"))?,
        &[("graph", catalog.layout().changes.as_str())],
        &Visibility::ADMIN,
    )?;
    Ok(rows
        .into_iter()
        .filter(|r| status.is_none_or(|s| r.status == s))
        .map(|mut r| {
            r.id = r.iri.rsplit('/').next().unwrap_or_default().to_string();
            r
        })
        .collect())
}

/// Proposals still waiting for a decision, by (product, warehouse). Blocking.
pub fn open_by_position(
    catalog: &Catalog,
) -> Result<HashMap<(String, String), String>, StockError> {
    Ok(list(catalog, Some("proposed"))?
        .into_iter()
        .map(|r| ((r.product, r.warehouse), r.iri))
        .collect())
}

/// Accepts or rejects a proposal: who decided, when, why; an accepted one is POSTed to the
/// purchasing webhook when configured. Returns the proposal as decided and the delivery.
/// Blocking (the webhook is retried with sleeps).
pub fn decide(
    catalog: &Catalog,
    config: &StockConfig,
    delivery: &DeliveryConfig,
    iri: &str,
    accept: bool,
    who: &str,
    note: Option<&str>,
) -> Result<(ProposalRecord, Option<Delivery>), StockError> {
    let all = list(catalog, None)?;
    let Some(mut p) = all.into_iter().find(|r| r.iri == iri) else {
        return Err(StockError::NotFound(iri.to_string()));
    };
    if p.status != "proposed" {
        return Err(StockError::Proposal(match (&p.by, &p.decided) {
            (Some(by), Some(at)) => {
                format!("proposal {iri} was already {} by {by} at {at}", p.status)
            }
            _ => format!("proposal {iri} is {} and takes no decision", p.status),
        }));
    }
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let status = if accept { "accepted" } else { "rejected" };
    let st = |l: &str| format!("{ST}{l}");
    let mut out = vec![
        Statement::new(iri, st("proposalStatus"), Object::string(status)),
        Statement::new(iri, st("decidedBy"), Object::string(who)),
        Statement::new(iri, st("decidedAt"), Object::datetime(&at)),
    ];
    if let Some(n) = note.filter(|n| !n.trim().is_empty()) {
        out.push(Statement::new(iri, st("decisionNote"), Object::string(n)));
    }
    let predicates: Vec<String> = ["proposalStatus", "decidedBy", "decidedAt", "decisionNote"]
        .iter()
        .map(|l| st(l))
        .collect();
    let changes = catalog.layout().changes.clone();
    catalog.replace_properties(&changes, &[iri.to_string()], &predicates, &out)?;
    p.status = status.into();
    p.by = Some(who.into());
    p.decided = Some(at.clone());
    p.note = note.map(str::to_string);
    let delivery = match (&config.purchasing_webhook, accept) {
        (Some(url), true) => {
            let payload = serde_json::json!({
                "type": "replenishment-proposal-accepted",
                "proposal": p.iri,
                "product": p.product,
                "sku": p.sku,
                "warehouse": p.code,
                "quantity": p.quantity,
                "reason": p.reason,
                "confidence": p.confidence,
                "accepted_by": who,
                "accepted_at": at,
                "note": p.note,
            });
            let (outcome, attempts, status, error) =
                crate::monitor::alert::post(url, &payload, delivery);
            let d = Delivery {
                rule: "purchasing".into(),
                channel: "webhook".into(),
                target: crate::monitor::alert::redact_webhook(url),
                outcome: outcome.into(),
                attempts,
                status,
                error,
                at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                events: vec![iri.to_string()],
            };
            crate::monitor::events::record_deliveries(catalog, iri, std::slice::from_ref(&d))?;
            Some(d)
        }
        _ => None,
    };
    Ok((p, delivery))
}
