//! Stock watch (库存预警): the platform sells from stock, and its stock and sales are in the
//! product graph — snapshots and movements (`ingest::stock`), purchases with their quantity and
//! warehouse. A check reads them ([`read`]), forecasts each product's demand in each warehouse
//! ([`forecast`]), assesses the position against the category's rules ([`policy`]) and records
//! what changed ([`record`]): `stock-*`, `overstock`, `dead-stock`, `expiry-soon` and `expired`
//! events in the changes graph, alerted through the monitor's rules, once per episode (a
//! condition still open is not alerted again; one that clears and comes back is), and
//! replenishment proposals a person accepts or rejects ([`proposals`]).
//!
//! Checks are incremental on their input: the check run records a fingerprint of the stock,
//! movement and purchase data it read, and the schedule skips a check whose input has not
//! changed. The assessment itself is per position and runs on every core ([`assess_all`]).

pub mod forecast;
pub mod policy;
pub mod proposals;
pub mod read;
pub mod record;
pub mod report;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogError};
pub use crate::monitor::Delivery;
pub use policy::{Assessment, Lot, Position};
pub use record::{CheckOptions, CheckReport};

/// What can go wrong in a stock check.
#[derive(Debug, thiserror::Error)]
pub enum StockError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// Unusable `[stock]` settings.
    #[error("invalid stock configuration: {0}")]
    Config(String),
    /// A proposal that does not exist or cannot take the decision.
    #[error("{0}")]
    Proposal(String),
    #[error("no proposal {0}")]
    NotFound(String),
}

/// The rules one category's stock is assessed by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Probability of not running out within the lead time the safety stock aims at.
    pub service_level: f64,
    /// Lead time when the snapshot names none, days.
    pub lead_time_days: f64,
    /// Days between orders: a proposal covers the lead time plus one review period.
    pub review_days: f64,
    /// Days of cover beyond which stock that sells is overstock.
    pub overstock_days: f64,
    /// Days without a sale after which stock is dead (no sale in the whole window is too).
    pub dead_days: u32,
    /// A lot expiring within this many days is `expiry-soon`.
    pub expiry_days: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            service_level: 0.95,
            lead_time_days: 7.0,
            review_days: 7.0,
            overstock_days: 120.0,
            dead_days: 60,
            expiry_days: 30,
        }
    }
}

/// Per-category changes to the rules (`[stock.categories."食品饮料"] expiry_days = 10`): any
/// field left out keeps the default's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleOverride {
    pub service_level: Option<f64>,
    pub lead_time_days: Option<f64>,
    pub review_days: Option<f64>,
    pub overstock_days: Option<f64>,
    pub dead_days: Option<u32>,
    pub expiry_days: Option<u32>,
}

impl Rules {
    fn with(&self, o: &RuleOverride) -> Rules {
        Rules {
            service_level: o.service_level.unwrap_or(self.service_level),
            lead_time_days: o.lead_time_days.unwrap_or(self.lead_time_days),
            review_days: o.review_days.unwrap_or(self.review_days),
            overstock_days: o.overstock_days.unwrap_or(self.overstock_days),
            dead_days: o.dead_days.unwrap_or(self.dead_days),
            expiry_days: o.expiry_days.unwrap_or(self.expiry_days),
        }
    }

    fn validate(&self, what: &str) -> Result<(), StockError> {
        let bad = |m: String| Err(StockError::Config(format!("{what}: {m}")));
        if !(0.5..1.0).contains(&self.service_level) {
            return bad(format!(
                "service_level {} must be at least 0.5 and below 1",
                self.service_level
            ));
        }
        for (name, v) in [
            ("lead_time_days", self.lead_time_days),
            ("review_days", self.review_days),
            ("overstock_days", self.overstock_days),
        ] {
            if !v.is_finite() || !(0.0..=3650.0).contains(&v) {
                return bad(format!("{name} {v} must be between 0 and 3650 days"));
            }
        }
        Ok(())
    }
}

/// `[stock]`: the stock watch's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StockConfig {
    /// Days of sales history a forecast reads.
    pub window_days: u32,
    /// Length of the demand season in days (7: weekly; 0: none).
    pub season: usize,
    /// Rules of every category without its own (see [`Rules`] for each).
    pub service_level: f64,
    pub lead_time_days: f64,
    pub review_days: f64,
    pub overstock_days: f64,
    pub dead_days: u32,
    pub expiry_days: u32,
    /// Per-category overrides, keyed by a category's IRI, label or notation; a category takes
    /// its nearest ancestor's override (`skos:broader`) when it has none of its own.
    pub categories: BTreeMap<String, RuleOverride>,
    /// Run a check every this many seconds in `serve` (0: only on demand); skipped when the
    /// stock, movements and purchases are unchanged since the last check.
    pub every_secs: u64,
    /// Where an accepted replenishment proposal is POSTed (the purchasing system), if anywhere.
    pub purchasing_webhook: Option<String>,
}

impl Default for StockConfig {
    fn default() -> Self {
        let d = Rules::default();
        StockConfig {
            window_days: 90,
            season: 7,
            service_level: d.service_level,
            lead_time_days: d.lead_time_days,
            review_days: d.review_days,
            overstock_days: d.overstock_days,
            dead_days: d.dead_days,
            expiry_days: d.expiry_days,
            categories: BTreeMap::new(),
            every_secs: 0,
            purchasing_webhook: None,
        }
    }
}

