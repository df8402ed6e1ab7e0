//! Layered configuration: built-in defaults → `stocktake.toml` → `STOCKTAKE_*` environment → flags.
//!
//! The file layer is parsed here; the environment and flag layers arrive together from clap (each
//! flag declares its `STOCKTAKE_*` variable) as [`Overrides`] and are applied last. Defaults are the
//! safe ones: bind to loopback, writes need a token, every limit on.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::privacy::{Role, TokenEntry};

pub use crate::infer::InferConfig;
pub use crate::ingest::IngestConfig;
pub use crate::inventory::InventoryConfig;
pub use crate::recommend::{EmbedConfig, SearchMode};

/// Errors reading or writing the configuration file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file exists but could not be read or written.
    #[error("cannot access config file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid TOML or has fields of the wrong type.
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// A value is syntactically fine but unusable.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

mod tokens;
pub use tokens::{
    check_token as check_token_entry, grant_token, revoke_token, store_token, GrantChange,
};

/// The whole configuration after layering.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Store directory (`--data`).
    pub data: PathBuf,
    pub server: ServerConfig,
    pub catalog: CatalogConfig,
    pub access: AccessConfig,
    pub infer: InferConfig,
    pub embed: EmbedConfig,
    pub ingest: IngestConfig,
    /// Scan settings (`[inventory]`).
    pub inventory: InventoryConfig,
    /// Change detection thresholds, watched sources, alert rules (`[monitor]`).
    pub monitor: crate::monitor::MonitorConfig,
    /// Where the keys of sealed values come from (`[vault]`: command, environment, key file).
    pub vault: crate::vault::VaultConfig,
    /// Differential-privacy budgets and bounds (`[privacy]`).
    pub privacy: crate::privacy::dp::DpConfig,
    /// Stock watch: service level, lead time, alert windows, per-category rules (`[stock]`).
    pub stock: crate::stock::StockConfig,
    /// Bearer tokens (hashes only).
    pub tokens: Vec<TokenEntry>,
    /// The file this configuration was read from, if any: the server re-reads its tokens when
    /// it changes or on SIGHUP, so a revoked token stops working without a restart.
    #[serde(skip)]
    pub loaded_from: Option<PathBuf>,
}

/// HTTP server and limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: String,
    /// Seconds before a query or update is cancelled and answered with 503.
    pub query_timeout_secs: u64,
    /// Most solutions (or triples) one response carries; the rest is cut and flagged.
    pub max_result_rows: usize,
    /// Largest accepted request body in bytes (413 above).
    pub max_body_bytes: usize,
    /// Longest SPARQL query text in bytes (413 above; updates may use `max_body_bytes`).
    pub max_query_bytes: usize,
    /// Longest string one SPARQL function (`CONCAT`, `REPLACE`, `GROUP_CONCAT`, ...) may build
    /// while evaluating a request (422 above).
    pub max_string_bytes: usize,
    /// Bytes the string functions of one request may build in all (422 above).
    pub string_budget_bytes: usize,
    /// SPARQL evaluations running at once; more wait, and get 503 if they wait past the timeout.
    pub max_concurrent_queries: usize,
    /// Let requests without a token read non-restricted graphs.
    pub anonymous_read: bool,
    /// Append-only JSON-lines log of every write (defaults to `<data>/audit.log`).
    pub audit_log: Option<PathBuf>,
    /// Folders whose files a writer may have the server read (`/api/v1/sources`,
    /// `/api/v1/ingest`); admins may name any path. Empty: only admins name server paths.
    pub file_roots: Vec<PathBuf>,
    /// Databases (`host:port`) a writer may have the server scan; admins may name any. Empty:
    /// database sources are admin-only.
    pub database_hosts: Vec<String>,
    /// Host names anonymous requests may address (with anonymous reads on); IP addresses and
    /// `localhost` always may. Guards against DNS rebinding; list the public name when serving
    /// anonymous reads behind a proxy.
    pub allowed_hosts: Vec<String>,
}

