//! Inventory (数据资产盘点): what data exists, where, what it holds, how good it is, what is personal.
//!
//! A scan walks one source — a directory of files (`files`, `parquet`) or a database (`db`) —
//! profiles every column in bounded memory (`profile`), decides each column's semantic type and
//! whether it is personal data (`semantic`, with the validators of `privacy::pii`), and classifies
//! each asset into a business kind (`classify`). The result is plain data ([`ScanReport`]); the
//! catalog turns it into DCAT/CSVW/DQV/PROV triples, and the report renders it. Before a report
//! leaves this module, PII columns are scrubbed: no samples, no top values, masked min/max —
//! profiles themselves can leak personal data.

pub mod classify;
mod confine;
pub mod db;
pub mod files;
mod lexicon;
pub mod migrate;
pub mod ner;
pub mod parquet;
pub mod pii_eval;
mod pipeline;
pub mod profile;
pub mod record;
pub mod report;
mod report_html;
mod scrub;
pub mod semantic;
mod sketch;
mod values;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use classify::Classification;
pub use confine::Confinement;
use profile::ColumnProfile;
use scrub::scrub;
pub use scrub::MIN_TOP_COUNT;
use semantic::Semantic;

/// Most columns profiled per asset (wider tables are cut, and say so).
pub const MAX_COLUMNS: usize = 1000;
/// Malformed rows kept as examples per asset.
pub const MAX_MALFORMED_SAMPLES: usize = 10;

/// What can go wrong scanning a source as a whole (a single unreadable file or table is not an
/// error of the scan: it is recorded as a failed part).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    /// The source string is not a path or a supported database URL.
    #[error("cannot scan {0:?}: give a directory or file path, sqlite://FILE, postgres://… or mysql://…")]
    BadSource(String),
    /// The source cannot be read at all.
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The database refused the connection or the catalog queries.
    #[error("database {url}: {message}")]
    Database { url: String, message: String },
    /// A file resolves outside the folders the caller may have the server read.
    #[error("not scanned: {0}")]
    Refused(String),
}

/// A source to scan. Its `Debug` form is credential-free like [`Source::display`], so logging a
/// source can never leak a password.
#[derive(Clone, PartialEq, Eq)]
pub enum Source {
    /// A directory (or a single file) of CSV/TSV/JSONL/Parquet files.
    Files(PathBuf),
    Sqlite(PathBuf),
    Postgres(String),
    Mysql(String),
}

impl Source {
    /// Parses what `stocktake scan SOURCE` was given.
    pub fn parse(s: &str) -> Result<Source, InventoryError> {
        if let Some(p) = s.strip_prefix("sqlite://") {
            return Ok(Source::Sqlite(PathBuf::from(p)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Source::Postgres(s.to_string()));
        }
        if s.starts_with("mysql://") || s.starts_with("mariadb://") {
            return Ok(Source::Mysql(s.replacen("mariadb://", "mysql://", 1)));
        }
        if s.contains("://") {
            return Err(InventoryError::BadSource(redact_url(s)));
        }
        let p = PathBuf::from(s);
        let is_sqlite = p.is_file()
            && matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("sqlite" | "sqlite3" | "db")
            );
        Ok(if is_sqlite {
            Source::Sqlite(p)
        } else {
            Source::Files(p)
        })
    }

    /// `files`, `sqlite`, `postgresql` or `mysql` (as recorded in `st:sourceKind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Files(_) => "files",
            Source::Sqlite(_) => "sqlite",
            Source::Postgres(_) => "postgresql",
            Source::Mysql(_) => "mysql",
        }
    }

    /// The source as it may be written to the catalog and logs: credentials removed.
    pub fn display(&self) -> String {
        match self {
            Source::Files(p) => p.display().to_string(),
            Source::Sqlite(p) => format!("sqlite://{}", p.display()),
            Source::Postgres(u) | Source::Mysql(u) => redact_url(u),
        }
    }
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Source({})", self.display())
    }
}

/// Removes user, password, query and fragment from a URL (`postgres://u:pw@h/db?password=x` →
/// `postgres://h/db`), parsed as a URL so that passwords holding `/`, `@` or `?` cannot leave
/// a piece behind. A URL that does not parse is not echoed at all.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => {
            let scheme = raw
                .split_once("://")
                .map(|(s, _)| s)
                .filter(|s| {
                    s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                })
                .unwrap_or("unknown");
            format!("{scheme}://(URL that does not parse; not shown)")
        }
    }
}

