//! The distribution-shift statistics the monitor judges drift by: population stability index
//! (PSI) over quantile bins, histogram bins and category shares, and the Kolmogorov–Smirnov
//! distance between two profiles' quantile CDFs. Rescans compare column profiles with them
//! (`diff`), the model watch a labelling run's confidences and label shares (`models`); one
//! definition keeps the thresholds in `[monitor]` meaning the same thing everywhere.

use std::collections::BTreeMap;

/// The quantile levels profiles record.
const LEVELS: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

/// A CDF interpolated linearly between known quantiles (and the minimum and maximum when
/// known; otherwise the outer 5% tails are extended by the width of the next bin).
#[derive(Debug, Clone)]
pub struct Cdf {
    points: Vec<(f64, f64)>,
}

impl Cdf {
    pub fn new(q: [f64; 5], range: Option<(f64, f64)>) -> Cdf {
        let (lo, hi) = match range {
            Some((lo, hi)) if lo <= q[0] && hi >= q[4] => (lo, hi),
            _ => (q[0] - (q[1] - q[0]) / 4.0, q[4] + (q[4] - q[3]) / 4.0),
        };
        let mut points = vec![(lo, 0.0)];
        points.extend(q.iter().copied().zip(LEVELS));
        points.push((hi, 1.0));
        Cdf { points }
    }

    /// P(X ≤ x).
    pub fn at(&self, x: f64) -> f64 {
        let p = &self.points;
        if x < p[0].0 {
            return 0.0;
        }
        if x >= p[p.len() - 1].0 {
            return 1.0;
        }
        // The last point at or below x; ties (repeated quantiles: a point mass) take the top.
        let i = p.iter().rposition(|(v, _)| *v <= x).unwrap_or(0);
        let (x0, y0) = p[i];
        let (x1, y1) = p[i + 1];
        if x1 <= x0 {
            return y1;
        }
        y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    }
}

/// Population stability index of `new` over the bins the previous quantiles cut (expected
/// shares 5/20/25/25/20/5%). 0.1–0.2 is a moderate shift, above 0.2 a significant one.
pub fn psi_numeric(old: &Cdf, new: &Cdf) -> f64 {
    let edges: Vec<f64> = old.points[1..6].iter().map(|p| p.0).collect();
    let mut prev_old = 0.0;
    let mut prev_new = 0.0;
    let mut psi = 0.0;
    for i in 0..=edges.len() {
        let (o, n) = if i < edges.len() {
            (old.at(edges[i]), new.at(edges[i]))
        } else {
            (1.0, 1.0)
        };
        psi += psi_term(o - prev_old, n - prev_new);
        prev_old = o;
        prev_new = n;
    }
    psi
}

/// One bin's term; empty bins count as 0.01% so that a bin appearing or vanishing is finite.
fn psi_term(expected: f64, actual: f64) -> f64 {
    let e = expected.max(1e-4);
    let a = actual.max(1e-4);
    (a - e) * (a / e).ln()
}

/// Kolmogorov–Smirnov distance between two piecewise-linear CDFs: the largest gap, which for
/// piecewise-linear functions lies at one of their knots.
pub fn ks(a: &Cdf, b: &Cdf) -> f64 {
    a.points
        .iter()
        .chain(&b.points)
        .map(|(x, _)| (a.at(*x) - b.at(*x)).abs())
        .fold(0.0, f64::max)
}

/// PSI of the shares among the top values; `None` when they say nothing about a distribution
/// (fewer than two, or all seen once: identifiers, free text).
pub fn psi_categories(old: &[(String, u64)], new: &[(String, u64)]) -> Option<f64> {
    let total = |t: &[(String, u64)]| t.iter().map(|(_, n)| *n).sum::<u64>();
    let (to, tn) = (total(old), total(new));
    if old.len() < 2 || new.len() < 2 || to == 0 || tn == 0 {
        return None;
    }
    let flat = |t: &[(String, u64)]| t.iter().all(|(_, n)| *n <= 1);
    if flat(old) || flat(new) {
        return None;
    }
    let share = |t: &[(String, u64)], tot: u64, v: &str| {
        t.iter()
            .find(|(x, _)| x == v)
            .map(|(_, n)| *n as f64 / tot as f64)
            .unwrap_or(0.0)
    };
    let mut values: Vec<&str> = old.iter().chain(new).map(|(v, _)| v.as_str()).collect();
    values.sort_unstable();
    values.dedup();
    Some(
        values
            .iter()
            .map(|v| psi_term(share(old, to, v), share(new, tn, v)))
            .sum(),
    )
}