impl StockConfig {
    /// The rules of every category without its own.
    pub fn rules(&self) -> Rules {
        Rules {
            service_level: self.service_level,
            lead_time_days: self.lead_time_days,
            review_days: self.review_days,
            overstock_days: self.overstock_days,
            dead_days: self.dead_days,
            expiry_days: self.expiry_days,
        }
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), StockError> {
        if !(7..=3650).contains(&self.window_days) {
            return Err(StockError::Config(format!(
                "window_days {} must be between 7 and 3650",
                self.window_days
            )));
        }
        if self.season > 0 && (self.season < 2 || self.season * 3 > self.window_days as usize) {
            return Err(StockError::Config(format!(
                "season {} must be 0, or at least 2 and a third of window_days at most",
                self.season
            )));
        }
        self.rules().validate("[stock]")?;
        for (k, o) in &self.categories {
            self.rules()
                .with(o)
                .validate(&format!("[stock.categories.{k:?}]"))?;
        }
        if let Some(u) = &self.purchasing_webhook {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(StockError::Config(format!(
                    "purchasing_webhook must be an http:// or https:// URL, got {}",
                    crate::monitor::alert::redact_webhook(u)
                )));
            }
        }
        Ok(())
    }
}

/// Every position assessed, with what it was read from.
#[derive(Debug, Clone)]
pub struct Assessed {
    pub as_of: NaiveDate,
    /// The latest stock snapshot's time (RFC 3339), if any.
    pub latest_snapshot: Option<String>,
    pub fingerprint: String,
    pub rows: Vec<(read::Key, Assessment)>,
    /// Records that could not be used (a purchase of a product never stocked is not one).
    pub warnings: Vec<String>,
}

/// Reads the stock and sales of the product graph and assesses every position as of `as_of`
/// (default: the day of the latest snapshot or movement). Blocking; the assessment runs on
/// every core.
pub fn assess_all(
    catalog: &Catalog,
    config: &StockConfig,
    as_of: Option<NaiveDate>,
) -> Result<Assessed, StockError> {
    config.validate()?;
    let input = read::read(catalog, config, as_of)?;
    let rows: Vec<(read::Key, Assessment)> = input
        .positions
        .into_par_iter()
        .map(|(key, pos, rules)| {
            let a = policy::assess(&pos, input.as_of, &rules, config.season);
            (key, a)
        })
        .collect();
    Ok(Assessed {
        as_of: input.as_of,
        latest_snapshot: input.latest_snapshot,
        fingerprint: input.fingerprint,
        rows,
        warnings: input.warnings,
    })
}

/// The rules of a category: its own override, else its nearest ancestor's, else the defaults.
/// `names` gives each category IRI's labels and notations (lower-cased), `parents` its
/// `skos:broader` concepts.
pub fn rules_for(
    config: &StockConfig,
    category: Option<&str>,
    names: &BTreeMap<String, Vec<String>>,
    parents: &BTreeMap<String, Vec<String>>,
) -> Rules {
    let keys: BTreeMap<String, &RuleOverride> = config
        .categories
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v))
        .collect();
    let mut frontier: Vec<String> = category.map(str::to_string).into_iter().collect();
    let mut seen = std::collections::BTreeSet::new();
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for c in frontier {
            if !seen.insert(c.clone()) {
                continue;
            }
            let own = std::iter::once(c.to_lowercase())
                .chain(names.get(&c).into_iter().flatten().cloned());
            for n in own {
                if let Some(o) = keys.get(&n) {
                    return config.rules().with(o);
                }
            }
            next.extend(parents.get(&c).into_iter().flatten().cloned());
        }
        frontier = next;
    }
    config.rules()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_rules_come_from_the_nearest_ancestor() {
        let config: StockConfig = toml::from_str(
            r#"expiry_days = 30
               [categories."食品饮料"]
               expiry_days = 10
               [categories."https://example.org/cat/fruit"]
               expiry_days = 3"#,
        )
        .unwrap();
        config.validate().unwrap();
        let names = BTreeMap::from([
            (
                "c:food".to_string(),
                vec!["食品饮料".to_string(), "food".into()],
            ),
            ("c:dairy".to_string(), vec!["蒙牛".to_string()]),
        ]);
        let parents = BTreeMap::from([
            ("c:dairy".to_string(), vec!["c:food".to_string()]),
            (
                "https://example.org/cat/fruit".to_string(),
                vec!["c:food".to_string()],
            ),
        ]);
        assert_eq!(
            rules_for(&config, Some("c:dairy"), &names, &parents).expiry_days,
            10
        );
        assert_eq!(
            rules_for(
                &config,
                Some("https://example.org/cat/fruit"),
                &names,
                &parents
            )
            .expiry_days,
            3
        );
        assert_eq!(
            rules_for(&config, Some("c:phones"), &names, &parents).expiry_days,
            30
        );
        assert_eq!(
            rules_for(&config, None, &names, &parents).service_level,
            0.95
        );
        let bad: StockConfig = toml::from_str("service_level = 1.5").unwrap();
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("service_level"));
        assert!(toml::from_str::<StockConfig>("servce_level = 0.9").is_err());
    }
}
