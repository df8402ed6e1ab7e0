//! The differential-privacy use case (差分隐私), the same from `stocktake dp` and
//! `GET /api/v1/dp/{dataset}`: counts, sums, means, histograms and top-k over the product graph's
//! interactions (orders are `kind=purchased`), reviews and users, grouped by category, kind, day
//! or month, with ε chosen per query and spent from two budgets — the dataset's and the
//! caller's (`[privacy] dataset_epsilon`, `token_epsilon`) — recorded in the catalog before the
//! answer is returned, refused when either would be exceeded.
//!
//! What may shape an answer without spending privacy is fixed before the data is read: the
//! group domain (every category of the public catalog, every day or month of the range asked
//! for, the three kinds) and the clamping bounds (given, never taken from the data).

mod ledger;
mod report;
mod snapshot;

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::{App, AppError};
use crate::privacy::dp::{self, Aggregate, Query, Row};
use crate::privacy::Principal;
pub use report::ShareableReport;
use snapshot::{Snapshot, Table, KINDS, NONE_CATEGORY, NONE_DAY, NONE_VALUE};

/// The DP path's state: the snapshot of the product graph and the ledger's totals.
#[derive(Default)]
pub(crate) struct DpState {
    /// The snapshot and the store generation it is current for.
    snapshot: Mutex<Option<(u64, Arc<Snapshot>)>>,
    ledger: Mutex<Option<ledger::Totals>>,
}

/// One DP query as a face asks for it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpRequest {
    /// `interactions`, `orders` (purchases), `reviews` or `users` (people per group).
    #[serde(default)]
    pub dataset: String,
    /// `count` (default), `sum` or `mean`.
    pub aggregate: Option<String>,
    /// `category`, `kind`, `day`, `month`, or none (one total).
    pub group_by: Option<String>,
    /// The value summed or averaged: `price` or `rating`.
    pub value: Option<String>,
    /// Clamping bounds of the value (in yuan for prices); required for price, default 0–5 for
    /// ratings.
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// Only interactions of this kind (`viewed`, `purchased`, `rated`).
    pub kind: Option<String>,
    /// Day range `YYYY-MM-DD` (inclusive); required for day and month groups.
    pub from: Option<String>,
    pub to: Option<String>,
    /// The privacy cost of this answer (decimal, 0.001–10).
    pub epsilon: String,
    /// Rows kept per person (default `[privacy] max_per_person`).
    pub max_per_person: Option<u32>,
    /// Only the k largest groups (post-processing of the noisy histogram: no extra cost).
    pub top: Option<usize>,
    /// Why (kept in the ledger).
    pub purpose: Option<String>,
}

/// One released group.
#[derive(Debug, Clone, Serialize)]
pub struct DpGroup {
    pub key: String,
    pub label: String,
    pub value: f64,
    /// Standard deviation of the noise in `value`.
    pub noise_sd: f64,
}

/// A DP answer and its cost.
#[derive(Debug, Clone, Serialize)]
pub struct DpAnswer {
    pub dataset: String,
    pub aggregate: String,
    pub group_by: String,
    pub epsilon: f64,
    pub delta: f64,
    pub max_per_person: u32,
    /// L1 sensitivity of the released vector to one person.
    pub sensitivity: f64,
    pub mechanism: &'static str,
    pub groups: Vec<DpGroup>,
    /// ε spent so far on this dataset by the caller, and by everyone, after this answer.
    pub spent_by_you: f64,
    pub spent_on_dataset: f64,
    pub budget_for_you: f64,
    pub budget_for_dataset: f64,
    /// The ledger entry in the catalog.
    pub ledger_entry: String,
}

impl App {
    /// Answers `req` for `caller`, spending its ε. Blocking (the first query after a change of
    /// the product graph reads it).
    pub fn dp_query(&self, caller: &Principal, req: &DpRequest) -> Result<DpAnswer, AppError> {
        let pending = self.dp_prepare(caller, req)?;
        let mut answers = self.dp_commit(caller, vec![pending])?;
        Ok(answers.pop().expect("one answer per pending query"))
    }

