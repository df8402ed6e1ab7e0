//! After a product run: duplicates and price anomalies across the namespace's products.
//!
//! These checks need every product of the namespace at once, so they run after the batches,
//! over what the graph now holds. Nothing is deleted or quarantined here — a duplicate or an
//! outlier is a valid record that deserves a look — so findings are links and flags:
//!
//! - `p st:duplicateOf q`: the same title after normalisation (NFKC, case, spaces and
//!   punctuation removed); `q` is the first of the group by IRI.
//! - `p st:nearDuplicateOf q`: titles whose character 3-shingles have a MinHash Jaccard
//!   estimate ≥ the threshold (gaoya's LSH index finds the candidates).
//! - `p st:priceAnomaly "…"`: a price more than 3.5 robust z-scores (0.6745·|x − median| / MAD,
//!   Iglewicz–Hoaglin) from its category's median, for categories with at least 5 prices;
//!   `p st:weightAnomaly "…"` the same for weights.
//!
//! Each run first removes the namespace's earlier findings, so they always describe the graph
//! as it is now.

use std::collections::BTreeMap;

use gaoya::minhash::{MinHashIndex, MinHasher, MinHasher32};
use serde::Serialize;

use super::clean;
use crate::catalog::vocab::ST;
use crate::catalog::{Catalog, CatalogError, NamedQuery, Object, Statement};

/// Robust z-score beyond which a price is an outlier (Iglewicz and Hoaglin's 3.5).
const ROBUST_Z: f64 = 3.5;
/// Fewest prices in a category for its median to mean something.
const MIN_CATEGORY: usize = 5;
/// MinHash: 16 bands of 8 rows (S-curve midpoint near Jaccard 0.7).
const BANDS: usize = 16;
const ROWS: usize = 8;

/// What the analysis found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Findings {
    pub products: usize,
    pub exact_duplicates: usize,
    pub near_duplicates: usize,
    pub price_anomalies: usize,
    pub weight_anomalies: usize,
}