/// A malformed row kept as an example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Malformed {
    pub line: u64,
    pub reason: String,
}

/// One profiled column with its meaning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnScan {
    pub profile: ColumnProfile,
    pub semantic: Semantic,
    /// Declared primary-key or foreign-key roles (databases).
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// One asset (a file or a table) as found by a scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetScan {
    /// Path relative to the source root, or `schema.table`.
    pub location: String,
    /// File name or table name.
    pub name: String,
    pub format: String,
    pub encoding: Option<String>,
    pub delimiter: Option<String>,
    pub compressed: Option<String>,
    pub size_bytes: Option<u64>,
    pub modified: Option<String>,
    /// SHA-256 of the file bytes, or a table watermark.
    pub content_hash: Option<String>,
    /// Data rows read (malformed ones included).
    pub rows: u64,
    /// The database's own estimate, when it has one.
    pub rows_estimate: Option<u64>,
    /// Whether `rows` counts every row (false for sampled tables).
    pub full_scan: bool,
    pub malformed_rows: u64,
    pub malformed_samples: Vec<Malformed>,
    #[serde(skip)]
    pub columns: Vec<ColumnProfile>,
    pub scanned_columns: Vec<ColumnScan>,
    pub classification: Option<Classification>,
    /// Why the asset could not be (fully) read; its profile is partial or empty.
    pub error: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    /// A rescan found the asset as the previous scan left it (same size and time, or same
    /// content hash, or same table statistics) and did not profile it again: only `location`,
    /// `name`, `format` and the fingerprint fields are filled; the catalog keeps its profile.
    #[serde(default)]
    pub unchanged: bool,
}

/// What a previous scan recorded of an asset, to tell cheaply whether it changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fingerprint {
    pub size_bytes: Option<u64>,
    /// Modification time as recorded (RFC 3339).
    pub modified: Option<String>,
    /// File SHA-256 or table fingerprint.
    pub content_hash: Option<String>,
}

/// Fingerprints of the assets of one source, by location.
pub type Known = std::collections::HashMap<String, Fingerprint>;

/// Whether two RFC 3339 times are the same instant (the store may normalise their text).
pub fn same_time(a: &str, b: &str) -> bool {
    match (
        chrono::DateTime::parse_from_rfc3339(a),
        chrono::DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

impl AssetScan {
    pub fn new(location: String, format: &str) -> AssetScan {
        let name = location.rsplit('/').next().unwrap_or(&location).to_string();
        AssetScan {
            name,
            location,
            format: format.to_string(),
            encoding: None,
            delimiter: None,
            compressed: None,
            size_bytes: None,
            modified: None,
            content_hash: None,
            rows: 0,
            rows_estimate: None,
            full_scan: true,
            malformed_rows: 0,
            malformed_samples: Vec::new(),
            columns: Vec::new(),
            scanned_columns: Vec::new(),
            classification: None,
            error: None,
            comment: None,
            unchanged: false,
        }
    }

    /// An asset a rescan skipped because `fingerprint` says it did not change.
    pub fn unchanged(location: String, format: &str, fingerprint: Fingerprint) -> AssetScan {
        let mut a = AssetScan::new(location, format);
        a.size_bytes = fingerprint.size_bytes;
        a.modified = fingerprint.modified;
        a.content_hash = fingerprint.content_hash;
        a.unchanged = true;
        a
    }

    /// Columns found to hold personal data.
    pub fn pii_columns(&self) -> usize {
        self.scanned_columns
            .iter()
            .filter(|c| c.semantic.kind.pii().is_some())
            .count()
    }

    /// Counts a malformed row, keeping the first few as examples.
    pub fn malformed(&mut self, m: Malformed) {
        self.malformed_rows += 1;
        if self.malformed_samples.len() < MAX_MALFORMED_SAMPLES {
            self.malformed_samples.push(m);
        }
    }

    /// Types the profiled columns (with the name/address model's verdicts when `ner` is given),
    /// classifies the asset and scrubs PII from the profiles.
    pub fn finish(
        &mut self,
        keys: &[(String, Vec<String>, Option<String>)],
        options: &ScanOptions,
    ) {
        let ner = options.ner.as_deref();
        let min_top = options.min_top_count.unwrap_or(MIN_TOP_COUNT);
        let columns = std::mem::take(&mut self.columns);
        let verdicts = ner.map(|t| t.verdicts(&columns));
        self.scanned_columns = columns
            .into_iter()
            .map(|profile| {
                let semantic = semantic::infer(&profile, verdicts.as_ref());
                let (k, c) = keys
                    .iter()
                    .find(|(n, _, _)| *n == profile.name)
                    .map(|(_, k, c)| (k.clone(), c.clone()))
                    .unwrap_or_default();
                let mut col = ColumnScan {
                    profile,
                    semantic,
                    keys: k,
                    comment: c,
                };
                scrub(&mut col, min_top);
                col
            })
            .collect();
        let named: Vec<(String, Semantic)> = self
            .scanned_columns
            .iter()
            .map(|c| (c.profile.name.clone(), c.semantic.clone()))
            .collect();
        let stem = self.name.clone();
        self.classification = Some(classify::classify(&stem, &named));
    }
}

/// A part of the source that could not be scanned, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedPart {
    pub location: String,
    pub reason: String,
}

/// Everything one scan found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanReport {
    /// The source, credentials removed.
    pub source: String,
    pub source_kind: String,
    pub started: String,
    pub ended: String,
    pub tool_version: String,
    pub assets: Vec<AssetScan>,
    pub failures: Vec<FailedPart>,
}

