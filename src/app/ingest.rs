//! The ingest use case: records of one file into the product graph, the same way from the command
//! line, the demo and `POST /api/v1/ingest` — the finished-run checkpoint, the keyed pseudonyms,
//! the labeller, people masked in review texts, `[ingest] commit_every`, the flush — and the
//! warm retrain of the served embedding that an ingest which grew the graph may call for.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{App, AppError};
use crate::catalog::CatalogError;
use crate::catalog::Visibility;
use crate::ingest::label::Verdict;
use crate::ingest::mapping::{Entity, Mapping};
use crate::ingest::{self, RunReport};
use crate::inventory::{self, Confinement};

/// One ingest run as a face asks for it.
#[derive(Debug, Clone)]
pub struct IngestJob<'a> {
    /// The file (CSV/TSV with a header row, or JSONL; `.gz` too).
    pub asset: &'a Path,
    /// The mapping, parsed, and its text (part of the run's identity).
    pub mapping: &'a Mapping,
    pub mapping_text: &'a str,
    /// Label with the entity's configured model.
    pub label: bool,
    /// Run even when this exact input was ingested before.
    pub force: bool,
    /// Folders the file must resolve into (the caller's roots); the store directory is always
    /// refused. `None`: anywhere but the store directory (the local command line).
    pub confine: Option<&'a Confinement>,
}

/// What an ingest did: the run, or the earlier run of the same input when nothing was to do.
#[derive(Debug, Clone, Serialize)]
pub struct Ingested {
    pub report: RunReport,
    /// This exact input (bytes, mapping, labeller) had been ingested: nothing was written.
    pub already: bool,
}

impl App {
    /// Parses `text` as a mapping.
    pub fn parse_mapping(text: &str) -> Result<Mapping, AppError> {
        Ok(Mapping::parse(text)?)
    }

    /// Checks `mapping` against the header of `asset` without ingesting anything (a wrong column
    /// is the caller's to fix before a run starts). Blocking.
    pub fn check_mapping(asset: &Path, mapping: &Mapping) -> Result<(), AppError> {
        Ok(ingest::check(asset, mapping)?)
    }

    /// Runs `job` and flushes the store. Blocking (it reads, labels and writes).
    pub fn ingest(&self, job: &IngestJob) -> Result<Ingested, AppError> {
        let labeler = if job.label {
            self.labeler(job.mapping.entity)?
        } else {
            None
        };
        if !job.force {
            if let Some(done) = ingest::finished_run(
                &self.catalog,
                job.asset,
                job.mapping_text,
                labeler.as_deref(),
            )? {
                return Ok(Ingested {
                    report: done,
                    already: true,
                });
            }
        }
        // The keyring seals the pseudonym key, quarantined cells and kept personal fields.
        let vault = self.keyring()?;
        let secret = ingest::pseudonym_secret(&self.config.data, &vault)?;
        // Review texts are published: the name/address model masks people in them.
        let names = (job.mapping.entity == Entity::Review)
            .then(|| self.name_tagger())
            .flatten();
        let local = Confinement::new(None, std::slice::from_ref(&self.config.data));
        let options = ingest::RunOptions {
            labeler: labeler.as_deref(),
            commit_every: self.config.ingest.commit_every,
            confine: Some(job.confine.unwrap_or(&local)),
            names: names.as_deref(),
            vault: Some(&vault),
        };
        let report = ingest::ingest_with(
            &self.catalog,
            job.asset,
            job.mapping,
            job.mapping_text,
            &secret,
            &options,
        )?;
        self.flush()?;
        let mut report = report;
        if let Some(labels) = &report.labels {
            report.model_watch = self.watch_models(&report.run, &labels.by_model)?;
        }
        Ok(Ingested {
            report,
            already: false,
        })
    }

    /// The model watch after a labelling run: its stats per model recorded and compared with
    /// the model's reference; drift raised and alerted. Blocking.
    fn watch_models(
        &self,
        run: &str,
        stats: &std::collections::BTreeMap<String, crate::monitor::models::RunStats>,
    ) -> Result<Vec<crate::monitor::models::Compared>, AppError> {
        use crate::monitor::models;
        let compared = models::record_run(&self.catalog, &self.config.monitor.models, run, stats)?;
        let drift: Vec<(String, crate::monitor::ChangeEvent)> = compared
            .iter()
            .filter_map(|c| c.drift.clone().map(|e| (c.model.clone(), e)))
            .collect();
        models::publish(&self.catalog, &self.config.monitor, run, &drift)?;
        Ok(compared)
    }

