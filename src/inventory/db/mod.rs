//! Database sources: SQLite files, PostgreSQL and MySQL/MariaDB by URL.
//!
//! For each table or view the account may read we record the declared column types, primary
//! and foreign keys, comments, the database's row estimate, and a profile of the rows — every row
//! when `db_sample_rows` is 0, otherwise the first `db_sample_rows` (the asset then says it was
//! not fully scanned). Values are read *as text by the database* (`::text`, `CAST(… AS CHAR)`) so
//! one code path profiles every type the server has. Rows stream from the server; nothing is
//! loaded whole. A table that cannot be read is a failed part of the scan, not a failed scan.
//! URLs may carry credentials: only [`redact_url`](super::redact_url)'s form is ever recorded.
//!
//! This file holds what the engines share (the table model, fingerprints, the skip-or-profile
//! step, the URL allowlist's view of endpoints); each engine's catalog queries and row
//! reading live in its own file.

mod mysql;
mod postgres;
mod sqlite;

use sha2::{Digest, Sha256};

pub use self::mysql::scan_mysql;
pub use self::postgres::scan_postgres;
pub use self::sqlite::scan_sqlite;
use super::pipeline;
use super::profile::ColumnProfiler;
use super::{redact_url, AssetScan, InventoryError, ScanOptions, MAX_COLUMNS};

/// Declared facts about a column: name, declared type, key roles, comment.
#[derive(Debug, Clone, Default)]
pub struct DeclaredColumn {
    pub name: String,
    pub declared: String,
    pub keys: Vec<String>,
    pub comment: Option<String>,
}

/// A table before its rows are read.
struct Table {
    schema: Option<String>,
    name: String,
    view: bool,
    columns: Vec<DeclaredColumn>,
    estimate: Option<u64>,
    comment: Option<String>,
}