impl ScanReport {
    /// Rows read over all assets.
    pub fn rows(&self) -> u64 {
        self.assets.iter().map(|a| a.rows).sum()
    }

    /// Personal-data columns over all assets.
    pub fn pii_columns(&self) -> usize {
        self.assets.iter().map(AssetScan::pii_columns).sum()
    }

    /// Assets found unchanged and not profiled again.
    pub fn unchanged(&self) -> usize {
        self.assets.iter().filter(|a| a.unchanged).count()
    }
}

/// Options of a scan.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Where files may be read from (checked per file, after resolving links); `None`: anywhere.
    pub confine: Option<Confinement>,
    /// Fewest occurrences of a published top value (`None`: [`MIN_TOP_COUNT`]).
    pub min_top_count: Option<u64>,
    /// Force a text encoding for CSV/JSONL (WHATWG label, e.g. `gbk`); detected when `None`.
    pub encoding: Option<String>,
    /// Rows sampled per table from databases (0: every row).
    pub db_sample_rows: u64,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Model that judges Chinese names and addresses (rules only when `None`).
    pub ner: Option<std::sync::Arc<ner::NameTagger>>,
    /// What the previous scan of this source recorded: assets whose fingerprint still matches
    /// are not profiled again (see [`AssetScan::unchanged`]). `None`: profile everything.
    pub known: Option<std::sync::Arc<Known>>,
}

