//! `stocktake ingest ASSET --mapping FILE`: records of one file into the product graph, with the
//! run's counts and quarantine reasons printed (and recorded in the catalog).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use crate::config::Config;
use crate::ingest::{self, mapping::Mapping};

/// Options of `stocktake ingest`.
#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    /// The file to ingest: CSV/TSV with a header row, or JSONL (`.gz` too).
    #[arg(value_name = "ASSET")]
    pub asset: PathBuf,
    /// The mapping (TOML): entity type, namespace, field → column.
    #[arg(long, value_name = "FILE")]
    pub mapping: PathBuf,
    /// Print the run as JSON instead of a summary.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// `stocktake ingest`.
pub fn run(config: &Config, args: IngestArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.mapping)
        .with_context(|| format!("cannot read the mapping {}", args.mapping.display()))?;
    let mapping =
        Mapping::parse(&text).with_context(|| format!("in {}", args.mapping.display()))?;
    let catalog = super::commands::open_catalog(config)?;
    super::commands::load_ontology(&catalog, config)?;
    let secret = ingest::pseudonym_secret(&config.data)?;
    let report = ingest::ingest(&catalog, &args.asset, &mapping, &text, &secret)?;
    catalog.flush()?;
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
        for (reason, n) in &report.reasons {
            println!("  quarantined {n}×: {reason}");
        }
        println!("run: {}", report.run);
    }
    Ok(ExitCode::SUCCESS)
}