impl Table {
    fn location(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// `SELECT` of every column (each wrapped by `cast`, names quoted by `quote`) with the
    /// sample limit.
    fn select_sql(
        &self,
        quote: impl Fn(&str) -> String,
        cast: impl Fn(String) -> String,
        limit: u64,
    ) -> String {
        let cols: Vec<String> = self.columns.iter().map(|c| cast(quote(&c.name))).collect();
        let from = match &self.schema {
            Some(s) => format!("{}.{}", quote(s), quote(&self.name)),
            None => quote(&self.name),
        };
        let cols = if cols.is_empty() {
            "1".to_string()
        } else {
            cols.join(", ")
        };
        format!("SELECT {cols} FROM {from}{}", limit_clause(limit))
    }

    fn asset(&self, format: &str) -> AssetScan {
        let mut a = AssetScan::new(self.location(), format);
        a.name = self.name.clone();
        a.rows_estimate = self.estimate;
        a.comment = self.comment.clone();
        a
    }
}

/// A table's change fingerprint: its declared schema and what the database says about its
/// content (a row hash, statistics counters or a checksum), hashed.
fn fingerprint(kind: &str, t: &Table, content: &str) -> String {
    let mut h = Sha256::new();
    for c in &t.columns {
        h.update(c.name.as_bytes());
        h.update([0]);
        h.update(c.declared.as_bytes());
        h.update([0]);
        h.update(c.keys.join(",").as_bytes());
        h.update([1]);
    }
    h.update(content.as_bytes());
    format!("{kind}:{}", hex::encode(&h.finalize()[..16]))
}

/// The asset as the previous scan left it, when its fingerprint still matches.
fn skip_unchanged(
    t: &Table,
    format: &str,
    fp: Option<&str>,
    options: &ScanOptions,
) -> Option<AssetScan> {
    let fp = fp?;
    let before = options.known.as_deref()?.get(&t.location())?;
    (before.content_hash.as_deref() == Some(fp)).then(|| {
        let mut a = AssetScan::unchanged(t.location(), format, before.clone());
        a.name = t.name.clone();
        a
    })
}

/// The TCP endpoints (`host`, `port`) a database URL makes the driver connect to, read by the
/// driver's own parser — query parameters such as `host=`, `port=`, `hostaddr=` or `socket=`
/// included, every fallback host too — so an allowlist of `host:port` judges what will really
/// be connected to. A Unix socket or an address override is an error: no `host:port` entry can
/// vouch for it.
pub fn endpoints(url: &str) -> Result<Vec<(String, u16)>, String> {
    let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("");
    match scheme {
        "postgres" | "postgresql" => {
            let config: ::postgres::Config = url
                .parse()
                .map_err(|e| format!("not a PostgreSQL URL the driver accepts: {e}"))?;
            if !config.get_hostaddrs().is_empty() {
                return Err("hostaddr= overrides the host; name the host instead".into());
            }
            let ports = config.get_ports();
            let mut out = Vec::new();
            for (i, host) in config.get_hosts().iter().enumerate() {
                let ::postgres::config::Host::Tcp(h) = host else {
                    return Err("a Unix socket is not a host:port".into());
                };
                let port = match ports.len() {
                    0 => 5432,
                    1 => ports[0],
                    _ => *ports.get(i).ok_or("more hosts than ports")?,
                };
                out.push((h.to_ascii_lowercase(), port));
            }
            if out.is_empty() {
                return Err("no host: the driver would use a local socket".into());
            }
            Ok(out)
        }
        "mysql" | "mariadb" => {
            let opts = ::mysql::Opts::from_url(&url.replacen("mariadb://", "mysql://", 1))
                .map_err(|e| format!("not a MySQL URL the driver accepts: {e}"))?;
            if opts.get_socket().is_some() {
                return Err("socket= is not a host:port".into());
            }
            Ok(vec![(
                opts.get_ip_or_hostname().to_ascii_lowercase(),
                opts.get_tcp_port(),
            )])
        }
        _ => Err("not a database URL".into()),
    }
}

fn db_err(url: &str, e: impl std::fmt::Display) -> InventoryError {
    InventoryError::Database {
        url: redact_url(url),
        message: e.to_string(),
    }
}

/// Feeds rows of text cells to fresh profilers and finishes the asset.
fn profile_rows(
    t: &Table,
    asset: &mut AssetScan,
    options: &ScanOptions,
    rows: impl Iterator<Item = Result<Vec<Option<String>>, String>>,
) {
    let limit = options.db_sample_rows;
    let mut profilers: Vec<ColumnProfiler> = t
        .columns
        .iter()
        .take(MAX_COLUMNS)
        .map(|c| ColumnProfiler::new(c.name.clone(), Some(c.declared.clone())))
        .collect();
    // A null reaches the profiler as an empty cell, which it counts as null all the same.
    pipeline::run(&mut profilers, pipeline::threads(), |sink| {
        for row in rows {
            match row {
                Ok(cells) => {
                    asset.rows += 1;
                    sink.row(cells.iter().map(|c| c.as_deref().unwrap_or("").as_bytes()));
                }
                Err(e) => {
                    asset.error = Some(format!("reading rows: {e}"));
                    break;
                }
            }
        }
    });
    asset.full_scan = limit == 0 || asset.rows < limit;
    asset.columns = profilers.into_iter().map(ColumnProfiler::finish).collect();
    let keys: Vec<(String, Vec<String>, Option<String>)> = t
        .columns
        .iter()
        .map(|c| (c.name.clone(), c.keys.clone(), c.comment.clone()))
        .collect();
    asset.finish(&keys, options);
}

/// Appends `column` to the last table of `list`, starting a new one (`table()`) when the
/// catalog query's rows move on to another (schema, name).
fn add_column(
    list: &mut Vec<Table>,
    schema: &str,
    name: &str,
    table: impl FnOnce() -> Table,
    column: DeclaredColumn,
) {
    if list
        .last()
        .is_none_or(|t| t.schema.as_deref() != Some(schema) || t.name != name)
    {
        list.push(table());
    }
    if let Some(t) = list.last_mut() {
        t.columns.push(column);
    }
}

fn limit_clause(limit: u64) -> String {
    if limit == 0 {
        String::new()
    } else {
        format!(" LIMIT {limit}")
    }
}

/// The part of a table's scan every engine shares: a table whose fingerprint still matches is
/// the previous scan's asset; any other is profiled by `read` and keeps the fingerprint as its
/// content hash (the row count where the engine gives none).
fn scan_table(
    t: &Table,
    format: &str,
    fp: Option<String>,
    options: &ScanOptions,
    read: impl FnOnce(&Table, &mut AssetScan),
) -> AssetScan {
    if let Some(a) = skip_unchanged(t, format, fp.as_deref(), options) {
        return a;
    }
    let mut asset = t.asset(format);
    read(t, &mut asset);
    asset.content_hash = Some(fp.unwrap_or_else(|| format!("rows:{}", asset.rows)));
    asset
}
