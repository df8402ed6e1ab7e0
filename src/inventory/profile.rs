//! Streaming column profiles in bounded memory.
//!
//! A scanner feeds every value of a column (as text, `None` for null) to a [`ColumnProfiler`];
//! nothing is kept per row. Each profiler holds a HyperLogLog++ sketch for the distinct count
//! (precision 14: about 0.8% standard error in 16 KB), running numeric moments (Welford), length
//! statistics, a Misra–Gries summary for the top values (every value with frequency above 1/64 of
//! the rows is guaranteed to be kept) and two uniform reservoirs: a small one of raw values for
//! semantic typing and a numeric one for quantiles (estimated from up to 10,000 sampled values).
//! Memory is therefore constant per column whatever the row count, which is what lets a
//! 10-million-row file be profiled as a stream.
//!
//! Exact: row, null and non-null counts, min/max, mean and standard deviation, lengths, the
//! physical type. Approximate: the distinct count (HyperLogLog++), quantiles (from the numeric
//! reservoir) and top-value counts (Misra–Gries lower bounds); BENCHMARKS.md gives their measured
//! error against exact values. A cell costs one hash (XXH3, shared by the sketch and the top
//! counters, `sketch`) and is parsed only while its column can still be a number or a date; the
//! date layouts are parsed once, not per cell. `pipeline` spreads the columns over the cores.

use std::borrow::Cow;
use std::hash::BuildHasherDefault;

use hyperloglogplus::{HyperLogLog, HyperLogLogPlus};
use rand::Rng;
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use super::sketch::{hash, Prehashed, TopCounters};
pub use super::values::classify;
use super::values::{fmt_time, read_with, widen};

/// Values kept for semantic typing.
pub const SAMPLE: usize = 1000;
/// Numeric values kept for quantiles.
const NUMERIC_SAMPLE: usize = 10_000;
/// Top values reported.
pub const TOP_REPORTED: usize = 10;

/// The physical type a column's non-null values fit, from narrowest to widest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Physical {
    /// Only nulls seen.
    Empty,
    Boolean,
    Integer,
    Decimal,
    Date,
    Datetime,
    Text,
}

impl Physical {
    pub fn name(self) -> &'static str {
        match self {
            Physical::Empty => "empty",
            Physical::Boolean => "boolean",
            Physical::Integer => "integer",
            Physical::Decimal => "decimal",
            Physical::Date => "date",
            Physical::Datetime => "datetime",
            Physical::Text => "text",
        }
    }
}

/// What a finished profile says about one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    /// The declared type, when the source has one (databases, Parquet).
    pub declared: Option<String>,
    pub physical: Physical,
    pub rows: u64,
    pub nulls: u64,
    pub distinct: u64,
    pub min: Option<String>,
    pub max: Option<String>,
    pub mean: Option<f64>,
    pub stddev: Option<f64>,
    /// 5%, 25%, 50%, 75%, 95% quantiles of numeric values.
    pub quantiles: Option<[f64; 5]>,
    /// Mean and the same quantiles of a date or date-time column (ISO 8601, UTC).
    #[serde(default)]
    pub time_mean: Option<String>,
    #[serde(default)]
    pub time_quantiles: Option<Vec<String>>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub mean_length: Option<f64>,
    /// Most frequent values with their (lower-bound) counts.
    pub top: Vec<(String, u64)>,
    /// A uniform sample of non-null values (for semantic typing; dropped before PII reaches the
    /// catalog).
    pub sample: Vec<String>,
}

impl ColumnProfile {
    pub fn null_rate(&self) -> f64 {
        if self.rows == 0 {
            0.0
        } else {
            self.nulls as f64 / self.rows as f64
        }
    }
}

