//! The inventory use cases: scanning a source into the catalog (through the monitor, so a rescan
//! skips unchanged assets and records and alerts what changed), the sources a `--all` rescan
//! reaches, the inventory report, and the scheduled and watched rescans beside the server.
//!
//! Every scan gets the same options whoever starts it: the name/address model, the published
//! top-value threshold, the store directory refused as input, `[inventory] sample_rows` rows per
//! database table unless the caller asks for another number.

use std::sync::Arc;

use super::{App, AppError};
use crate::catalog::CatalogError;
use crate::catalog::Visibility;
use crate::inventory::{self, report, Confinement, ScanOptions, Source};
use crate::monitor;

/// One scan as a face asks for it.
#[derive(Debug, Clone, Default)]
pub struct ScanJob {
    /// Force a text encoding for CSV/JSONL (detected per file when `None`).
    pub encoding: Option<String>,
    /// Rows profiled per database table (0: all; `None`: `[inventory] sample_rows`).
    pub sample_rows: Option<u64>,
    /// A progress bar on stderr (the command line).
    pub progress: bool,
    /// Profile every asset again, even those whose fingerprint did not change.
    pub full: bool,
    /// Record the scan in the catalog (and diff it against the last one); `false` only reads.
    pub record: bool,
    /// The caller's folders (checked per file after resolving links); `None`: anywhere but the
    /// store directory.
    pub confine: Option<Confinement>,
}

/// What a scan found, and what the catalog made of it.
#[derive(Debug)]
pub struct Scanned {
    pub report: inventory::ScanReport,
    /// The scan's IRI in the catalog (when recorded).
    pub scan: Option<String>,
    pub events: Vec<monitor::ChangeEvent>,
    pub deliveries: Vec<monitor::Delivery>,
}

impl App {
    /// The options every scan of this app gets (see the module comment).
    fn scan_options(&self, job: &ScanJob) -> ScanOptions {
        ScanOptions {
            confine: Some(job.confine.clone().unwrap_or_else(|| {
                Confinement::new(None, std::slice::from_ref(&self.config.data))
            })),
            min_top_count: Some(self.config.access.min_top_count),
            encoding: job.encoding.clone(),
            db_sample_rows: job.sample_rows.unwrap_or(self.config.inventory.sample_rows),
            progress: job.progress,
            ner: self.name_tagger(),
            known: None,
        }
    }

    /// Scans `source` and, when `job.record`, records it in the catalog: unchanged assets are
    /// skipped, changes become events and alerts. Blocking (it reads files or a database).
    pub fn scan(&self, source: &Source, job: &ScanJob) -> Result<Scanned, AppError> {
        let options = self.scan_options(job);
        if !job.record {
            return Ok(Scanned {
                report: inventory::scan(source, &options)?,
                scan: None,
                events: Vec::new(),
                deliveries: Vec::new(),
            });
        }
        let o = monitor::scan_and_record(
            &self.catalog,
            source,
            options,
            &self.config.monitor,
            job.full,
        )?;
        self.flush()?;
        Ok(Scanned {
            report: o.report,
            scan: Some(o.scan),
            events: o.events,
            deliveries: o.deliveries,
        })
    }

    /// What `scan --all` rescans: the configured `[[monitor.sources]]` first (they carry the
    /// database URLs with credentials), then the registered file and SQLite sources not among
    /// them. The second list says which registered sources cannot be reached and why.
    pub fn rescan_targets(&self) -> Result<(Vec<String>, Vec<String>), AppError> {
        let registered = report::build(&self.catalog, &Visibility::ADMIN)?.sources;
        let mut todo: Vec<String> = self
            .config
            .monitor
            .sources
            .iter()
            .map(|s| s.source.clone())
            .collect();
        let shown: Vec<String> = todo
            .iter()
            .filter_map(|s| Source::parse(s).ok().map(|s| s.display()))
            .collect();
        let mut unreachable = Vec::new();
        for s in registered {
            if shown.contains(&s.title) {
                continue;
            }
            if !matches!(s.kind.as_str(), "files" | "sqlite") {
                unreachable.push(format!(
                    "{} ({}): list it under [[monitor.sources]] in the config, credentials are not stored in the catalog",
                    s.title, s.kind
                ));
                continue;
            }
            todo.push(s.title);
        }
        Ok((todo, unreachable))
    }

    /// The change history matching `filter`, newest first. The changes graph is one graph: a
    /// non-admin is refused it whole when the access policy restricts it. Blocking.
    pub fn changes(
        &self,
        filter: &monitor::events::Filter,
        vis: &Visibility,
    ) -> Result<Vec<monitor::events::EventRecord>, CatalogError> {
        let changes = &self.catalog.layout().changes;
        if !self.catalog.sees(vis, changes)? {
            return Err(CatalogError::NotAllowed(
                "the changes graph is restricted to admins by the access policy".into(),
            ));
        }
        monitor::events::list(&self.catalog, filter)
    }

    /// The inventory report (盘点报告) as `admin` or not may see it. Blocking.
    pub fn report(&self, vis: &Visibility) -> Result<report::InventoryReport, AppError> {
        let mut r = report::build(&self.catalog, vis)?;
        // 库存预警报告: the stock watch's section, when there is stock the caller may read.
        if let Some(section) = self.stock_section(vis)? {
            r.section_html.push(crate::stock::report::html(&section));
            r.sections.insert(
                "stock".into(),
                serde_json::to_value(&section).map_err(|e| AppError::Invalid(e.to_string()))?,
            );
        }
        // 模型性能监控: the labelling models' health.
        if let Some(section) = self.models_section(vis)? {
            r.section_html
                .push(crate::monitor::model_report::html(&section));
            r.sections.insert(
                "models".into(),
                serde_json::to_value(&section).map_err(|e| AppError::Invalid(e.to_string()))?,
            );
        }
        Ok(r)
    }

    /// Starts the scheduled and watched rescans of `[monitor] sources` beside the server; they
    /// stop when the returned scheduler is dropped. `None` when no source is configured.
    pub fn start_rescans(self: &Arc<Self>) -> Option<monitor::schedule::Scheduler> {
        if self.config.monitor.sources.is_empty() {
            return None;
        }
        let app = Arc::clone(self);
        Some(monitor::schedule::start(
            Arc::clone(&self.catalog),
            self.config.monitor.clone(),
            Arc::new(move || app.scan_options(&ScanJob::default())),
        ))
    }
}
