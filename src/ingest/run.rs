//! The run record: what a run reports (`RunReport`), how it is named (by its input, so a rerun
//! rewrites the same record), its PROV description in the catalog graph, and the checkpoint a
//! finished run leaves for its asset.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::label::{LabelStats, Labeler};
use super::{graph, quality, IngestError};
use crate::catalog::vocab::{PROV, RDF, ST};
use crate::catalog::{Catalog, CatalogError, NamedQuery, Object, Statement, ValidationReport};

/// Ingestion into the product graph.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Token-classification package that labels product titles (brand, product type, model);
    /// empty: no labelling.
    pub title_model: String,
    /// Sequence-classification package that labels review texts (heads `category` and
    /// `sentiment`); empty: no labelling. A missing package is a warning, not an error.
    pub review_model: String,
    /// Confidence at which a machine label becomes a fact of the graph; below it the label
    /// waits for review.
    pub label_threshold: f32,
    /// New records' triples written in one bulk load at most: the commit points of a long run
    /// (a run killed after one keeps what it committed; larger is faster, see BENCHMARKS.md).
    pub commit_every: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            title_model: "product-ner".into(),
            review_model: "review-classifier".into(),
            label_threshold: 0.8,
            commit_every: super::COMMIT_EVERY,
        }
    }
}

/// The outcome of one run, as recorded in the catalog.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run: String,
    pub asset: String,
    pub entity: String,
    pub namespace: String,
    pub encoding: String,
    pub started: String,
    pub ended: String,
    pub records_in: u64,
    pub accepted: u64,
    /// Accepted records (counted in `accepted`) identical to what the graph already holds from
    /// an earlier run — same content, same labeller, no decision since: neither labelled nor
    /// written again. This is what makes re-ingesting a grown file cost only its new records.
    #[serde(default)]
    pub unchanged: u64,
    pub quarantined: u64,
    pub triples_written: u64,
    /// Quarantine reasons by their first words (e.g. `price "abc" is not a number` → counted
    /// under its full text, capped at 50 distinct reasons).
    pub reasons: BTreeMap<String, u64>,
    /// What the labelling model did (absent when no labeller ran).
    pub labels: Option<LabelStats>,
    /// Duplicates and price anomalies across the namespace (product runs).
    pub findings: Option<quality::Findings>,
    /// SHACL validation of the product graph after the run against `ontology/` shapes (the
    /// whole report is in the catalog at `{run}/shacl`; this keeps the first results).
    pub validation: Option<ValidationReport>,
    /// True when this exact input had already been ingested and nothing was done (the counts
    /// are the earlier run's).
    pub skipped: bool,
    /// Where the run's time went, in seconds: `read+clean+build`, `label` (model and label
    /// nodes), `write` (transactions), `findings` (duplicates, outliers), `shacl`.
    pub seconds: BTreeMap<String, f64>,
    /// The model watch's comparison of this run's labels with each model's reference (filled
    /// by the application after the run).
    pub model_watch: Vec<crate::monitor::models::Compared>,
}

/// Adds the time since `t` to `stage` (and restarts `t`).
pub(super) fn lap(seconds: &mut BTreeMap<String, f64>, stage: &str, t: &mut std::time::Instant) {
    *seconds.entry(stage.to_owned()).or_default() += t.elapsed().as_secs_f64();
    *t = std::time::Instant::now();
}

/// Results of the SHACL report repeated in the run report itself.
pub(super) const REPORTED_RESULTS: usize = 20;

pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// SHA-256 of a file's bytes (names the run: the same input and mapping are the same run).
pub(super) fn file_hash(path: &Path) -> Result<String, IngestError> {
    use sha2::Digest;
    // The checkpoint lookup and the run it then starts both name the run by the file's hash:
    // remember the last one, keyed by path, size and modification time, so a large input is
    // read once for it, not twice.
    type Seen = Option<(std::path::PathBuf, u64, std::time::SystemTime, String)>;
    static LAST: std::sync::Mutex<Seen> = std::sync::Mutex::new(None);
    let meta = std::fs::metadata(path)
        .map_err(|e| IngestError::Input(format!("cannot open {}: {e}", path.display())))?;
    let stamp = (meta.len(), meta.modified().ok());
    if let (Ok(last), (len, Some(modified))) = (LAST.lock(), stamp) {
        if let Some((p, l, m, h)) = last.as_ref() {
            if p == path && *l == len && *m == modified {
                return Ok(h.clone());
            }
        }
    }
    let mut f = std::fs::File::open(path)
        .map_err(|e| IngestError::Input(format!("cannot open {}: {e}", path.display())))?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h)
        .map_err(|e| IngestError::Input(format!("cannot read {}: {e}", path.display())))?;
    let hash = hex::encode(h.finalize());
    if let (Ok(mut last), (len, Some(modified))) = (LAST.lock(), stamp) {
        *last = Some((path.to_path_buf(), len, modified, hash.clone()));
    }
    Ok(hash)
}

/// The run's IRI. A run is named by what determines its output (file bytes, mapping,
/// labeller), so re-running the same input — or completing a killed run — rewrites the same
/// run record.
pub(super) fn run_iri(
    catalog: &Catalog,
    path: &Path,
    mapping_text: &str,
    labeler: Option<&Labeler>,
) -> Result<String, IngestError> {
    Ok(format!(
        "{}ingest/{}",
        catalog.layout().base(),
        graph::content_key(&[
            &path.display().to_string(),
            &file_hash(path)?,
            mapping_text,
            labeler.map_or("", |l| l.model_iri()),
            super::KEY_SCHEME,
        ])
    ))
}

/// The checkpoint of an asset: the finished run of exactly this input (same bytes, mapping and
/// labeller), unless a person has decided on a label since it ended (their decision must be
/// applied by running again). `None` means the asset needs a run — never run, or killed before
/// its run record was written (the record is written last).
pub fn finished_run(
    catalog: &Catalog,
    path: &Path,
    mapping_text: &str,
    labeler: Option<&Labeler>,
) -> Result<Option<RunReport>, IngestError> {
    let run = run_iri(catalog, path, mapping_text, labeler)?;
    let layout = catalog.layout();
    let rows: Vec<FinishedRun> = catalog.query_rows(
        &NamedQuery::parse("finished-run", include_str!("queries/finished-run.rq"))?,
        &[
            ("catalog", layout.catalog.as_str()),
            ("products", layout.products.as_str()),
            ("run", &run),
        ],
        &crate::catalog::Visibility::ADMIN,
    )?;
    let Some(r) = rows.into_iter().next() else {
        return Ok(None);
    };
    Ok(Some(RunReport {
        run,
        asset: r.asset,
        entity: r.entity,
        namespace: r.ns,
        encoding: String::new(),
        started: r.started,
        ended: r.ended,
        records_in: r.records_in,
        accepted: r.ok,
        unchanged: 0,
        quarantined: r.q,
        triples_written: 0,
        reasons: BTreeMap::new(),
        labels: None,
        findings: None,
        validation: None,
        skipped: true,
        seconds: BTreeMap::new(),
        model_watch: Vec::new(),
    }))
}

/// A row of `queries/finished-run.rq`.
#[derive(Deserialize)]
struct FinishedRun {
    asset: String,
    entity: String,
    ns: String,
    started: String,
    ended: String,
    #[serde(rename = "in")]
    records_in: u64,
    ok: u64,
    q: u64,
}

