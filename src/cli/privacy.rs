//! `stocktake export anonymised` and `stocktake dp`, for someone with the store on disk (local
//! access is the admin role, as for `load`; the ledger names the login). The export writes the
//! released CSV to `--out` or stdout and its report (what each column became, what was
//! suppressed) to stderr, or as JSON with `--format json`; `dp` prints the noisy groups with
//! their error bars and what the budgets have left.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use crate::app::{App, ExportJob};
use crate::catalog::Visibility;
use crate::config::Config;
use crate::privacy::anon::Policy;

/// `stocktake export anonymised`.
#[derive(Debug, Args)]
pub struct AnonymisedArgs {
    /// The user-level file (CSV, TSV or JSONL; `.gz` too).
    pub source: PathBuf,
    /// Policy file (TOML: k, l, sensitive, person, quasi_identifiers, max_suppression,
    /// date_shift_days, [columns] name = "drop|keep|mask|generalise|pseudonym|shift|scrub");
    /// default: operators from the inventory's semantic types, k = 5.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Write the released CSV here (default stdout).
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The report: text or json (on stderr when the CSV goes to stdout).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// `stocktake export anonymised`.
pub fn anonymised(config: &Config, args: AnonymisedArgs) -> anyhow::Result<ExitCode> {
    let policy_text = match &args.policy {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => String::new(),
    };
    let policy = Policy::parse(&policy_text)?;
    let app = App::open(config.clone())?;
    let who = super::local_admin();
    let job = ExportJob {
        source: &args.source,
        policy: &policy,
        policy_text: &policy_text,
        confine: None,
        who: who.name(),
        role: "admin",
        vis: &Visibility::ADMIN,
    };
    let done = app.export_anonymised(&job)?;
    match &args.out {
        Some(path) => std::fs::write(path, &done.csv)
            .with_context(|| format!("writing {}", path.display()))?,
        None => std::io::stdout().write_all(&done.csv)?,
    }
    let report = if args.format == "json" {
        serde_json::to_string_pretty(&done)?
    } else {
        text_report(&done)
    };
    if args.out.is_some() {
        println!("{report}");
    } else {
        eprintln!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

fn text_report(e: &crate::app::Exported) -> String {
    let r = &e.report;
    let mut s = format!(
        "policy {}: k = {}, l = {}; {} rows in, {} released, {} suppressed",
        r.policy, r.k, r.l, r.rows_in, r.rows_out, r.rows_suppressed
    );
    if let (Some(a), Some(b)) = (r.people_in, r.people_out) {
        s += &format!(" ({a} people in, {b} released)");
    }
    s += &format!(
        "\n{} classes, the smallest holds {} people (re-identification risk at most {:.3}); \
         precision kept {:.2}",
        r.classes, r.smallest_class, r.max_reidentification_risk, r.precision
    );
    if e.rows_unreadable > 0 {
        s += &format!("\n{} unreadable rows left out", e.rows_unreadable);
    }
    if r.blanked > 0 {
        s += &format!(
            "\n{} values of shifted columns were not dates: left blank",
            r.blanked
        );
    }
    for c in &r.columns {
        s += &format!(
            "\n  {:<20} {:<10} {}{}  distinct {} → {}",
            c.name,
            c.operator.as_str(),
            if c.quasi_identifier {
                "quasi-identifier "
            } else {
                ""
            },
            c.released_as.as_deref().unwrap_or(""),
            c.distinct_before,
            c.distinct_after
        );
    }
    for step in &r.steps {
        s += &format!("\n  {step}");
    }
    s += &format!("\nrecorded as {} (sha256 {})", e.activity, e.sha256);
    s
}

/// `stocktake dp`.
#[derive(Debug, Args)]
pub struct DpArgs {
    /// interactions, orders (purchases), reviews or users (people per group).
    pub dataset: String,
    /// The privacy cost of this answer (decimal, 0.001–10), spent from the budgets.
    #[arg(long)]
    pub epsilon: String,
    /// count, sum or mean.
    #[arg(long, default_value = "count")]
    pub aggregate: String,
    /// category, kind, day or month (default: one total).
    #[arg(long)]
    pub group_by: Option<String>,
    /// price or rating (sum, mean).
    #[arg(long)]
    pub value: Option<String>,
    /// Clamping bounds of the value (prices in yuan; ratings default 0–5).
    #[arg(long, allow_hyphen_values = true)]
    pub lower: Option<f64>,
    #[arg(long, allow_hyphen_values = true)]
    pub upper: Option<f64>,
    /// Only interactions of this kind (viewed, purchased, rated).
    #[arg(long)]
    pub kind: Option<String>,
    /// Day range YYYY-MM-DD, inclusive (needed for day and month groups).
    #[arg(long)]
    pub from: Option<String>,
    #[arg(long)]
    pub to: Option<String>,
    /// Rows kept per person (default [privacy] max_per_person).
    #[arg(long)]
    pub max_per_person: Option<u32>,
    /// Only the k largest groups.
    #[arg(long)]
    pub top: Option<usize>,
    /// Why (kept in the ledger).
    #[arg(long)]
    pub purpose: Option<String>,
    /// text or json.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// `stocktake dp`.
pub fn dp(config: &Config, args: DpArgs) -> anyhow::Result<ExitCode> {
    let app = App::open(config.clone())?;
    let who = super::local_admin();
    let req = crate::app::DpRequest {
        dataset: args.dataset,
        aggregate: Some(args.aggregate),
        group_by: args.group_by,
        value: args.value,
        lower: args.lower,
        upper: args.upper,
        kind: args.kind,
        from: args.from,
        to: args.to,
        epsilon: args.epsilon,
        max_per_person: args.max_per_person,
        top: args.top,
        purpose: args.purpose,
    };
    let a = app.dp_query(&who, &req)?;
    if args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&a)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} {} by {} — ε = {}, δ = 0, at most {} rows per person (sensitivity {}); {}",
        a.dataset, a.aggregate, a.group_by, a.epsilon, a.max_per_person, a.sensitivity, a.mechanism
    );
    for g in &a.groups {
        println!("  {:<24} {:>12.2}  ± {:.2}", g.label, g.value, g.noise_sd);
    }
    println!(
        "spent on {}: {} of your {}, {} of the dataset's {} (ledger entry {})",
        a.dataset,
        a.spent_by_you,
        a.budget_for_you,
        a.spent_on_dataset,
        a.budget_for_dataset,
        a.ledger_entry
    );
    Ok(ExitCode::SUCCESS)
}
