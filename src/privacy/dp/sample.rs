//! Exact sampling of the discrete Laplace distribution (Canonne, Kamath & Steinke, "The
//! Discrete Gaussian for Differential Privacy", NeurIPS 2020, Algorithms 1 and 2).
//!
//! Floating-point Laplace noise leaks: the set of doubles `x + Lap(b)` can reach depends on `x`
//! (Mironov, CCS 2012), so a released value can tell neighbouring datasets apart with
//! certainty. Here every step is integer arithmetic on rationals and unbiased uniform integers
//! from a cryptographic generator: the output distribution is exactly
//! `P(Y = y) ∝ exp(−|y|·s/t)`, with no rounding anywhere. The expected number of random draws
//! per sample is a small constant.

use rand::{CryptoRng, Rng};

/// A positive rational `num / den`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    pub num: u64,
    pub den: u64,
}

impl Ratio {
    pub fn new(num: u64, den: u64) -> Ratio {
        assert!(den > 0, "a ratio needs a denominator");
        let g = gcd(num, den).max(1);
        Ratio {
            num: num / g,
            den: den / g,
        }
    }

    /// A decimal such as `1`, `0.5` or `0.125` (at most 6 decimals, no exponent), exactly.
    pub fn parse_decimal(s: &str) -> Option<Ratio> {
        let s = s.trim();
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty() && frac.is_empty()
            || frac.len() > 6
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let den = 10u64.pow(frac.len() as u32);
        let int: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let frac: u64 = if frac.is_empty() {
            0
        } else {
            frac.parse().ok()?
        };
        let num = int.checked_mul(den)?.checked_add(frac)?;
        Some(Ratio::new(num, den))
    }

    pub fn as_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Bernoulli(num / den), exactly (an unbiased uniform integer below `den`).
fn bernoulli<R: Rng + CryptoRng>(rng: &mut R, num: u128, den: u128) -> bool {
    num >= den || rng.gen_range(0..den) < num
}

/// Bernoulli(exp(−num/den)) (CKS Algorithm 1).
fn bernoulli_exp<R: Rng + CryptoRng>(rng: &mut R, num: u128, den: u128) -> bool {
    if num <= den {
        // K is the first index with A_K = 0; P(K odd) = exp(−γ).
        let mut k: u128 = 1;
        loop {
            match den.checked_mul(k) {
                Some(d) if bernoulli(rng, num, d) => k += 1,
                // γ/K underflows the grid only after astronomically many steps.
                _ => return k % 2 == 1,
            }
        }
    } else {
        for _ in 0..num / den {
            if !bernoulli_exp(rng, 1, 1) {
                return false;
            }
        }
        bernoulli_exp(rng, num % den, den)
    }
}

/// One draw of the discrete Laplace distribution with scale `t/s`:
/// `P(Y = y) = (1 − a)/(1 + a) · a^|y|` with `a = exp(−s/t)` (CKS Algorithm 2).
pub fn discrete_laplace<R: Rng + CryptoRng>(rng: &mut R, scale: Ratio) -> i64 {
    let (t, s) = (u128::from(scale.num), u128::from(scale.den));
    assert!(t > 0, "the scale must be positive");
    loop {
        let u = rng.gen_range(0..t);
        if !bernoulli_exp(rng, u, t) {
            continue;
        }
        let mut v: u128 = 0;
        while bernoulli_exp(rng, 1, 1) {
            v += 1;
        }
        let y = (u + t * v) / s;
        let negative = bernoulli(rng, 1, 2);
        if negative && y == 0 {
            continue;
        }
        let y = i64::try_from(y).unwrap_or(i64::MAX);
        return if negative { -y } else { y };
    }
}

/// The standard deviation of the discrete Laplace distribution of `scale`.
pub fn discrete_laplace_sd(scale: f64) -> f64 {
    let a = (-1.0 / scale).exp();
    (2.0 * a).sqrt() / (1.0 - a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(Ratio::parse_decimal("0.5"), Some(Ratio::new(1, 2)));
        assert_eq!(Ratio::parse_decimal("1"), Some(Ratio::new(1, 1)));
        assert_eq!(Ratio::parse_decimal(".125"), Some(Ratio::new(1, 8)));
        assert_eq!(Ratio::parse_decimal("2.50"), Some(Ratio::new(5, 2)));
        for bad in ["", ".", "1e3", "-1", "0.1234567", "abc", "1.2.3"] {
            assert_eq!(Ratio::parse_decimal(bad), None, "{bad}");
        }
    }

    /// The empirical distribution matches the closed form (chi-square over |y| ≤ 8).
    #[test]
    fn matches_the_discrete_laplace_law() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for scale in [Ratio::new(1, 1), Ratio::new(5, 2), Ratio::new(1, 3)] {
            let n = 200_000;
            let mut counts = std::collections::HashMap::<i64, u64>::new();
            for _ in 0..n {
                *counts.entry(discrete_laplace(&mut rng, scale)).or_default() += 1;
            }
            let a = (-1.0 / scale.as_f64()).exp();
            let p = |y: i64| (1.0 - a) / (1.0 + a) * a.powi(y.unsigned_abs() as i32);
            let mut chi2 = 0.0;
            let mut cells = 0;
            for y in -8..=8 {
                let expected = p(y) * n as f64;
                if expected < 20.0 {
                    continue;
                }
                let seen = *counts.get(&y).unwrap_or(&0) as f64;
                chi2 += (seen - expected).powi(2) / expected;
                cells += 1;
            }
            // 99.9th percentile of chi-square with up to 17 degrees of freedom is ~40.8.
            assert!(
                chi2 < 41.0,
                "scale {scale:?}: chi2 {chi2} over {cells} cells"
            );
            let mean: f64 = counts
                .iter()
                .map(|(y, c)| *y as f64 * *c as f64)
                .sum::<f64>()
                / n as f64;
            assert!(mean.abs() < 0.05, "symmetric: mean {mean}");
        }
    }

    #[test]
    fn large_scales_are_fine() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let scale = Ratio::new(1000, 1);
        let draws: Vec<i64> = (0..20_000)
            .map(|_| discrete_laplace(&mut rng, scale))
            .collect();
        let sd =
            (draws.iter().map(|y| (*y as f64).powi(2)).sum::<f64>() / draws.len() as f64).sqrt();
        let want = discrete_laplace_sd(1000.0);
        assert!((sd / want - 1.0).abs() < 0.05, "sd {sd} vs {want}");
    }
}
