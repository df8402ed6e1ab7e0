//! Database sources: SQLite files, PostgreSQL and MySQL/MariaDB by URL.
//!
//! For each table or view the account may read we record the declared column types, primary
//! and foreign keys, comments, the database's row estimate, and a profile of the rows — every row
//! when `db_sample_rows` is 0, otherwise the first `db_sample_rows` (the asset then says it was
//! not fully scanned). Values are read *as text by the database* (`::text`, `CAST(… AS CHAR)`) so
//! one code path profiles every type the server has. Rows stream from the server; nothing is
//! loaded whole. A table that cannot be read is a failed part of the scan, not a failed scan.
//! URLs may carry credentials: only [`redact_url`](super::redact_url)'s form is ever recorded.

use std::path::Path;

use mysql::prelude::Queryable;
use sha2::{Digest, Sha256};

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
            let config: postgres::Config = url
                .parse()
                .map_err(|e| format!("not a PostgreSQL URL the driver accepts: {e}"))?;
            if !config.get_hostaddrs().is_empty() {
                return Err("hostaddr= overrides the host; name the host instead".into());
            }
            let ports = config.get_ports();
            let mut out = Vec::new();
            for (i, host) in config.get_hosts().iter().enumerate() {
                let postgres::config::Host::Tcp(h) = host else {
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
            let opts = mysql::Opts::from_url(&url.replacen("mariadb://", "mysql://", 1))
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
    for row in rows {
        match row {
            Ok(cells) => {
                asset.rows += 1;
                for (p, c) in profilers.iter_mut().zip(&cells) {
                    p.push(c.as_deref());
                }
            }
            Err(e) => {
                asset.error = Some(format!("reading rows: {e}"));
                break;
            }
        }
    }
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

// ---------------------------------------------------------------- SQLite

/// Scans every table and view of a SQLite file.
pub fn scan_sqlite(path: &Path, options: &ScanOptions) -> Result<Vec<AssetScan>, InventoryError> {
    let url = format!("sqlite://{}", path.display());
    if !path.is_file() {
        return Err(db_err(&url, "no such file"));
    }
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| db_err(&url, e))?;
    let mut stmt = conn
        .prepare("SELECT name, type FROM sqlite_master WHERE type IN ('table','view') AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .map_err(|e| db_err(&url, e))?;
    let names: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect())
        .map_err(|e| db_err(&url, e))?;
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let bar = super::progress_bar(options.progress, names.len() as u64, &url);
    let mut out = Vec::new();
    for (name, kind) in names {
        bar.inc(1);
        let mut table = Table {
            schema: None,
            name: name.clone(),
            view: kind == "view",
            columns: Vec::new(),
            estimate: None,
            comment: None,
        };
        let mut asset;
        let read = (|| -> rusqlite::Result<()> {
            let mut info = conn.prepare(&format!("PRAGMA table_info({})", q(&name)))?;
            table.columns = info
                .query_map([], |r| {
                    let pk: i64 = r.get(5)?;
                    Ok(DeclaredColumn {
                        name: r.get(1)?,
                        declared: r.get::<_, String>(2)?,
                        keys: if pk > 0 {
                            vec!["primary key".into()]
                        } else {
                            vec![]
                        },
                        comment: None,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut fks = conn.prepare(&format!("PRAGMA foreign_key_list({})", q(&name)))?;
            let refs: Vec<(String, String, Option<String>)> = fks
                .query_map([], |r| Ok((r.get(3)?, r.get(2)?, r.get(4)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (from, table_ref, to) in refs {
                if let Some(c) = table.columns.iter_mut().find(|c| c.name == from) {
                    c.keys.push(format!(
                        "foreign key → {table_ref}.{}",
                        to.unwrap_or_default()
                    ));
                }
            }
            Ok(())
        })();
        let format = if table.view {
            "sqlite view"
        } else {
            "sqlite table"
        };
        asset = table.asset(format);
        if let Err(e) = read {
            asset.error = Some(format!("cannot describe: {e}"));
            out.push(asset);
            continue;
        }
        // SQLite keeps no per-table statistics: the fingerprint hashes the rows themselves
        // (a read, but no profiling). Only asked for on rescans.
        let fp = if options.known.is_some() {
            sqlite_rows_hash(&conn, &table.select_sql(q, |c| c, 0), table.columns.len())
                .ok()
                .map(|h| fingerprint("sqlite", &table, &h))
        } else {
            None
        };
        if let Some(a) = skip_unchanged(&table, format, fp.as_deref(), options) {
            out.push(a);
            continue;
        }
        let sql = table.select_sql(q, |c| c, options.db_sample_rows);
        let n = table.columns.len();
        match conn.prepare(&sql) {
            Ok(mut stmt) => {
                let rows = stmt.query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            Ok(match r.get_ref(i)? {
                                rusqlite::types::ValueRef::Null => None,
                                rusqlite::types::ValueRef::Integer(x) => Some(x.to_string()),
                                rusqlite::types::ValueRef::Real(x) => Some(x.to_string()),
                                rusqlite::types::ValueRef::Text(t) => {
                                    Some(String::from_utf8_lossy(t).into_owned())
                                }
                                rusqlite::types::ValueRef::Blob(b) => Some(hex::encode(b)),
                            })
                        })
                        .collect::<rusqlite::Result<Vec<_>>>()
                });
                match rows {
                    Ok(rows) => profile_rows(
                        &table,
                        &mut asset,
                        options,
                        rows.map(|r| r.map_err(|e| e.to_string())),
                    ),
                    Err(e) => asset.error = Some(format!("cannot read rows: {e}")),
                }
            }
            Err(e) => asset.error = Some(format!("cannot read rows: {e}")),
        }
        asset.content_hash = Some(match fp {
            Some(fp) => fp,
            None => sqlite_rows_hash(&conn, &table.select_sql(q, |c| c, 0), table.columns.len())
                .map(|h| fingerprint("sqlite", &table, &h))
                .unwrap_or_else(|_| format!("rows:{}", asset.rows)),
        });
        out.push(asset);
    }
    bar.finish_and_clear();
    Ok(out)
}

/// SHA-256 over every cell of a query's rows, in order.
fn sqlite_rows_hash(conn: &rusqlite::Connection, sql: &str, n: usize) -> rusqlite::Result<String> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    let mut h = Sha256::new();
    while let Some(r) = rows.next()? {
        for i in 0..n {
            match r.get_ref(i)? {
                rusqlite::types::ValueRef::Null => h.update([0]),
                rusqlite::types::ValueRef::Integer(x) => h.update(x.to_le_bytes()),
                rusqlite::types::ValueRef::Real(x) => h.update(x.to_le_bytes()),
                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                    h.update((t.len() as u64).to_le_bytes());
                    h.update(t);
                }
            }
        }
    }
    Ok(hex::encode(h.finalize()))
}

// ---------------------------------------------------------------- PostgreSQL

/// Scans every table and view the account may read, outside the system schemas.
pub fn scan_postgres(url: &str, options: &ScanOptions) -> Result<Vec<AssetScan>, InventoryError> {
    let mut client = postgres::Client::connect(url, postgres::NoTls).map_err(|e| db_err(url, e))?;
    // A URL that sets the search path (`?options=-csearch_path%3Dshop`) scans those schemas
    // only; otherwise every schema the account may read.
    let only_path = if url.contains("search_path") {
        "AND c.table_schema = ANY(current_schemas(false))"
    } else {
        ""
    };
    let tables = client
        .query(
            &format!("SELECT c.table_schema, c.table_name, t.table_type, c.column_name, c.data_type, \
                    col_description(format('%I.%I', c.table_schema, c.table_name)::regclass, c.ordinal_position::int), \
                    obj_description(format('%I.%I', c.table_schema, c.table_name)::regclass, 'pg_class'), \
                    (SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = format('%I.%I', c.table_schema, c.table_name)::regclass) \
             FROM information_schema.columns c \
             JOIN information_schema.tables t USING (table_schema, table_name) \
             WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema') \
               AND has_table_privilege(format('%I.%I', c.table_schema, c.table_name), 'SELECT') {only_path} \
             ORDER BY c.table_schema, c.table_name, c.ordinal_position"),
            &[],
        )
        .map_err(|e| db_err(url, e))?;
    // Keys from pg_catalog: information_schema's key views take seconds on a thousand tables.
    let mut keys: std::collections::HashMap<(String, String, String), Vec<String>> =
        std::collections::HashMap::new();
    for k in client
        .query(
            "SELECT n.nspname, c.relname, a.attname, con.contype::text, \
                    fn.nspname || '.' || fc.relname || '.' || fa.attname \
             FROM pg_constraint con \
             JOIN pg_class c ON c.oid = con.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum \
             LEFT JOIN pg_class fc ON fc.oid = con.confrelid \
             LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace \
             LEFT JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = con.confkey[k.ord] \
             WHERE con.contype IN ('p', 'f', 'u') \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
             ORDER BY con.contype, con.conname",
            &[],
        )
        .map_err(|e| db_err(url, e))?
    {
        let role = match k.get::<_, String>(3).as_str() {
            "p" => "primary key".to_string(),
            "u" => "unique".to_string(),
            _ => format!("foreign key → {}", k.get::<_, Option<String>>(4).unwrap_or_default()),
        };
        keys.entry((k.get(0), k.get(1), k.get(2))).or_default().push(role);
    }
    let mut list: Vec<Table> = Vec::new();
    for r in &tables {
        let (schema, name): (String, String) = (r.get(0), r.get(1));
        let col: String = r.get(3);
        let key_roles = keys
            .remove(&(schema.clone(), name.clone(), col.clone()))
            .unwrap_or_default();
        let table = || Table {
            schema: Some(schema.clone()),
            name: name.clone(),
            view: r.get::<_, String>(2) == "VIEW",
            columns: Vec::new(),
            estimate: r.get::<_, Option<i64>>(7).map(|x| x as u64),
            comment: r.get(6),
        };
        let column = DeclaredColumn {
            name: col,
            declared: r.get(4),
            keys: key_roles,
            comment: r.get(5),
        };
        add_column(&mut list, &schema, &name, table, column);
    }
    // Statistics counters of every table: a write (insert, update, delete) moves them, a
    // rewrite (TRUNCATE, VACUUM FULL, ALTER … TYPE) gives the table a new file node. Views have
    // none and are always profiled again.
    let stats: std::collections::HashMap<(String, String), String> = client
        .query(
            "SELECT n.nspname, c.relname, concat_ws(',', c.relfilenode, s.n_tup_ins, s.n_tup_upd, \
                    s.n_tup_del) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_stat_all_tables s ON s.relid = c.oid \
             WHERE c.relkind IN ('r', 'p', 'm')",
            &[],
        )
        .map_err(|e| db_err(url, e))?
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();
    let bar = super::progress_bar(options.progress, list.len() as u64, &redact_url(url));
    let qi = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = Vec::new();
    for t in list {
        bar.inc(1);
        let format = if t.view {
            "postgresql view"
        } else {
            "postgresql table"
        };
        let key = (t.schema.clone().unwrap_or_default(), t.name.clone());
        let fp = stats.get(&key).map(|s| fingerprint("pgstat", &t, s));
        if let Some(a) = skip_unchanged(&t, format, fp.as_deref(), options) {
            out.push(a);
            continue;
        }
        let mut asset = t.asset(format);
        let sql = t.select_sql(qi, |c| format!("{c}::text"), options.db_sample_rows);
        let n = t.columns.len();
        match client.query_raw(&sql, std::iter::empty::<&str>()) {
            Ok(rows) => {
                let mut rows = rows;
                let iter =
                    std::iter::from_fn(
                        || match postgres::fallible_iterator::FallibleIterator::next(&mut rows) {
                            Ok(Some(r)) => {
                                Some(Ok((0..n).map(|i| r.get::<_, Option<String>>(i)).collect()))
                            }
                            Ok(None) => None,
                            Err(e) => Some(Err(e.to_string())),
                        },
                    );
                profile_rows(&t, &mut asset, options, iter);
            }
            Err(e) => asset.error = Some(format!("cannot read rows: {e}")),
        }
        asset.content_hash = Some(fp.unwrap_or_else(|| format!("rows:{}", asset.rows)));
        out.push(asset);
    }
    bar.finish_and_clear();
    Ok(out)
}

// ---------------------------------------------------------------- MySQL / MariaDB

/// Scans every table and view of the URL's database (or of every non-system database when the
/// URL names none).
pub fn scan_mysql(url: &str, options: &ScanOptions) -> Result<Vec<AssetScan>, InventoryError> {
    let opts = mysql::Opts::from_url(url).map_err(|e| db_err(url, e))?;
    let only_db = opts.get_db_name().map(str::to_string);
    let mut conn = mysql::Conn::new(opts).map_err(|e| db_err(url, e))?;
    type ColRow = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        Option<u64>,
        String,
    );
    let filter = match &only_db {
        Some(_) => "c.TABLE_SCHEMA = DATABASE()",
        None => {
            "c.TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')"
        }
    };
    let rows: Vec<ColRow> = conn
        .query(format!(
            "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, t.TABLE_TYPE, c.COLUMN_NAME, c.COLUMN_TYPE, c.COLUMN_KEY, \
                    c.COLUMN_COMMENT, t.TABLE_ROWS, t.TABLE_COMMENT \
             FROM information_schema.COLUMNS c \
             JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME \
             WHERE {filter} ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION"
        ))
        .map_err(|e| db_err(url, e))?;
    let fks: Vec<(String, String, String, String)> = conn
        .query(format!(
            "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, \
                    CONCAT(c.REFERENCED_TABLE_SCHEMA, '.', c.REFERENCED_TABLE_NAME, '.', c.REFERENCED_COLUMN_NAME) \
             FROM information_schema.KEY_COLUMN_USAGE c WHERE c.REFERENCED_TABLE_NAME IS NOT NULL AND {filter}"
        ))
        .map_err(|e| db_err(url, e))?;
    let mut list: Vec<Table> = Vec::new();
    for (schema, name, ttype, col, ctype, ckey, ccomment, estimate, tcomment) in rows {
        let mut keys: Vec<String> = match ckey.as_str() {
            "PRI" => vec!["primary key".into()],
            "UNI" => vec!["unique".into()],
            _ => vec![],
        };
        keys.extend(
            fks.iter()
                .filter(|f| f.0 == schema && f.1 == name && f.2 == col)
                .map(|f| format!("foreign key → {}", f.3)),
        );
        let table = || Table {
            schema: Some(schema.clone()),
            name: name.clone(),
            view: ttype == "VIEW",
            columns: Vec::new(),
            estimate,
            comment: Some(tcomment).filter(|c| !c.is_empty() && c != "VIEW"),
        };
        let column = DeclaredColumn {
            name: col,
            declared: ctype,
            keys,
            comment: Some(ccomment).filter(|c| !c.is_empty()),
        };
        add_column(&mut list, &schema, &name, table, column);
    }
    let bar = super::progress_bar(options.progress, list.len() as u64, &redact_url(url));
    let qi = |s: &str| format!("`{}`", s.replace('`', "``"));
    let mut out = Vec::new();
    for t in list {
        bar.inc(1);
        let format = if t.view { "mysql view" } else { "mysql table" };
        // MySQL's statistics are estimates (InnoDB): `CHECKSUM TABLE` is exact, computed by
        // the server without sending rows. Views have no checksum and are always profiled.
        let fp = if t.view {
            None
        } else {
            let target = format!(
                "{}.{}",
                qi(t.schema.as_deref().unwrap_or_default()),
                qi(&t.name)
            );
            conn.query_first::<(String, Option<u64>), _>(format!("CHECKSUM TABLE {target}"))
                .ok()
                .flatten()
                .and_then(|(_, sum)| sum)
                .map(|sum| fingerprint("mysql", &t, &sum.to_string()))
        };
        if let Some(a) = skip_unchanged(&t, format, fp.as_deref(), options) {
            out.push(a);
            continue;
        }
        let mut asset = t.asset(format);
        let sql = t.select_sql(qi, |c| format!("CAST({c} AS CHAR)"), options.db_sample_rows);
        match conn.query_iter(&sql) {
            Ok(result) => {
                let iter = result.map(|row| {
                    row.map_err(|e| e.to_string()).map(|r| {
                        (0..r.len())
                            .map(|i| match r.as_ref(i) {
                                Some(mysql::Value::NULL) | None => None,
                                Some(mysql::Value::Bytes(b)) => {
                                    Some(String::from_utf8_lossy(b).into_owned())
                                }
                                Some(other) => Some(other.as_sql(true)),
                            })
                            .collect()
                    })
                });
                profile_rows(&t, &mut asset, options, iter);
            }
            Err(e) => asset.error = Some(format!("cannot read rows: {e}")),
        }
        asset.content_hash = Some(fp.unwrap_or_else(|| format!("rows:{}", asset.rows)));
        out.push(asset);
    }
    bar.finish_and_clear();
    Ok(out)
}
