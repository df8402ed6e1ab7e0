//! The privacy-budget ledger: every ε a DP answer spends, per dataset and per token, as a
//! `st:PrivacySpend` in the catalog graph (dataset, ε, δ, by whom, for what, when), written
//! *before* the answer is returned. Totals are kept in memory (read from the catalog once) under
//! one lock, so two concurrent queries cannot both spend the last of a budget. Amounts are
//! integers of micro-ε: sums are exact, a budget is never crossed by rounding.

use std::collections::HashMap;

use crate::catalog::vocab::{PROV, RDF, ST};
use crate::catalog::{Catalog, CatalogError, NamedQuery, Object, Statement, Visibility};
use crate::privacy::dp::Ratio;

/// ε in micro-units (ε has at most 6 decimals).
pub(super) fn micro(r: Ratio) -> u64 {
    (u128::from(r.num) * 1_000_000 / u128::from(r.den)) as u64
}

/// micro-ε as a decimal string.
pub(super) fn decimal(micro: u64) -> String {
    let s = format!("{}.{:06}", micro / 1_000_000, micro % 1_000_000);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// What is spent, in micro-ε: by dataset, and by (dataset, who).
#[derive(Debug, Default)]
pub(super) struct Totals {
    pub dataset: HashMap<String, u64>,
    pub token: HashMap<(String, String), u64>,
}

impl Totals {
    /// Reads every spend from the catalog graph.
    pub fn load(catalog: &Catalog) -> Result<Totals, CatalogError> {
        let q = NamedQuery::parse("dp-ledger", include_str!("../queries/dp-ledger.rq"))?;
        let graph = catalog.layout().catalog.as_str().to_owned();
        let mut t = Totals::default();
        catalog.query_each(
            &q,
            &[("graph", graph.as_str())],
            &Visibility::ADMIN,
            |row| {
                let [Some(dataset), Some(who), Some(eps)] = row else {
                    return;
                };
                if let Some(r) = Ratio::parse_decimal(eps) {
                    t.add(dataset, who, micro(r));
                }
            },
        )?;
        Ok(t)
    }

    pub fn add(&mut self, dataset: &str, who: &str, micro: u64) {
        *self.dataset.entry(dataset.to_owned()).or_default() += micro;
        *self
            .token
            .entry((dataset.to_owned(), who.to_owned()))
            .or_default() += micro;
    }

    pub fn of_dataset(&self, dataset: &str) -> u64 {
        self.dataset.get(dataset).copied().unwrap_or(0)
    }

    pub fn of_token(&self, dataset: &str, who: &str) -> u64 {
        self.token
            .get(&(dataset.to_owned(), who.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

/// One spend, as written to the catalog.
pub(super) struct Spend<'a> {
    pub dataset: &'a str,
    pub who: &'a str,
    pub epsilon: u64,
    pub purpose: &'a str,
    pub query: &'a str,
}

/// Writes `spend` into the catalog graph; returns its IRI.
pub(super) fn record(catalog: &Catalog, base: &str, spend: &Spend) -> Result<String, CatalogError> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let nonce = hex::encode(rand::random::<[u8; 8]>());
    let s = format!("{base}privacy/spend/{nonce}");
    let st = |l: &str| format!("{ST}{l}");
    let statements = vec![
        Statement::new(&s, format!("{RDF}type"), Object::iri(st("PrivacySpend"))),
        Statement::new(&s, st("dataset"), Object::string(spend.dataset)),
        Statement::new(
            &s,
            st("epsilonSpent"),
            Object::decimal_lexical(decimal(spend.epsilon)),
        ),
        Statement::new(&s, st("deltaSpent"), Object::decimal_lexical("0")),
        Statement::new(
            &s,
            format!("{PROV}wasAssociatedWith"),
            Object::string(spend.who),
        ),
        Statement::new(&s, st("purpose"), Object::string(spend.purpose)),
        Statement::new(&s, st("dpQuery"), Object::string(spend.query)),
        Statement::new(&s, format!("{PROV}atTime"), Object::datetime(&now)),
    ];
    catalog.replace_subjects(
        &catalog.layout().catalog,
        std::slice::from_ref(&s),
        &statements,
    )?;
    catalog.flush()?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_units_are_exact() {
        assert_eq!(micro(Ratio::new(1, 10)), 100_000);
        assert_eq!(micro(Ratio::new(5, 2)), 2_500_000);
        assert_eq!(decimal(2_500_000), "2.5");
        assert_eq!(decimal(100_000), "0.1");
        assert_eq!(decimal(3_000_000), "3");
        assert_eq!(decimal(1), "0.000001");
        // Ten spends of 0.1 are exactly 1, not 0.9999999.
        assert_eq!(
            (0..10).map(|_| micro(Ratio::new(1, 10))).sum::<u64>(),
            1_000_000
        );
    }
}
