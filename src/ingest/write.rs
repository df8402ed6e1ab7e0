//! The writing side of a run: batches of accepted records into the product graph and of
//! rejected ones into the quarantine (see `catalog::Appender` for when each becomes visible), the reference check that turns a
//! review or interaction of an unknown product into a quarantined record, and the record keys
//! that name quarantine entries.

use std::collections::BTreeMap;

use super::clean;
use super::graph::{Built, Minter};
use super::mapping::{Entity, Mapping};
use super::{lap, IngestError};
use crate::catalog::vocab::{PROV, RDF, SCHEMA, ST};
use crate::catalog::{Appender, Catalog, CatalogError, Object, Statement};

/// Longest cell kept in a quarantined record's raw copy.
const MAX_RAW_CHARS: usize = 2000;

/// A record's key within its asset: its id column when it has one, else its line. A user
/// record's id is personal: its key is the user's pseudonym.
pub(super) fn record_key(
    minter: &Minter,
    entity: Entity,
    id_field: Option<usize>,
    cells: Option<&[Option<String>]>,
    line: u64,
) -> String {
    cells
        .and_then(|c| c.get(id_field?).cloned().flatten())
        .map(|k| clean::text(&k))
        .filter(|k| !k.is_empty())
        .map(|k| match entity {
            Entity::User => format!("user-{}", minter.pseudonym("users", &k)),
            _ => k,
        })
        .unwrap_or_else(|| format!("line-{line}"))
}

/// A quarantined record's copy of its cells, for the steward who fixes it: only the mapped
/// columns (an unmapped column may hold anything), user ids as their pseudonyms (the record's
/// key is one), every other value as it was read — the copy is only ever stored sealed.
fn quarantine_copy(
    minter: &Minter,
    mapping: &Mapping,
    columns: &[String],
    cells: &[Option<String>],
) -> serde_json::Map<String, serde_json::Value> {
    let personal_id =
        |field: &str| field == "user" || (mapping.entity == Entity::User && field == "id");
    mapping
        .columns
        .iter()
        .filter_map(|(field, column)| {
            let i = columns.iter().position(|c| c == column)?;
            let v = cells.get(i).cloned().flatten().map(|v| {
                let v = if personal_id(field) {
                    format!("pseudonym:{}", minter.pseudonym("users", &clean::text(&v)))
                } else {
                    v
                };
                serde_json::Value::String(v.chars().take(MAX_RAW_CHARS).collect())
            });
            Some((column.clone(), v.unwrap_or(serde_json::Value::Null)))
        })
        .collect()
}

/// The namespace whose products reviews and interactions point at.
pub(super) fn namespace_of_products(mapping: &Mapping) -> String {
    mapping
        .product_namespace
        .clone()
        .unwrap_or_else(|| "products".into())
}

/// Checks that the products a record points at are in the product graph (a dangling reference
/// is quarantined: ingest the products first, then rerun). Known products are remembered, so
/// an interaction log costs one lookup per distinct product.
pub(super) struct References<'a> {
    pub(super) catalog: &'a Catalog,
    pub(super) known: std::collections::HashSet<String>,
    /// A store error met while checking (the run stops with it).
    pub(super) error: Option<CatalogError>,
}

/// Products remembered as present (bounds the memory of the check).
pub(super) const KNOWN_PRODUCTS: usize = 1_000_000;

impl<'a> References<'a> {
    pub(super) fn new(catalog: &'a Catalog) -> Self {
        References {
            catalog,
            known: Default::default(),
            error: None,
        }
    }

    pub(super) fn check(&mut self, b: Built, namespace: &str) -> Result<Built, Vec<String>> {
        let graph = &self.catalog.layout().products;
        let mut reasons = Vec::new();
        for (key, iri) in &b.references {
            if self.known.contains(iri) {
                continue;
            }
            match self
                .catalog
                .is_instance(graph, iri, &format!("{SCHEMA}Product"))
            {
                Ok(true) => {
                    if self.known.len() < KNOWN_PRODUCTS {
                        self.known.insert(iri.clone());
                    }
                }
                Ok(false) => reasons.push(format!(
                    "product {key:?} is not in the product graph (namespace {namespace:?}): \
                     ingest the products first, then rerun this asset"
                )),
                Err(e) => {
                    self.error = Some(e);
                    return Err(vec!["store error while checking references".into()]);
                }
            }
        }
        if reasons.is_empty() {
            Ok(b)
        } else {
            Err(reasons)
        }
    }
}

/// What the writer thread counts while the reader labels the next batch.
#[derive(Default)]
pub(super) struct Totals {
    pub(super) accepted: u64,
    pub(super) quarantined: u64,
    pub(super) triples_written: u64,
    pub(super) reasons: BTreeMap<String, u64>,
    pub(super) seconds: BTreeMap<String, f64>,
}

/// Writes batches of accepted and quarantined records.
pub(super) struct Writer<'a> {
    pub(super) catalog: &'a Catalog,
    pub(super) minter: &'a Minter,
    pub(super) namespace: &'a str,
    pub(super) mapping: &'a Mapping,
    pub(super) run: &'a str,
    pub(super) asset: &'a str,
    pub(super) columns: &'a [String],
    pub(super) id_field: Option<usize>,
    /// Seals the quarantined copies; without it no copy is kept.
    pub(super) vault: Option<&'a crate::vault::Keyring>,
}

