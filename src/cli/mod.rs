//! Command-line interface: argument parsing and dispatch only; the work lives in the library.
//!
//! Every global flag can also come from a `STOCKTAKE_*` environment variable (clap's `env`), and
//! both sit on top of the config file, giving the documented layering
//! defaults → `stocktake.toml` → environment → flags.

mod commands;
mod demo;
mod embeddings;
mod ingest;
mod kge;
mod labels;
mod models;
mod ontology;
mod privacy;
mod scan;
mod stock;
mod vault;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, Overrides};

/// Stocktake: takes stock of an e-commerce platform's data assets as one knowledge graph.
#[derive(Debug, Parser)]
#[command(name = "stocktake", version, about, long_about = None)]
pub struct Cli {
    /// Store directory.
    #[arg(long, global = true, env = "STOCKTAKE_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Config file (TOML); default ./stocktake.toml when present.
    #[arg(long, global = true, env = "STOCKTAKE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Base IRI for named graphs and catalog resources.
    #[arg(long, global = true, env = "STOCKTAKE_BASE_IRI", value_name = "IRI")]
    pub base_iri: Option<String>,
    /// Directory of ontology Turtle files.
    #[arg(long, global = true, env = "STOCKTAKE_ONTOLOGY", value_name = "DIR")]
    pub ontology: Option<PathBuf>,
    /// Directory of named queries (*.rq).
    #[arg(long, global = true, env = "STOCKTAKE_QUERIES", value_name = "DIR")]
    pub queries: Option<PathBuf>,
    /// Folder of model packages.
    #[arg(long, global = true, env = "STOCKTAKE_MODELS", value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// ONNX Runtime library (libonnxruntime.so); found automatically when unset.
    #[arg(long, global = true, env = "STOCKTAKE_ORT_LIB", value_name = "FILE")]
    pub ort_lib: Option<PathBuf>,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true, env = "STOCKTAKE_LOG_JSON")]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the SPARQL endpoint, graph store and named queries over HTTP.
    Serve {
        /// Address to bind.
        #[arg(long, env = "STOCKTAKE_BIND", value_name = "ADDR")]
        bind: Option<String>,
        /// Seconds before a query is cancelled (503).
        #[arg(long, env = "STOCKTAKE_QUERY_TIMEOUT", value_name = "SECS")]
        query_timeout: Option<u64>,
        /// Most rows per result.
        #[arg(long, env = "STOCKTAKE_MAX_RESULT_ROWS", value_name = "N")]
        max_result_rows: Option<usize>,
        /// Allow reads without a token (never of restricted graphs).
        #[arg(long, env = "STOCKTAKE_ANONYMOUS_READ")]
        anonymous_read: Option<bool>,
    },
    /// Bulk-load RDF files (any RDF format, `.gz` accepted) into the store.
    Load {
        /// Files to load.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Load triples into this graph (IRI or short name such as `catalog`).
        #[arg(long, env = "STOCKTAKE_LOAD_GRAPH", value_name = "IRI")]
        graph: Option<String>,
        /// Format when the extension does not tell (turtle, ntriples, nquads, trig, rdfxml, jsonld).
        #[arg(long, env = "STOCKTAKE_LOAD_FORMAT", value_name = "FORMAT")]
        format: Option<String>,
        /// Base IRI for relative IRIs in the files.
        #[arg(long, env = "STOCKTAKE_LOAD_BASE", value_name = "IRI")]
        base: Option<String>,
    },
    /// Run a SPARQL query (text or @file) against the store and print the results.
    Query {
        /// Query text, or @path to read it from a file.
        #[arg(value_name = "SPARQL|@FILE")]
        query: String,
        /// json, xml, csv, tsv for SELECT/ASK; turtle, ntriples, nquads, rdfxml, jsonld for graphs.
        #[arg(long, env = "STOCKTAKE_QUERY_FORMAT", value_name = "FORMAT")]
        format: Option<String>,
    },
    /// Dump the store (N-Quads by default) or one graph.
    Dump {
        /// Dump only this graph (IRI or short name).
        #[arg(long, env = "STOCKTAKE_DUMP_GRAPH", value_name = "IRI")]
        graph: Option<String>,
        /// Output format.
        #[arg(long, env = "STOCKTAKE_DUMP_FORMAT", value_name = "FORMAT")]
        format: Option<String>,
        /// Write to a file instead of stdout.
        #[arg(long, env = "STOCKTAKE_DUMP_OUT", value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// The whole job on the bundled demo data, then serve (read-only without a token).
    Demo {
        /// Address to bind.
        #[arg(long, env = "STOCKTAKE_BIND", value_name = "ADDR")]
        bind: Option<String>,
        /// Run the pipeline and sample queries, then exit instead of serving.
        #[arg(long, env = "STOCKTAKE_DEMO_NO_SERVE")]
        no_serve: bool,
    },
    /// List, evaluate and run the model packages (ONNX classifiers and NER).
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Inventory a directory of files or a database: profile every column, detect PII, classify
    /// each asset, and record it all in the catalog graph.
    Scan(scan::ScanArgs),
    /// The inventory report (盘点报告) from the catalog: HTML with charts, or JSON.
    Report(scan::ReportArgs),
    /// Clean, check and load the records of one file into the product graph through a mapping;
    /// failing records go to the quarantine graph with their reasons.
    Ingest(ingest::IngestArgs),
    /// The review queue of machine labels: list them, accept or reject one.
    Labels {
        #[command(subcommand)]
        action: labels::LabelsAction,
    },
    /// The stock watch (库存预警): check stock and demand now, list and decide replenishment
    /// proposals.
    Stock {
        #[command(subcommand)]
        action: stock::StockAction,
    },
    /// The ontology maintainers' tools: check the files, diff two versions.
    Ontology {
        #[command(subcommand)]
        action: ontology::OntologyAction,
    },
    /// Train TransE embeddings on a TSV dataset; writes the model and describes it in the catalog.
    Train(kge::TrainArgs),
    /// Filtered link-prediction metrics (MRR, MR, Hits@1/3/10) of a trained model on a split.
    Eval(kge::EvalArgs),
    /// Top-k tails of (head, relation) or heads of (relation, tail) from a trained model.
    Predict(kge::PredictArgs),
    /// Export data for scale-out (embeddings in DGL-KE or PyTorch-BigGraph format).
    Export {
        #[command(subcommand)]
        what: ExportWhat,
    },
    /// A differentially private aggregate (count, sum, mean, histogram, top-k) over the product
    /// graph's interactions, orders, reviews or users, spending ε from the privacy budgets.
    Dp(privacy::DpArgs),
    /// Turn embeddings trained elsewhere (DGL-KE or PyTorch-BigGraph) into a model link prediction serves.
    ImportEmbeddings(embeddings::ImportArgs),
    /// The keys of sealed values: status, rotation, audited decryption.
    Keys {
        #[command(subcommand)]
        action: vault::KeysAction,
    },
    /// The audit log: verify its hash chain.
    Audit {
        #[command(subcommand)]
        action: vault::AuditAction,
    },
    /// Manage bearer tokens (only their hashes are stored in the config file).
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
}