/// Accumulates one column.
pub struct ColumnProfiler {
    name: String,
    declared: Option<String>,
    rows: u64,
    nulls: u64,
    physical: Physical,
    /// Fed the value's hash computed once per cell (see [`Prehashed`]).
    hll: HyperLogLogPlus<u64, BuildHasherDefault<Prehashed>>,
    // Welford over numeric values.
    n: u64,
    mean: f64,
    m2: f64,
    num_min: f64,
    num_max: f64,
    text_min: Option<String>,
    text_max: Option<String>,
    len_min: u64,
    len_max: u64,
    len_sum: u64,
    top: TopCounters,
    sample: Vec<String>,
    seen: u64,
    numbers: Vec<f64>,
    numbers_seen: u64,
    rng: Pcg64Mcg,
    /// The date or date-time layout the column's last temporal value had: tried first.
    layout: usize,
}

/// Values longer than this are cut before they enter the summaries (a 1 MB cell must not become
/// a 1 MB top value).
const MAX_KEPT_CHARS: usize = 256;

/// The value as kept in summaries: itself, or its first [`MAX_KEPT_CHARS`] characters and `…`.
fn cut(s: &str) -> Cow<'_, str> {
    // A string of at most that many bytes has at most that many characters.
    if s.len() <= MAX_KEPT_CHARS {
        return Cow::Borrowed(s);
    }
    match s.char_indices().nth(MAX_KEPT_CHARS) {
        Some((i, _)) => Cow::Owned(format!("{}…", &s[..i])),
        None => Cow::Borrowed(s),
    }
}

/// The value without surrounding white space (`str::trim`), with a fast path for the common
/// cell that starts and ends with a printable ASCII character.
fn trim(v: &str) -> &str {
    let b = v.as_bytes();
    let plain = |c: u8| c > b' ' && c < 0x7f;
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) if plain(f) && plain(l) => v,
        _ => v.trim(),
    }
}

/// Replaces a kept string's contents, reusing its allocation.
fn keep(slot: &mut Option<String>, v: &str) {
    match slot {
        Some(s) => {
            s.clear();
            s.push_str(v);
        }
        None => *slot = Some(v.to_string()),
    }
}

impl ColumnProfiler {
    pub fn new(name: impl Into<String>, declared: Option<String>) -> Self {
        let name = name.into();
        // Seeded from the name so a rescan of the same data samples the same rows.
        let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        ColumnProfiler {
            declared,
            rows: 0,
            nulls: 0,
            physical: Physical::Empty,
            hll: HyperLogLogPlus::new(14, BuildHasherDefault::default()).expect("valid precision"),
            n: 0,
            mean: 0.0,
            m2: 0.0,
            num_min: f64::INFINITY,
            num_max: f64::NEG_INFINITY,
            text_min: None,
            text_max: None,
            len_min: u64::MAX,
            len_max: 0,
            len_sum: 0,
            top: TopCounters::default(),
            sample: Vec::new(),
            seen: 0,
            numbers: Vec::new(),
            numbers_seen: 0,
            rng: <Pcg64Mcg as rand::SeedableRng>::seed_from_u64(seed),
            layout: 0,
            name,
        }
    }

    /// Adds one cell; `None`, empty and whitespace-only strings count as null.
    ///
    /// This runs for every cell of a scan, so it allocates nothing in the steady state: the value
    /// is hashed once, a column already widened to text is not parsed again (text is the widest
    /// type, and text columns report no numeric statistics), and kept strings reuse their buffers.
    pub fn push(&mut self, value: Option<&str>) {
        self.rows += 1;
        let Some(v) = value.map(trim).filter(|v| !v.is_empty()) else {
            self.nulls += 1;
            return;
        };
        let h = hash(v);
        if self.physical != Physical::Text {
            let (kind, value) = read_with(v, &mut self.layout);
            self.physical = widen(self.physical, kind);
            // Dates share the numeric accumulators as epoch seconds: a column mixing numbers
            // and dates widens to text, whose numeric statistics are never reported.
            if let Some(x) = value.filter(|_| self.physical != Physical::Text) {
                self.push_number(x);
            }
        }
        let chars = if v.is_ascii() {
            v.len()
        } else {
            v.chars().count()
        } as u64;
        self.len_min = self.len_min.min(chars);
        self.len_max = self.len_max.max(chars);
        self.len_sum += chars;
        let kept = cut(v);
        if self.text_min.as_deref().is_none_or(|m| *kept < *m) {
            keep(&mut self.text_min, &kept);
        }
        if self.text_max.as_deref().is_none_or(|m| *kept > *m) {
            keep(&mut self.text_max, &kept);
        }
        let (kept_hash, whole) = match &kept {
            Cow::Borrowed(_) => (h, true),
            Cow::Owned(k) => (hash(k), false),
        };
        let seen = self.top.count(&kept, kept_hash);
        // A value the top counters hold was inserted into the sketch when it first came, and
        // inserting a hash again changes nothing: skipped (most cells of a low-cardinality
        // column). A cut value stands for every value sharing its first characters: inserted.
        if !(seen && whole) {
            self.hll.insert(&h);
        }
        // Reservoir sampling (Algorithm R).
        self.seen += 1;
        if self.sample.len() < SAMPLE {
            self.sample.push(kept.into_owned());
        } else {
            let j = self.rng.gen_range(0..self.seen);
            if (j as usize) < SAMPLE {
                let slot = &mut self.sample[j as usize];
                slot.clear();
                slot.push_str(&kept);
            }
        }
    }

