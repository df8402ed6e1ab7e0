//! `stocktake labels list|accept|reject`: the review queue of machine labels from the command
//! line, the equivalent of `/api/v1/labels` for someone with the store on disk (local access
//! is the admin role, as for `load`).
//!
//! A decision is stored exactly as the HTTP one is — on its own node, with who and when — and
//! written to the audit log; it wins over the model at the next ingest of the asset.

use std::process::ExitCode;

use clap::Subcommand;

use crate::app::App;
use crate::config::Config;
use crate::ingest::label::Verdict;

/// `stocktake labels …`
#[derive(Debug, Clone, Subcommand)]
pub enum LabelsAction {
    /// Labels with their product, value, confidence, model and status, least confident first.
    List {
        /// Only this status: accepted, review, human-accepted or human-rejected.
        #[arg(long)]
        status: Option<String>,
        /// Most labels to print.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
    },
    /// Accept a label: its fact enters the graph at the next ingest, whatever the model says.
    Accept {
        /// The label's id (as `labels list` prints it).
        id: String,
        /// Who decides (default: the login name).
        #[arg(long)]
        by: Option<String>,
    },
    /// Reject a label: its fact stays out of the graph at every later ingest.
    Reject {
        id: String,
        #[arg(long)]
        by: Option<String>,
    },
}

/// `stocktake labels`.
pub fn run(config: &Config, action: LabelsAction) -> anyhow::Result<ExitCode> {
    let app = App::open(config.clone())?;
    let (id, by, verdict) = match action {
        LabelsAction::List {
            status,
            limit,
            format,
        } => {
            let rows = app.labels(
                status.as_deref(),
                None,
                limit.max(1),
                &crate::catalog::Visibility::ADMIN,
            )?;
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                println!(
                    "no labels{}",
                    status
                        .map(|s| format!(" with status {s}"))
                        .unwrap_or_default()
                );
            } else {
                for r in &rows {
                    println!(
                        "{}  {:<14} {:<8} {:.3}  {:?}  {}",
                        r.id,
                        r.status,
                        r.kind,
                        r.confidence.unwrap_or(f64::NAN),
                        r.value,
                        r.product
                    );
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        LabelsAction::Accept { id, by } => (id, by, Verdict::Accept),
        LabelsAction::Reject { id, by } => (id, by, Verdict::Reject),
    };
    let who = by
        .or_else(|| std::env::var("USER").ok())
        .map(|u| format!("local:{u}"))
        .unwrap_or_else(|| "local".into());
    let found = app.decide_label(&id, verdict, &who, &crate::catalog::Visibility::ADMIN)?;
    let audit = app.audit()?;
    let op = match verdict {
        Verdict::Accept => "label-accept",
        Verdict::Reject => "label-reject",
    };
    audit.record(
        &who,
        "admin",
        op,
        &id,
        if found { "ok" } else { "not found" },
        0,
    );
    if !found {
        eprintln!("error: no label {id:?} (see `stocktake labels list`)");
        return Ok(ExitCode::from(2));
    }
    println!("label {id}: {} by {who}", verdict.as_str());
    Ok(ExitCode::SUCCESS)
}
