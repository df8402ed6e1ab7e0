//! A DP request checked against what the snapshot can answer: the dataset, the aggregate and
//! its clamping bounds (given, never read from the data), the group domain (categories of the
//! catalog, the kinds, the days or months of a bounded range), and the rows the mechanism sees.

use super::snapshot::{Snapshot, Table, KINDS, NONE_CATEGORY, NONE_DAY, NONE_VALUE};
use super::DpRequest;
use crate::app::AppError;
use crate::privacy::dp::{Aggregate, Row};

/// The declared groups: key and label.
pub(super) type Domain = Vec<(String, String)>;

/// A request checked against what the snapshot can answer.
pub(super) struct Plan {
    pub(super) dataset: String,
    pub(super) aggregate: Aggregate,
    group_by: GroupBy,
    value: Option<Value>,
    kind: Option<u8>,
    range: Option<(i32, i32)>,
    pub(super) max_per_person: u32,
    /// Values are integers × scale (100: cents, hundredths of a star).
    pub(super) scale: f64,
}

#[derive(Clone, Copy, PartialEq)]
enum GroupBy {
    All,
    Category,
    Kind,
    Day,
    Month,
}

#[derive(Clone, Copy, PartialEq)]
enum Value {
    Price,
    Rating,
}

fn bad(msg: impl Into<String>) -> AppError {
    AppError::Invalid(msg.into())
}

impl Plan {
    pub(super) fn new(req: &DpRequest, default_max: u32) -> Result<Plan, AppError> {
        let dataset = match req.dataset.as_str() {
            d @ ("interactions" | "orders" | "reviews" | "users") => d.to_string(),
            other => {
                return Err(bad(format!(
                    "unknown dataset {other:?}: interactions, orders, reviews or users"
                )))
            }
        };
        let group_by = match req.group_by.as_deref().unwrap_or("none") {
            "none" | "" => GroupBy::All,
            "category" => GroupBy::Category,
            "kind" if dataset == "interactions" || dataset == "users" => GroupBy::Kind,
            "day" => GroupBy::Day,
            "month" => GroupBy::Month,
            other => {
                return Err(bad(format!(
                    "cannot group {dataset} by {other:?}: category, day, month{}",
                    if dataset == "interactions" {
                        ", kind"
                    } else {
                        ""
                    }
                )))
            }
        };
        let value = match req.value.as_deref() {
            None => None,
            Some("price") if dataset != "users" => Some(Value::Price),
            Some("rating") if dataset != "users" => Some(Value::Rating),
            Some(v) => {
                return Err(bad(format!(
                    "unknown value {v:?} for {dataset}: price or rating"
                )))
            }
        };
        let scale = 100.0;
        let bounds = |value: Option<Value>| -> Result<(i64, i64), AppError> {
            let (lo, hi) = match (value, req.lower, req.upper) {
                (_, Some(l), Some(u)) => (l, u),
                (Some(Value::Rating), None, None) => (0.0, 5.0),
                _ => {
                    return Err(bad(
                        "give lower and upper: the clamping bounds must not come from the data",
                    ))
                }
            };
            if !(lo.is_finite() && hi.is_finite()) || lo > hi || hi.abs().max(lo.abs()) > 1e9 {
                return Err(bad(format!("bounds {lo}..{hi} are not a finite range")));
            }
            Ok(((lo * scale).round() as i64, (hi * scale).round() as i64))
        };
        let aggregate = match req.aggregate.as_deref().unwrap_or("count") {
            "count" => Aggregate::Count,
            a @ ("sum" | "mean") => {
                let v =
                    value.ok_or_else(|| bad(format!("{a} needs value=price or value=rating")))?;
                let (lower, upper) = bounds(Some(v))?;
                if a == "sum" {
                    Aggregate::Sum { lower, upper }
                } else {
                    Aggregate::Mean { lower, upper }
                }
            }
            other => {
                return Err(bad(format!(
                    "unknown aggregate {other:?}: count, sum or mean"
                )))
            }
        };
        if dataset == "users" && aggregate != Aggregate::Count {
            return Err(bad("users are counted: aggregate=count"));
        }
        let kind =
            match (&req.kind, dataset.as_str()) {
                (None, "orders") => Some(1),
                (None, _) => None,
                (Some(k), "interactions" | "users") => {
                    Some(KINDS.iter().position(|n| n == k).ok_or_else(|| {
                        bad(format!("unknown kind {k:?}: viewed, purchased or rated"))
                    })? as u8)
                }
                (Some(_), _) => return Err(bad(format!("{dataset} have no kind"))),
            };
        let day = |s: &Option<String>, name: &str| {
            s.as_deref()
                .map(|v| {
                    super::snapshot::day_of(v)
                        .ok_or_else(|| bad(format!("{name} {v:?} is not a date (YYYY-MM-DD)")))
                })
                .transpose()
        };
        let range = match (day(&req.from, "from")?, day(&req.to, "to")?) {
            (Some(a), Some(b)) if a <= b => Some((a, b)),
            (Some(_), Some(_)) => return Err(bad("from is after to")),
            (None, None) => None,
            _ => return Err(bad("give both from and to, or neither")),
        };
        if let Some((a, b)) = range {
            // 1900-01-01 ..= 2199-12-31: dates of this platform's records, and a bounded domain.
            if a < -25_567 || b > 84_005 {
                return Err(bad(
                    "from and to must lie between 1900-01-01 and 2199-12-31",
                ));
            }
        }
        if matches!(group_by, GroupBy::Day | GroupBy::Month) {
            let (a, b) = range.ok_or_else(|| {
                bad("grouping by day or month needs from and to: the groups are the range's, not the data's")
            })?;
            if group_by == GroupBy::Day && b - a >= 1000 {
                return Err(bad("at most 1000 days per query"));
            }
            if group_by == GroupBy::Month && b - a > 36_600 {
                return Err(bad("at most 100 years of months per query"));
            }
        }
        let max_per_person = req.max_per_person.unwrap_or(default_max);
        if max_per_person == 0 || max_per_person > 10_000 {
            return Err(bad("max_per_person must be between 1 and 10000"));
        }
        Ok(Plan {
            dataset,
            aggregate,
            group_by,
            value,
            kind,
            range,
            max_per_person,
            scale: if value.is_some() { scale } else { 1.0 },
        })
    }