    fn push_number(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
        self.num_min = self.num_min.min(x);
        self.num_max = self.num_max.max(x);
        self.numbers_seen += 1;
        if self.numbers.len() < NUMERIC_SAMPLE {
            self.numbers.push(x);
        } else {
            let j = self.rng.gen_range(0..self.numbers_seen);
            if (j as usize) < NUMERIC_SAMPLE {
                self.numbers[j as usize] = x;
            }
        }
    }

    /// The finished profile.
    pub fn finish(mut self) -> ColumnProfile {
        let non_null = self.rows - self.nulls;
        let numeric = matches!(self.physical, Physical::Integer | Physical::Decimal) && self.n > 0;
        let temporal = matches!(self.physical, Physical::Date | Physical::Datetime) && self.n > 0;
        let date_only = self.physical == Physical::Date;
        let (min, max) = if numeric {
            (Some(fmt_num(self.num_min)), Some(fmt_num(self.num_max)))
        } else if temporal {
            (
                Some(fmt_time(self.num_min, date_only)),
                Some(fmt_time(self.num_max, date_only)),
            )
        } else {
            (self.text_min.take(), self.text_max.take())
        };
        let sorted_quantiles = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
            [q(0.05), q(0.25), q(0.5), q(0.75), q(0.95)]
        };
        let mut numbers = std::mem::take(&mut self.numbers);
        let quantiles = numeric.then(|| sorted_quantiles(&mut numbers));
        let time_quantiles = temporal.then(|| {
            sorted_quantiles(&mut numbers)
                .iter()
                .map(|&x| fmt_time(x, date_only))
                .collect::<Vec<_>>()
        });
        let time_mean = temporal.then(|| fmt_time(self.mean, date_only));
        let mut top = self.top.into_sorted();
        top.truncate(TOP_REPORTED);
        let distinct = (self.hll.count().round() as u64).min(non_null);
        ColumnProfile {
            name: self.name,
            declared: self.declared,
            physical: self.physical,
            rows: self.rows,
            nulls: self.nulls,
            distinct,
            min,
            max,
            mean: numeric.then_some(self.mean),
            stddev: (numeric && self.n > 1).then(|| (self.m2 / (self.n - 1) as f64).sqrt()),
            quantiles,
            time_mean,
            time_quantiles,
            min_length: (non_null > 0).then_some(self.len_min),
            max_length: (non_null > 0).then_some(self.len_max),
            mean_length: (non_null > 0).then(|| self.len_sum as f64 / non_null as f64),
            top,
            sample: self.sample,
        }
    }
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn profile(name: &str, values: &[Option<&str>]) -> ColumnProfile {
        let mut p = ColumnProfiler::new(name, None);
        for v in values {
            p.push(*v);
        }
        p.finish()
    }

    #[test]
    fn numbers_get_moments_quantiles_and_types() {
        let values: Vec<String> = (1..=100).map(|i| i.to_string()).collect();
        let mut cells: Vec<Option<&str>> = values.iter().map(|s| Some(s.as_str())).collect();
        cells.push(None);
        cells.push(Some("  "));
        let p = profile("qty", &cells);
        assert_eq!(p.physical, Physical::Integer);
        assert_eq!((p.rows, p.nulls), (102, 2));
        assert_eq!(p.distinct, 100);
        assert_eq!(
            (p.min.as_deref(), p.max.as_deref()),
            (Some("1"), Some("100"))
        );
        assert!((p.mean.unwrap() - 50.5).abs() < 1e-9);
        assert_eq!(p.quantiles.unwrap()[2], 51.0);
        let d = profile("price", &[Some("1.5"), Some("2"), Some("-3e2")]);
        assert_eq!(d.physical, Physical::Decimal);
        assert_eq!(d.min.as_deref(), Some("-300"));
    }

    #[test]
    fn codes_dates_and_mixed_columns() {
        assert_eq!(classify("007"), Physical::Text);
        assert_eq!(classify("13812345678"), Physical::Integer);
        assert_eq!(classify("11010519491231002X"), Physical::Text);
        assert_eq!(classify("6222021234567890128"), Physical::Text);
        assert_eq!(classify("2017-10-02"), Physical::Date);
        assert_eq!(classify("2017-10-02 10:56:33"), Physical::Datetime);
        assert_eq!(classify("2017年10月02日"), Physical::Date);
        let p = profile("t", &[Some("2017-10-02"), Some("2017-10-02 10:56:33")]);
        assert_eq!(p.physical, Physical::Datetime);
        assert_eq!(p.min.as_deref(), Some("2017-10-02T00:00:00Z"));
        assert_eq!(p.max.as_deref(), Some("2017-10-02T10:56:33Z"));
        let d = profile(
            "d",
            &[Some("2024-01-01"), Some("2024/01/03"), Some("2024-01-05")],
        );
        assert_eq!(
            (d.min.as_deref(), d.max.as_deref()),
            (Some("2024-01-01"), Some("2024-01-05"))
        );
        assert_eq!(d.time_mean.as_deref(), Some("2024-01-03"));
        assert_eq!(d.time_quantiles.as_ref().unwrap()[2], "2024-01-03");
        assert!(
            d.mean.is_none() && d.quantiles.is_none(),
            "no numeric statistics for dates"
        );
        let p = profile("m", &[Some("1"), Some("x")]);
        assert_eq!(p.physical, Physical::Text);
        assert_eq!(profile("e", &[None]).physical, Physical::Empty);
    }

    #[test]
    fn heavy_hitters_survive_and_long_values_are_cut() {
        let mut p = ColumnProfiler::new("cat", None);
        for i in 0..100_000u32 {
            let v = if i % 3 == 0 {
                "手机".to_string()
            } else if i % 7 == 0 {
                "家电".to_string()
            } else {
                format!("rare-{i}")
            };
            p.push(Some(&v));
        }
        let long = "长".repeat(1_000_000);
        p.push(Some(&long));
        let prof = p.finish();
        assert_eq!(prof.top[0].0, "手机");
        assert_eq!(prof.top[1].0, "家电");
        assert!(prof.sample.len() == SAMPLE);
        assert!(prof.max_length == Some(1_000_000));
        assert!(prof.max.unwrap().chars().count() <= MAX_KEPT_CHARS + 1);
        // HLL within 3% of the truth.
        let truth = 100_000.0 - 33_334.0 - 9_524.0 + 2.0 + 1.0;
        assert!(
            (prof.distinct as f64 - truth).abs() / truth < 0.03,
            "{}",
            prof.distinct
        );
    }

    proptest! {
        #[test]
        fn counts_add_up_and_distinct_is_bounded(values in prop::collection::vec(prop::option::of("[a-c]{0,2}"), 0..300)) {
            let cells: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
            let p = profile("x", &cells);
            prop_assert_eq!(p.rows, values.len() as u64);
            prop_assert!(p.nulls <= p.rows);
            prop_assert!(p.distinct <= p.rows - p.nulls);
            prop_assert!(p.sample.len() as u64 <= p.rows - p.nulls);
        }
    }
}
