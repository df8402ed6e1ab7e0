//! Ingestion (自动标注和清洗 + 知识图谱构建): records from an inventoried asset become the product
//! graph that SPARQL users query and TransE learns from.
//!
//! A run reads one file through its mapping (`mapping`), cleans every mapped value (`clean`),
//! turns each record into schema.org statements under IRIs minted from business keys (`graph`)
//! and writes them in batches, one transaction per batch. A record that fails any check goes to
//! the quarantine graph with every reason, its line and its raw cells; nothing is dropped, and
//! the run's PROV record in the catalog says how many records came in, how many were accepted
//! and how many quarantined (in = accepted + quarantined, always). Because IRIs are stable and a
//! record's batch replaces that record's earlier triples, re-running the same input leaves the
//! graph as it was, and a run killed half-way is completed by running it again.

pub mod clean;
pub mod graph;
pub mod label;
pub mod mapping;
pub mod quality;
pub mod read;
pub mod suggest;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::catalog::vocab::{PROV, RDF, SCHEMA, SKOS, ST};
use crate::catalog::{Catalog, CatalogError, Object, Statement, ValidationReport};
use graph::{Built, Context, Minter};
use label::{LabelError, LabelStats, Labeler};
use mapping::{Mapping, MappingError};

/// Records per write transaction.
const BATCH: usize = 1000;
/// Longest title accepted (a longer one is a broken export, not a product name).
pub const MAX_TITLE_CHARS: usize = 1000;
/// MinHash Jaccard estimate at which two titles are near duplicates.
const NEAR_DUPLICATE: f64 = 0.8;
/// Longest cell kept in a quarantined record's raw copy.
const MAX_RAW_CHARS: usize = 2000;

/// What stops a run before or while it writes (bad records are not errors: they are quarantined).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Label(#[from] LabelError),
    #[error("cannot read the pseudonym key {path}: {message}")]
    Secret { path: String, message: String },
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
}

/// Adds the time since `t` to `stage` (and restarts `t`).
fn lap(seconds: &mut BTreeMap<String, f64>, stage: &str, t: &mut std::time::Instant) {
    *seconds.entry(stage.to_owned()).or_default() += t.elapsed().as_secs_f64();
    *t = std::time::Instant::now();
}

/// Results of the SHACL report repeated in the run report itself.
const REPORTED_RESULTS: usize = 20;

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The secret that keys user pseudonyms: `<data>/pseudonym.key`, created (random, 256 bits) on
/// first use. Losing it changes every user IRI on the next ingest; it is never written to the
/// store.
pub fn pseudonym_secret(data: &Path) -> Result<Vec<u8>, IngestError> {
    let path = data.join("pseudonym.key");
    let err = |e: std::io::Error| IngestError::Secret {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    match std::fs::read_to_string(&path) {
        Ok(s) => hex::decode(s.trim()).map_err(|e| IngestError::Secret {
            path: path.display().to_string(),
            message: format!("not hex: {e}"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data).map_err(err)?;
            let key: [u8; 32] = rand::random();
            let tmp = data.join("pseudonym.key.tmp");
            std::fs::write(&tmp, hex::encode(key)).map_err(err)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
                    .map_err(err)?;
            }
            std::fs::rename(&tmp, &path).map_err(err)?;
            Ok(key.to_vec())
        }
        Err(e) => Err(err(e)),
    }
}

/// SKOS labels and notations of the ontology's concepts, lower-cased → concept IRI.
fn category_labels(catalog: &Catalog) -> Result<HashMap<String, String>, CatalogError> {
    let g = catalog.layout().ontology.as_str().to_owned();
    let rows = catalog.select(&format!(
        "SELECT ?c ?l WHERE {{ GRAPH <{g}> {{ ?c a <{SKOS}Concept> . \
         {{ ?c <{SKOS}prefLabel> ?l }} UNION {{ ?c <{SKOS}altLabel> ?l }} UNION {{ ?c <{SKOS}notation> ?l }} }} }}"
    ))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((r.get("l")?.to_lowercase(), r.get("c")?.clone())))
        .collect())
}

