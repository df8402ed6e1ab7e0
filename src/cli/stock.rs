//! `stocktake stock check|proposals|accept|reject`: the stock watch (库存预警) from the command
//! line — a check now (skipped when the stock and sales are unchanged since the last one),
//! the replenishment proposals, and the decision on one (local access is the admin role).

use std::process::ExitCode;

use clap::Subcommand;

use crate::app::App;
use crate::config::Config;
use crate::privacy::Principal;
use crate::stock::CheckOptions;

/// `stocktake stock …`
#[derive(Debug, Clone, Subcommand)]
pub enum StockAction {
    /// Forecast demand, assess every product in every warehouse, record and alert what opened.
    Check {
        /// Assess as of this day (YYYY-MM-DD; default: the latest snapshot's day).
        #[arg(long, value_name = "DATE")]
        as_of: Option<chrono::NaiveDate>,
        /// Check even when the stock, movements and purchases are unchanged since the last check.
        #[arg(long)]
        force: bool,
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
    },
    /// Replenishment proposals, newest first.
    Proposals {
        /// Only this status: proposed, accepted, rejected or withdrawn.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
    },
    /// Accept a proposal (POSTed to `[stock] purchasing_webhook` when configured).
    Accept {
        /// The proposal's IRI (as `stock proposals` prints it).
        proposal: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject a proposal.
    Reject {
        proposal: String,
        #[arg(long)]
        note: Option<String>,
    },
}

/// `stocktake stock`.
pub fn run(config: &Config, action: StockAction) -> anyhow::Result<ExitCode> {
    let app = App::open(config.clone())?;
    let who = Principal::Local;
    match action {
        StockAction::Check {
            as_of,
            force,
            format,
        } => {
            let r = app.stock_check(&who, &CheckOptions { as_of, force })?;
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(ExitCode::SUCCESS);
            }
            if r.skipped {
                println!("stock unchanged since the last check (use --force to check again)");
                return Ok(ExitCode::SUCCESS);
            }
            if let Some(s) = &r.summary {
                println!(
                    "stock as of {}: {} positions; {} new events, {} conditions open, {} cleared; {} proposals ({} withdrawn) in {:.1}s",
                    s.as_of,
                    s.positions,
                    r.events.len(),
                    r.open,
                    r.cleared,
                    r.proposals.len(),
                    r.withdrawn,
                    r.seconds
                );
                for w in &s.warnings {
                    println!("  note: {w}");
                }
            }
            for e in &r.events {
                println!(
                    "  {:<12} {:<8} {:<24} {}",
                    e.kind, e.severity, e.location, e.message
                );
            }
            for d in &r.deliveries {
                println!("  alert {} via {} → {}", d.rule, d.channel, d.outcome);
            }
        }
        StockAction::Proposals { status, format } => {
            let rows =
                app.stock_proposals(status.as_deref(), &crate::catalog::Visibility::ADMIN)?;
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                println!("no proposals");
            } else {
                for p in &rows {
                    println!(
                        "{}  {:<9} {:>8} × {} at {}  (confidence {:.2})\n    {}",
                        p.iri, p.status, p.quantity, p.sku, p.code, p.confidence, p.reason
                    );
                }
            }
        }
        StockAction::Accept { proposal, note } => decide(&app, &who, &proposal, true, note)?,
        StockAction::Reject { proposal, note } => decide(&app, &who, &proposal, false, note)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn decide(
    app: &App,
    who: &Principal,
    proposal: &str,
    accept: bool,
    note: Option<String>,
) -> anyhow::Result<()> {
    let (p, delivery) = app.decide_proposal(who, proposal, accept, note.as_deref())?;
    println!(
        "proposal {}: {} ({} × {} at {})",
        p.iri, p.status, p.quantity, p.sku, p.code
    );
    if let Some(d) = delivery {
        println!(
            "  purchasing webhook {}: {} after {} attempts{}",
            d.target,
            d.outcome,
            d.attempts,
            d.error.map(|e| format!(" ({e})")).unwrap_or_default()
        );
    }
    Ok(())
}