/// Store layout and the folders the server reads at start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// Base IRI under which the named graphs and catalog resources are minted.
    pub base_iri: String,
    /// Turtle files loaded into the ontology graph at start.
    pub ontology_dir: PathBuf,
    /// `*.rq` files served at `/queries`.
    pub queries_dir: PathBuf,
    /// Query the union of the visible graphs when a query names no dataset.
    pub union_default_graph: bool,
}

/// Per-graph access policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessConfig {
    /// Extra graph IRIs only admins may see (quarantine and graphs the catalog marks as holding
    /// personal data are always restricted).
    pub restricted_graphs: Vec<String>,
    /// Fewest occurrences before a profile publishes a value as a top value (rarer values
    /// single people out); personal data by the validators is never published.
    pub min_top_count: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data: PathBuf::from("stocktake-data"),
            server: ServerConfig::default(),
            catalog: CatalogConfig::default(),
            access: AccessConfig::default(),
            infer: InferConfig::default(),
            embed: EmbedConfig::default(),
            ingest: IngestConfig::default(),
            inventory: InventoryConfig::default(),
            monitor: crate::monitor::MonitorConfig::default(),
            vault: crate::vault::VaultConfig::default(),
            privacy: crate::privacy::dp::DpConfig::default(),
            stock: crate::stock::StockConfig::default(),
            tokens: Vec::new(),
            loaded_from: None,
        }
    }
}

impl Default for AccessConfig {
    fn default() -> Self {
        Self {
            restricted_graphs: Vec::new(),
            min_top_count: crate::inventory::MIN_TOP_COUNT,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:7878".into(),
            query_timeout_secs: 30,
            max_result_rows: 100_000,
            max_body_bytes: 16 * 1024 * 1024,
            max_query_bytes: 1024 * 1024,
            max_string_bytes: 16 * 1024 * 1024,
            string_budget_bytes: 256 * 1024 * 1024,
            max_concurrent_queries: std::thread::available_parallelism()
                .map(|n| n.get() * 2)
                .unwrap_or(4),
            anonymous_read: false,
            audit_log: None,
            file_roots: Vec::new(),
            database_hosts: Vec::new(),
            allowed_hosts: Vec::new(),
        }
    }
}

impl Default for CatalogConfig {
    fn default() -> Self {
        Self {
            base_iri: "http://stocktake.local/".into(),
            ontology_dir: PathBuf::from("ontology"),
            queries_dir: PathBuf::from("queries"),
            union_default_graph: false,
        }
    }
}

/// Values from the environment and the command line; `None` leaves the lower layer in place.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub data: Option<PathBuf>,
    pub bind: Option<String>,
    pub base_iri: Option<String>,
    pub ontology_dir: Option<PathBuf>,
    pub queries_dir: Option<PathBuf>,
    pub query_timeout_secs: Option<u64>,
    pub max_result_rows: Option<usize>,
    pub anonymous_read: Option<bool>,
    pub models_dir: Option<PathBuf>,
    pub ort_lib: Option<PathBuf>,
}