/// `stocktake export …`
#[derive(Debug, Subcommand)]
pub enum ExportWhat {
    /// Entity and relation embeddings with their id maps.
    Embeddings(embeddings::ExportArgs),
    /// A shareable copy of a user-level file: per-column drop/mask/generalise/pseudonym/date
    /// shift, then k-anonymity and l-diversity over the quasi-identifiers (recorded as PROV).
    Anonymised(privacy::AnonymisedArgs),
}

/// `stocktake token …`
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a token, print it once and store its hash.
    Add {
        /// Name for the token (shown in logs and the audit trail).
        name: String,
        /// read, write or admin.
        #[arg(long, env = "STOCKTAKE_TOKEN_ROLE", value_parser = crate::config::parse_role)]
        role: crate::privacy::Role,
        /// When the token stops working (RFC 3339, or YYYY-MM-DD for its midnight UTC).
        #[arg(long, value_name = "WHEN")]
        expires: Option<String>,
        /// The ε this token may spend per dataset on DP answers (default [privacy] token_epsilon).
        #[arg(long, value_name = "EPSILON")]
        dp_epsilon: Option<String>,
    },
    /// List tokens: name, role, expiry, grants (never secrets or hashes).
    List,
    /// Change what a token grants, without a restart: expiry and DP budget ("none" clears).
    Grant {
        /// The token's name.
        name: String,
        /// New expiry (RFC 3339 or YYYY-MM-DD), or "none".
        #[arg(long, value_name = "WHEN")]
        expires: Option<String>,
        /// New DP budget per dataset, or "none" for [privacy] token_epsilon.
        #[arg(long, value_name = "EPSILON")]
        dp_epsilon: Option<String>,
        /// Let the token read this restricted graph (repeatable).
        #[arg(long = "graph", value_name = "IRI")]
        graphs: Vec<String>,
        /// Let the token read the detail (PII evidence, measurements) of this asset's personal
        /// columns, or of this one column (repeatable).
        #[arg(long = "asset", value_name = "IRI")]
        assets: Vec<String>,
        /// Withdraw a graph, asset or column grant (repeatable).
        #[arg(long = "withdraw", value_name = "IRI")]
        withdraw: Vec<String>,
    },
    /// Remove a token.
    Revoke {
        /// The token's name.
        name: String,
    },
}

