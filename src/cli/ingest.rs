//! `stocktake ingest ASSET --mapping FILE`: records of one file into the product graph, with the
//! run's counts and quarantine reasons printed (and recorded in the catalog).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use crate::config::Config;
use crate::infer::{self, Model};
use crate::ingest::{self, label::Labeler, mapping::Mapping};

/// Options of `stocktake ingest`.
#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    /// The file to ingest: CSV/TSV with a header row, or JSONL (`.gz` too).
    #[arg(value_name = "ASSET")]
    pub asset: PathBuf,
    /// The mapping (TOML): entity type, namespace, field → column.
    #[arg(long, value_name = "FILE")]
    pub mapping: PathBuf,
    /// Do not label product titles with the title model (`[ingest] title_model`).
    #[arg(long)]
    pub no_label: bool,
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
    let labeler = if args.no_label || config.ingest.title_model.is_empty() {
        None
    } else {
        Some(labeler(config, &catalog)?)
    };
    let report = ingest::ingest(
        &catalog,
        &args.asset,
        &mapping,
        &text,
        &secret,
        labeler.as_ref(),
    )?;
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
        if let Some(l) = &report.labels {
            println!(
                "  labels: {} ({} accepted, {} waiting for review, {} accepted and {} rejected by people; model {:.1} s)",
                l.labels, l.accepted, l.review, l.human_accepted, l.human_rejected, l.model_seconds
            );
        }
        for (reason, n) in &report.reasons {
            println!("  quarantined {n}×: {reason}");
        }
        println!("run: {}", report.run);
    }
    Ok(ExitCode::SUCCESS)
}

/// The title labeller: the configured package, described in the models graph so labels can
/// point at it.
pub fn labeler(config: &Config, catalog: &crate::catalog::Catalog) -> anyhow::Result<Labeler> {
    let name = &config.ingest.title_model;
    let dir = infer::find_package(&config.infer.models_dir, name).with_context(|| {
        format!("title model {name:?} ([ingest] title_model; --no-label skips labelling)")
    })?;
    let model = Model::load(&dir, &super::models::options(config))?;
    let iri = catalog.describe_model(&super::models::record(&model.package))?;
    Ok(Labeler::new(
        model,
        iri.as_str().to_string(),
        config.ingest.label_threshold,
    ))
}
