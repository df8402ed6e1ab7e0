//! The DP query path's view of the product graph: interactions and reviews as columns of dense
//! integers (person, category, kind, day, rating, price), built once per store generation.
//!
//! Reading a million interactions through SPARQL takes seconds (every IRI is decoded); a DP
//! answer over the columns takes milliseconds. The snapshot is rebuilt by the first query after
//! the store changed, so an answer never mixes two states of the graph. People are dense ids
//! of their pseudonymous IRIs; nothing personal beyond what the graph already holds.

use std::collections::HashMap;
use std::time::Instant;

use chrono::DateTime;

use crate::catalog::{Catalog, CatalogError, NamedQuery, Visibility};

/// No value (a missing time, rating, price or category).
pub(super) const NONE_DAY: i32 = i32::MIN;
pub(super) const NONE_VALUE: i64 = i64::MIN;
pub(super) const NONE_CATEGORY: u32 = u32::MAX;

/// The interaction kinds, in the order of their indices.
pub(super) const KINDS: [&str; 3] = ["viewed", "purchased", "rated"];

/// Rows of one dataset, column by column.
#[derive(Debug, Default)]
pub(super) struct Table {
    pub person: Vec<u32>,
    pub category: Vec<u32>,
    /// Index into [`KINDS`] (reviews: 0).
    pub kind: Vec<u8>,
    /// Days since 1970-01-01 (UTC).
    pub day: Vec<i32>,
    /// Rating × 100.
    pub rating: Vec<i64>,
    /// The product's price × 100 (cents, fen).
    pub price: Vec<i64>,
    pub people: usize,
}

impl Table {
    pub fn len(&self) -> usize {
        self.person.len()
    }
}

/// Both datasets and the category domain, as of one store generation.
#[derive(Debug)]
pub(super) struct Snapshot {
    /// The store generation read before the snapshot was.
    pub generation: u64,
    pub interactions: Table,
    pub reviews: Table,
    /// Category IRI and label, by index.
    pub categories: Vec<(String, String)>,
    pub built_ms: u64,
    /// When the reading started (RFC 3339).
    pub read_at: String,
}

struct Product {
    category: u32,
    price: i64,
}

fn q(name: &str, text: &str) -> Result<NamedQuery, CatalogError> {
    NamedQuery::parse(name, text)
}

/// Reads the snapshot from `catalog`'s product graph. Blocking (seconds for millions of rows).
pub(super) fn build(catalog: &Catalog) -> Result<Snapshot, CatalogError> {
    let started = Instant::now();
    let read_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let generation = catalog.generation();
    let graph = catalog.layout().products.as_str().to_owned();
    let ontology = catalog.layout().ontology.as_str().to_owned();
    let args = [("graph", graph.as_str())];
    let product_args = [("graph", graph.as_str()), ("ontology", ontology.as_str())];
    // Categories in IRI order (a stable domain: the same groups in the same order each time).
    let mut labels: std::collections::BTreeMap<String, String> = Default::default();
    let mut raw: Vec<(String, Option<String>, i64)> = Vec::new();
    catalog.query_each(
        &q("dp-products", include_str!("../queries/dp-products.rq"))?,
        &product_args,
        &Visibility::ADMIN,
        |row| {
            let [Some(p), cat, label, price] = row else {
                return;
            };
            if let Some(c) = cat {
                labels
                    .entry((*c).to_owned())
                    .or_insert_with(|| label.unwrap_or(c).to_owned());
            }
            raw.push((
                (*p).to_owned(),
                cat.map(str::to_owned),
                price.and_then(cents).unwrap_or(NONE_VALUE),
            ));
        },
    )?;
    let category_index: HashMap<&str, u32> = labels
        .keys()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i as u32))
        .collect();
    let mut products: HashMap<String, Product> = HashMap::with_capacity(raw.len());
    for (p, cat, price) in raw {
        let category = cat
            .as_deref()
            .and_then(|c| category_index.get(c).copied())
            .unwrap_or(NONE_CATEGORY);
        products.entry(p).or_insert(Product { category, price });
    }
    let categories: Vec<(String, String)> = labels.into_iter().collect();
    let mut interactions = Table::default();
    let mut people: HashMap<String, u32> = HashMap::new();
    catalog.query_each(
        &q(
            "dp-interactions",
            include_str!("../queries/dp-interactions.rq"),
        )?,
        &args,
        &Visibility::ADMIN,
        |row| {
            let [Some(u), Some(p), Some(k), time, rating] = row else {
                return;
            };
            let kind = KINDS
                .iter()
                .position(|name| k.ends_with(&format!("#{name}")))
                .unwrap_or(0) as u8;
            push(
                &mut interactions,
                &mut people,
                &products,
                u,
                p,
                kind,
                *time,
                *rating,
            );
        },
    )?;
    interactions.people = people.len();
    let mut reviews = Table::default();
    let mut authors: HashMap<String, u32> = HashMap::new();
    catalog.query_each(
        &q("dp-reviews", include_str!("../queries/dp-reviews.rq"))?,
        &args,
        &Visibility::ADMIN,
        |row| {
            let [Some(u), Some(p), time, rating] = row else {
                return;
            };
            push(
                &mut reviews,
                &mut authors,
                &products,
                u,
                p,
                0,
                *time,
                *rating,
            );
        },
    )?;
    reviews.people = authors.len();
    Ok(Snapshot {
        generation,
        interactions,
        reviews,
        categories,
        built_ms: started.elapsed().as_millis() as u64,
        read_at,
    })
}

#[allow(clippy::too_many_arguments)]
fn push(
    t: &mut Table,
    people: &mut HashMap<String, u32>,
    products: &HashMap<String, Product>,
    user: &str,
    product: &str,
    kind: u8,
    time: Option<&str>,
    rating: Option<&str>,
) {
    let next = people.len() as u32;
    let person = *people.entry(user.to_owned()).or_insert(next);
    let (category, price) = products
        .get(product)
        .map(|p| (p.category, p.price))
        .unwrap_or((NONE_CATEGORY, NONE_VALUE));
    t.person.push(person);
    t.category.push(category);
    t.kind.push(kind);
    t.day.push(time.and_then(day_of).unwrap_or(NONE_DAY));
    t.rating.push(rating.and_then(cents).unwrap_or(NONE_VALUE));
    t.price.push(price);
}

/// Days since the epoch of an `xsd:dateTime` (or a date).
pub(super) fn day_of(s: &str) -> Option<i32> {
    let date = match DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.naive_utc().date(),
        Err(_) => crate::privacy::anon::parse_day(s)?,
    };
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((date - epoch).num_days()).ok()
}

/// A decimal × 100, rounded half away from zero.
fn cents(s: &str) -> Option<i64> {
    let v: f64 = s.trim().parse().ok()?;
    (v.is_finite() && v.abs() < 1e15).then(|| (v * 100.0).round() as i64)
}
