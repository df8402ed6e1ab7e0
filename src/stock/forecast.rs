//! Demand forecasts for one daily series: which kind of demand it is, the model that suits it,
//! and an interval. Pure arithmetic (no store, no threads): the stock watch calls it once per
//! product and warehouse, in parallel.
//!
//! The series is classified as Syntetos and Boylan do (average inter-demand interval ADI and
//! squared coefficient of variation CV² of the non-zero sizes): with ADI ≥ 1.32 demand is
//! intermittent and Croston's method with the Syntetos–Boylan correction (SBA) forecasts it;
//! otherwise simple exponential smoothing does, or — when the series holds three seasons, a
//! one-way ANOVA over the weekdays finds a pattern (F ≥ 2.2) and the pattern lowers the fit's
//! information criterion — additive-seasonal exponential smoothing, ETS(A,N,A). Smoothing parameters minimise the in-sample one-step squared error
//! (golden-section search). The spread is the root mean squared one-step error, and a sum
//! over `h` days (lead-time demand) is taken to spread as σ·√h.

use serde::Serialize;

/// ADI at or above which demand is intermittent (Syntetos & Boylan 2005).
pub const ADI_CUTOFF: f64 = 1.32;
/// CV² at or above which non-zero sizes are erratic.
pub const CV2_CUTOFF: f64 = 0.49;

/// What kind of demand a series shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DemandClass {
    /// No demand in the window.
    None,
    Smooth,
    Erratic,
    Intermittent,
    Lumpy,
}

/// The model a forecast came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Nothing sold: the forecast is zero.
    Zero,
    /// Simple exponential smoothing, ETS(A,N,N).
    Ses,
    /// Additive-seasonal exponential smoothing, ETS(A,N,A).
    SeasonalEts,
    /// Croston's method with the Syntetos–Boylan bias correction.
    CrostonSba,
}

/// A fitted series: per-day forecasts for the coming period and the one-step spread.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    pub class: DemandClass,
    pub method: Method,
    /// Smoothing weight of the level (or of Croston's sizes and intervals).
    pub alpha: f64,
    /// Forecast of each of the next `season` days (one value repeated when not seasonal).
    pub daily: Vec<f64>,
    /// Root mean squared one-step in-sample error.
    pub sigma: f64,
}

impl Forecast {
    /// Mean forecast demand per day.
    pub fn rate(&self) -> f64 {
        if self.daily.is_empty() {
            0.0
        } else {
            self.daily.iter().sum::<f64>() / self.daily.len() as f64
        }
    }

    /// Forecast demand of day `i` ahead (0: tomorrow).
    pub fn day(&self, i: usize) -> f64 {
        match self.daily.len() {
            0 => 0.0,
            n => self.daily[i % n],
        }
    }

    /// Forecast demand over the next `days` days and the standard deviation of that sum.
    pub fn over(&self, days: f64) -> (f64, f64) {
        let whole = days.floor() as usize;
        let mut sum: f64 = (0..whole).map(|i| self.day(i)).sum();
        sum += (days - whole as f64) * self.day(whole);
        (sum, self.sigma * days.max(0.0).sqrt())
    }

    /// A two-sided interval of demand over `days` at coverage `level` (clipped at zero).
    pub fn interval(&self, days: f64, level: f64) -> (f64, f64) {
        let (mean, sd) = self.over(days);
        let z = z_score(0.5 + level / 2.0);
        ((mean - z * sd).max(0.0), mean + z * sd)
    }
}

/// The standard normal quantile at `p` (0 < p < 1).
pub fn z_score(p: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::standard().inverse_cdf(p.clamp(1e-9, 1.0 - 1e-9))
}

/// The standard normal distribution function.
pub fn normal_cdf(x: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::standard().cdf(x)
}

/// ADI and CV² of a series (ADI is infinite and CV² zero when nothing sold).
pub fn adi_cv2(y: &[f64]) -> (f64, f64) {
    let sizes: Vec<f64> = y.iter().copied().filter(|v| *v > 0.0).collect();
    if sizes.is_empty() {
        return (f64::INFINITY, 0.0);
    }
    let adi = y.len() as f64 / sizes.len() as f64;
    let mean = sizes.iter().sum::<f64>() / sizes.len() as f64;
    let var = sizes.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / sizes.len() as f64;
    (adi, var / (mean * mean))
}

/// The Syntetos–Boylan class of a series.
pub fn classify(y: &[f64]) -> DemandClass {
    let (adi, cv2) = adi_cv2(y);
    match (adi.is_finite(), adi >= ADI_CUTOFF, cv2 >= CV2_CUTOFF) {
        (false, _, _) => DemandClass::None,
        (true, false, false) => DemandClass::Smooth,
        (true, false, true) => DemandClass::Erratic,
        (true, true, false) => DemandClass::Intermittent,
        (true, true, true) => DemandClass::Lumpy,
    }
}