/// The run's PROV record in the catalog graph.
pub(super) fn record_run(
    catalog: &Catalog,
    r: &RunReport,
    mapping_text: &str,
) -> Result<(), CatalogError> {
    let s = r.run.as_str();
    let st = |l: &str| format!("{ST}{l}");
    let mut statements = vec![
        Statement::new(s, format!("{RDF}type"), Object::iri(st("IngestRun"))),
        Statement::new(
            s,
            format!("{RDF}type"),
            Object::iri(format!("{PROV}Activity")),
        ),
        Statement::new(s, st("sourceAsset"), Object::string(&r.asset)),
        Statement::new(s, st("entityType"), Object::string(&r.entity)),
        Statement::new(s, st("namespace"), Object::string(&r.namespace)),
        Statement::new(s, st("recordsIn"), Object::integer(r.records_in)),
        Statement::new(s, st("recordsAccepted"), Object::integer(r.accepted)),
        Statement::new(s, st("recordsQuarantined"), Object::integer(r.quarantined)),
        Statement::new(s, st("recordsUnchanged"), Object::integer(r.unchanged)),
        Statement::new(s, st("mapping"), Object::string(mapping_text)),
        Statement::new(
            s,
            format!("{PROV}startedAtTime"),
            Object::datetime(&r.started),
        ),
        Statement::new(s, format!("{PROV}endedAtTime"), Object::datetime(&r.ended)),
        Statement::new(
            s,
            st("toolVersion"),
            Object::string(format!("stocktake {}", env!("CARGO_PKG_VERSION"))),
        ),
    ];
    let mut counts: Vec<(&str, u64)> = Vec::new();
    if let Some(f) = &r.findings {
        counts.extend([
            ("exactDuplicates", f.exact_duplicates as u64),
            ("nearDuplicates", f.near_duplicates as u64),
            ("priceAnomalies", f.price_anomalies as u64),
            ("weightAnomalies", f.weight_anomalies as u64),
        ]);
    }
    if let Some(l) = &r.labels {
        counts.extend([
            ("labelsAccepted", l.accepted + l.human_accepted),
            ("labelsInReview", l.review),
            ("labelsRejected", l.human_rejected),
        ]);
    }
    statements.extend(
        counts
            .into_iter()
            .map(|(p, n)| Statement::new(s, st(p), Object::integer(n))),
    );
    catalog.replace_subjects(
        &catalog.layout().catalog,
        std::slice::from_ref(&r.run),
        &statements,
    )?;
    Ok(())
}

impl RunReport {
    /// The report of a run that starts now: nothing counted yet.
    pub(super) fn starting(
        run: &str,
        path: &Path,
        mapping: &super::mapping::Mapping,
        namespace: &str,
        encoding: &str,
        started: String,
        labelled: bool,
    ) -> RunReport {
        RunReport {
            run: run.to_owned(),
            asset: path.display().to_string(),
            entity: mapping.entity.as_str().to_string(),
            namespace: namespace.to_owned(),
            encoding: encoding.to_owned(),
            started,
            ended: String::new(),
            records_in: 0,
            accepted: 0,
            unchanged: 0,
            quarantined: 0,
            triples_written: 0,
            reasons: BTreeMap::new(),
            labels: labelled.then(LabelStats::default),
            findings: None,
            validation: None,
            skipped: false,
            seconds: BTreeMap::new(),
            model_watch: Vec::new(),
        }
    }

    /// Takes in what the writer thread counted; records the reader found unchanged count as
    /// accepted too.
    pub(super) fn add(&mut self, totals: super::write::Totals) {
        self.accepted = totals.accepted + self.unchanged;
        self.quarantined = totals.quarantined;
        self.triples_written = totals.triples_written;
        self.reasons = totals.reasons;
        self.seconds.extend(totals.seconds);
    }

    /// Adds the finished run to the Prometheus metrics: its duration and its records by
    /// outcome.
    pub(super) fn count_in_metrics(&self) {
        let secs: f64 = self.seconds.values().sum();
        metrics::histogram!("stocktake_ingest_duration_seconds", "entity" => self.entity.clone())
            .record(secs);
        for (outcome, n) in [
            ("read", self.records_in),
            ("written", self.accepted),
            ("quarantined", self.quarantined),
        ] {
            metrics::counter!("stocktake_ingest_records_total", "outcome" => outcome).increment(n);
        }
    }
}