/// `stocktake models …`
#[derive(Debug, Subcommand)]
pub enum ModelsAction {
    /// List the model packages with task, labels, size and held-out metrics.
    List {
        /// text or json.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
    },
    /// Score a model on labelled data with the Rust evaluator.
    Eval {
        /// Model name (folder under the models directory).
        name: String,
        /// NER: CoNLL (char per line) or JSONL; classification: JSONL, CSV or a .zip holding a CSV.
        #[arg(long, value_name = "FILE")]
        data: PathBuf,
        /// JSON file of row-index arrays selecting rows of a CSV (e.g. split_seed42.json).
        #[arg(long, value_name = "FILE", requires = "split")]
        split_file: Option<PathBuf>,
        /// Key in the split file (train, valid, test).
        #[arg(long, value_name = "NAME", requires = "split_file")]
        split: Option<String>,
        /// NER: score only these entity types (comma-separated); default: those in the data.
        #[arg(long, value_delimiter = ',', value_name = "TYPES")]
        types: Vec<String>,
        /// Classification: head whose accuracy/macro_f1 go at the top level; default the first.
        #[arg(long, value_name = "HEAD")]
        head: Option<String>,
        /// text or json.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
    },
    /// Read one text per stdin line, print one JSON object per line.
    Run {
        /// Model name.
        name: String,
        /// Classification: labels per head (default all, best first).
        #[arg(long, value_name = "K")]
        top_k: Option<usize>,
    },
    /// The labels of a model people accepted or rejected, with their texts, as JSON lines: the
    /// next retraining set (rejections are its negatives).
    Feedback {
        /// Model name.
        name: String,
        /// Write here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

impl Cli {
    /// Layers defaults, the config file, the environment and the flags.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(self.config.as_deref())?;
        let mut o = Overrides {
            data: self.data.clone(),
            base_iri: self.base_iri.clone(),
            ontology_dir: self.ontology.clone(),
            queries_dir: self.queries.clone(),
            models_dir: self.models.clone(),
            ort_lib: self.ort_lib.clone(),
            ..Default::default()
        };
        match &self.command {
            Command::Serve {
                bind,
                query_timeout,
                max_result_rows,
                anonymous_read,
            } => {
                o.bind = bind.clone();
                o.query_timeout_secs = *query_timeout;
                o.max_result_rows = *max_result_rows;
                o.anonymous_read = *anonymous_read;
            }
            Command::Demo { bind, .. } => o.bind = bind.clone(),
            _ => {}
        }
        config.apply(o);
        config.validate()?;
        Ok(config)
    }

    /// The config file token commands edit.
    pub fn config_path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| PathBuf::from("stocktake.toml"))
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Parses arguments and runs the chosen command.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    init_logging(cli.log_json);
    commands::dispatch(cli)
}

/// Who a command acts as: the operator at this machine, with the store on disk (the admin
/// role, as for `load`), named `local:$USER` in the audit log and the privacy ledger.
pub(crate) fn local_admin() -> crate::privacy::Principal {
    crate::privacy::Principal::User {
        name: format!(
            "local:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        ),
        role: crate::privacy::Role::Admin,
        grants: Default::default(),
    }
}