/// Brand labels and aliases of the ontology (`ontology/brands.ttl`), lower-cased → brand IRI.
fn brand_aliases(catalog: &Catalog) -> Result<HashMap<String, String>, CatalogError> {
    let g = catalog.layout().ontology.as_str().to_owned();
    let rows = catalog.select(&format!(
        "SELECT ?b ?l WHERE {{ GRAPH <{g}> {{ ?b a <http://schema.org/Brand> . \
         {{ ?b <{SKOS}prefLabel> ?l }} UNION {{ ?b <{SKOS}altLabel> ?l }} }} }}"
    ))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((r.get("l")?.to_lowercase(), r.get("b")?.clone())))
        .collect())
}

/// The namespace a file's keys live in by default: its name without extensions.
fn default_namespace(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    name.split('.').next().unwrap_or(name).to_string()
}

/// SHA-256 of a file's bytes (names the run: the same input and mapping are the same run).
fn file_hash(path: &Path) -> Result<String, IngestError> {
    use sha2::Digest;
    let mut f = std::fs::File::open(path)
        .map_err(|e| IngestError::Input(format!("cannot open {}: {e}", path.display())))?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h)
        .map_err(|e| IngestError::Input(format!("cannot read {}: {e}", path.display())))?;
    Ok(hex::encode(h.finalize()))
}

/// Checks that `path` can be read and `mapping` fits its columns, without ingesting anything
/// (the errors a run would stop with at once).
pub fn check(path: &Path, mapping: &Mapping) -> Result<(), IngestError> {
    let keys: Vec<String> = mapping.columns.values().cloned().collect();
    let records =
        read::open(path, mapping.encoding.as_deref(), &keys).map_err(IngestError::Input)?;
    mapping.resolve(&records.columns)?;
    Ok(())
}

/// The run's IRI. A run is named by what determines its output (file bytes, mapping,
/// labeller), so re-running the same input — or completing a killed run — rewrites the same
/// run record.
fn run_iri(
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
    let g = catalog.layout().catalog.as_str().to_owned();
    let p = catalog.layout().products.as_str().to_owned();
    let rows = catalog.select(&format!(
        "SELECT * WHERE {{ GRAPH <{g}> {{ <{run}> a <{ST}IngestRun> ; <{ST}sourceAsset> ?asset ; \
         <{ST}entityType> ?entity ; <{ST}namespace> ?ns ; <{ST}recordsIn> ?in ; \
         <{ST}recordsAccepted> ?ok ; <{ST}recordsQuarantined> ?q ; \
         <{PROV}startedAtTime> ?started ; <{PROV}endedAtTime> ?ended }} \
         FILTER NOT EXISTS {{ GRAPH <{p}> {{ ?d a <{ST}Decision> ; <{PROV}generatedAtTime> ?t }} \
         FILTER(?t > ?ended) }} }}"
    ))?;
    let Some(r) = rows.into_iter().next() else {
        return Ok(None);
    };
    let n = |k: &str| r.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok(Some(RunReport {
        run,
        asset: r.get("asset").cloned().unwrap_or_default(),
        entity: r.get("entity").cloned().unwrap_or_default(),
        namespace: r.get("ns").cloned().unwrap_or_default(),
        encoding: String::new(),
        started: r.get("started").cloned().unwrap_or_default(),
        ended: r.get("ended").cloned().unwrap_or_default(),
        records_in: n("in"),
        accepted: n("ok"),
        quarantined: n("q"),
        triples_written: 0,
        reasons: BTreeMap::new(),
        labels: None,
        findings: None,
        validation: None,
        skipped: true,
        seconds: BTreeMap::new(),
    }))
}