/// Scan settings of `[inventory]`, the same for every face and for scheduled rescans.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InventoryConfig {
    /// Rows profiled per database table (0: every row); `scan --sample-rows` and the API's
    /// `sample_rows` override it per scan.
    pub sample_rows: u64,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        Self {
            sample_rows: 100_000,
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Scans a source. Blocking: call off the async runtime.
pub fn scan(source: &Source, options: &ScanOptions) -> Result<ScanReport, InventoryError> {
    let started = now();
    let mut assets = match source {
        Source::Files(root) => scan_files(root, options)?,
        Source::Sqlite(p) => db::scan_sqlite(p, options)?,
        Source::Postgres(url) => db::scan_postgres(url, options)?,
        Source::Mysql(url) => db::scan_mysql(url, options)?,
    };
    let failures = assets
        .iter()
        .filter_map(|a| {
            a.error.as_ref().map(|e| FailedPart {
                location: a.location.clone(),
                reason: e.clone(),
            })
        })
        .collect();
    for a in &mut assets {
        // Assets that failed before their rows were read have not been typed yet.
        if a.classification.is_none() && !a.unchanged {
            a.finish(&[], options);
        }
    }
    Ok(ScanReport {
        source: source.display(),
        source_kind: source.kind().to_string(),
        started,
        ended: now(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        assets,
        failures,
    })
}

fn scan_files(root: &Path, options: &ScanOptions) -> Result<Vec<AssetScan>, InventoryError> {
    let meta = std::fs::metadata(root).map_err(|e| InventoryError::Io {
        path: root.display().to_string(),
        source: e,
    })?;
    let (base, mut paths) = if meta.is_file() {
        let base = root.parent().unwrap_or(Path::new(".")).to_path_buf();
        (base, vec![root.to_path_buf()])
    } else {
        (root.to_path_buf(), files::walk(root)?)
    };
    // A file that resolves outside the allowed folders (a symbolic link) is not opened; the
    // scan says so instead of dropping it silently.
    let mut refused = Vec::new();
    if let Some(c) = &options.confine {
        paths.retain(|p| match c.check(p) {
            Ok(_) => true,
            Err(why) => {
                refused.push(why);
                false
            }
        });
    }
    if !refused.is_empty() {
        return Err(InventoryError::Refused(refused.join("; ")));
    }
    let bar = progress_bar(
        options.progress,
        paths.len() as u64,
        &root.display().to_string(),
    );
    let assets = paths
        .iter()
        .map(|p| {
            bar.set_message(
                p.file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default(),
            );
            let known = options.known.as_deref();
            let mut a = match known.and_then(|k| files::unchanged(&base, p, k)) {
                Some(a) => a,
                None => files::scan_file_confined(
                    &base,
                    p,
                    options.encoding.as_deref(),
                    options.confine.as_ref(),
                ),
            };
            if !a.unchanged {
                a.finish(&[], options);
            }
            bar.inc(1);
            a
        })
        .collect();
    bar.finish_and_clear();
    Ok(assets)
}

/// A progress bar on stderr, hidden when not wanted.
pub fn progress_bar(show: bool, len: u64, what: &str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("scanning {what}"));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_parses_urls_so_no_part_of_a_password_survives() {
        for (raw, shown) in [
            ("postgres://u:pa/ss@db.internal:5433/shop", None),
            (
                "postgres://u:p%2Fw@db.internal/shop",
                Some("postgres://db.internal/shop"),
            ),
            (
                "mysql://root:a@b@10.0.0.5/test",
                Some("mysql://10.0.0.5/test"),
            ),
            (
                "postgres://db/shop?user=u&password=hunter2",
                Some("postgres://db/shop"),
            ),
            ("mysql://h/test#pw=hunter2", Some("mysql://h/test")),
            (
                "postgres://u:hunter2@[::1]:5432/x",
                Some("postgres://[::1]:5432/x"),
            ),
        ] {
            let r = redact_url(raw);
            for secret in ["pa/ss", "ss@", "p%2Fw", "a@b", "hunter2", "u:"] {
                assert!(!r.contains(secret), "{raw} -> {r}");
            }
            if let Some(shown) = shown {
                assert_eq!(r, shown, "{raw}");
            }
        }
        let ep = |u: &str| db::endpoints(u);
        assert_eq!(
            ep("postgres://u:p@DB.internal/shop").unwrap(),
            [("db.internal".into(), 5432)]
        );
        assert_eq!(ep("mysql://h:3307/x").unwrap(), [("h".into(), 3307)]);
        // What the driver connects to, not what a URL parser would say.
        let both = ep("postgres://127.0.0.1:5432/db?host=evil&port=5432,22").unwrap();
        assert!(both.iter().any(|(h, _)| h == "evil"), "{both:?}");
        let at = ep("postgres://127.0.0.1:5432/db?application_name=a@evil:22");
        assert!(
            at.is_err() || at.as_ref().unwrap().iter().any(|(h, _)| h.contains("evil")),
            "{at:?}"
        );
        assert!(ep("postgres://127.0.0.1:5432/db?hostaddr=10.0.0.5").is_err());
        assert!(ep("postgres://127.0.0.1:5432/db?host=/run/postgresql").is_err());
        assert!(ep("mysql://root@127.0.0.1:3306/test?socket=/tmp/x.sock").is_err());
    }

    #[test]
    fn sources_parse_and_never_show_credentials() {
        let s = Source::parse("postgres://alice:s3cret@127.0.0.1:5432/test?password=x").unwrap();
        assert_eq!(s.display(), "postgres://127.0.0.1:5432/test");
        assert!(
            !format!("{s:?}").contains("s3cret"),
            "Debug hides the password"
        );
        let m = Source::parse("mariadb://root@localhost/test").unwrap();
        assert_eq!(m, Source::Mysql("mysql://root@localhost/test".into()));
        assert_eq!(m.display(), "mysql://localhost/test");
        assert_eq!(
            Source::parse("sqlite://shop.db").unwrap(),
            Source::Sqlite("shop.db".into())
        );
        assert_eq!(
            Source::parse("./data").unwrap(),
            Source::Files("./data".into())
        );
        let err = Source::parse("ftp://u:pw@h/x").unwrap_err().to_string();
        assert!(err.contains("ftp://h/x") && !err.contains("pw"), "{err}");
    }
}
