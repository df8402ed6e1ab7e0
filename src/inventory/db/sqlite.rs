//! SQLite files: opened read-only, tables and views listed from `sqlite_master`, declared
//! columns and keys from the `PRAGMA`s. SQLite keeps no statistics a rescan could compare, so a
//! table's fingerprint hashes its rows (read on rescans only).

use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use super::{db_err, fingerprint, profile_rows, scan_table, DeclaredColumn, Table};
use crate::inventory::{AssetScan, InventoryError, ScanOptions};

/// Scans every table and view of a SQLite file.
pub fn scan_sqlite(path: &Path, options: &ScanOptions) -> Result<Vec<AssetScan>, InventoryError> {
    let url = format!("sqlite://{}", path.display());
    if !path.is_file() {
        return Err(db_err(&url, "no such file"));
    }
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| db_err(&url, e))?;
    let mut stmt = conn
        .prepare("SELECT name, type FROM sqlite_master WHERE type IN ('table','view') AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .map_err(|e| db_err(&url, e))?;
    let names: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect())
        .map_err(|e| db_err(&url, e))?;
    let bar = crate::inventory::progress_bar(options.progress, names.len() as u64, &url);
    let mut out = Vec::new();
    for (name, kind) in names {
        bar.inc(1);
        out.push(scan_one(&conn, name, kind == "view", options));
    }
    bar.finish_and_clear();
    Ok(out)
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// One table or view: described, then profiled unless its rows hash as before.
fn scan_one(conn: &Connection, name: String, view: bool, options: &ScanOptions) -> AssetScan {
    let mut table = Table {
        schema: None,
        name,
        view,
        columns: Vec::new(),
        estimate: None,
        comment: None,
    };
    let format = if view { "sqlite view" } else { "sqlite table" };
    if let Err(e) = describe(conn, &mut table) {
        let mut asset = table.asset(format);
        asset.error = Some(format!("cannot describe: {e}"));
        return asset;
    }
    let rows_hash = |t: &Table| {
        rows_hash(conn, &t.select_sql(quote, |c| c, 0), t.columns.len())
            .map(|h| fingerprint("sqlite", t, &h))
    };
    // Hashing reads every row: only asked for on rescans, where it can spare the profile.
    let fp = if options.known.is_some() {
        rows_hash(&table).ok()
    } else {
        None
    };
    let hashed = fp.is_some();
    let mut asset = scan_table(&table, format, fp, options, |t, asset| {
        read_rows(conn, t, asset, options)
    });
    if !hashed {
        if let Ok(fp) = rows_hash(&table) {
            asset.content_hash = Some(fp);
        }
    }
    asset
}

/// Declared columns, primary and foreign keys.
fn describe(conn: &Connection, table: &mut Table) -> rusqlite::Result<()> {
    let mut info = conn.prepare(&format!("PRAGMA table_info({})", quote(&table.name)))?;
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
    let mut fks = conn.prepare(&format!("PRAGMA foreign_key_list({})", quote(&table.name)))?;
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
}

/// Profiles the table's rows (or its sample), each cell as text.
fn read_rows(conn: &Connection, t: &Table, asset: &mut AssetScan, options: &ScanOptions) {
    let sql = t.select_sql(quote, |c| c, options.db_sample_rows);
    let n = t.columns.len();
    let mut stmt = match conn.prepare(&sql) {
        Ok(stmt) => stmt,
        Err(e) => {
            asset.error = Some(format!("cannot read rows: {e}"));
            return;
        }
    };
    let rows = stmt.query_map([], |r| {
        (0..n)
            .map(|i| r.get_ref(i).map(as_text))
            .collect::<rusqlite::Result<Vec<_>>>()
    });
    match rows {
        Ok(rows) => profile_rows(
            t,
            asset,
            options,
            rows.map(|r| r.map_err(|e| e.to_string())),
        ),
        Err(e) => asset.error = Some(format!("cannot read rows: {e}")),
    }
}

/// A cell as the profiler reads it: numbers in their shortest form, blobs in hex.
fn as_text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(x) => Some(x.to_string()),
        ValueRef::Real(x) => Some(x.to_string()),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(hex::encode(b)),
    }
}

/// SHA-256 over every cell of a query's rows, in order.
fn rows_hash(conn: &Connection, sql: &str, n: usize) -> rusqlite::Result<String> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    let mut h = Sha256::new();
    while let Some(r) = rows.next()? {
        for i in 0..n {
            match r.get_ref(i)? {
                ValueRef::Null => h.update([0]),
                ValueRef::Integer(x) => h.update(x.to_le_bytes()),
                ValueRef::Real(x) => h.update(x.to_le_bytes()),
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    h.update((t.len() as u64).to_le_bytes());
                    h.update(t);
                }
            }
        }
    }
    Ok(hex::encode(h.finalize()))
}
