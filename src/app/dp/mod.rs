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

mod fresh;
mod ledger;
mod plan;
mod report;
mod snapshot;

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::{App, AppError};
use crate::privacy::dp::{self, Query};
use crate::privacy::Principal;
use plan::Plan;
pub use report::ShareableReport;
use snapshot::Snapshot;

/// The DP path's state: the snapshot of the product graph and the ledger's totals.
#[derive(Default)]
pub(crate) struct DpState {
    /// The snapshot, rebuilt in the background after the store changes.
    snapshot: Arc<fresh::Fresh>,
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
    /// When the product graph this answer counts was read (RFC 3339).
    pub as_of: String,
    /// Whether that is the store as it is now; `false` when a newer state was still being
    /// read past `[privacy] dp_snapshot_wait_ms` (the answer is then as of `as_of`).
    pub current: bool,
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
        if !self
            .catalog
            .sees(&caller.visibility(), &self.catalog.layout().products)?
        {
            return Err(AppError::Forbidden(
                "the product graph is restricted: only admins and tokens granted it may query it"
                    .into(),
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
        let (snap, current) = self.dp_snapshot()?;
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
                as_of: snap.read_at.clone(),
                current,
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
        let mut ledger = self.dp_ledger()?;
        let totals = ledger.as_mut().expect("loaded by dp_ledger");
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
        let ledger = self.dp_ledger()?;
        let totals = ledger.as_ref().expect("loaded by dp_ledger");
        check(
            totals.of_token(dataset, who),
            totals.of_dataset(dataset),
            cost,
            (dataset_budget, token_budget),
            dataset,
        )
    }

    /// The ledger's totals, read from the catalog by the first use, under their lock.
    fn dp_ledger(&self) -> Result<std::sync::MutexGuard<'_, Option<ledger::Totals>>, AppError> {
        let mut totals = self.dp.ledger.lock().unwrap_or_else(|e| e.into_inner());
        if totals.is_none() {
            *totals = Some(ledger::Totals::load(&self.catalog)?);
        }
        Ok(totals)
    }

    /// The snapshot of the product graph, and whether it is the store as it is now (see
    /// [`fresh`]). Blocking.
    fn dp_snapshot(&self) -> Result<(Arc<Snapshot>, bool), AppError> {
        let wait = std::time::Duration::from_millis(self.config.privacy.dp_snapshot_wait_ms);
        Ok(self.dp.snapshot.get(&self.catalog, wait)?)
    }

    /// Starts rebuilding the DP snapshot when the store moved past it and DP was used in this
    /// process (the server's store follower calls this once writes settle). Cheap otherwise.
    pub fn dp_refresh(&self) -> bool {
        self.dp.snapshot.refresh(&self.catalog)
    }

    /// Starts the first DP snapshot in the background (the server does at start). Cheap when
    /// there is one.
    pub fn dp_prime(&self) -> bool {
        self.dp.snapshot.prime(&self.catalog)
    }

    /// After a write of the ledger alone, a snapshot current before it is still current.
    fn dp_advance(&self, before: u64, after: u64) {
        self.dp.snapshot.advance(before, after);
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