/// Minimises `f` over `[lo, hi]` by golden-section search (to 1e-3): (argmin, min).
fn golden(lo: f64, hi: f64, f: impl Fn(f64) -> f64) -> (f64, f64) {
    const R: f64 = 0.618_033_988_749_895;
    let (mut a, mut b) = (lo, hi);
    let mut c = b - R * (b - a);
    let mut d = a + R * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    while b - a > 1e-3 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - R * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + R * (b - a);
            fd = f(d);
        }
    }
    if fc < fd {
        (c, fc)
    } else {
        (d, fd)
    }
}

/// SES with weight `alpha`: (final level, sum of squared one-step errors). The level starts at
/// the first observation, whose error is not counted.
pub fn ses(y: &[f64], alpha: f64) -> (f64, f64) {
    let Some(&first) = y.first() else {
        return (0.0, 0.0);
    };
    let (mut level, mut sse) = (first, 0.0);
    for &v in &y[1..] {
        let e = v - level;
        sse += e * e;
        level += alpha * e;
    }
    (level, sse)
}

/// ETS(A,N,A) with weights `alpha` (level) and `gamma` (season) over season `m`: (level,
/// the last `m` seasonal terms in order, SSE). Initial level: the first season's mean;
/// initial seasonal terms: the first season's deviations from it.
pub fn seasonal(y: &[f64], m: usize, alpha: f64, gamma: f64) -> (f64, Vec<f64>, f64) {
    let mut level = y[..m].iter().sum::<f64>() / m as f64;
    let mut s: Vec<f64> = y[..m].iter().map(|v| v - level).collect();
    let mut sse = 0.0;
    for (t, &v) in y.iter().enumerate().skip(m) {
        let i = t % m;
        let e = v - (level + s[i]);
        sse += e * e;
        level += alpha * e;
        s[i] += gamma * e;
    }
    let n = y.len();
    let season: Vec<f64> = (0..m).map(|k| s[(n + k) % m]).collect();
    (level, season, sse)
}

/// [`seasonal`]'s SSE alone, without allocating: what the weight search evaluates dozens of
/// times per series (the same arithmetic in the same order, so the same number).
fn seasonal_sse(y: &[f64], m: usize, alpha: f64, gamma: f64) -> f64 {
    let mut stack = [0.0f64; 32];
    let mut heap = Vec::new();
    let s: &mut [f64] = if m <= stack.len() {
        &mut stack[..m]
    } else {
        heap.resize(m, 0.0);
        &mut heap
    };
    let mut level = y[..m].iter().sum::<f64>() / m as f64;
    for (k, v) in y[..m].iter().enumerate() {
        s[k] = v - level;
    }
    let mut sse = 0.0;
    let mut i = 0;
    for &v in &y[m..] {
        let e = v - (level + s[i]);
        sse += e * e;
        level += alpha * e;
        s[i] += gamma * e;
        i += 1;
        if i == m {
            i = 0;
        }
    }
    sse
}

/// Croston's method with SBA correction and weight `alpha`: (per-period forecast, SSE of the
/// one-step forecasts from the first demand on).
pub fn croston_sba(y: &[f64], alpha: f64) -> (f64, f64) {
    let Some(first) = y.iter().position(|v| *v > 0.0) else {
        return (0.0, 0.0);
    };
    let (mut size, mut interval) = (y[first], (first + 1) as f64);
    let mut since = 0.0;
    let mut sse = 0.0;
    let correction = 1.0 - alpha / 2.0;
    for &v in &y[first + 1..] {
        since += 1.0;
        let f = correction * size / interval;
        sse += (v - f).powi(2);
        if v > 0.0 {
            size += alpha * (v - size);
            interval += alpha * (since - interval);
            since = 0.0;
        }
    }
    (correction * size / interval, sse)
}