    /// Computes an answer without spending anything yet (refused early, before any work, when
    /// the budgets cannot cover it now).
    fn dp_prepare(&self, caller: &Principal, req: &DpRequest) -> Result<Pending, AppError> {
        let cfg = &self.config.privacy;
        // Through the caller's visibility: a restricted product graph is for admins only.
        if !caller.is_admin()
            && self
                .catalog
                .restricted_graphs()?
                .contains(&self.catalog.layout().products)
        {
            return Err(AppError::Forbidden(
                "the product graph is restricted: only admins may query it".into(),
            ));
        }
        let epsilon = dp::epsilon(&req.epsilon).map_err(|e| AppError::Invalid(e.to_string()))?;
        let plan = Plan::new(req, cfg.max_per_person)?;
        let cost = ledger::micro(epsilon);
        // Orders and users are views of the interactions: they spend the interactions' budget.
        let budgeted = if plan.dataset == "reviews" {
            "reviews"
        } else {
            "interactions"
        };
        self.dp_can_spend(caller, budgeted, cost)?;
        let snap = self.dp_snapshot()?;
        let (rows, groups) = plan.rows(&snap)?;
        let query = Query {
            aggregate: plan.aggregate,
            groups: groups.len(),
            max_per_person: plan.max_per_person,
            epsilon,
        };
        let release = dp::release(&rows, &query, &mut dp::secure())
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        let scale = plan.scale;
        let mut released: Vec<DpGroup> = release
            .groups
            .iter()
            .zip(groups)
            .map(|(g, (key, label))| DpGroup {
                key,
                label,
                value: g.value / scale,
                noise_sd: g.noise_sd / scale,
            })
            .collect();
        if let Some(k) = req.top {
            released.sort_by(|a, b| b.value.total_cmp(&a.value).then(a.key.cmp(&b.key)));
            released.truncate(k);
        }
        Ok(Pending {
            described: serde_json::to_string(req).unwrap_or_default(),
            purpose: req.purpose.clone().unwrap_or_default(),
            budgeted,
            cost,
            answer: DpAnswer {
                dataset: plan.dataset,
                aggregate: req.aggregate.clone().unwrap_or_else(|| "count".into()),
                group_by: req.group_by.clone().unwrap_or_else(|| "none".into()),
                epsilon: release.epsilon,
                delta: 0.0,
                max_per_person: plan.max_per_person,
                sensitivity: release.sensitivity as f64 / scale,
                mechanism: "discrete Laplace (exact sampling, Canonne–Kamath–Steinke 2020)",
                groups: released,
                spent_by_you: 0.0,
                spent_on_dataset: 0.0,
                budget_for_you: 0.0,
                budget_for_dataset: 0.0,
                ledger_entry: String::new(),
            },
        })
    }

    /// Spends the ε of every answer in `pending` — all or none: the budgets are checked for
    /// their sum and the spends recorded under one lock, before any answer is returned.
    fn dp_commit(
        &self,
        caller: &Principal,
        pending: Vec<Pending>,
    ) -> Result<Vec<DpAnswer>, AppError> {
        let who = caller.name();
        let (dataset_budget, token_budget) = budgets(&self.config.privacy, caller)?;
        let mut totals = self.dp.ledger.lock().unwrap_or_else(|e| e.into_inner());
        if totals.is_none() {
            *totals = Some(ledger::Totals::load(&self.catalog)?);
        }
        let totals = totals.as_mut().expect("loaded above");
        let mut asked: std::collections::BTreeMap<&str, u64> = Default::default();
        for p in &pending {
            *asked.entry(p.budgeted).or_default() += p.cost;
        }
        for (dataset, cost) in &asked {
            check(
                totals.of_token(dataset, who),
                totals.of_dataset(dataset),
                *cost,
                (dataset_budget, token_budget),
                dataset,
            )?;
        }
        let as_f64 = |m: u64| m as f64 / 1e6;
        let mut out = Vec::with_capacity(pending.len());
        for p in pending {
            let before = self.catalog.generation();
            let entry = ledger::record(
                &self.catalog,
                &self.config.catalog.base_iri,
                &ledger::Spend {
                    dataset: p.budgeted,
                    who,
                    epsilon: p.cost,
                    purpose: &p.purpose,
                    query: &p.described,
                },
            )?;
            // The ledger lives in the catalog graph: its write alone does not change the
            // product graph, so the snapshot stays current.
            self.dp_advance(before, self.catalog.generation());
            totals.add(p.budgeted, who, p.cost);
            self.audit()?.record(
                who,
                caller.role().as_str(),
                "dp-query",
                &p.answer.dataset,
                &format!("ε = {}", ledger::decimal(p.cost)),
                0,
            );
            let mut a = p.answer;
            a.spent_by_you = as_f64(totals.of_token(p.budgeted, who));
            a.spent_on_dataset = as_f64(totals.of_dataset(p.budgeted));
            a.budget_for_you = as_f64(token_budget);
            a.budget_for_dataset = as_f64(dataset_budget);
            a.ledger_entry = entry;
            out.push(a);
        }
        Ok(out)
    }