/// PSI of two count vectors over the same bins.
pub fn psi_counts(reference: &[u64], new: &[u64]) -> f64 {
    let (rt, nt) = (
        reference.iter().sum::<u64>().max(1) as f64,
        new.iter().sum::<u64>().max(1) as f64,
    );
    reference
        .iter()
        .zip(new)
        .map(|(r, n)| psi_term(*r as f64 / rt, *n as f64 / nt))
        .sum()
}

/// PSI of two label-share maps over the union of their kinds.
pub fn psi_shares(reference: &BTreeMap<String, u64>, new: &BTreeMap<String, u64>) -> f64 {
    let keys: std::collections::BTreeSet<&String> = reference.keys().chain(new.keys()).collect();
    let r: Vec<u64> = keys
        .iter()
        .map(|k| reference.get(*k).copied().unwrap_or(0))
        .collect();
    let n: Vec<u64> = keys
        .iter()
        .map(|k| new.get(*k).copied().unwrap_or(0))
        .collect();
    psi_counts(&r, &n)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The five profile quantiles of a normal distribution (also used by `diff`'s tests).
    pub(crate) fn normal_quantiles(mean: f64, sd: f64) -> [f64; 5] {
        let z = [-1.645, -0.674, 0.0, 0.674, 1.645];
        z.map(|z| mean + sd * z)
    }

    #[test]
    fn identical_distributions_do_not_drift_and_shifted_ones_do() {
        let a = Cdf::new(normal_quantiles(100.0, 10.0), None);
        assert!(psi_numeric(&a, &a) < 1e-9);
        assert!(ks(&a, &a) < 1e-9);
        // A small shift (0.05 sd) is noise; a 1-sd shift is drift.
        let small = Cdf::new(normal_quantiles(100.5, 10.0), None);
        assert!(
            psi_numeric(&a, &small) < 0.05,
            "{}",
            psi_numeric(&a, &small)
        );
        let big = Cdf::new(normal_quantiles(110.0, 10.0), None);
        assert!(psi_numeric(&a, &big) > 0.2, "{}", psi_numeric(&a, &big));
        let k = ks(&a, &big);
        // True KS for a 1-sd shift of a normal is 2Φ(0.5)−1 ≈ 0.383.
        assert!((k - 0.383).abs() < 0.05, "{k}");
        // Prices ×1.5 (a scale change).
        let scaled = Cdf::new(normal_quantiles(100.0, 10.0).map(|x| x * 1.5), None);
        assert!(psi_numeric(&a, &scaled) > 1.0);
    }

    #[test]
    fn cdf_is_monotone_and_handles_point_masses() {
        let c = Cdf::new([1.0, 1.0, 1.0, 2.0, 3.0], Some((1.0, 5.0)));
        let mut last = 0.0;
        for i in 0..60 {
            let v = c.at(i as f64 / 10.0);
            assert!(v >= last && (0.0..=1.0).contains(&v));
            last = v;
        }
        assert_eq!(c.at(1.0), 0.5);
        assert_eq!(c.at(5.0), 1.0);
    }

    #[test]
    fn category_shares() {
        let t = |v: &[(&str, u64)]| {
            v.iter()
                .map(|(a, n)| (a.to_string(), *n))
                .collect::<Vec<_>>()
        };
        let old = t(&[("a", 500), ("b", 300), ("c", 200)]);
        assert!(psi_categories(&old, &old).unwrap() < 1e-9);
        let same = t(&[("a", 505), ("b", 296), ("c", 199)]);
        assert!(psi_categories(&old, &same).unwrap() < 0.01);
        let shifted = t(&[("a", 100), ("b", 300), ("c", 600)]);
        assert!(psi_categories(&old, &shifted).unwrap() > 0.2);
        let ids = t(&[("x1", 1), ("x2", 1)]);
        assert_eq!(psi_categories(&ids, &ids), None);
    }
}