/// Ingests the file at `path` with `mapping`, labelling product titles with `labeler` when
/// given. Blocking.
pub fn ingest(
    catalog: &Catalog,
    path: &Path,
    mapping: &Mapping,
    mapping_text: &str,
    secret: &[u8],
    labeler: Option<&Labeler>,
) -> Result<RunReport, IngestError> {
    let started = now();
    let namespace = mapping
        .namespace
        .clone()
        .unwrap_or_else(|| default_namespace(path));
    let keys: Vec<String> = mapping.columns.values().cloned().collect();
    let records =
        read::open(path, mapping.encoding.as_deref(), &keys).map_err(IngestError::Input)?;
    let fields: HashMap<String, usize> = mapping.resolve(&records.columns)?.into_iter().collect();
    let base = catalog.layout().base().to_owned();
    let minter = Minter::new(&base, secret).with_brand_aliases(brand_aliases(catalog)?);
    let categories = category_labels(catalog)?;
    let run = run_iri(catalog, path, mapping_text, labeler)?;
    let ctx = Context {
        mapping,
        fields: &fields,
        namespace: &namespace,
        minter: &minter,
        categories: &categories,
        now: chrono::Utc::now(),
    };
    let mut report = RunReport {
        run: run.clone(),
        asset: path.display().to_string(),
        entity: mapping.entity.as_str().to_string(),
        namespace: namespace.clone(),
        encoding: records.encoding.clone(),
        started,
        ended: String::new(),
        records_in: 0,
        accepted: 0,
        quarantined: 0,
        triples_written: 0,
        reasons: BTreeMap::new(),
        labels: labeler.map(|_| LabelStats::default()),
        findings: None,
        validation: None,
        skipped: false,
        seconds: BTreeMap::new(),
    };
    let mut t = std::time::Instant::now();
    let columns = records.columns.clone();
    let asset = report.asset.clone();
    let id_field = fields.get("id").copied();
    let writer = Writer {
        catalog,
        minter: &minter,
        namespace: &namespace,
        mapping,
        run: &run,
        asset: &asset,
        columns: &columns,
        id_field,
    };
    // Two stages overlap: this thread reads, cleans, builds and labels batch k+1 while a writer
    // thread commits batch k (the model and the store each keep a core busy). Batches are
    // committed in order, one atomic write each, so a killed run is completed by a rerun.
    let (to_writer, batches) = std::sync::mpsc::sync_channel::<(Vec<Built>, Vec<Rejected>)>(1);
    let (read, totals) = std::thread::scope(|scope| {
        let handle = scope.spawn(move || -> Result<Totals, IngestError> {
            let mut totals = Totals::default();
            for (accepted, rejected) in batches {
                writer.write(accepted, rejected, &mut totals)?;
            }
            Ok(totals)
        });
        let read = (|| -> Result<(), IngestError> {
            let mut references = References::new(catalog);
            let product_ns = namespace_of_products(mapping);
            let mut accepted: Vec<Built> = Vec::new();
            let mut rejected: Vec<Rejected> = Vec::new();
            let mut rows = records.into_iter().peekable();
            while let Some(row) = rows.next() {
                report.records_in += 1;
                match row {
                    Ok((line, cells)) => {
                        let checked = check_and_build(&ctx, &fields, &columns, &cells)
                            .and_then(|b| references.check(b, &product_ns));
                        match checked {
                            Ok(mut b) => {
                                b.record_key = record_key(id_field, Some(cells.as_slice()), line);
                                accepted.push(b)
                            }
                            Err(reasons) => rejected.push((line, Some(cells), reasons)),
                        }
                    }
                    Err((line, reason)) => rejected.push((line, None, vec![reason])),
                }
                if let Some(e) = references.error.take() {
                    return Err(e.into());
                }
                let last = rows.peek().is_none();
                if accepted.len() + rejected.len() >= BATCH || last {
                    lap(&mut report.seconds, "read+clean+build", &mut t);
                    if let (Some(l), Some(stats)) = (labeler, report.labels.as_mut()) {
                        l.label(catalog, &minter, &mut accepted, &run, stats)?;
                        lap(&mut report.seconds, "label", &mut t);
                    }
                    let batch = (std::mem::take(&mut accepted), std::mem::take(&mut rejected));
                    if to_writer.send(batch).is_err() {
                        // The writer stopped on an error, which its join reports.
                        return Ok(());
                    }
                    t = std::time::Instant::now();
                }
            }
            Ok(())
        })();
        drop(to_writer);
        let totals = handle
            .join()
            .unwrap_or_else(|_| Err(IngestError::Input("the writer thread panicked".into())));
        (read, totals)
    });
    read?;
    let totals = totals?;
    report.accepted = totals.accepted;
    report.quarantined = totals.quarantined;
    report.triples_written = totals.triples_written;
    report.reasons = totals.reasons;
    report.seconds.extend(totals.seconds);
    let mut t = std::time::Instant::now();
    if mapping.entity == mapping::Entity::Product {
        let prefix = minter.entity("product", &namespace, "");
        report.findings = Some(quality::analyse(catalog, &prefix, NEAR_DUPLICATE)?);
        lap(&mut report.seconds, "findings", &mut t);
    }
    let mut validation = catalog.validate(&catalog.layout().products)?;
    lap(&mut report.seconds, "shacl", &mut t);
    report.ended = now();
    record_run(catalog, &report, mapping_text)?;
    catalog.record_validation(&run, &format!("{run}/shacl"), &validation)?;
    validation.results.truncate(REPORTED_RESULTS);
    report.validation = Some(validation);
    Ok(report)
}

