//! The stock watch's use cases: a check (CLI, API, schedule), the proposals and the decision on
//! one, and the report's stock section, each read through the caller's visibility of the
//! graphs involved (the stock is in the product graph, the watch's events and proposals in the
//! changes graph).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{App, AppError};
use crate::catalog::{CatalogError, Visibility};
use crate::privacy::Principal;
use crate::stock::proposals::{self, ProposalRecord};
use crate::stock::record::{self, CheckOptions, CheckReport};
use crate::stock::report::StockSection;
use crate::stock::Delivery;

/// The scheduled stock checks of `serve`; they stop when this is dropped.
pub struct StockWatch {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for StockWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl App {
    /// Whether `vis` reads both graphs the stock watch involves.
    fn sees_stock(&self, vis: &Visibility) -> Result<bool, CatalogError> {
        let layout = self.catalog.layout();
        Ok(self.catalog.sees(vis, &layout.products)? && self.catalog.sees(vis, &layout.changes)?)
    }

    /// Runs a stock check (skipped when its input is unchanged, unless `force`). Blocking.
    pub fn stock_check(
        &self,
        who: &Principal,
        options: &CheckOptions,
    ) -> Result<CheckReport, AppError> {
        // The report names products, quantities and events: a caller who may not read the
        // product or changes graph does not get them by running a check either.
        if !self.sees_stock(&who.visibility())? {
            return Err(AppError::Forbidden(
                "the stock watch reads graphs the access policy restricts to admins".into(),
            ));
        }
        let report = record::check(
            &self.catalog,
            &self.config.stock,
            &self.config.monitor,
            options,
        )?;
        if !report.skipped {
            self.audit()?.record(
                who.name(),
                &who.role().to_string(),
                "stock-check",
                report.run.as_deref().unwrap_or(""),
                &format!(
                    "{} events, {} open, {} cleared, {} proposals",
                    report.events.len(),
                    report.open,
                    report.cleared,
                    report.proposals.len()
                ),
                0,
            );
        }
        Ok(report)
    }

    /// Replenishment proposals (optionally only those with `status`), newest first. Blocking.
    pub fn stock_proposals(
        &self,
        status: Option<&str>,
        vis: &Visibility,
    ) -> Result<Vec<ProposalRecord>, AppError> {
        if let Some(s) = status {
            if !["proposed", "accepted", "rejected", "withdrawn"].contains(&s) {
                return Err(AppError::Invalid(format!(
                    "status must be proposed, accepted, rejected or withdrawn, got {s:?}"
                )));
            }
        }
        if !self.sees_stock(vis)? {
            return Err(CatalogError::NotAllowed(
                "the stock watch reads graphs the access policy restricts to admins".into(),
            )
            .into());
        }
        Ok(proposals::list(&self.catalog, status)?)
    }

    /// Accepts or rejects a proposal as `who` (audited); an accepted one goes to the
    /// purchasing webhook when configured. Blocking.
    pub fn decide_proposal(
        &self,
        who: &Principal,
        iri: &str,
        accept: bool,
        note: Option<&str>,
    ) -> Result<(ProposalRecord, Option<Delivery>), AppError> {
        if !self.sees_stock(&who.visibility())? {
            return Err(AppError::Forbidden(
                "the stock watch reads graphs the access policy restricts to admins".into(),
            ));
        }
        if note.is_some_and(|n| n.chars().count() > 2000) {
            return Err(AppError::Invalid(
                "a decision note is at most 2000 characters".into(),
            ));
        }
        let (p, delivery) = proposals::decide(
            &self.catalog,
            &self.config.stock,
            &self.config.monitor.delivery,
            iri,
            accept,
            who.name(),
            note,
        )?;
        self.audit()?.record(
            who.name(),
            &who.role().to_string(),
            if accept {
                "proposal-accept"
            } else {
                "proposal-reject"
            },
            iri,
            &format!(
                "{} × {} at {}{}",
                p.quantity,
                p.sku,
                p.code,
                delivery
                    .as_ref()
                    .map(|d| format!("; purchasing webhook {}", d.outcome))
                    .unwrap_or_default()
            ),
            0,
        );
        Ok((p, delivery))
    }

    /// The report's stock section as `vis` may see it: none when the graph holds no stock or
    /// the caller does not read the graphs involved. Blocking.
    pub fn stock_section(&self, vis: &Visibility) -> Result<Option<StockSection>, AppError> {
        if !self.sees_stock(vis)? {
            return Ok(None);
        }
        let assessed = crate::stock::assess_all(&self.catalog, &self.config.stock, None)?;
        if assessed.rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(StockSection {
            summary: record::summarise(&assessed, 50),
            proposals: proposals::list(&self.catalog, Some("proposed"))?,
        }))
    }

    /// Starts the scheduled stock checks of `[stock] every_secs` beside the server (each one
    /// skipped while the input is unchanged). `None` when no schedule is configured.
    pub fn start_stock_watch(self: &Arc<Self>) -> Option<StockWatch> {
        let every = self.config.stock.every_secs;
        if every == 0 {
            return None;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let app = Arc::clone(self);
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("stock-watch".into())
            .spawn(move || {
                let mut waited = every; // the first check runs at once
                while !flag.load(Ordering::Relaxed) {
                    if waited >= every {
                        waited = 0;
                        match app.stock_check(&Principal::Local, &CheckOptions::default()) {
                            Ok(r) if r.skipped => tracing::debug!("stock check: input unchanged"),
                            Ok(r) => tracing::info!(
                                events = r.events.len(),
                                open = r.open,
                                proposals = r.proposals.len(),
                                "stock check done in {:.1}s",
                                r.seconds
                            ),
                            Err(e) => tracing::error!("scheduled stock check failed: {e}"),
                        }
                    }
                    std::thread::sleep(Duration::from_secs(1));
                    waited += 1;
                }
            })
            .ok()?;
        Some(StockWatch {
            stop,
            thread: Some(thread),
        })
    }
}