    /// The rows the mechanism sees and the declared groups (key, label).
    pub(super) fn rows(&self, snap: &Snapshot) -> Result<(Vec<Row>, Domain), AppError> {
        let table: &Table = match self.dataset.as_str() {
            "reviews" => &snap.reviews,
            _ => &snap.interactions,
        };
        let groups = self.domain(snap);
        let month_of = |day: i32| {
            let d = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid")
                + chrono::Duration::days(i64::from(day));
            use chrono::Datelike;
            d.year() * 12 + d.month0() as i32
        };
        let first_month = self.range.map(|(a, _)| month_of(a)).unwrap_or(0);
        let mut rows = Vec::with_capacity(table.len());
        let mut seen = std::collections::HashSet::new();
        for i in 0..table.len() {
            if self.kind.is_some_and(|k| table.kind[i] != k) {
                continue;
            }
            let day = table.day[i];
            if let Some((a, b)) = self.range {
                if day == NONE_DAY || day < a || day > b {
                    continue;
                }
            }
            let group = match self.group_by {
                GroupBy::All => 0,
                GroupBy::Category if table.category[i] == NONE_CATEGORY => continue,
                GroupBy::Category => table.category[i],
                GroupBy::Kind => u32::from(table.kind[i]),
                GroupBy::Day => (day - self.range.expect("checked").0) as u32,
                GroupBy::Month => (month_of(day) - first_month) as u32,
            };
            let value = match self.value {
                None => 0,
                Some(Value::Price) => table.price[i],
                Some(Value::Rating) => table.rating[i],
            };
            if self.value.is_some() && value == NONE_VALUE {
                continue;
            }
            let person = table.person[i];
            // Users: a person counts once per group.
            if self.dataset == "users" && !seen.insert((person, group)) {
                continue;
            }
            rows.push(Row {
                person,
                group,
                value,
            });
        }
        Ok((rows, groups))
    }

    fn domain(&self, snap: &Snapshot) -> Vec<(String, String)> {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid");
        let date = |d: i32| epoch + chrono::Duration::days(i64::from(d));
        match self.group_by {
            GroupBy::All => vec![("all".into(), "all".into())],
            GroupBy::Category => snap.categories.clone(),
            GroupBy::Kind => KINDS
                .iter()
                .map(|k| (k.to_string(), k.to_string()))
                .collect(),
            GroupBy::Day => {
                let (a, b) = self.range.expect("checked in new");
                (a..=b)
                    .map(|d| {
                        let s = date(d).format("%Y-%m-%d").to_string();
                        (s.clone(), s)
                    })
                    .collect()
            }
            GroupBy::Month => {
                let (a, b) = self.range.expect("checked in new");
                let mut out: Vec<(String, String)> = Vec::new();
                for d in a..=b {
                    let s = date(d).format("%Y-%m").to_string();
                    if out.last().map(|(k, _)| k != &s).unwrap_or(true) {
                        out.push((s.clone(), s));
                    }
                }
                out
            }
        }
    }
}