    /// Refuses (as a query would) when `who` cannot spend `cost` micro-ε on `dataset` now.
    fn dp_can_spend(&self, caller: &Principal, dataset: &str, cost: u64) -> Result<(), AppError> {
        let who = caller.name();
        let (dataset_budget, token_budget) = budgets(&self.config.privacy, caller)?;
        let mut totals = self.dp.ledger.lock().unwrap_or_else(|e| e.into_inner());
        if totals.is_none() {
            *totals = Some(ledger::Totals::load(&self.catalog)?);
        }
        let totals = totals.as_ref().expect("loaded above");
        check(
            totals.of_token(dataset, who),
            totals.of_dataset(dataset),
            cost,
            (dataset_budget, token_budget),
            dataset,
        )
    }

    /// The snapshot of the product graph as it is now (rebuilt after a change). Blocking.
    fn dp_snapshot(&self) -> Result<Arc<Snapshot>, AppError> {
        let mut cell = self.dp.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        let generation = self.catalog.generation();
        if let Some((_, s)) = cell.as_ref().filter(|(g, _)| *g == generation) {
            return Ok(Arc::clone(s));
        }
        let built = Arc::new(snapshot::build(&self.catalog)?);
        tracing::info!(
            interactions = built.interactions.len(),
            reviews = built.reviews.len(),
            ms = built.built_ms,
            "DP snapshot of the product graph"
        );
        *cell = Some((built.generation, Arc::clone(&built)));
        Ok(built)
    }

    /// After a write of the ledger alone (the generation moved by exactly one), a snapshot
    /// current before it is still current.
    fn dp_advance(&self, before: u64, after: u64) {
        if after != before + 1 {
            return;
        }
        let mut cell = self.dp.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((g, _)) = cell.as_mut() {
            if *g == before {
                *g = after;
            }
        }
    }
}

/// An answer computed, its spend not yet recorded.
struct Pending {
    described: String,
    purpose: String,
    budgeted: &'static str,
    cost: u64,
    answer: DpAnswer,
}

/// Refuses a spend of `cost` past the caller's or the dataset's budget, saying what is left.
fn check(
    by_you: u64,
    on_dataset: u64,
    cost: u64,
    (dataset_budget, token_budget): (u64, u64),
    dataset: &str,
) -> Result<(), AppError> {
    if by_you + cost > token_budget {
        return Err(AppError::Forbidden(format!(
            "privacy budget spent: you have used ε = {} of your {} on '{dataset}', this asks {}",
            ledger::decimal(by_you),
            ledger::decimal(token_budget),
            ledger::decimal(cost)
        )));
    }
    if on_dataset + cost > dataset_budget {
        return Err(AppError::Forbidden(format!(
            "privacy budget spent: ε = {} of the {} allowed on '{dataset}' is used, this asks {}",
            ledger::decimal(on_dataset),
            ledger::decimal(dataset_budget),
            ledger::decimal(cost)
        )));
    }
    Ok(())
}

/// The dataset's budget and the caller's (their token's grant, else `[privacy] token_epsilon`),
/// in micro-ε.
fn budgets(cfg: &dp::DpConfig, caller: &Principal) -> Result<(u64, u64), AppError> {
    let (dataset, token) = cfg
        .budgets()
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let granted = match caller {
        Principal::User { grants, .. } => grants.dp_epsilon.as_deref(),
        _ => None,
    };
    let token = match granted {
        Some(g) => dp::Ratio::parse_decimal(g)
            .filter(|r| r.num > 0)
            .ok_or_else(|| {
                AppError::Invalid(format!(
                    "the token's dp_epsilon {g:?} is not a positive decimal"
                ))
            })?,
        None => token,
    };
    Ok((ledger::micro(dataset), ledger::micro(token)))
}

/// The declared groups: key and label.
type Domain = Vec<(String, String)>;

/// A request checked against what the snapshot can answer.
struct Plan {
    dataset: String,
    aggregate: Aggregate,
    group_by: GroupBy,
    value: Option<Value>,
    kind: Option<u8>,
    range: Option<(i32, i32)>,
    max_per_person: u32,
    /// Values are integers × scale (100: cents, hundredths of a star).
    scale: f64,
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
    fn new(req: &DpRequest, default_max: u32) -> Result<Plan, AppError> {
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
                    snapshot::day_of(v)
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
    fn rows(&self, snap: &Snapshot) -> Result<(Vec<Row>, Domain), AppError> {
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