fn normalise(title: &str) -> String {
    clean::text(title)
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

fn shingles(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() < 3 {
        return vec![s.to_string()];
    }
    chars.windows(3).map(|w| w.iter().collect()).collect()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Outliers among one category's prices (or weights): (index, robust z, median) of each.
pub fn price_outliers(prices: &[f64]) -> Vec<(usize, f64, f64)> {
    if prices.len() < MIN_CATEGORY {
        return Vec::new();
    }
    let med = median(&mut prices.to_vec());
    let mut dev: Vec<f64> = prices.iter().map(|x| (x - med).abs()).collect();
    let mad = median(&mut dev);
    if mad <= 0.0 {
        return Vec::new();
    }
    prices
        .iter()
        .enumerate()
        .filter_map(|(i, &x)| {
            let z = 0.6745 * (x - med) / mad;
            (z.abs() > ROBUST_Z).then_some((i, z, med))
        })
        .collect()
}

/// A row of `queries/product-facts.rq`.
#[derive(serde::Deserialize)]
struct ProductFacts {
    p: String,
    name: Option<String>,
    price: Option<f64>,
    weight: Option<f64>,
    cat: Option<String>,
}

/// Products by normalised title, each group's IRIs in order (the first is the one the others
/// duplicate).
fn title_groups(rows: &[ProductFacts]) -> BTreeMap<String, Vec<&str>> {
    let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for r in rows {
        if let Some(name) = &r.name {
            groups
                .entry(normalise(name))
                .or_default()
                .push(r.p.as_str());
        }
    }
    groups
}

/// `st:duplicateOf` from every later member of a title group to its first; how many.
fn exact_duplicates(groups: &BTreeMap<String, Vec<&str>>, out: &mut Vec<Statement>) -> usize {
    let mut n = 0;
    for members in groups.values() {
        for m in &members[1..] {
            out.push(Statement::new(
                *m,
                format!("{ST}duplicateOf"),
                Object::iri(members[0]),
            ));
            n += 1;
        }
    }
    n
}

/// `st:nearDuplicateOf` between groups whose titles' MinHash Jaccard reaches `threshold`,
/// from the later group's first IRI to the earlier's; how many.
fn near_duplicates(
    groups: &BTreeMap<String, Vec<&str>>,
    near_threshold: f64,
    statements: &mut Vec<Statement>,
) -> usize {
    let mut n = 0;
    let hasher = MinHasher32::new(BANDS * ROWS);
    let firsts: Vec<(&str, &str)> = groups
        .iter()
        .map(|(norm, members)| (members[0], norm.as_str()))
        .collect();
    let mut index: MinHashIndex<u32, usize> = MinHashIndex::new(BANDS, ROWS, near_threshold);
    let sigs: Vec<Vec<u32>> = firsts
        .iter()
        .map(|(_, norm)| hasher.create_signature(shingles(norm).iter()))
        .collect();
    for (i, s) in sigs.iter().enumerate() {
        index.insert(i, s.clone());
    }
    for (i, s) in sigs.iter().enumerate() {
        for (j, _sim) in index.query_owned_return_similarity(s) {
            // Each pair once, pointing from the later IRI to the earlier.
            if j < i {
                statements.push(Statement::new(
                    firsts[i].0,
                    format!("{ST}nearDuplicateOf"),
                    Object::iri(firsts[j].0),
                ));
                n += 1;
            }
        }
    }
    n
}

/// `st:priceAnomaly` or `st:weightAnomaly` (by `field`) on values more than the robust z-score
/// bound from their category's median, with the reason; how many.
fn outliers(rows: &[ProductFacts], field: &str, statements: &mut Vec<Statement>) -> usize {
    let (predicate, unit) = if field == "price" {
        ("priceAnomaly", "")
    } else {
        ("weightAnomaly", " g")
    };
    let mut n = 0;
    let mut by_cat: BTreeMap<&str, Vec<(&str, f64)>> = BTreeMap::new();
    for r in rows {
        let x = if field == "price" { r.price } else { r.weight };
        if let (Some(c), Some(x)) = (&r.cat, x) {
            by_cat
                .entry(c.as_str())
                .or_default()
                .push((r.p.as_str(), x));
        }
    }
    for (cat, items) in &by_cat {
        let values: Vec<f64> = items.iter().map(|x| x.1).collect();
        // Weights span orders of magnitude within a category (a phone case and a phone):
        // they are compared on a log scale, where their spread is roughly symmetric.
        let scaled: Vec<f64> = if field == "weight" {
            values
                .iter()
                .map(|x| x.max(f64::MIN_POSITIVE).ln())
                .collect()
        } else {
            values.clone()
        };
        for (i, z, med) in price_outliers(&scaled) {
            let med = if field == "weight" {
                (med.exp() * 10.0).round() / 10.0
            } else {
                med
            };
            let cat_name = cat.rsplit('/').next().unwrap_or(cat);
            statements.push(Statement::new(
                items[i].0,
                format!("{ST}{predicate}"),
                Object::string(format!(
                    "{field} {}{unit} is {z:+.1} robust z-scores from the median {med}{unit} of category {cat_name} ({} products with a {field})",
                    values[i],
                    values.len()
                )),
            ));
            n += 1;
        }
    }
    n
}

/// Analyses the products under `{base}id/product/{namespace}/` and rewrites their findings.
pub fn analyse(
    catalog: &Catalog,
    product_prefix: &str,
    near_threshold: f64,
) -> Result<Findings, CatalogError> {
    let query = NamedQuery::parse("product-facts", include_str!("queries/product-facts.rq"))?;
    let mut rows: Vec<ProductFacts> = catalog.query_rows(
        &query,
        &[
            ("graph", catalog.layout().products.as_str()),
            ("prefix", product_prefix),
        ],
        &crate::catalog::Visibility::ADMIN,
    )?;
    // By IRI (duplicates point at the first of their group), sorted here: SPARQL's ORDER BY
    // looks both IRIs' text up in the store at every comparison (1.1 of 1.9 s at 30,000).
    rows.sort_by(|a, b| a.p.cmp(&b.p));
    let mut f = Findings {
        products: rows.len(),
        ..Findings::default()
    };
    let mut statements = Vec::new();
    let groups = title_groups(&rows);
    f.exact_duplicates = exact_duplicates(&groups, &mut statements);
    f.near_duplicates = near_duplicates(&groups, near_threshold, &mut statements);
    f.price_anomalies = outliers(&rows, "price", &mut statements);
    f.weight_anomalies = outliers(&rows, "weight", &mut statements);
    let st = |l: &str| format!("{ST}{l}");
    let predicates = [
        st("duplicateOf"),
        st("nearDuplicateOf"),
        st("priceAnomaly"),
        st("weightAnomaly"),
    ];
    catalog.replace_properties_under(
        &catalog.layout().products,
        product_prefix,
        &predicates,
        &statements,
    )?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outliers_by_median_and_mad() {
        let prices = [100.0, 110.0, 95.0, 105.0, 102.0, 98.0, 5000.0];
        let out = price_outliers(&prices);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, 6);
        assert!(out[0].1 > 3.5);
        // Too few prices, or no spread: no verdict.
        assert!(price_outliers(&[1.0, 1000.0]).is_empty());
        assert!(price_outliers(&[5.0; 10]).is_empty());
    }

    #[test]
    fn titles_normalise_before_comparison() {
        assert_eq!(
            normalise("Ａｐｐｌｅ iPhone 15, Pro!"),
            normalise("apple IPHONE15 pro")
        );
        assert_eq!(shingles("ab"), ["ab"]);
        assert_eq!(shingles("abcd"), ["abc", "bcd"]);
    }
}
