//! `stocktake scan SOURCE` (inventory a directory or database and record it in the catalog) and
//! `stocktake report` (the 盘点报告 from the catalog, HTML or JSON).

use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use crate::config::Config;
use crate::inventory::ner::NameTagger;
use crate::inventory::{self, ScanOptions, Source};

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
    /// Rescan every registered file and SQLite source (database servers need their URL again:
    /// their credentials are never stored).
    #[arg(long)]
    pub all: bool,
    /// Text encoding of CSV/JSONL files (e.g. gbk, gb18030, utf-8) [default: detected per file].
    #[arg(long, env = "STOCKTAKE_SCAN_ENCODING")]
    pub encoding: Option<String>,
    /// Rows profiled per database table; 0 reads every row.
    #[arg(long, env = "STOCKTAKE_SCAN_SAMPLE_ROWS", default_value_t = 100_000)]
    pub sample_rows: u64,
    /// Print the scan as JSON instead of a summary.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    /// Do not record the scan in the catalog (just print it).
    #[arg(long)]
    pub no_catalog: bool,
}

/// `stocktake scan`.
pub fn run(config: &Config, args: ScanArgs) -> anyhow::Result<ExitCode> {
    let ner = inventory::ner::load_for_scan(&config.infer).map(Arc::new);
    let Some(given) = args.source.clone() else {
        return rescan_all(config, &args, &ner);
    };
    scan_one(config, &args, &given, &ner)
}

/// `stocktake scan --all`: every registered source that can be reached without credentials.
fn rescan_all(
    config: &Config,
    args: &ScanArgs,
    ner: &Option<Arc<NameTagger>>,
) -> anyhow::Result<ExitCode> {
    let sources = {
        let catalog = super::commands::open_catalog(config)?;
        inventory::report::build(&catalog)?.sources
    };
    if sources.is_empty() {
        anyhow::bail!("no sources are registered yet: scan one with `stocktake scan SOURCE`");
    }
    let mut failed = 0;
    for s in sources {
        if !matches!(s.kind.as_str(), "files" | "sqlite") {
            eprintln!(
                "skipping {} ({}): give its URL again, credentials are not stored",
                s.title, s.kind
            );
            continue;
        }
        if let Err(e) = scan_one(config, args, &s.title, ner) {
            eprintln!("rescan of {} failed: {e:#}", s.title);
            failed += 1;
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn scan_one(
    config: &Config,
    args: &ScanArgs,
    given: &str,
    ner: &Option<Arc<NameTagger>>,
) -> anyhow::Result<ExitCode> {
    let source = Source::parse(given)?;
    let options = ScanOptions {
        encoding: args.encoding.clone(),
        db_sample_rows: args.sample_rows,
        progress: args.format == "text",
        ner: ner.clone(),
    };
    let report = inventory::scan(&source, &options)?;
    let scan_iri = if args.no_catalog {
        None
    } else {
        let catalog = super::commands::open_catalog(config)?;
        let iri = inventory::record::record(&catalog, &report)?;
        catalog.flush()?;
        Some(iri)
    };
    if args.format == "json" {
        let mut v = serde_json::to_value(&report)?;
        if let Some(iri) = &scan_iri {
            v["scan"] = serde_json::Value::String(iri.clone());
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_summary(&report, scan_iri.as_deref());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(report: &inventory::ScanReport, scan: Option<&str>) {
    println!(
        "scanned {}: {} assets, {} rows, {} PII columns, {} failed parts",
        report.source,
        report.assets.len(),
        report.rows(),
        report.pii_columns(),
        report.failures.len()
    );
    for a in &report.assets {
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
}

/// `stocktake report`.
pub fn report(config: &Config, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let catalog = super::commands::open_catalog(config)?;
    let r = inventory::report::build(&catalog)?;
    let text = if args.format == "json" {
        serde_json::to_string_pretty(&r)? + "\n"
    } else {
        inventory::report::html(&r)
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