    /// The model watch after a person's decision on a label: each model's precision judged
    /// from the reviews, a drop raised and alerted once. Blocking.
    fn judge_models(&self, cause: &str) -> Result<(), CatalogError> {
        use crate::monitor::models;
        let events = models::judge_precision(
            &self.catalog,
            &self.config.monitor.models,
            f64::from(self.config.ingest.label_threshold),
        )?;
        models::publish(&self.catalog, &self.config.monitor, cause, &events)?;
        Ok(())
    }

    /// Machine labels with `status` (any when `None`), least confident first, at most `limit`,
    /// through the caller's visibility. Blocking.
    pub fn labels(
        &self,
        status: Option<&str>,
        product: Option<&str>,
        limit: usize,
        vis: &Visibility,
    ) -> Result<Vec<crate::ingest::label::LabelRow>, CatalogError> {
        crate::ingest::label::list(&self.catalog, status, product, limit, vis)
    }

    /// Records `who`'s decision on the machine label `id` (through the caller's visibility:
    /// `admin` or not) and flushes it; `false` when there is no such label. The decision wins
    /// over the model at every later ingest. Blocking.
    pub fn decide_label(
        &self,
        id: &str,
        verdict: Verdict,
        who: &str,
        vis: &Visibility,
    ) -> Result<bool, CatalogError> {
        let found = crate::ingest::label::decide(&self.catalog, id, verdict, who, vis)?;
        if found {
            let label = crate::ingest::label::label_iri(self.catalog.layout().base(), id);
            self.judge_models(&format!("{label}/decision"))?;
        }
        self.catalog.flush()?;
        Ok(found)
    }

    /// A mapping proposed from the inventory's reading of one file (rules only, nothing
    /// written), to review and pass to an ingest; the inner error says why the rules found none.
    /// Blocking.
    pub fn suggest_mapping(
        asset: &Path,
    ) -> Result<Result<ingest::suggest::Suggestion, String>, AppError> {
        if !asset.is_file() {
            return Err(AppError::Invalid(format!(
                "{} is not a file",
                asset.display()
            )));
        }
        let source = inventory::Source::Files(asset.to_path_buf());
        let report = inventory::scan(&source, &inventory::ScanOptions::default())?;
        let scanned = report.assets.first().ok_or_else(|| {
            AppError::Invalid(format!(
                "{} is not a CSV, TSV, JSONL or Parquet file",
                asset.display()
            ))
        })?;
        if let Some(e) = &scanned.error {
            return Err(AppError::Invalid(format!(
                "cannot read {}: {e}",
                asset.display()
            )));
        }
        Ok(ingest::suggest::suggest(scanned))
    }

    /// After an ingest that wrote triples: retrains the served embedding (warm) when the
    /// product graph moved at least `[embed] retrain_fraction` away from it, and has the
    /// link-prediction service swap the new model in. The old model serves meanwhile, and keeps
    /// serving when retraining fails (logged). Blocking (it trains).
    pub fn keep_embeddings_up(&self) {
        let embed = &self.config.embed;
        if embed.retrain_fraction <= 0.0 {
            return;
        }
        let path: PathBuf = embed.model_path(&self.config.data);
        let outcome = crate::recommend::retrain::maybe_retrain(
            &self.catalog,
            &path,
            embed.retrain_fraction,
            embed.retrain_epochs,
        );
        match outcome {
            Ok(Ok(r)) => {
                tracing::info!(
                    model = %r.model_id, previous = %r.previous_model_id, snapshot = %r.snapshot,
                    changed = r.changed_fraction, new_entities = r.new_entities, epochs = r.epochs,
                    seconds = r.seconds, "embeddings retrained after ingest"
                );
                if let Some(links) = &self.recommend {
                    if let Err(e) = links.refresh() {
                        tracing::error!("the retrained model cannot be loaded: {e}");
                    }
                }
            }
            Ok(Err(skipped)) => tracing::debug!(?skipped, "embeddings not retrained"),
            Err(e) => tracing::error!("retraining failed; the previous model keeps serving: {e}"),
        }
    }
}
