//! The application layer: every use case, written once, for every face.
//!
//! The command line, the HTTP server (and the web workbench after it) are faces: they turn
//! arguments or requests into a call here and the result into text or a response. What a use
//! case needs — the store opened and migrated, the ontology and model cards loaded, the
//! pseudonym key, the labelling and name models loaded once, the scan options a source gets,
//! the retrain after an ingest — is assembled here and nowhere else, so the faces cannot drift
//! apart (the demo once ignored `[ingest] commit_every` because it had its own copy of the
//! ingest run). [`App`] is built once from the validated [`Config`], the way one validated
//! argument set builds its collaborators once; blocking methods are marked, and async faces
//! call them off the runtime.

mod asset;
mod dp;
mod error;
mod explore;
mod export;
mod ingest;
mod models;
pub mod ontology;
mod scan;
mod search;
mod stock;
mod train;
mod vault;

use std::sync::{Arc, OnceLock};

pub use asset::{AssetDetail, AssetInfo, ColumnInfo};
pub use dp::{DpAnswer, DpGroup, DpRequest, ShareableReport};
pub use error::AppError;
pub use explore::{Exploration, Prediction};
pub use export::{kind_of, ExportJob, Exported};
pub use ingest::{IngestJob, Ingested};
pub use models::{load_model, register_models};
pub use scan::{ScanJob, Scanned};
pub use search::SearchAnswer;
pub use stock::StockWatch;
pub use train::{metric_pairs, train, TrainData, TrainEvent, TrainJob, Trained};
pub use vault::{KeyStatus, Opened, Rotation};

use crate::audit::AuditLog;
use crate::catalog::{Catalog, GraphLayout, Limits, NamedQuery};
use crate::config::Config;
use crate::ingest::label::Labeler;
use crate::inventory::ner::NameTagger;

/// The labelling models of the two labelled entities, loaded by the first run that needs one:
/// `Ok(None)` none configured, `Err` why it could not be loaded (kept, so it is said once).
type LabelerCell = OnceLock<Result<Option<Arc<Labeler>>, String>>;

/// The opened product: the catalog plus everything the use cases share.
pub struct App {
    catalog: Arc<Catalog>,
    config: Config,
    /// Name/address model for scans and review texts, loaded by the first use (blocking).
    ner: OnceLock<Option<Arc<NameTagger>>>,
    /// Title (products) and review labellers, loaded by the first ingest that needs them.
    labelers: [LabelerCell; 2],
    /// The append-only write log, opened by the first write.
    audit: OnceLock<AuditLog>,
    /// Link prediction from the served model (see [`App::with_link_prediction`]).
    recommend: Option<Arc<crate::recommend::Service>>,
    /// The full-text index, built by the first sync or search (see `app::search`).
    search: OnceLock<Arc<crate::search::SearchIndex>>,
    /// One sync at a time (a second would redo the same work).
    search_sync: std::sync::Mutex<()>,
    /// The DP query path's snapshot and budget ledger totals.
    dp: dp::DpState,
}

/// What [`App::start`] loaded besides the store.
#[derive(Debug, Default)]
pub struct Started {
    pub ontology: Option<crate::catalog::OntologyReport>,
    pub models: usize,
}

impl App {
    /// Opens the on-disk store of `config` (with its layout and restricted graphs) and migrates
    /// it to the current key and profile schemes before anything reads or writes it. Blocking.
    pub fn open(config: Config) -> Result<App, AppError> {
        let layout = GraphLayout::new(&config.catalog.base_iri)?;
        let catalog = Catalog::open(&config.data, layout)
            .map_err(|e| AppError::Open {
                path: config.data.display().to_string(),
                source: e,
            })?
            .with_restricted_graphs(&config.access.restricted_graphs)?;
        crate::ingest::migrate_user_keys(&catalog)?;
        crate::ingest::drop_plaintext_copies(&catalog)?;
        crate::inventory::migrate::migrate_details(&catalog)?;
        Ok(App::with_catalog(Arc::new(catalog), config))
    }

    /// [`App::open`], then the ontology folder and the model packages' cards loaded into their
    /// graphs: what serving and ingesting read. Blocking.
    pub fn start(config: Config) -> Result<(App, Started), AppError> {
        let app = App::open(config)?;
        let started = Started {
            ontology: app.load_ontology()?,
            models: register_models(&app.catalog, &app.config.infer.models_dir)?,
        };
        Ok((app, started))
    }

    /// An app over an empty store in memory, for use cases that only read their inputs (`scan
    /// --no-catalog`): the store directory stays closed, so a running server may hold it.
    pub fn detached(config: Config) -> Result<App, AppError> {
        let layout = GraphLayout::new(&config.catalog.base_iri)?;
        Ok(App::with_catalog(
            Arc::new(Catalog::in_memory(layout)?),
            config,
        ))
    }

