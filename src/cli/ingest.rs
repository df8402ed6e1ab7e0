//! `stocktake ingest ASSET --mapping FILE`: records of one file into the product graph, with the
//! run's counts and quarantine reasons printed (and recorded in the catalog).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use crate::app::{App, IngestJob};
use crate::config::Config;
use crate::ingest::mapping::Mapping;

/// Options of `stocktake ingest`.
#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    /// The file to ingest: CSV/TSV with a header row, or JSONL (`.gz` too).
    #[arg(value_name = "ASSET")]
    pub asset: PathBuf,
    /// The mapping (TOML): entity type, namespace, field → column.
    #[arg(long, value_name = "FILE", required_unless_present = "suggest")]
    pub mapping: Option<PathBuf>,
    /// Print a mapping proposed from the inventory's reading of ASSET (to review, save and pass
    /// to --mapping) instead of ingesting.
    #[arg(long, conflicts_with = "mapping")]
    pub suggest: bool,
    /// Do not label product titles with the title model (`[ingest] title_model`).
    #[arg(long)]
    pub no_label: bool,
    /// Run even when this exact input (bytes, mapping, labeller) was already ingested.
    #[arg(long)]
    pub force: bool,
    /// Print the run as JSON instead of a summary.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// `stocktake ingest`.
pub fn run(config: &Config, args: IngestArgs) -> anyhow::Result<ExitCode> {
    let Some(mapping_path) = args.mapping.clone() else {
        return suggest(&args);
    };
    let text = std::fs::read_to_string(&mapping_path)
        .with_context(|| format!("cannot read the mapping {}", mapping_path.display()))?;
    let mapping =
        Mapping::parse(&text).with_context(|| format!("in {}", mapping_path.display()))?;
    let app = App::open(config.clone())?;
    app.load_ontology()?;
    let job = IngestJob {
        asset: &args.asset,
        mapping: &mapping,
        mapping_text: &text,
        label: !args.no_label,
        force: args.force,
        confine: None,
    };
    let done = app.ingest(&job)?;
    if done.already {
        let done = &done.report;
        if args.format == "json" {
            println!("{}", serde_json::to_string_pretty(done)?);
        } else {
            println!(
                "{} was already ingested with this mapping (run {}, ended {}): {} records in, \
                 {} accepted, {} quarantined; nothing to do (--force runs it again)",
                done.asset, done.run, done.ended, done.records_in, done.accepted, done.quarantined
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = done.report;
    if args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "ingested {} as {} ({}): {} records in, {} accepted, {} quarantined; {} triples written",
            report.asset,
            report.entity,
            report.namespace,
            report.records_in,
            report.accepted,
            report.quarantined,
            report.triples_written
        );
        if let Some(l) = &report.labels {
            println!(
                "  labels: {} ({} accepted, {} waiting for review, {} accepted and {} rejected by people; model {:.1} s)",
                l.labels, l.accepted, l.review, l.human_accepted, l.human_rejected, l.model_seconds
            );
        }
        for (reason, n) in &report.reasons {
            println!("  quarantined {n}×: {reason}");
        }
        if let Some(v) = &report.validation {
            if v.conforms {
                println!("  SHACL: the product graph conforms to {} shapes", v.shapes);
            } else {
                println!(
                    "  SHACL: {} violations ({} results in all) against {} shapes; first ones:",
                    v.violations, v.total, v.shapes
                );
                for r in v.results.iter().take(5) {
                    println!("    {} {}: {}", r.severity, r.focus, r.message);
                }
                println!("    full report: {}/shacl in the catalog graph", report.run);
            }
            for u in &v.unsupported {
                println!("  SHACL: not checked: {u}");
            }
        }
        println!("run: {}", report.run);
    }
    Ok(ExitCode::SUCCESS)
}

/// `stocktake ingest --suggest ASSET`: scans the one file (rules only, nothing written) and
/// prints the proposed mapping.
fn suggest(args: &IngestArgs) -> anyhow::Result<ExitCode> {
    match App::suggest_mapping(&args.asset)? {
        Ok(s) if args.format == "json" => println!("{}", serde_json::to_string_pretty(&s.mapping)?),
        Ok(s) => print!("{}", s.toml),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    }
    Ok(ExitCode::SUCCESS)
}
