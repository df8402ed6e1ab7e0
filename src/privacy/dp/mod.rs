//! Differential privacy on published aggregates (差分隐私): counts, sums, means, histograms and
//! top-k over people's records, grouped by a declared domain, with pure ε-DP.
//!
//! The unit of privacy is a *person*, not a row: each person's rows are cut to at most
//! `max_per_person` before aggregating (contribution bounding), so adding or removing one
//! person moves the whole histogram by at most `max_per_person` (counts) or
//! `max_per_person · max(|lower|, |upper|)` (sums, values clamped to `[lower, upper]`) in L1.
//! Noise is discrete Laplace with scale sensitivity/ε, sampled exactly ([`sample`]); a mean
//! spends half of ε on its sum and half on its count. Groups come from a *declared* domain
//! (categories of the public catalog, the days of a range), never from the data: publishing
//! only the groups that occur would reveal a person who alone makes one occur. Top-k is the
//! noisy histogram's k largest (post-processing costs no privacy). Pure: the caller loads
//! rows and keeps the budget ledger.

pub mod sample;

use rand::{CryptoRng, Rng};
use serde::Serialize;

pub use sample::{discrete_laplace, discrete_laplace_sd, Ratio};

/// `[privacy]` options: the privacy budgets and the default contribution bound.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DpConfig {
    /// Total ε all tokens together may spend on one dataset (decimal, e.g. "10").
    pub dataset_epsilon: String,
    /// Total ε one token may spend on one dataset.
    pub token_epsilon: String,
    /// Rows kept per person when a query does not say (`max_per_person`).
    pub max_per_person: u32,
    /// Smallest k of an anonymised export by a non-admin (who may not keep direct identifiers
    /// nor remove quasi-identifiers either).
    pub export_min_k: usize,
    /// How long a DP query waits for the product graph to be read again after a change before
    /// it answers from the previous reading (saying so).
    pub dp_snapshot_wait_ms: u64,
}

impl Default for DpConfig {
    fn default() -> Self {
        Self {
            dataset_epsilon: "10".into(),
            token_epsilon: "3".into(),
            max_per_person: 10,
            export_min_k: 5,
            dp_snapshot_wait_ms: 500,
        }
    }
}

impl DpConfig {
    /// The budgets in exact rationals; errors name the option.
    pub fn budgets(&self) -> Result<(Ratio, Ratio), DpError> {
        let parse = |name: &str, v: &str| {
            Ratio::parse_decimal(v)
                .filter(|r| r.num > 0)
                .ok_or_else(|| {
                    DpError::Invalid(format!(
                        "[privacy] {name} = {v:?} is not a positive decimal (at most 6 decimals)"
                    ))
                })
        };
        Ok((
            parse("dataset_epsilon", &self.dataset_epsilon)?,
            parse("token_epsilon", &self.token_epsilon)?,
        ))
    }