/// Record-level checks that need the raw cells (encoding damage), then the graph builder.
fn check_and_build(
    ctx: &Context<'_>,
    fields: &HashMap<String, usize>,
    columns: &[String],
    cells: &[Option<String>],
) -> Result<Built, Vec<String>> {
    let mut reasons = Vec::new();
    for (field, &i) in fields {
        if let Some(Some(v)) = cells.get(i) {
            if v.contains('\u{fffd}') {
                reasons.push(format!(
                    "column {:?} ({field}) holds bytes that are not valid text in the file's encoding",
                    columns[i]
                ));
            }
            if field == "title" && v.chars().count() > MAX_TITLE_CHARS {
                reasons.push(format!(
                    "title is {} characters long (limit {MAX_TITLE_CHARS})",
                    v.chars().count()
                ));
            }
        }
    }
    match graph::build(ctx, cells) {
        Ok(b) if reasons.is_empty() => Ok(b),
        Ok(_) => Err(reasons),
        Err(more) => {
            reasons.extend(more);
            Err(reasons)
        }
    }
}

/// A record's key within its asset: its id column when it has one, else its line.
fn record_key(id_field: Option<usize>, cells: Option<&[Option<String>]>, line: u64) -> String {
    cells
        .and_then(|c| c.get(id_field?).cloned().flatten())
        .map(|k| clean::text(&k))
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| format!("line-{line}"))
}

/// The namespace whose products reviews and interactions point at.
fn namespace_of_products(mapping: &Mapping) -> String {
    mapping
        .product_namespace
        .clone()
        .unwrap_or_else(|| "products".into())
}

/// Checks that the products a record points at are in the product graph (a dangling reference
/// is quarantined: ingest the products first, then rerun). Known products are remembered, so
/// an interaction log costs one lookup per distinct product.
struct References<'a> {
    catalog: &'a Catalog,
    known: std::collections::HashSet<String>,
    /// A store error met while checking (the run stops with it).
    error: Option<CatalogError>,
}

/// Products remembered as present (bounds the memory of the check).
const KNOWN_PRODUCTS: usize = 1_000_000;

impl<'a> References<'a> {
    fn new(catalog: &'a Catalog) -> Self {
        References {
            catalog,
            known: Default::default(),
            error: None,
        }
    }

    fn check(&mut self, b: Built, namespace: &str) -> Result<Built, Vec<String>> {
        let graph = &self.catalog.layout().products;
        let mut reasons = Vec::new();
        for (key, iri) in &b.references {
            if self.known.contains(iri) {
                continue;
            }
            match self
                .catalog
                .is_instance(graph, iri, &format!("{SCHEMA}Product"))
            {
                Ok(true) => {
                    if self.known.len() < KNOWN_PRODUCTS {
                        self.known.insert(iri.clone());
                    }
                }
                Ok(false) => reasons.push(format!(
                    "product {key:?} is not in the product graph (namespace {namespace:?}): \
                     ingest the products first, then rerun this asset"
                )),
                Err(e) => {
                    self.error = Some(e);
                    return Err(vec!["store error while checking references".into()]);
                }
            }
        }
        if reasons.is_empty() {
            Ok(b)
        } else {
            Err(reasons)
        }
    }
}

/// What the writer thread counts while the reader labels the next batch.
#[derive(Default)]
struct Totals {
    accepted: u64,
    quarantined: u64,
    triples_written: u64,
    reasons: BTreeMap<String, u64>,
    seconds: BTreeMap<String, f64>,
}

/// Writes batches of accepted and quarantined records.
struct Writer<'a> {
    catalog: &'a Catalog,
    minter: &'a Minter,
    namespace: &'a str,
    mapping: &'a Mapping,
    run: &'a str,
    asset: &'a str,
    columns: &'a [String],
    id_field: Option<usize>,
}

type Rejected = (u64, Option<Vec<Option<String>>>, Vec<String>);