/// One-way ANOVA F statistic of `y` grouped by position in the season (`t mod m`): how much
/// more the season's positions differ than days within one position do. A cheap screen that
/// spares the seasonal fit for series without a pattern.
pub fn weekday_f(y: &[f64], m: usize) -> f64 {
    let n = y.len();
    if m < 2 || n <= m {
        return 0.0;
    }
    let mean = y.iter().sum::<f64>() / n as f64;
    let mut sums = vec![0.0; m];
    let mut counts = vec![0usize; m];
    for (t, v) in y.iter().enumerate() {
        sums[t % m] += v;
        counts[t % m] += 1;
    }
    let means: Vec<f64> = sums
        .iter()
        .zip(&counts)
        .map(|(s, c)| s / (*c).max(1) as f64)
        .collect();
    let between: f64 = means
        .iter()
        .zip(&counts)
        .map(|(g, c)| *c as f64 * (g - mean).powi(2))
        .sum::<f64>()
        / (m - 1) as f64;
    let within: f64 = y
        .iter()
        .enumerate()
        .map(|(t, v)| (v - means[t % m]).powi(2))
        .sum::<f64>()
        / (n - m) as f64;
    if within <= 1e-12 {
        return if between > 1e-12 { f64::INFINITY } else { 0.0 };
    }
    between / within
}

/// F at which a weekly pattern is worth fitting (about the 5% point of F(6, 80)).
const SEASONAL_F: f64 = 2.2;

/// Fits the model that suits `y` (daily demand, oldest first) with weekly season `m` (0: none).
pub fn fit(y: &[f64], m: usize) -> Forecast {
    let class = classify(y);
    let n = y.len();
    let rmse = |sse: f64, k: usize| (sse / (n.saturating_sub(k)).max(1) as f64).sqrt();
    match class {
        DemandClass::None => Forecast {
            class,
            method: Method::Zero,
            alpha: 0.0,
            daily: vec![0.0],
            sigma: 0.0,
        },
        DemandClass::Intermittent | DemandClass::Lumpy => {
            let (alpha, sse) = golden(0.05, 0.5, |a| croston_sba(y, a).1);
            let (rate, _) = croston_sba(y, alpha);
            let first = y.iter().position(|v| *v > 0.0).unwrap_or(0);
            Forecast {
                class,
                method: Method::CrostonSba,
                alpha,
                daily: vec![rate],
                sigma: rmse(sse, first + 1),
            }
        }
        DemandClass::Smooth | DemandClass::Erratic => {
            let (alpha, sse) = golden(0.01, 0.99, |a| ses(y, a).1);
            let (level, _) = ses(y, alpha);
            let flat = Forecast {
                class,
                method: Method::Ses,
                alpha,
                daily: vec![level.max(0.0)],
                sigma: rmse(sse, 1),
            };
            if m < 2 || n < 3 * m || weekday_f(y, m) < SEASONAL_F {
                return flat;
            }
            // A weekly pattern is kept only where it pays for its m extra terms (AIC over
            // the same observations: the seasonal fit's errors start after its first season).
            let fit_season = |g: f64| golden(0.01, 0.99, |a| seasonal_sse(y, m, a, g));
            let (mut best_g, mut best) = (0.0, fit_season(0.0));
            for g in [0.05, 0.1, 0.2] {
                let r = fit_season(g);
                if r.1 < best.1 {
                    (best_g, best) = (g, r);
                }
            }
            let (a_s, sse_s) = best;
            let ses_tail = {
                // SES's errors over the seasonal fit's observations, for a like comparison.
                let (l0, _) = ses(&y[..m], alpha);
                ses(&[&[l0][..], &y[m..]].concat(), alpha).1
            };
            let obs = (n - m) as f64;
            let aic = |sse: f64, k: usize| obs * (sse.max(1e-12) / obs).ln() + 2.0 * k as f64;
            if aic(sse_s, m + 2) + 2.0 < aic(ses_tail, 2) {
                let (level, season, _) = seasonal(y, m, a_s, best_g);
                Forecast {
                    class,
                    method: Method::SeasonalEts,
                    alpha: a_s,
                    daily: season.iter().map(|s| (level + s).max(0.0)).collect(),
                    sigma: rmse(sse_s, m + 1),
                }
            } else {
                flat
            }
        }
    }
}