    /// An app over an already opened catalog (tests and benchmarks that build their own store).
    pub fn with_catalog(catalog: Arc<Catalog>, config: Config) -> App {
        App {
            catalog,
            config,
            ner: OnceLock::new(),
            labelers: Default::default(),
            audit: OnceLock::new(),
            recommend: None,
            search: OnceLock::new(),
            search_sync: std::sync::Mutex::new(()),
            dp: dp::DpState::default(),
        }
    }

    /// Serves link prediction from the configured model file (loaded and followed by the
    /// server; see `recommend::Service::refresh`).
    pub fn with_link_prediction(mut self) -> App {
        let embed = &self.config.embed;
        let service = crate::recommend::Service::new(
            embed.model_path(&self.config.data),
            Arc::clone(&self.catalog),
            embed.recommend_relation.clone(),
        )
        .with_search(embed.search)
        .with_rerank(embed.rerank);
        self.recommend = Some(Arc::new(service));
        self
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The link-prediction service, when this app serves one.
    pub fn link_prediction(&self) -> Option<&Arc<crate::recommend::Service>> {
        self.recommend.as_ref()
    }

    /// Loads the ontology folder into the ontology graph (unchanged files are not reloaded; a
    /// changed folder is applied as `ontology apply` does); `None` when the folder does not
    /// exist. Blocking.
    pub fn load_ontology(&self) -> Result<Option<crate::catalog::OntologyReport>, AppError> {
        let dir = &self.config.catalog.ontology_dir;
        if !dir.is_dir() {
            tracing::warn!(dir = %dir.display(), "ontology directory not found; ontology graph not loaded");
            return Ok(None);
        }
        let files = crate::catalog::ontology::OntologyFiles::read(dir)?;
        if self.catalog.ontology_hash()?.as_deref() != Some(files.hash.as_str()) {
            // A changed ontology goes the way of `ontology apply`: checked (errors refuse it and
            // the loaded one stays), the data migrated for the moves it declares, a version
            // recorded.
            let plan =
                self.ontology_change(&crate::privacy::Principal::Local, Some(dir), None, true)?;
            tracing::info!(
                added = plan.diff.added.len(),
                removed = plan.diff.removed.len(),
                changed = plan.diff.changed.len(),
                moves = plan.rewrites.len(),
                version = plan.version.as_deref().unwrap_or(""),
                "ontology changed and applied"
            );
            for b in &plan.breakage {
                tracing::warn!(kind = b.kind, "ontology change: {}", b.message);
            }
        }
        let report = self.catalog.load_ontology(dir)?;
        tracing::info!(
            files = report.files.len(),
            triples = report.triples,
            reloaded = report.reloaded,
            "ontology"
        );
        Ok(Some(report))
    }

    /// The named queries of the queries folder (none, with a warning, when it is missing).
    pub fn named_queries(&self) -> Result<Vec<NamedQuery>, AppError> {
        let dir = &self.config.catalog.queries_dir;
        if !dir.is_dir() {
            tracing::warn!(dir = %dir.display(), "queries directory not found");
            return Ok(Vec::new());
        }
        Ok(NamedQuery::load_dir(dir)?)
    }

    /// The per-request bounds of SPARQL evaluation from `[server]`.
    pub fn limits(&self) -> Limits {
        let server = &self.config.server;
        Limits {
            max_rows: server.max_result_rows,
            timeout_secs: server.query_timeout_secs,
            max_string_bytes: server.max_string_bytes,
            string_budget_bytes: server.string_budget_bytes,
        }
    }

    /// The audit log (`[server] audit_log`, default `<data>/audit.log`), opened once.
    pub fn audit(&self) -> Result<&AuditLog, AppError> {
        if let Some(log) = self.audit.get() {
            return Ok(log);
        }
        let path = self.config.audit_log_path();
        let log = AuditLog::open(&path).map_err(|source| AppError::Io {
            what: format!("cannot open audit log {}", path.display()),
            source,
        })?;
        Ok(self.audit.get_or_init(|| log))
    }

    /// A user with links along `[embed] recommend_relation` (the first by IRI), to show a
    /// recommendation with; `None` before any interaction is ingested. Blocking.
    pub fn sample_user(&self) -> Result<Option<String>, AppError> {
        #[derive(serde::Deserialize)]
        struct User {
            u: String,
        }
        let query = NamedQuery::parse("sample-user", include_str!("queries/sample-user.rq"))?;
        let users: Vec<User> = self.catalog.query_rows(
            &query,
            &[
                ("graph", self.catalog.layout().products.as_str()),
                ("relation", &self.config.embed.recommend_relation),
            ],
            &crate::catalog::Visibility::ADMIN,
        )?;
        Ok(users.into_iter().next().map(|u| u.u))
    }

    /// Writes everything to disk. Blocking.
    pub fn flush(&self) -> Result<(), AppError> {
        Ok(self.catalog.flush()?)
    }
}