impl Writer<'_> {
    /// Writes one batch: accepted records into the product graph, rejected ones into the
    /// quarantine, each in one atomic write.
    fn write(
        &self,
        mut accepted: Vec<Built>,
        mut rejected: Vec<Rejected>,
        report: &mut Totals,
    ) -> Result<(), IngestError> {
        let layout = self.catalog.layout();
        let mut t = std::time::Instant::now();
        if !accepted.is_empty() {
            // A record accepted now may have been quarantined by an earlier run (a fixed
            // mapping, products ingested since): its quarantine entry goes.
            let cleared: Vec<String> = accepted
                .iter()
                .map(|b| {
                    self.minter
                        .quarantined(self.namespace, self.mapping.entity, &b.record_key)
                })
                .collect();
            self.catalog
                .replace_subjects(&layout.quarantine, &cleared, &[])?;
            let subjects: Vec<String> = accepted.iter().flat_map(|b| b.owned.clone()).collect();
            let statements: Vec<Statement> =
                accepted.iter().flat_map(|b| b.statements.clone()).collect();
            report.triples_written +=
                self.catalog
                    .replace_subjects(&layout.products, &subjects, &statements)?
                    as u64;
            report.accepted += accepted.len() as u64;
            accepted.clear();
        }
        if !rejected.is_empty() {
            let mut subjects = Vec::new();
            let mut statements = Vec::new();
            for (line, cells, reasons) in rejected.iter() {
                let key = record_key(self.id_field, cells.as_deref(), *line);
                let q = self
                    .minter
                    .quarantined(self.namespace, self.mapping.entity, &key);
                let mut add = |p: String, o: Object| statements.push(Statement::new(&q, p, o));
                add(
                    format!("{RDF}type"),
                    Object::iri(format!("{ST}QuarantinedRecord")),
                );
                add(format!("{ST}sourceAsset"), Object::string(self.asset));
                add(format!("{ST}sourceLine"), Object::integer(*line));
                add(
                    format!("{ST}entityType"),
                    Object::string(self.mapping.entity.as_str()),
                );
                add(format!("{PROV}wasGeneratedBy"), Object::iri(self.run));
                for r in reasons {
                    add(format!("{ST}reason"), Object::string(r));
                    if report.reasons.len() < 50 || report.reasons.contains_key(r) {
                        *report.reasons.entry(r.clone()).or_default() += 1;
                    }
                }
                if let Some(cells) = cells {
                    let raw: serde_json::Map<String, serde_json::Value> = self
                        .columns
                        .iter()
                        .zip(cells)
                        .map(|(c, v)| {
                            let v = v.as_deref().map(|v| {
                                let cut: String = v.chars().take(MAX_RAW_CHARS).collect();
                                serde_json::Value::String(cut)
                            });
                            (c.clone(), v.unwrap_or(serde_json::Value::Null))
                        })
                        .collect();
                    add(
                        format!("{ST}rawRecord"),
                        Object::string(serde_json::Value::Object(raw).to_string()),
                    );
                }
                subjects.push(q);
            }
            self.catalog
                .replace_subjects(&layout.quarantine, &subjects, &statements)?;
            report.quarantined += rejected.len() as u64;
            rejected.clear();
        }
        lap(&mut report.seconds, "write", &mut t);
        Ok(())
    }
}

/// The run's PROV record in the catalog graph.
fn record_run(catalog: &Catalog, r: &RunReport, mapping_text: &str) -> Result<(), CatalogError> {
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
    if let Some(f) = &r.findings {
        statements.push(Statement::new(
            s,
            st("exactDuplicates"),
            Object::integer(f.exact_duplicates as u64),
        ));
        statements.push(Statement::new(
            s,
            st("nearDuplicates"),
            Object::integer(f.near_duplicates as u64),
        ));
        statements.push(Statement::new(
            s,
            st("priceAnomalies"),
            Object::integer(f.price_anomalies as u64),
        ));
        statements.push(Statement::new(
            s,
            st("weightAnomalies"),
            Object::integer(f.weight_anomalies as u64),
        ));
    }
    if let Some(l) = &r.labels {
        statements.push(Statement::new(
            s,
            st("labelsAccepted"),
            Object::integer(l.accepted + l.human_accepted),
        ));
        statements.push(Statement::new(
            s,
            st("labelsInReview"),
            Object::integer(l.review),
        ));
        statements.push(Statement::new(
            s,
            st("labelsRejected"),
            Object::integer(l.human_rejected),
        ));
    }
    catalog.replace_subjects(
        &catalog.layout().catalog,
        std::slice::from_ref(&r.run),
        &statements,
    )?;
    Ok(())
}