impl Config {
    /// Reads `path` when given (it must exist), else `./stocktake.toml` when present, else defaults.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("stocktake.toml"), false),
        };
        if !required && !path.exists() {
            return Ok(Self::default());
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Io {
            path: path.clone(),
            source,
        })?;
        let mut config = Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.clone(),
            message,
        })?;
        config.loaded_from = Some(path);
        Ok(config)
    }

    /// The tokens of the configuration file at `path` as it is now (the server's reload).
    pub fn tokens_from(path: &Path) -> Result<Vec<TokenEntry>, ConfigError> {
        Ok(Self::load(Some(path))?.tokens)
    }

    /// Parses a TOML document on top of the defaults.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Applies the environment/flag layer.
    pub fn apply(&mut self, o: Overrides) {
        if let Some(v) = o.data {
            self.data = v;
        }
        if let Some(v) = o.bind {
            self.server.bind = v;
        }
        if let Some(v) = o.base_iri {
            self.catalog.base_iri = v;
        }
        if let Some(v) = o.ontology_dir {
            self.catalog.ontology_dir = v;
        }
        if let Some(v) = o.queries_dir {
            self.catalog.queries_dir = v;
        }
        if let Some(v) = o.query_timeout_secs {
            self.server.query_timeout_secs = v;
        }
        if let Some(v) = o.max_result_rows {
            self.server.max_result_rows = v;
        }
        if let Some(v) = o.anonymous_read {
            self.server.anonymous_read = v;
        }
        if let Some(v) = o.models_dir {
            self.infer.models_dir = v;
        }
        if let Some(v) = o.ort_lib {
            self.infer.ort_lib = Some(v);
        }
    }

    /// Checks values that would only fail later, deep inside a request.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.server.query_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "server.query_timeout_secs must be at least 1".into(),
            ));
        }
        if self.server.max_concurrent_queries == 0 {
            return Err(ConfigError::Invalid(
                "server.max_concurrent_queries must be at least 1".into(),
            ));
        }
        for (name, v) in [
            ("max_query_bytes", self.server.max_query_bytes),
            ("max_string_bytes", self.server.max_string_bytes),
            ("string_budget_bytes", self.server.string_budget_bytes),
        ] {
            if v == 0 {
                return Err(ConfigError::Invalid(format!(
                    "server.{name} must be at least 1"
                )));
            }
        }
        if self.ingest.commit_every == 0 {
            return Err(ConfigError::Invalid(
                "ingest.commit_every must be at least 1".into(),
            ));
        }
        if self.infer.batch_size == 0 {
            return Err(ConfigError::Invalid(
                "infer.batch_size must be at least 1".into(),
            ));
        }
        if !(self.catalog.base_iri.ends_with('/') || self.catalog.base_iri.ends_with('#')) {
            return Err(ConfigError::Invalid(format!(
                "catalog.base_iri '{}' must end with '/' or '#'",
                self.catalog.base_iri
            )));
        }
        self.monitor
            .validate()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        self.privacy
            .validate()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        self.stock
            .validate()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        for t in &self.tokens {
            tokens::check_token(t)?;
        }
        Ok(())
    }

    /// Where the audit log goes.
    pub fn audit_log_path(&self) -> PathBuf {
        self.server
            .audit_log
            .clone()
            .unwrap_or_else(|| self.data.join("audit.log"))
    }
}

/// Roles accepted by `token add --role`.
pub fn parse_role(s: &str) -> Result<Role, String> {
    s.parse::<Role>().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        let mut c = Config::from_toml(
            "data = \"/tmp/x\"\n[server]\nbind = \"0.0.0.0:1\"\nquery_timeout_secs = 5\n",
        )
        .unwrap();
        assert_eq!(c.server.bind, "0.0.0.0:1");
        assert_eq!(c.server.max_result_rows, 100_000);
        c.apply(Overrides {
            bind: Some("127.0.0.1:2".into()),
            ..Default::default()
        });
        assert_eq!(c.server.bind, "127.0.0.1:2");
        assert_eq!(c.server.query_timeout_secs, 5);
        assert_eq!(c.data, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(Config::from_toml("[server]\nbnd = \"x\"\n").is_err());
    }

    #[test]
    fn commit_every_is_read_and_checked() {
        assert_eq!(
            Config::default().ingest.commit_every,
            IngestConfig::default().commit_every
        );
        let c = Config::from_toml("[ingest]\ncommit_every = 20000\n").unwrap();
        assert_eq!(c.ingest.commit_every, 20_000);
        let zero = Config::from_toml("[ingest]\ncommit_every = 0\n").unwrap();
        assert!(
            matches!(zero.validate(), Err(ConfigError::Invalid(m)) if m.contains("commit_every"))
        );
    }
}
