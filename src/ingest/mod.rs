//! Ingestion (自动标注和清洗 + 知识图谱构建): records from an inventoried asset become the product
//! graph that SPARQL users query and TransE learns from.
//!
//! A run reads one file through its mapping (`mapping`, or one proposed by `suggest`), cleans
//! every mapped value (`clean`), turns each record into schema.org statements under IRIs minted
//! from business keys (`graph`), labels product titles with the title model (`label`) and writes
//! them in batches on a writer thread that overlaps the labelling (`write`): quarantine entries
//! and replacements in one transaction per batch, new records through one bulk load that commits
//! every `COMMIT_EVERY` quads and at the end (each commit atomic). A record that fails any check goes to the quarantine graph with every reason, its
//! line and its raw cells; nothing is dropped, and the run's PROV record in the catalog (`run`)
//! says how many records came in, how many were accepted and how many quarantined (in =
//! accepted + quarantined, always). After the batches, duplicates and outliers are linked
//! (`quality`) and the product graph is validated against the ontology's SHACL shapes. Because
//! IRIs are stable and a record's batch replaces that record's earlier triples, re-running the
//! same input leaves the graph as it was, and a run killed half-way is completed by running it
//! again; the run record, written last, is the asset's checkpoint.

pub mod clean;
pub mod graph;
pub mod label;
pub mod mapping;
pub mod quality;
pub mod read;
mod review;
mod run;
mod stage;
pub mod stock;
pub mod suggest;
mod write;

use std::collections::HashMap;
use std::path::Path;

use crate::catalog::vocab::ST;
use crate::catalog::{Catalog, CatalogError, NamedQuery, Object, Statement, Visibility};
use graph::{Context, Minter};
use label::{LabelError, Labeler};
use mapping::{Mapping, MappingError};
pub use run::{finished_run, IngestConfig, RunReport};
use run::{lap, now, record_run, run_iri, REPORTED_RESULTS};
use write::Writer;

/// Records per batch: labelled together, then handed to the writer. Measured at 30,000
/// labelled product records on 2 cores: 1,000 -> 55.1 s, 2,500 -> 51.6 s, 5,000 -> 49.1 s end to
/// end, at a peak RSS of 523, 520 and 775 MB (fewer, larger bulk loads leave the store less
/// compaction to do beside the model).
pub const BATCH: usize = 2500;
/// Product-graph quads written in one bulk load at most (a commit point of a long run: a run
/// killed after one keeps what it committed). Until then the batches' quads are sorted into
/// files as they come and ingested together (`catalog::Appender`), which spares RocksDB most
/// of the compaction that one load per batch cost.
pub const COMMIT_EVERY: usize = 2_000_000;
/// Longest title accepted (a longer one is a broken export, not a product name).
pub const MAX_TITLE_CHARS: usize = 1000;
/// MinHash Jaccard estimate at which two titles are near duplicates.
const NEAR_DUPLICATE: f64 = 0.8;

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

/// The secret that keys user pseudonyms: `<data>/pseudonym.key`, created (random, 256 bits) on
/// first use and kept sealed by the keyring (a file from an earlier release that holds the key
/// in the clear is sealed in place on first use). Losing it, or the key that seals it, changes
/// every user IRI on the next ingest; it is never written to the store.
pub fn pseudonym_secret(
    data: &Path,
    vault: &crate::vault::Keyring,
) -> Result<zeroize::Zeroizing<Vec<u8>>, IngestError> {
    let path = data.join("pseudonym.key");
    let fail = |message: String| IngestError::Secret {
        path: path.display().to_string(),
        message,
    };
    let err = |e: std::io::Error| fail(e.to_string());
    let text = match std::fs::read_to_string(&path) {
        Ok(s) => zeroize::Zeroizing::new(s.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data).map_err(err)?;
            let key = zeroize::Zeroizing::new(rand::random::<[u8; 32]>());
            write_sealed_secret(data, &vault.seal(&key[..], PSEUDONYM_CONTEXT)).map_err(err)?;
            return Ok(zeroize::Zeroizing::new(key.to_vec()));
        }
        Err(e) => return Err(err(e)),
    };
    if crate::vault::is_sealed(&text) {
        let key = vault
            .open(&text, PSEUDONYM_CONTEXT)
            .map_err(|e| fail(e.to_string()))?;
        // Sealed with a retired key: seal it with the current one (rotation does it too).
        if crate::vault::key_id(&text) != Some(vault.current_id()) {
            write_sealed_secret(data, &vault.seal(&key, PSEUDONYM_CONTEXT)).map_err(err)?;
        }
        return Ok(key);
    }
    let key = zeroize::Zeroizing::new(
        hex::decode(text.as_str()).map_err(|e| fail(format!("neither sealed nor hex: {e}")))?,
    );
    write_sealed_secret(data, &vault.seal(&key, PSEUDONYM_CONTEXT)).map_err(err)?;
    tracing::info!(file = %path.display(), "the pseudonym key is now sealed");
    Ok(key)
}