/// Mean absolute scaled error of `forecast` against `actual`, scaled by the in-sample MAE of
/// the seasonal naive forecast with period `m` (1: naive) on `history`.
pub fn mase(history: &[f64], actual: &[f64], forecast: &[f64], m: usize) -> f64 {
    let m = m.max(1);
    let scale = history
        .windows(m + 1)
        .map(|w| (w[m] - w[0]).abs())
        .sum::<f64>()
        / (history.len().saturating_sub(m)).max(1) as f64;
    let mae = actual
        .iter()
        .zip(forecast)
        .map(|(a, f)| (a - f).abs())
        .sum::<f64>()
        / actual.len().max(1) as f64;
    mae / scale.max(1e-12)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seasonal_sse_is_seasonals_sse() {
        let y: Vec<f64> = (0..90)
            .map(|t| ((t * 37 % 11) as f64) + (t % 7) as f64 * 2.0)
            .collect();
        for (a, g) in [(0.1, 0.0), (0.3, 0.05), (0.9, 0.2)] {
            assert_eq!(seasonal_sse(&y, 7, a, g), seasonal(&y, 7, a, g).2);
        }
        let long: Vec<f64> = (0..200).map(|t| (t % 40) as f64).collect();
        assert_eq!(
            seasonal_sse(&long, 40, 0.2, 0.1),
            seasonal(&long, 40, 0.2, 0.1).2
        );
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn ses_by_hand() {
        // level 10 → 10 + 0.5·(12 − 10) = 11 → 11 + 0.5·(8 − 11) = 9.5; errors 2, −3.
        let (level, sse) = ses(&[10.0, 12.0, 8.0], 0.5);
        assert_eq!((level, sse), (9.5, 13.0));
    }

    #[test]
    fn croston_by_hand() {
        // Demands 4 at t=1 and 6 at t=4: size 4, interval 2; at t=4 (3 periods later):
        // size 4 + 0.2·2 = 4.4, interval 2 + 0.2·1 = 2.2; SBA: 0.9 · 4.4 / 2.2 = 1.8.
        let (f, _) = croston_sba(&[0.0, 4.0, 0.0, 0.0, 6.0], 0.2);
        assert!(close(f, 1.8, 1e-12), "{f}");
        // One-step forecasts 0.9·4/2 = 1.8 at t = 2, 3, 4: errors −1.8, −1.8, 4.2.
        let (_, sse) = croston_sba(&[0.0, 4.0, 0.0, 0.0, 6.0], 0.2);
        assert!(
            close(sse, 1.8f64.powi(2) * 2.0 + 4.2f64.powi(2), 1e-9),
            "{sse}"
        );
    }

    #[test]
    fn classes_follow_syntetos_boylan() {
        assert_eq!(classify(&[0.0; 10]), DemandClass::None);
        assert_eq!(classify(&[5.0, 5.0, 6.0, 5.0]), DemandClass::Smooth);
        assert_eq!(classify(&[1.0, 9.0, 1.0, 9.0]), DemandClass::Erratic);
        assert_eq!(classify(&[0.0, 5.0, 0.0, 5.0]), DemandClass::Intermittent);
        assert_eq!(classify(&[0.0, 1.0, 0.0, 9.0]), DemandClass::Lumpy);
        let (adi, cv2) = adi_cv2(&[0.0, 1.0, 0.0, 9.0]);
        assert_eq!(adi, 2.0);
        // Sizes 1 and 9: mean 5, variance 16, CV² 16/25.
        assert!(close(cv2, 0.64, 1e-12));
    }

    #[test]
    fn a_weekly_pattern_is_found_and_a_flat_series_is_not_seasonal() {
        let week = [2.0, 2.0, 2.0, 2.0, 2.0, 10.0, 12.0];
        let y: Vec<f64> = (0..84).map(|t| week[t % 7]).collect();
        let f = fit(&y, 7);
        assert_eq!(f.method, Method::SeasonalEts);
        // The next day is t = 84, a Monday-like 2; day 5 ahead is the 10.
        assert!(
            close(f.day(0), 2.0, 0.05) && close(f.day(5), 10.0, 0.05),
            "{:?}",
            f.daily
        );
        let flat: Vec<f64> = (0..84)
            .map(|t| 5.0 + ((t * 7919) % 3) as f64 - 1.0)
            .collect();
        assert_eq!(fit(&flat, 7).method, Method::Ses);
        assert!(close(fit(&flat, 7).rate(), 5.0, 0.6));
    }

    #[test]
    fn intervals_widen_with_the_horizon_and_stay_non_negative() {
        let f = Forecast {
            class: DemandClass::Smooth,
            method: Method::Ses,
            alpha: 0.3,
            daily: vec![4.0],
            sigma: 2.0,
        };
        assert_eq!(f.over(9.0), (36.0, 6.0));
        let (lo, hi) = f.interval(9.0, 0.95);
        assert!(close(lo, 36.0 - 1.959964 * 6.0, 1e-4) && close(hi, 36.0 + 1.959964 * 6.0, 1e-4));
        assert_eq!(f.interval(0.25, 0.99).0, 0.0);
        assert!(close(z_score(0.95), 1.644854, 1e-5));
    }

    #[test]
    fn mase_by_hand() {
        // Naive in-sample MAE of [1, 3, 2] is (2 + 1) / 2 = 1.5; forecast MAE is 1.5: MASE 1.
        assert!(close(
            mase(&[1.0, 3.0, 2.0], &[2.0, 4.0], &[3.5, 2.5], 1),
            1.0,
            1e-12
        ));
    }
}
