//! `stocktake scan SOURCE` (inventory a directory or database and record it in the catalog) and
//! `stocktake report` (the 盘点报告 from the catalog, HTML or JSON).

use std::process::ExitCode;

use clap::Args;

use crate::app::{App, ScanJob, Scanned};
use crate::config::Config;
use crate::inventory::{self, Source};

/// Options of `stocktake scan`.
#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    /// A directory or file (CSV/TSV/JSONL/Parquet, `.gz` too), `sqlite://FILE`,
    /// `postgres://USER@HOST/DB` or `mysql://USER@HOST/DB`. Credentials in URLs are used to
    /// connect and never recorded.
    #[arg(
        value_name = "SOURCE",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub source: Option<String>,
    /// Rescan every registered file and SQLite source and every `[[monitor.sources]]` entry of
    /// the config (database servers need their URL from there: credentials are never stored in
    /// the catalog). Unchanged assets are skipped; changes are recorded and alerted.
    #[arg(long, visible_alias = "rescan")]
    pub all: bool,
    /// Profile every asset again, even those whose fingerprint (size and time, content hash or
    /// table statistics) says they did not change.
    #[arg(long)]
    pub full: bool,
    /// Text encoding of CSV/JSONL files (e.g. gbk, gb18030, utf-8) [default: detected per file].
    #[arg(long, env = "STOCKTAKE_SCAN_ENCODING")]
    pub encoding: Option<String>,
    /// Rows profiled per database table; 0 reads every row [default: `[inventory] sample_rows`,
    /// 100000].
    #[arg(long, env = "STOCKTAKE_SCAN_SAMPLE_ROWS")]
    pub sample_rows: Option<u64>,
    /// Print the scan as JSON instead of a summary.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    /// Do not record the scan in the catalog (just print it).
    #[arg(long)]
    pub no_catalog: bool,
}

/// `stocktake scan`.
pub fn run(config: &Config, args: ScanArgs) -> anyhow::Result<ExitCode> {
    // Reading without recording leaves the store closed (a running server may hold it).
    let app = if args.no_catalog {
        App::detached(config.clone())?
    } else {
        App::open(config.clone())?
    };
    let Some(given) = args.source.clone() else {
        return rescan_all(&app, &args);
    };
    scan_one(&app, &args, &given)?;
    Ok(ExitCode::SUCCESS)
}

/// `stocktake scan --all`: every registered source that can be reached without credentials.
fn rescan_all(app: &App, args: &ScanArgs) -> anyhow::Result<ExitCode> {
    let (todo, unreachable) = app.rescan_targets()?;
    for s in unreachable {
        eprintln!("skipping {s}");
    }
    if todo.is_empty() {
        anyhow::bail!("no sources are registered yet: scan one with `stocktake scan SOURCE`");
    }
    let mut failed = 0;
    for s in todo {
        if let Err(e) = scan_one(app, args, &s) {
            eprintln!(
                "rescan of {} failed: {e:#}",
                Source::parse(&s).map(|s| s.display()).unwrap_or(s)
            );
            failed += 1;
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn scan_one(app: &App, args: &ScanArgs, given: &str) -> anyhow::Result<()> {
    let source = Source::parse(given)?;
    let job = ScanJob {
        encoding: args.encoding.clone(),
        sample_rows: args.sample_rows,
        progress: args.format == "text",
        full: args.full,
        record: !args.no_catalog,
        confine: None,
    };
    let Scanned {
        report,
        scan: scan_iri,
        events,
        deliveries,
    } = app.scan(&source, &job)?;
    if args.format == "json" {
        let mut v = serde_json::to_value(&report)?;
        if let Some(iri) = &scan_iri {
            v["scan"] = serde_json::Value::String(iri.clone());
        }
        v["changes"] = serde_json::to_value(&events)?;
        v["alerts"] = serde_json::to_value(&deliveries)?;
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_summary(&report, scan_iri.as_deref());
        for e in &events {
            println!(
                "  CHANGE [{}] {}: {}",
                e.severity.name(),
                e.kind.name(),
                e.message
            );
        }
        for d in &deliveries {
            if d.channel == "webhook" {
                println!(
                    "  ALERT {} → {}: {} after {} attempt(s){}",
                    d.rule,
                    d.target,
                    d.outcome,
                    d.attempts,
                    d.error
                        .as_deref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

fn print_summary(report: &inventory::ScanReport, scan: Option<&str>) {
    println!(
        "scanned {}: {} assets ({} unchanged, not read again), {} rows, {} PII columns, {} failed parts",
        report.source,
        report.assets.len(),
        report.unchanged(),
        report.rows(),
        report.pii_columns(),
        report.failures.len()
    );
    for a in report.assets.iter().filter(|a| !a.unchanged) {
        let kind = a
            .classification
            .as_ref()
            .map(|c| format!("{} ({:.2})", c.kind.name(), c.confidence))
            .unwrap_or_default();
        let pii: Vec<String> = a
            .scanned_columns
            .iter()
            .filter_map(|c| {
                c.semantic
                    .kind
                    .pii()
                    .map(|t| format!("{}={}", c.profile.name, t.name()))
            })
            .collect();
        println!(
            "  {:<40} {:>10} rows  {:<24} {}",
            a.location,
            a.rows,
            kind,
            if pii.is_empty() {
                String::new()
            } else {
                format!("PII: {}", pii.join(", "))
            }
        );
    }
    for f in &report.failures {
        println!("  FAILED {}: {}", f.location, f.reason);
    }
    if let Some(s) = scan {
        println!("recorded in the catalog as {s}");
    }
}

/// Options of `stocktake report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// html (self-contained page with charts) or json.
    #[arg(long, default_value = "html", value_parser = ["html", "json"])]
    pub format: String,
    /// Write to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    /// The report as it may leave the data team: exact counts over people withheld, activity
    /// figures differentially private at --epsilon (spent from the privacy budget).
    #[arg(long, requires = "epsilon")]
    pub shareable: bool,
    /// The ε the shareable report's three figures spend together.
    #[arg(long, requires = "shareable")]
    pub epsilon: Option<String>,
}

/// `stocktake report`.
pub fn report(config: &Config, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let app = App::open(config.clone())?;
    let (r, text) = match &args.epsilon {
        Some(eps) if args.shareable => {
            let who = super::local_admin();
            let s = app.shareable_report(&who, eps)?;
            let text = if args.format == "json" {
                serde_json::to_string_pretty(&s)? + "\n"
            } else {
                s.html()
            };
            (s.inventory, text)
        }
        _ => {
            let r = app.report(&crate::catalog::Visibility::ADMIN)?;
            let text = if args.format == "json" {
                serde_json::to_string_pretty(&r)? + "\n"
            } else {
                inventory::report::html(&r)
            };
            (r, text)
        }
    };
    match &args.out {
        Some(p) => {
            std::fs::write(p, text)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?;
            eprintln!(
                "wrote the inventory report ({} sources, {} assets, {} PII columns) to {}",
                r.totals.sources,
                r.totals.assets,
                r.totals.pii_columns,
                p.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