pub(super) type Rejected = (u64, Option<Vec<Option<String>>>, Vec<String>);

impl Writer<'_> {
    /// The writer thread: every batch the reader hands over, in order, then the last commit.
    pub(super) fn write_all(
        &self,
        batches: std::sync::mpsc::Receiver<super::stage::Batch>,
        commit_every: usize,
    ) -> Result<Totals, IngestError> {
        let mut totals = Totals::default();
        let mut products = self
            .catalog
            .appender(&self.catalog.layout().products, commit_every);
        for (accepted, rejected) in batches {
            self.write(&mut products, accepted, rejected, &mut totals)?;
        }
        let mut t = std::time::Instant::now();
        products.commit()?;
        super::run::lap(&mut totals.seconds, "write", &mut t);
        Ok(totals)
    }

    /// Writes one batch: accepted records into the product graph through `products` (new
    /// records wait there for its next commit; records seen before are replaced at once), rejected
    /// ones into the quarantine in one transaction.
    pub(super) fn write(
        &self,
        products: &mut Appender<'_>,
        mut accepted: Vec<Built>,
        mut rejected: Vec<Rejected>,
        report: &mut Totals,
    ) -> Result<(), IngestError> {
        let layout = self.catalog.layout();
        let mut t = std::time::Instant::now();
        if !accepted.is_empty() {
            // A record accepted now may have been quarantined by an earlier run (a fixed
            // mapping, products ingested since): its quarantine entry goes.
            let cleared: Vec<String> = accepted
                .iter()
                .map(|b| {
                    self.minter
                        .quarantined(self.namespace, self.mapping.entity, &b.record_key)
                })
                .collect();
            self.catalog
                .replace_subjects(&layout.quarantine, &cleared, &[])?;
            report.accepted += accepted.len() as u64;
            let mut subjects: Vec<String> = Vec::new();
            let mut statements: Vec<Statement> = Vec::new();
            // An id that comes back within the batch: the later record replaces the earlier,
            // as it does across batches (the earlier one still counts as accepted).
            let mut seen = std::collections::HashSet::new();
            let later: Vec<bool> = accepted
                .iter()
                .rev()
                .map(|b| !seen.insert(b.subject.clone()))
                .collect();
            for (b, superseded) in accepted.drain(..).zip(later.into_iter().rev()) {
                if superseded {
                    continue;
                }
                // Every node a record owns is written with its subject, in the same batch: when
                // the graph has never held the subject (the appender knows what it still holds
                // uncommitted), there is nothing of the record to replace and its other nodes
                // need no lookups.
                if products.has_subject(&b.subject)? {
                    subjects.extend(b.owned);
                }
                statements.extend(b.statements);
            }
            report.triples_written += products.replace_subjects(&subjects, &statements)? as u64;
        }
        if !rejected.is_empty() {
            let mut subjects = Vec::new();
            let mut statements = Vec::new();
            for (line, cells, reasons) in rejected.iter() {
                let key = record_key(
                    self.minter,
                    self.mapping.entity,
                    self.id_field,
                    cells.as_deref(),
                    *line,
                );
                let q = self
                    .minter
                    .quarantined(self.namespace, self.mapping.entity, &key);
                let mut add = |p: String, o: Object| statements.push(Statement::new(&q, p, o));
                add(
                    format!("{RDF}type"),
                    Object::iri(format!("{ST}QuarantinedRecord")),
                );
                add(format!("{ST}sourceAsset"), Object::string(self.asset));
                add(format!("{ST}sourceLine"), Object::integer(*line));
                add(
                    format!("{ST}entityType"),
                    Object::string(self.mapping.entity.as_str()),
                );
                add(format!("{PROV}wasGeneratedBy"), Object::iri(self.run));
                for r in reasons {
                    // A reason may quote a value: phones, e-mails and ids in it are masked.
                    let r = crate::privacy::pii::scrub_text(r).into_owned();
                    add(format!("{ST}reason"), Object::string(&r));
                    if report.reasons.len() < 50 || report.reasons.contains_key(&r) {
                        *report.reasons.entry(r).or_default() += 1;
                    }
                }
                if let (Some(cells), Some(vault)) = (cells, self.vault) {
                    let raw = quarantine_copy(self.minter, self.mapping, self.columns, cells);
                    let p = format!("{ST}rawRecord");
                    let json = zeroize::Zeroizing::new(serde_json::Value::Object(raw).to_string());
                    let context = crate::vault::field_context(&q, &p);
                    add(p, Object::sealed(vault.seal_str(&json, &context)));
                }
                subjects.push(q);
            }
            self.catalog
                .replace_subjects(&layout.quarantine, &subjects, &statements)?;
            report.quarantined += rejected.len() as u64;
            rejected.clear();
        }
        lap(&mut report.seconds, "write", &mut t);
        Ok(())
    }
}