/// What the pseudonym key is sealed as (bound into its ciphertext).
pub const PSEUDONYM_CONTEXT: &str = "pseudonym-key";

/// Replaces `<data>/pseudonym.key` with a sealed value, 0600, through a rename.
pub fn write_sealed_secret(data: &Path, sealed: &str) -> std::io::Result<()> {
    let tmp = data.join("pseudonym.key.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp)?;
    std::io::Write::write_all(&mut f, sealed.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, data.join("pseudonym.key"))
}

/// How user-derived keys are minted: 2 = every key derived from a user id comes from the
/// keyed pseudonym (stores written before had interaction and review keys hashed from the raw
/// id, which anyone could recompute by enumerating ids). Part of each run's identity, so assets
/// ingested under the old scheme are not taken as done.
pub const KEY_SCHEME: &str = "2";

/// One-off migration of a store written before [`KEY_SCHEME`] 2, run when a store is opened
/// by the CLI or the server and before any ingest: removes from the product graph every
/// interaction node and every review (with its rating node and labels) — their IRIs, or for
/// reviews possibly their IRIs, were hashes of raw user ids, and an earlier review body may
/// hold unmasked phone numbers — and from the quarantine the entries of interaction, review
/// and user records (their raw copies held raw user ids); then marks the store as migrated in
/// the catalog graph. Re-ingesting those assets writes them back under keyed IRIs (their runs
/// no longer count as done, since the key scheme is part of a run's identity). Returns the
/// subjects removed; a no-op once marked.
pub fn migrate_user_keys(catalog: &Catalog) -> Result<usize, IngestError> {
    let layout = catalog.layout();
    let (products, marker) = (
        layout.products.as_str().to_owned(),
        format!("{ST}keyScheme"),
    );
    if catalog.objects(&layout.catalog, &products, &marker)? == [KEY_SCHEME] {
        return Ok(0);
    }
    let subjects = |name: &str, text: &str, graph: &str| -> Result<Vec<String>, IngestError> {
        let rows: Vec<Subject> = catalog.query_rows(
            &NamedQuery::parse(name, text)?,
            &[("graph", graph)],
            &Visibility::ADMIN,
        )?;
        Ok(rows.into_iter().map(|r| r.x).collect())
    };
    let in_products = subjects(
        "user-keyed-nodes",
        include_str!("queries/user-keyed-nodes.rq"),
        layout.products.as_str(),
    )?;
    let in_quarantine = subjects(
        "user-quarantine",
        include_str!("queries/user-quarantine.rq"),
        layout.quarantine.as_str(),
    )?;
    for chunk in in_products.chunks(10_000) {
        catalog.replace_subjects(&layout.products, chunk, &[])?;
    }
    for chunk in in_quarantine.chunks(10_000) {
        catalog.replace_subjects(&layout.quarantine, chunk, &[])?;
    }
    catalog.replace_properties(
        &layout.catalog,
        std::slice::from_ref(&products),
        std::slice::from_ref(&marker),
        &[Statement::new(
            &products,
            &marker,
            Object::string(KEY_SCHEME),
        )],
    )?;
    let removed = in_products.len() + in_quarantine.len();
    if removed > 0 {
        tracing::warn!(
            removed,
            "user-derived keys: removed interaction and review nodes (and quarantined user \
             records) written by an earlier release from raw user ids; re-ingest the \
             interaction and review assets"
        );
    }
    Ok(removed)
}

/// Removes quarantined records' copies of their cells written in the clear by a release
/// before sealed values (they held names, addresses and every other mapped cell; the entry
/// keeps its reasons, asset and line, so the record can still be found at its source). Run
/// at every open; a no-op once done. RocksDB keeps removed values in older files until it
/// compacts them, and backups taken before keep them: the README says so.
pub fn drop_plaintext_copies(catalog: &Catalog) -> Result<usize, IngestError> {
    let removed = catalog.remove_unsealed(
        catalog.layout().quarantine.as_str(),
        &format!("{ST}rawRecord"),
    )?;
    if removed > 0 {
        tracing::warn!(
            removed,
            "removed quarantined records' copies of their cells kept in the clear by an earlier \
             release (a rerun of their ingest keeps them sealed)"
        );
    }
    Ok(removed)
}

/// A row of a query that lists subjects.
#[derive(serde::Deserialize)]
struct Subject {
    x: String,
}

/// A label (`l`) of an ontology concept or brand (`c`).
#[derive(serde::Deserialize)]
struct Labelled {
    c: String,
    l: String,
}

/// The labels an ontology query lists, lower-cased → the IRI they name.
fn labels_of(
    catalog: &Catalog,
    name: &str,
    text: &str,
) -> Result<HashMap<String, String>, CatalogError> {
    let rows: Vec<Labelled> = catalog.query_rows(
        &NamedQuery::parse(name, text)?,
        &[("graph", catalog.layout().ontology.as_str())],
        &crate::catalog::Visibility::ADMIN,
    )?;
    Ok(rows
        .into_iter()
        .map(|r| (r.l.to_lowercase(), r.c))
        .collect())
}

/// SKOS labels and notations of the ontology's concepts, lower-cased → concept IRI.
fn category_labels(catalog: &Catalog) -> Result<HashMap<String, String>, CatalogError> {
    labels_of(
        catalog,
        "category-labels",
        include_str!("queries/category-labels.rq"),
    )
}

/// Brand labels and aliases of the ontology (`ontology/brands.ttl`), lower-cased → brand IRI.
fn brand_aliases(catalog: &Catalog) -> Result<HashMap<String, String>, CatalogError> {
    labels_of(
        catalog,
        "brand-aliases",
        include_str!("queries/brand-aliases.rq"),
    )
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

/// Checks that `path` can be read and `mapping` fits its columns, without ingesting anything
/// (the errors a run would stop with at once).
pub fn check(path: &Path, mapping: &Mapping) -> Result<(), IngestError> {
    let keys: Vec<String> = mapping.columns.values().cloned().collect();
    let records =
        read::open(path, mapping.encoding.as_deref(), &keys, None).map_err(IngestError::Input)?;
    mapping.resolve(&records.columns)?;
    Ok(())
}

/// Ingests the file at `path` with `mapping`, labelling product titles with `labeler` when
/// given. Blocking.
///
/// Ingestion is incremental per record: each accepted record's content (its statements before
/// labelling, with the labeller's model and threshold) is hashed into `st:recordHash`, and a
/// record whose hash the graph already holds is neither labelled nor written again.
pub fn ingest(
    catalog: &Catalog,
    path: &Path,
    mapping: &Mapping,
    mapping_text: &str,
    secret: &[u8],
    labeler: Option<&Labeler>,
) -> Result<RunReport, IngestError> {
    ingest_committing_every(
        catalog,
        path,
        mapping,
        mapping_text,
        secret,
        labeler,
        COMMIT_EVERY,
    )
}

/// [`ingest`] with new records committed every `commit_every` triples (`[ingest]
/// commit_every`) instead of every [`COMMIT_EVERY`].
pub fn ingest_committing_every(
    catalog: &Catalog,
    path: &Path,
    mapping: &Mapping,
    mapping_text: &str,
    secret: &[u8],
    labeler: Option<&Labeler>,
    commit_every: usize,
) -> Result<RunReport, IngestError> {
    let options = RunOptions {
        labeler,
        commit_every,
        confine: None,
        names: None,
        vault: None,
    };
    ingest_with(catalog, path, mapping, mapping_text, secret, &options)
}

/// What a run does besides reading its file through its mapping.
#[derive(Clone, Copy)]
pub struct RunOptions<'a> {
    /// Labels product titles or review texts (see [`Labeler`]).
    pub labeler: Option<&'a Labeler>,
    /// New records' triples per bulk-load commit (`[ingest] commit_every`).
    pub commit_every: usize,
    /// Where the file may lie: the file actually opened is checked (a path swapped for a link
    /// after the request was checked is refused, not read).
    pub confine: Option<&'a crate::inventory::Confinement>,
    /// Masks Chinese personal names and street addresses in review texts before they are
    /// written (the validators mask phones, e-mails and ids in any case).
    pub names: Option<&'a crate::inventory::ner::NameTagger>,
    /// Seals quarantined records' cells and the personal fields a mapping keeps; without it
    /// quarantine entries keep their reasons but no copy of the cells, and a mapping that keeps
    /// personal fields is refused.
    pub vault: Option<&'a crate::vault::Keyring>,
}

/// [`ingest`] with every option of a run.
pub fn ingest_with(
    catalog: &Catalog,
    path: &Path,
    mapping: &Mapping,
    mapping_text: &str,
    secret: &[u8],
    options: &RunOptions<'_>,
) -> Result<RunReport, IngestError> {
    let (labeler, commit_every) = (options.labeler, options.commit_every);
    // A store written by an earlier release is migrated before new keys are written beside
    // its old ones (a no-op once marked).
    migrate_user_keys(catalog)?;
    let started = now();
    let namespace = mapping
        .namespace
        .clone()
        .unwrap_or_else(|| default_namespace(path));
    let keys: Vec<String> = mapping.columns.values().cloned().collect();
    let records = read::open(path, mapping.encoding.as_deref(), &keys, options.confine)
        .map_err(IngestError::Input)?;
    let fields: HashMap<String, usize> = mapping.resolve(&records.columns)?.into_iter().collect();
    if !mapping.keep.is_empty() && options.vault.is_none() {
        return Err(IngestError::Input(
            "the mapping keeps personal fields sealed ([keep]), but no encryption key is \
             available to seal them"
                .into(),
        ));
    }
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
        vault: options.vault,
    };
    let mut report = RunReport::starting(
        &run,
        path,
        mapping,
        &namespace,
        &records.encoding,
        started,
        labeler.is_some(),
    );
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
        vault: options.vault,
    };
    let reader = stage::Reader {
        catalog,
        ctx: &ctx,
        columns: &columns,
        id_field,
        run: &run,
        options,
    };
    // Two stages overlap: this thread reads, cleans, builds and labels batch k+1 while a writer
    // thread commits batch k (the model and the store each keep a core busy). Batches are
    // written in order, each commit atomic, so a killed run is completed by a rerun.
    let (to_writer, batches) = std::sync::mpsc::sync_channel::<stage::Batch>(1);
    let (read, totals) = std::thread::scope(|scope| {
        let handle = scope.spawn(move || writer.write_all(batches, commit_every));
        let read = reader.read(records, &mut report, to_writer);
        let totals = handle
            .join()
            .unwrap_or_else(|_| Err(IngestError::Input("the writer thread panicked".into())));
        (read, totals)
    });
    read?;
    report.add(totals?);
    let (findings, validation) = whole_graph_passes(catalog, mapping, &minter, &namespace);
    if let Some((f, secs)) = findings {
        report.findings = Some(f?);
        report.seconds.insert("findings".into(), secs);
    }
    let mut validation = {
        let (v, secs) = validation;
        report.seconds.insert("shacl".into(), secs);
        v?
    };
    report.ended = now();
    record_run(catalog, &report, mapping_text)?;
    catalog.record_validation(&run, &format!("{run}/shacl"), &validation)?;
    validation.results.truncate(REPORTED_RESULTS);
    report.validation = Some(validation);
    report.count_in_metrics();
    Ok(report)
}

/// A pass's outcome and its seconds.
type Timed<T> = (Result<T, CatalogError>, f64);

/// The two whole-graph passes after a run — duplicates and outliers (product runs) and SHACL
/// validation — with their seconds. They only read what the batches wrote, so they run side by
/// side.
fn whole_graph_passes(
    catalog: &Catalog,
    mapping: &Mapping,
    minter: &Minter,
    namespace: &str,
) -> (
    Option<Timed<quality::Findings>>,
    Timed<crate::catalog::ValidationReport>,
) {
    std::thread::scope(|scope| {
        let shacl = scope.spawn(|| {
            let t = std::time::Instant::now();
            let v = catalog.validate(&catalog.layout().products);
            (v, t.elapsed().as_secs_f64())
        });
        let findings = (mapping.entity == mapping::Entity::Product).then(|| {
            let t = std::time::Instant::now();
            let prefix = minter.entity("product", namespace, "");
            let f = quality::analyse(catalog, &prefix, NEAR_DUPLICATE);
            (f, t.elapsed().as_secs_f64())
        });
        let validation = shacl.join().unwrap_or_else(|_| {
            (
                Err(CatalogError::Evaluation("SHACL validation panicked".into())),
                0.0,
            )
        });
        (findings, validation)
    })
}