    pub fn validate(&self) -> Result<(), DpError> {
        self.budgets()?;
        if self.export_min_k == 0 {
            return Err(DpError::Invalid(
                "[privacy] export_min_k must be at least 1".into(),
            ));
        }
        if self.max_per_person == 0 {
            return Err(DpError::Invalid(
                "[privacy] max_per_person must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Why a DP query cannot run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DpError {
    /// ε is not a positive decimal in the accepted range.
    #[error("epsilon must be a decimal between 0.001 and 10 with at most 6 decimals (got {0:?})")]
    Epsilon(String),
    /// The query's bounds are unusable.
    #[error("{0}")]
    Invalid(String),
}

/// Where noise comes from: [`Secure`] in every release; tests substitute a broken source to
/// show that the privacy test catches it.
pub trait Noise {
    /// One draw of discrete Laplace noise of `scale`.
    fn draw(&mut self, scale: Ratio) -> i64;
}

/// Discrete Laplace noise from a cryptographic generator.
pub struct Secure<R>(pub R);

impl<R: Rng + CryptoRng> Noise for Secure<R> {
    fn draw(&mut self, scale: Ratio) -> i64 {
        discrete_laplace(&mut self.0, scale)
    }
}

/// Secure noise from the operating system's generator (reseeded ChaCha per thread).
pub fn secure() -> Secure<rand::rngs::ThreadRng> {
    Secure(rand::thread_rng())
}

/// The aggregate asked for, per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Aggregate {
    /// Rows per group.
    Count,
    /// Sum of values clamped to `[lower, upper]` (integers: pass cents for money).
    Sum { lower: i64, upper: i64 },
    /// Mean of values clamped to `[lower, upper]`.
    Mean { lower: i64, upper: i64 },
}

/// One row: whose it is, its group (an index into the declared domain) and its value (sums
/// and means; ignored by counts).
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub person: u32,
    pub group: u32,
    pub value: i64,
}

/// A query over rows already mapped to dense person ids and group indices.
#[derive(Debug, Clone, Copy)]
pub struct Query {
    pub aggregate: Aggregate,
    /// Size of the declared group domain (rows with a group outside it are ignored).
    pub groups: usize,
    /// Rows kept per person (the first ones in input order).
    pub max_per_person: u32,
    pub epsilon: Ratio,
}

/// One released group.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Released {
    pub value: f64,
    /// Standard deviation of the noise added (the value's error bar).
    pub noise_sd: f64,
}

/// A released histogram and what it cost.
#[derive(Debug, Clone, Serialize)]
pub struct Release {
    pub groups: Vec<Released>,
    /// L1 sensitivity of the sum (or count) per person.
    pub sensitivity: u64,
    pub epsilon: f64,
    /// Rows dropped by contribution bounding (a person's rows past `max_per_person`).
    pub rows_bounded: u64,
}

/// Parses ε from its decimal spelling (an exact rational; 0.001 ≤ ε ≤ 10).
pub fn epsilon(s: &str) -> Result<Ratio, DpError> {
    let r = Ratio::parse_decimal(s).ok_or_else(|| DpError::Epsilon(s.to_string()))?;
    let (lo, hi) = (Ratio::new(1, 1000), Ratio::new(10, 1));
    let ge = |a: Ratio, b: Ratio| {
        u128::from(a.num) * u128::from(b.den) >= u128::from(b.num) * u128::from(a.den)
    };
    if r.num == 0 || !ge(r, lo) || !ge(hi, r) {
        return Err(DpError::Epsilon(s.to_string()));
    }
    Ok(r)
}

/// Releases `query` over `rows` with noise from `noise`.
pub fn release(rows: &[Row], query: &Query, noise: &mut impl Noise) -> Result<Release, DpError> {
    if query.max_per_person == 0 {
        return Err(DpError::Invalid("max_per_person must be at least 1".into()));
    }
    let m = u64::from(query.max_per_person);
    let persons = rows
        .iter()
        .map(|r| r.person as usize + 1)
        .max()
        .unwrap_or(0);
    let mut taken = vec![0u32; persons];
    let mut counts = vec![0i64; query.groups];
    let mut sums = vec![0i64; query.groups];
    let (lower, upper) = match query.aggregate {
        Aggregate::Count => (0, 0),
        Aggregate::Sum { lower, upper } | Aggregate::Mean { lower, upper } => (lower, upper),
    };
    if lower > upper {
        return Err(DpError::Invalid(format!(
            "lower bound {lower} is above upper bound {upper}"
        )));
    }
    let mut bounded = 0u64;
    for r in rows {
        let g = r.group as usize;
        if g >= query.groups {
            continue;
        }
        let t = &mut taken[r.person as usize];
        if *t >= query.max_per_person {
            bounded += 1;
            continue;
        }
        *t += 1;
        counts[g] += 1;
        sums[g] = sums[g].saturating_add(r.value.clamp(lower, upper));
    }
    let magnitude = lower.unsigned_abs().max(upper.unsigned_abs()).max(1);
    let eps = query.epsilon;
    let too_large = || {
        DpError::Invalid(
            "the noise scale (max_per_person × the larger bound ÷ ε) is too large to represent: \
             narrow the bounds or max_per_person"
                .into(),
        )
    };
    let sum_sensitivity = m.checked_mul(magnitude).ok_or_else(too_large)?;
    // scale = sensitivity / ε = sensitivity · den / num, exactly (never wrapped: a wrapped
    // scale would be a tiny one, and an almost exact answer).
    let scale = |sensitivity: u64, share: u64| -> Result<Ratio, DpError> {
        let t = u128::from(sensitivity) * u128::from(eps.den) * u128::from(share);
        u64::try_from(t)
            .map(|t| Ratio::new(t, eps.num))
            .map_err(|_| too_large())
    };
    let sd = |r: Ratio| discrete_laplace_sd(r.as_f64());
    let groups: Vec<Released> = match query.aggregate {
        Aggregate::Count => {
            let s = scale(m, 1)?;
            counts
                .iter()
                .map(|&c| Released {
                    value: (c + noise.draw(s)).max(0) as f64,
                    noise_sd: sd(s),
                })
                .collect()
        }
        Aggregate::Sum { .. } => {
            let s = scale(sum_sensitivity, 1)?;
            sums.iter()
                .map(|&v| Released {
                    value: v.saturating_add(noise.draw(s)) as f64,
                    noise_sd: sd(s),
                })
                .collect()
        }
        Aggregate::Mean { .. } => {
            // Half of ε on the sum, half on the count (sequential composition).
            let (sc, ss) = (scale(m, 2)?, scale(sum_sensitivity, 2)?);
            counts
                .iter()
                .zip(&sums)
                .map(|(&c, &v)| {
                    let n = (c + noise.draw(sc)).max(1) as f64;
                    let total = v.saturating_add(noise.draw(ss)) as f64;
                    Released {
                        value: (total / n).clamp(lower as f64, upper as f64),
                        // First-order error of the ratio at the true count.
                        noise_sd: (sd(ss).powi(2) + (total / n).powi(2) * sd(sc).powi(2)).sqrt()
                            / n,
                    }
                })
                .collect()
        }
    };
    Ok(Release {
        groups,
        sensitivity: match query.aggregate {
            Aggregate::Count => m,
            _ => sum_sensitivity,
        },
        epsilon: eps.as_f64(),
        rows_bounded: bounded,
    })
}

/// The `k` groups with the largest released values, best first (ties by index).
pub fn top_k(release: &Release, k: usize) -> Vec<(usize, Released)> {
    let mut order: Vec<(usize, Released)> = release.groups.iter().copied().enumerate().collect();
    order.sort_by(|a, b| b.1.value.total_cmp(&a.1.value).then(a.0.cmp(&b.0)));
    order.truncate(k);
    order
}

#[cfg(test)]
mod tests;
